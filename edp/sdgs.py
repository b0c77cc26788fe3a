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
