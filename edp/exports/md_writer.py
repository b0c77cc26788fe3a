"""Markdown: report blocks (see `edp.exports.blocks`) as text, participants' words escaped."""
from __future__ import annotations

import re
from typing import Any

# Square brackets open links (`[x](javascript:...)`), images (`![](http://tracker/...)`) and
# link definitions (`[x]: url`); escaped, participants' text can never become one. Raw HTML and
# autolinks (`<...>`) are already neutral: `<` is written as `&lt;`.
_MD_LINK = str.maketrans({"[": "\\[", "]": "\\]"})
_MARKS = {"title": "#", "h1": "##", "h2": "###", "h3": "####"}


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("<", "&lt;").translate(_MD_LINK)


def inline(text: Any) -> str:
    """One line of text for a heading, list item or table cell (no links, images or HTML)."""
    text = " ".join(("" if text is None else str(text)).split())
    return _escape(text).replace("|", "\\|")


def block(text: Any) -> str:
    """Several lines kept as hard line breaks, with block markup at line starts escaped."""
    lines = []
    for line in ("" if text is None else str(text)).replace("\r\n", "\n").split("\n"):
        line = _escape(" ".join(line.split()))
        line = re.sub(r"^([#>+*=-]|\d+[.)])", r"\\\1", line)
        if line:
            lines.append(line)
    return "  \n".join(lines)


def table(head: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(inline(h) for h in head) + " |",
           "|" + "|".join("---" for _h in head) + "|"]
    out += ["| " + " | ".join(inline(c) for c in row) + " |" for row in rows]
    return out


def _lines(b: tuple) -> list[str]:
    kind = b[0]
    if kind in _MARKS:
        return [f"{_MARKS[kind]} {inline(b[1])}"]
    if kind == "p":
        return [block(b[1])]
    if kind == "labelled":
        return [f"**{inline(b[1])}:**" + (f"  \n{block(b[2])}" if b[2] else "")]
    if kind == "facts":
        return ["  \n".join(f"**{inline(k)}:** {inline(v)}" for k, v in b[1])]
    if kind == "bullets":
        return [f"- {inline(x)}" for x in b[1]]
    if kind == "notes":
        return [f"- {inline(text)} — *{inline(note)}*" for text, note in b[1]]
    if kind == "table":
        return table(b[1], b[2])
    if kind == "pagebreak":
        return ["---"]
    return []  # charts are for the DOCX only


def markdown(blocks: list[tuple]) -> bytes:
    out: list[str] = []
    for b in blocks:
        lines = _lines(b)
        if lines:
            out += [*lines, ""]
    return "\n".join(out).encode("utf-8", "replace")
