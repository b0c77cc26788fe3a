"""DOCX: report blocks written with python-docx.

Blocks are tuples shared with the Markdown writer: `("title"|"h1"|"h2"|"h3", text)`,
`("p", text)`, `("labelled", label, text)`, `("facts", [(label, value)])`, `("bullets", [text])`,
`("notes", [(text, note)])`, `("table", head, rows)`, `("chart", png or None)`,
`("pagebreak",)`.
"""
from __future__ import annotations

import io
from typing import Any

from . import charts
from . import docx_layout as layout
from .xlsx_writer import XML_ILLEGAL


def dx(text: Any) -> str:
    """Text python-docx can store (XML 1.0 has no room for control characters)."""
    return XML_ILLEGAL.sub("", str(text if text is not None else ""))


def _on(element, tag: str, **attrs) -> None:
    """Append `<w:tag w:k="v"/>` to an element (row and table properties python-docx lacks)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    child = OxmlElement(f"w:{tag}")
    for key, value in attrs.items():
        child.set(qn(f"w:{key}"), value)
    element.append(child)


def _row(table, texts: list[str], widths, style_id: str, right: list[bool], bold=False):
    """A table row that never splits across pages, each cell at its column's width."""
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    row = table.add_row()
    _on(row._tr.get_or_add_trPr(), "cantSplit")
    for cell, text, width, flush in zip(row.cells, texts, widths, right):
        cell.width = width
        para = cell.paragraphs[0]
        para._p.style = style_id
        para.add_run(text).bold = bold or None
        if flush:
            para.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    return row


def _table(doc, head: list[str], rows: list[list[Any]], style_id: str):
    """A table with widths per column (see `docx_layout`) and a header repeated on every page."""
    from docx.shared import Pt

    head = [dx(h) for h in head]
    rows = [[dx(v) for v in r] for r in rows]
    widths = [Pt(w) for w in layout.column_widths(head, rows)]
    right = [layout.is_numeric([r[k] for r in rows]) for k in range(len(head))]
    table = doc.add_table(rows=0, cols=len(head))
    table.style = "Table Grid"
    table.autofit = False  # w:tblLayout fixed: the widths below are kept
    for column, width in zip(table.columns, widths):
        column.width = width
    header = _row(table, head, widths, style_id, right, bold=True)
    _on(header._tr.get_or_add_trPr(), "tblHeader")
    for cell in header.cells:
        _on(cell._tc.get_or_add_tcPr(), "shd", val="clear", color="auto", fill="E3ECF0")
    for row in rows:
        _row(table, row, widths, style_id, right)
    return table


class _Writer:
    """One method per kind of block."""

    def __init__(self, doc):
        self.doc = doc
        # python-docx looks a style up by name on every paragraph (slow with thousands of
        # comments); the bullet style's id is set directly instead.
        self.bullet_id = doc.styles["List Bullet"].style_id
        self.cell_id = _cell_style(doc).style_id
        self.heading_ids = {level: doc.styles["Title" if level == 0 else f"Heading {level}"].style_id
                            for level in _LEVELS.values()}

    def bullet(self, text: str):
        para = self.doc.add_paragraph(text)
        para._p.style = self.bullet_id
        return para

    def heading(self, text, level: int) -> None:
        para = self.doc.add_paragraph(dx(text))
        para._p.style = self.heading_ids[level]  # as `bullet`: no look-up by name
        para.paragraph_format.keep_with_next = True

    def p(self, text) -> None:
        self.doc.add_paragraph(dx(text))

    def labelled(self, label, text) -> None:
        para = self.doc.add_paragraph()
        para.add_run(dx(label) + ":" + (" " if text else "")).bold = True
        if text:
            para.add_run(dx(text))
        else:  # a label over a list stays with it
            para.paragraph_format.keep_with_next = True

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
        _table(self.doc, head, rows, self.cell_id)
        self.doc.add_paragraph().paragraph_format.space_after = 0

    def chart(self, png) -> None:
        from docx.enum.text import WD_ALIGN_PARAGRAPH
        from docx.shared import Cm

        if png:
            # Drawn at this very width (charts.WIDTH_CM): its 9 pt labels print at 9 pt.
            self.doc.add_picture(io.BytesIO(png), width=Cm(charts.WIDTH_CM))
            self.doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER

    def pagebreak(self) -> None:
        from docx.enum.text import WD_BREAK

        self.doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


def _page(doc) -> None:
    """A4 with 2 cm margins, one font (Arial, Liberation Sans in LibreOffice) for every style."""
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    for section in doc.sections:
        section.page_width, section.page_height = Cm(layout.PAGE_CM[0]), Cm(layout.PAGE_CM[1])
        for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
            setattr(section, side, Cm(layout.MARGIN_CM))
    for name in ("Normal", "Title", "Heading 1", "Heading 2", "Heading 3", "List Bullet"):
        style = doc.styles[name]
        style.font.name = layout.FONT
        fonts = style.element.rPr.rFonts
        for theme in ("asciiTheme", "hAnsiTheme", "cstheme", "eastAsiaTheme"):
            fonts.attrib.pop(qn(f"w:{theme}"), None)
        fonts.set(qn("w:cs"), layout.FONT)
    doc.styles["Normal"].font.size = Pt(layout.BODY_PT)
    doc.styles["Title"].font.size = Pt(24)


def _cell_style(doc):
    """The paragraph style of table cells: smaller, no space around."""
    from docx.enum.style import WD_STYLE_TYPE
    from docx.shared import Pt

    style = doc.styles.add_style("Table Text", WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = doc.styles["Normal"]
    style.font.size = Pt(layout.TABLE_PT)
    style.paragraph_format.space_before = style.paragraph_format.space_after = Pt(1)
    style.paragraph_format.line_spacing = 1.0
    return style


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
    _page(doc)
    doc.core_properties.title = dx(title)
    doc.core_properties.language = language or "en"
    if subject:
        doc.core_properties.subject = subject
    write_blocks(doc, blocks)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
