"""The 17 Sustainable Development Goals, by number, with names that Flask-Babel translates.

The names are lazy strings: `str(SDGS[2])` gives the name in the active locale, so the exports
(inside `force_locale(workshop.language)`) show them in the workshop's language once the
catalogues carry them. The short names follow the UN's official short titles.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

SDGS: dict[int, Any] = {
    1: _l("No poverty"),
    2: _l("Zero hunger"),
    3: _l("Good health and well-being"),
    4: _l("Quality education"),
    5: _l("Gender equality"),
    6: _l("Clean water and sanitation"),
    7: _l("Affordable and clean energy"),
    8: _l("Decent work and economic growth"),
    9: _l("Industry, innovation and infrastructure"),
    10: _l("Reduced inequalities"),
    11: _l("Sustainable cities and communities"),
    12: _l("Responsible consumption and production"),
    13: _l("Climate action"),
    14: _l("Life below water"),
    15: _l("Life on land"),
    16: _l("Peace, justice and strong institutions"),
    17: _l("Partnerships for the goals"),
}


# The UN's official colour of each goal (the SDG communication guidelines), as "#RRGGBB".
SDG_COLOURS: dict[int, str] = {
    1: "#E5243B", 2: "#DDA63A", 3: "#4C9F38", 4: "#C5192D", 5: "#FF3A21", 6: "#26BDE2",
    7: "#FCC30B", 8: "#A21942", 9: "#FD6925", 10: "#DD1367", 11: "#FD9D24", 12: "#BF8B2E",
    13: "#3F7E44", 14: "#0A97D9", 15: "#56C02B", 16: "#00689D", 17: "#19486A",
}
# Text on a goal's colour: white or near-black, whichever contrasts more (every goal reaches
# WCAG AA's 4.5:1 with one of them; goal 1 with white at 4.52:1).
INKS = ("#FFFFFF", "#14171C")


def _luminance(colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two "#RRGGBB" colours (1 to 21)."""
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def sdg_ink(number: int) -> str:
    """The text colour to write on the goal's colour."""
    colour = SDG_COLOURS[int(number)]
    return max(INKS, key=lambda ink: contrast(colour, ink))


def sdg_items() -> list[dict[str, Any]]:
    """Every goal for a page: number, name (active locale), colour and the ink to write on it."""
    return [{"n": n, "name": sdg_name(n), "colour": SDG_COLOURS[n], "ink": sdg_ink(n)}
            for n in SDGS]


def sdg_name(number: int) -> str:
    """The goal's name in the active locale ("" for a number outside 1..17)."""
    try:
        name = SDGS.get(int(number))
    except (TypeError, ValueError):
        return ""
    return str(name) if name is not None else ""


def sdg_label(number: int) -> str:
    """"SDG 6: Clean water and sanitation" in the active locale."""
    name = sdg_name(number)
    label = _("SDG %(n)s", n=int(number))
    return f"{label}: {name}" if name else label


def sdg_labels(numbers: Iterable[int]) -> list[str]:
    return [sdg_label(n) for n in numbers or []]
