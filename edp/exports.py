"""Export files built in memory from the analysis frames (the view only calls send_file)."""
from __future__ import annotations

FORMATS = ("csv", "xlsx", "docx", "json", "md")


def build(ws, fmt: str) -> tuple[bytes, str, str]:
    raise NotImplementedError(fmt)
