"""Export files built in memory (the view only calls send_file).

Every format comes from one `Snapshot` of the workshop read at the start of `build`
(`snapshot.py`): `Frames` turns it into pandas frames declared as column specs (`frames.py`:
CSV, XLSX), `Report` into blocks (`report.py`: DOCX, Markdown) and `record_dict` into the JSON
record (`json_record.py`). One writer per format (`csv_writer`, `xlsx_writer`, `docx_writer`,
`md_writer`, `json_record`) serves the workshop report, the comparison of rounds
(`edp.rounds_export`) and the cooperation brief (`edp.pairing`). The numbers are
`workshop.compute_results(ws)`, the very arithmetic of the live results, never recomputed here.
Exports work at any phase and with nobody in the room.

The method beyond voting is in every format: the adopted vision heads the DOCX and Markdown
reports (with every statement's reactions after the method), each priority shows its SWOT by
quadrant and the funders' signal beside its support, the rankings, the Domains table (CSV) and
the Priorities sheet carry the funders' yes / maybe / no, the workbook adds "Vision" and "SWOT"
sheets, and the JSON record holds the statements, every reaction, the SWOT items (hidden ones
marked) and each funder's signal. Exports are the facilitator's: every helix, none pooled.

Identity follows the workshop's `anonymity` setting (`settings["anonymity"]`):

- "anonymous" (the default): nothing names a participant (no names, organisations, tokens or
  database ids); comments, proposals and events carry the helix only.
- "named": comments and proposals also show the author's name and organisation (as given when
  joining). The event log and the deliberation timeline stay anonymous in both settings.

The JSON record refers to participants by an anonymous number (p1, p2, ... in joining order)
that only holds within one file; `edp.record` imports it back. Headings and labels are
translated into the workshop's language (sheet names stay in English).
"""
from __future__ import annotations

import re

import pandas as pd
from flask_babel import force_locale
from flask_babel import gettext as _

from ..i18n import fold_accents
from ..models import Workshop
from . import xlsx_writer
from .csv_writer import csv_bytes
from .docx_writer import document, write_blocks
from .frames import SHEETS, UNWRAPPED, Frames, columns, helix_column, shown
from .json_record import RECORD_FORMAT, RECORD_VERSION, json_bytes, record_dict
from .labels import anonymity_text, method_label, phase_label
from .md_writer import markdown
from .report import Report, subject
from .snapshot import OPPOSING, SUPPORTING, Snapshot, anonymity, iso, read

__all__ = ["FORMATS", "MIMETYPES", "OPPOSING", "RECORD_FORMAT", "RECORD_VERSION", "SHEETS",
           "SUPPORTING", "Snapshot", "anonymity", "build", "filename", "helix_column",
           "read", "record_dict", "slug", "tables", "write_blocks"]

FORMATS = ("csv", "xlsx", "docx", "json", "md")

# Text types without a charset: the response adds "; charset=utf-8" itself (werkzeug does for
# every text/* type), and a second one would repeat it.
MIMETYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "json": "application/json",
    "md": "text/markdown",
}


def build(ws: Workshop, fmt: str) -> tuple[bytes, str, str]:
    """The export of `ws` in `fmt` as (data, mimetype, filename). Needs an app context."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format: {fmt!r}")
    snap = read(ws)
    with force_locale(ws.language or "en"):
        data = _WRITERS[fmt](snap)
    return data, MIMETYPES[fmt], filename(ws, fmt)


def filename(ws: Workshop, fmt: str) -> str:
    return f"edp-{ws.code}-{slug(ws.title)}.{fmt}"


def slug(text: str, limit: int = 60) -> str:
    """ASCII, lower case, words joined by hyphens: "Riego de precisión" -> "riego-de-precision"."""
    ascii_text = fold_accents(text).encode("ascii", "ignore").decode("ascii")
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return words[:limit].rstrip("-") or "workshop"


def tables(ws: Workshop) -> dict[str, pd.DataFrame]:
    """The workshop as frames, one per sheet of `SHEETS`.

    Column names are stable machine keys (`rank`, `title`, `score`, `by_helix_<helix key>`...);
    the spreadsheet and the reports show translated headers instead. Texts made here (SDG
    names, event summaries) are in the workshop's language.
    """
    snap = read(ws)
    with force_locale(ws.language or "en"):
        return Frames(snap).all()


def _about(snap: Snapshot) -> pd.DataFrame:
    ws = snap.ws
    return pd.DataFrame(
        [(_("Workshop"), ws.title), (_("Region"), ws.region), (_("Join code"), ws.code),
         (_("Phase"), phase_label(ws.phase)), (_("Voting method"), method_label(ws.method)),
         (_("Language"), ws.language), (_("Identities"), anonymity_text(snap)),
         (_("Exported at"), iso(snap.exported_at))],
        columns=[_("Item"), _("Value")])


def _xlsx(snap: Snapshot) -> bytes:
    frames = Frames(snap)
    sheets = []
    for name in SHEETS:
        cols = [c for c in columns(snap, name) if c.book]
        frame = shown(snap, name, frames[name])
        sheets.append(xlsx_writer.Sheet(
            name, frame, wide={head for head, c in zip(frame.columns, cols) if c.wide},
            wrap=name not in UNWRAPPED))
    about = _about(snap)
    sheets.append(xlsx_writer.Sheet("Workshop", about, wide={about.columns[1]}))
    return xlsx_writer.workbook(sheets)


def _report(snap: Snapshot, charts: bool) -> list[tuple]:
    return Report(snap, Frames(snap), charts).blocks()


_WRITERS = {
    "csv": lambda snap: csv_bytes(Frames(snap)["Domains"]),
    "xlsx": _xlsx,
    "docx": lambda snap: document(_report(snap, charts=True), snap.ws.title,
                                  snap.ws.language, subject()),
    "json": json_bytes,
    "md": lambda snap: markdown(_report(snap, charts=False)),
}
