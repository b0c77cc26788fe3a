"""XLSX: named sheets of frames, written with XlsxWriter's options instead of per-cell loops.

Every sheet gets a bold header row, frozen panes and (with rows) a filter; widths follow the
content, capped; wide columns wrap, percent columns show as percentages. Text is always text:
`strings_to_formulas` is off, so "=SUM(...)" from a participant never becomes a formula.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

# Characters XML 1.0 (xlsx, docx) cannot hold; participants' text may contain them.
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
EXCEL_CELL_MAX = 32_767
_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}


def xl_text(value: Any) -> Any:
    if isinstance(value, str):
        value = XML_ILLEGAL.sub("", value)
        if len(value) > EXCEL_CELL_MAX:
            value = value[: EXCEL_CELL_MAX - 1] + "…"
    return value


def sheet_title(name: str, taken: set[str]) -> str:
    title = re.sub(r"[\[\]:*?/\\]", " ", name).strip()[:31] or "Sheet"
    base, n = title, 2
    while title.lower() in taken:
        suffix = f" ({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(title.lower())
    return title


@dataclass
class Sheet:
    name: str
    frame: pd.DataFrame  # headers as people read them
    wide: set[str] = field(default_factory=set)  # columns that get room and wrap
    wrap: bool = True  # False: wide columns stay one line (the event log)
    percent: set[str] = field(default_factory=set)


def _width(column: pd.Series, header: str, wide: bool) -> int:
    longest = max(len(header), int(column.astype(str).str.len().fillna(0).max()) if len(column) else 0)
    return max(8, min(longest + 2, 60 if wide else 40))


def _write(xw: pd.ExcelWriter, sheet: Sheet, title: str, formats: dict[str, Any]) -> None:
    frame = sheet.frame.copy()
    frame.columns = [xl_text(str(c)) for c in frame.columns]
    for col in frame.columns:
        if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
            frame[col] = frame[col].map(xl_text)
    frame.to_excel(xw, sheet_name=title, index=False, header=False, startrow=1)
    ws = xw.sheets[title]
    ws.write_row(0, 0, list(frame.columns), formats["head"])
    ws.freeze_panes(1, 0)
    if len(frame):
        ws.autofilter(0, 0, len(frame), len(frame.columns) - 1)
    for idx, (col, name) in enumerate(zip(frame.columns, sheet.frame.columns)):
        wide = name in sheet.wide
        fmt = formats["percent"] if name in sheet.percent else (
            formats["wrap"] if wide and sheet.wrap else None)
        ws.set_column(idx, idx, _width(frame[col], col, wide), fmt)


def workbook(sheets: list[Sheet]) -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="xlsxwriter", datetime_format="yyyy-mm-dd hh:mm:ss",
                        engine_kwargs={"options": _OPTIONS}) as xw:
        book = xw.book
        formats = {"head": book.add_format({"bold": True, "text_wrap": True, "valign": "top"}),
                   "wrap": book.add_format({"text_wrap": True, "valign": "top"}),
                   "percent": book.add_format({"num_format": "0.0%"})}
        taken: set[str] = set()
        for sheet in sheets:
            _write(xw, sheet, sheet_title(sheet.name, taken), formats)
    return buf.getvalue()
