"""CSV: one frame, machine column names, text that a spreadsheet would run kept as text."""
from __future__ import annotations

from typing import Any

import pandas as pd

# A spreadsheet treats cells starting with these as formulas (CSV/formula injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """UTF-8 with a BOM, so that Excel opens accents (Región, Bioinsumos, ...) right."""
    frame = frame.copy()
    for col in frame.columns:
        if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
            frame[col] = frame[col].map(csv_safe)
    text = frame.to_csv(index=False, lineterminator="\r\n")
    return ("\ufeff" + text).encode("utf-8", "replace")
