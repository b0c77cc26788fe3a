"""DOCX: report blocks written with python-docx.

Blocks are tuples shared with the Markdown writer: `("title"|"h1"|"h2"|"h3", text)`,
`("p", text)`, `("labelled", label, text)`, `("facts", [(label, value)])`, `("bullets", [text])`,
`("notes", [(text, note)])`, `("table", head, rows)`, `("chart", png or None)`,
`("pagebreak",)`.
"""
from __future__ import annotations

import io
from typing import Any

from .xlsx_writer import XML_ILLEGAL


def dx(text: Any) -> str:
    """Text python-docx can store (XML 1.0 has no room for control characters)."""
    return XML_ILLEGAL.sub("", str(text if text is not None else ""))


def _table(doc, head: list[str], rows: list[list[Any]]):
    table = doc.add_table(rows=1, cols=len(head))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, head):
        cell.text = ""
        cell.paragraphs[0].add_run(dx(text)).bold = True
    for row in rows:
        for cell, value in zip(table.add_row().cells, row):
            cell.text = dx(value)
    return table


class _Writer:
    """One method per kind of block."""

    def __init__(self, doc):
        self.doc = doc
        # python-docx looks a style up by name on every paragraph (slow with thousands of
        # comments); the bullet style's id is set directly instead.
        self.bullet_id = doc.styles["List Bullet"].style_id

    def bullet(self, text: str):
        para = self.doc.add_paragraph(text)
        para._p.style = self.bullet_id
        return para

    def heading(self, text, level: int) -> None:
        self.doc.add_heading(dx(text), level=level)

    def p(self, text) -> None:
        self.doc.add_paragraph(dx(text))

    def labelled(self, label, text) -> None:
        para = self.doc.add_paragraph()
        para.add_run(dx(label) + ":" + (" " if text else "")).bold = True
        if text:
            para.add_run(dx(text))

    def facts(self, items) -> None:
        para = self.doc.add_paragraph()
        for n, (label, value) in enumerate(items):
            if n:
                para.add_run().add_break()
            para.add_run(dx(label) + ": ").bold = True
            para.add_run(dx(value))

    def bullets(self, items) -> None:
        for text in items:
            self.bullet(dx(text))

    def notes(self, items) -> None:
        for text, note in items:
            self.bullet(dx(text)).add_run(dx(f" ({note})")).italic = True

    def table(self, head, rows) -> None:
        _table(self.doc, head, rows)

    def chart(self, png) -> None:
        from docx.shared import Inches

        if png:
            self.doc.add_picture(io.BytesIO(png), width=Inches(6.3))

    def pagebreak(self) -> None:
        from docx.enum.text import WD_BREAK

        self.doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


_LEVELS = {"title": 0, "h1": 1, "h2": 2, "h3": 3}


def write_blocks(doc, blocks: list[tuple]) -> None:
    """Write report blocks into a python-docx document."""
    writer = _Writer(doc)
    for b in blocks:
        if b[0] in _LEVELS:
            writer.heading(b[1], _LEVELS[b[0]])
        else:
            getattr(writer, b[0])(*b[1:])


def document(blocks: list[tuple], title: str, language: str, subject: str = "") -> bytes:
    from docx import Document

    doc = Document()
    doc.core_properties.title = dx(title)
    doc.core_properties.language = language or "en"
    if subject:
        doc.core_properties.subject = subject
    write_blocks(doc, blocks)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
