"""Page, fonts and table column widths for the DOCX report.

Word and LibreOffice break a word when its column is narrower than the word, and both share out
equal widths when a table says nothing. So every table gets widths measured from its content:
no column is narrower than its longest word (header in bold included), columns with long text get
the room that is left, numbers stay narrow. The widths go both into the table grid and into each
cell (`w:tcW`) with a fixed layout, which is what LibreOffice honours.

Text is measured with the metrics of Liberation Sans, metric-compatible with Arial, the font the
document asks for (LibreOffice substitutes one for the other), through matplotlib's FreeType.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

FONT = "Arial"
BODY_PT = 10.5
TABLE_PT = 9
PAGE_CM = (21.0, 29.7)  # A4
MARGIN_CM = 2.0
TEXT_WIDTH_PT = (PAGE_CM[0] - 2 * MARGIN_CM) / 2.54 * 72
CELL_PAD_PT = 2 * 5.4 + 3  # Table Grid's cell margins (0.19 cm each side) and some slack
SAFETY = 1.08  # other renderers' rounding and kerning
_NUMBER = re.compile(r"^[\s\d.,%+\-–−/]*$")  # "/": the funders' "2 / 1 / 0"


@lru_cache(maxsize=4)
def _font(bold: bool):
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    path = font_manager.findfont(font_manager.FontProperties(
        family=["Liberation Sans", "Arimo", "Arial", "DejaVu Sans"],
        weight="bold" if bold else "normal"))
    return FT2Font(path)


@lru_cache(maxsize=20_000)
def text_width(text: str, bold: bool = False, size: float = TABLE_PT) -> float:
    """The width of `text` in points at `size`."""
    if not text:
        return 0.0
    from matplotlib.ft2font import LoadFlags

    font = _font(bold)
    font.set_size(size, 72)
    font.set_text(text, 0.0, flags=LoadFlags.NO_HINTING)
    return font.get_width_height()[0] / 64 * SAFETY


def _widths(texts: list[str], bold: bool) -> tuple[float, float]:
    """(longest word, longest text) of a column's cells, in points."""
    word = max((text_width(w, bold) for t in texts for w in t.split()), default=0.0)
    line = max((text_width(line, bold) for t in texts for line in t.splitlines()), default=0.0)
    return word, line


def is_numeric(values: list[Any]) -> bool:
    """A column of numbers (or dashes for none): right-aligned and kept narrow."""
    shown = [str(v) for v in values if str(v).strip()]
    return bool(shown) and all(_NUMBER.match(v) for v in shown)


def column_widths(head: list[str], rows: list[list[str]],
                  width: float = TEXT_WIDTH_PT) -> list[float]:
    """Widths in points, adding up to `width`: every word fits, long text gets what is left."""
    need, natural = [], []
    for k, title in enumerate(head):
        cells = [r[k] for r in rows if k < len(r)]
        word, line = _widths(cells, False)
        head_word, head_line = _widths([title], True)
        need.append(max(word, head_word) + CELL_PAD_PT)
        natural.append(max(line, head_line, word) + CELL_PAD_PT)
    numeric = [is_numeric([r[k] for r in rows]) for k in range(len(head))]
    if sum(natural) <= width:
        # Everything fits on one line: the rest goes to the text columns.
        text = [0.0 if number else n for n, number in zip(natural, numeric)]
        return _share(natural, text if sum(text) else natural, width - sum(natural))
    if sum(need) >= width:
        # Not even the longest words fit side by side: shrink evenly (a word may break).
        return [n * width / sum(need) for n in need]
    # Text columns first: a long header over numbers may wrap, a title should not need to.
    wants = [(n - m) * (0.25 if number else 1.0) for n, m, number in zip(natural, need, numeric)]
    return _share(need, wants, width - sum(need))


def _share(base: list[float], weights: list[float], extra: float) -> list[float]:
    total = sum(weights) or 1.0
    return [b + extra * w / total for b, w in zip(base, weights)]
