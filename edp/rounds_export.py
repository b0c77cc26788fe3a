"""Export files of the comparison of two rounds (CSV, XLSX, Markdown), built in memory.

The frame is `processes.compare_rounds`; nothing is recomputed here. Labels and headings are in
the later round's language. The CSV keeps the frame's column names (as the workshop CSV does,
so scripts can read it in any language) with support, split and consensus as fractions 0..1;
the workbook translates its headers (sheet names stay English) and shows shares as
percentages; the Markdown report is for people.
"""
from __future__ import annotations

from typing import Any

import pandas as pd
from flask_babel import force_locale, format_decimal, format_percent, ngettext
from flask_babel import gettext as _

from . import processes
from .exports import MIMETYPES, slug
from .exports import md_writer as md
from .exports.csv_writer import csv_bytes
from .exports.labels import method_label, phase_label
from .exports.xlsx_writer import Sheet, workbook
from .models import Workshop

FORMATS = ("csv", "xlsx", "md")
# Columns holding shares or changes of shares (percent in the workbook).
_SHARES = ("support", "split")


def build(earlier: Workshop, later: Workshop, fmt: str) -> tuple[bytes, str, str]:
    """The comparison of `earlier` and `later` in `fmt` as (data, mimetype, filename)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown comparison format: {fmt!r}")
    with force_locale(later.language or "en"):
        frame = processes.compare_rounds(earlier, later)
        data = {"csv": _to_csv, "xlsx": _to_xlsx, "md": _to_md}[fmt](earlier, later, frame)
    return data, MIMETYPES[fmt], filename(earlier, later, fmt)


def filename(earlier: Workshop, later: Workshop, fmt: str) -> str:
    return f"edp-compare-{earlier.code}-{later.code}-{slug(later.title, 40)}.{fmt}"


def status_label(status: str) -> str:
    return {processes.KEPT: _("Kept"), processes.ADDED: _("Added"),
            processes.DROPPED: _("Dropped")}.get(status, status)


def helix_labels(*workshops: Workshop) -> dict[str, str]:
    labels: dict[str, str] = {}
    for ws in workshops:
        labels.update({h["key"]: h["label"] for h in ws.helices})
    return labels


def headers(earlier: Workshop, later: Workshop, frame: pd.DataFrame) -> dict[str, str]:
    a, b = processes.round_label(earlier), processes.round_label(later)
    out = {
        "title": _("Domain"),
        "status": _("Change"),
        "earlier_domain_id": _("Domain id (%(round)s)", round=a),
        "later_domain_id": _("Domain id (%(round)s)", round=b),
        "support_change": _("Support change"),
        "consensus_change": _("Consensus change"),
    }
    names = {"rank": _("Rank (%(round)s)"), "score": _("Score (%(round)s)"),
             "balanced_score": _("Helix-balanced score (%(round)s)"),
             "support": _("Share of support (%(round)s)"),
             "consensus": _("Consensus (%(round)s)"),
             "priority": _("Priority rank (%(round)s)")}
    for key, text in names.items():
        out[f"earlier_{key}"] = text % {"round": a}
        out[f"later_{key}"] = text % {"round": b}
    labels = helix_labels(earlier, later)
    for h in frame.attrs.get("helices", []):
        label = labels.get(h, h)
        out[f"split_{h}_earlier"] = _("%(helix)s: share of the support (%(round)s)",
                                      helix=label, round=a)
        out[f"split_{h}_later"] = _("%(helix)s: share of the support (%(round)s)",
                                    helix=label, round=b)
        out[f"split_{h}_change"] = _("%(helix)s: change", helix=label)
    return out


def normalisation_note() -> str:
    return _("Scores are not comparable across rounds that vote differently, so the comparison "
             "uses shares: a domain's share of support is its helix-balanced score divided by "
             "the total of the round; its helix split is the share of its support that came "
             "from each helix (per voter, so head counts do not weigh in). Consensus is the "
             "weakest helix's support relative to the strongest (0 to 1).")


# ---------------------------------------------------------------- csv


def _to_csv(earlier: Workshop, later: Workshop, frame: pd.DataFrame) -> bytes:
    return csv_bytes(frame)


# ---------------------------------------------------------------- xlsx


def _rounds_frame(earlier: Workshop, later: Workshop) -> pd.DataFrame:
    rows = []
    for ws in (earlier, later):
        rows.append({
            _("Round"): processes.round_label(ws), _("Workshop"): ws.title,
            _("Join code"): ws.code, _("Region"): ws.region,
            _("Voting method"): method_label(ws.method), _("Phase"): phase_label(ws.phase),
            _("Participants"): processes.participants_of(ws),
        })
    return pd.DataFrame(rows)


def _to_xlsx(earlier: Workshop, later: Workshop, frame: pd.DataFrame) -> bytes:
    names = headers(earlier, later, frame)
    shown = frame.assign(status=frame["status"].map(status_label)).rename(columns=names)
    shares = {names.get(c, c) for c in frame.columns
              if any(c.startswith((p, f"earlier_{p}", f"later_{p}")) for p in _SHARES)}
    note = pd.DataFrame({_("Note"): [normalisation_note()]})
    return workbook([Sheet("Comparison", shown, percent=shares),
                     Sheet("Rounds", _rounds_frame(earlier, later)),
                     Sheet("Notes", note, wide={_("Note")})])


# ---------------------------------------------------------------- markdown


def percent(value: Any) -> str:
    return "–" if value is None else format_percent(value, format="#,##0.#%")


def points(value: Any) -> str:
    """A change of a share, in percentage points with its sign."""
    if value is None:
        return "–"
    text = format_decimal(value * 100, format="+#,##0.#;-#,##0.#")
    return _("%(value)s pp", value=text)


def number(value: Any, signed: bool = False) -> str:
    if value is None:
        return "–"
    return format_decimal(value, format="+#,##0.##;-#,##0.##" if signed else "#,##0.##")


def arrow(a: str, b: str) -> str:
    return f"{a} → {b}"


def split_text(row: dict[str, Any], helices: list[str], labels: dict[str, str]) -> str:
    parts = []
    for h in helices:
        a, b = row.get(f"split_{h}_earlier"), row.get(f"split_{h}_later")
        if a is None and b is None:
            continue
        parts.append(f"{labels.get(h, h)} {arrow(percent(a), percent(b))}")
    return "; ".join(parts) or "–"


def _blocks(earlier: Workshop, later: Workshop, frame: pd.DataFrame) -> list[tuple]:
    a, b = processes.round_label(earlier), processes.round_label(later)
    rows = processes.comparison_rows(frame)
    helices = frame.attrs.get("helices", [])
    labels = helix_labels(earlier, later)
    facts = [(processes.round_label(ws),
              f"{ws.title} ({ws.code}) · {method_label(ws.method)} · {phase_label(ws.phase)} · "
              + ngettext("%(num)s participant", "%(num)s participants",
                         processes.participants_of(ws)))
             for ws in (earlier, later)]
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in
              (processes.KEPT, processes.ADDED, processes.DROPPED)}
    out: list[tuple] = [
        ("title", _("Comparison of rounds: %(a)s → %(b)s", a=a, b=b)), ("facts", facts),
        ("p", normalisation_note()),
        ("p", _("Kept: %(kept)s · Added: %(added)s · Dropped: %(dropped)s",
                kept=counts["kept"], added=counts["added"], dropped=counts["dropped"])),
        ("h1", _("Domains")),
        ("table", [_("Domain"), _("Change"), _("Rank"), _("Share of support"),
                   _("Support change"), _("Consensus"), _("Consensus change"), _("Helix split"),
                   _("Priority")], [_row(r, helices, labels) for r in rows])]
    for status, heading in ((processes.ADDED, _("Added in %(round)s", round=b)),
                            (processes.DROPPED, _("Dropped after %(round)s", round=a))):
        items = [r["title"] for r in rows if r["status"] == status]
        out += [("h1", heading), ("bullets", items) if items else ("p", _("None."))]
    return out


def _row(r: dict[str, Any], helices: list[str], labels: dict[str, str]) -> list[str]:
    return [
        r["title"], status_label(r["status"]),
        arrow(number(r["earlier_rank"]), number(r["later_rank"])),
        arrow(percent(r["earlier_support"]), percent(r["later_support"])),
        points(r["support_change"]),
        arrow(number(r["earlier_consensus"]), number(r["later_consensus"])),
        number(r["consensus_change"], signed=True),
        split_text(r, helices, labels),
        arrow(number(r["earlier_priority"]), number(r["later_priority"])),
    ]


def _to_md(earlier: Workshop, later: Workshop, frame: pd.DataFrame) -> bytes:
    return md.markdown(_blocks(earlier, later, frame))
