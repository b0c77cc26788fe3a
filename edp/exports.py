"""Export files built in memory from the analysis frames (the view only calls send_file).

Every format comes from one snapshot of the workshop read at the start of `build`:
`tables(ws)` turns it into pandas frames (CSV, XLSX, DOCX, Markdown) and `record_dict` into the
JSON record. The numbers are `workshop.compute_results(ws)`, the very arithmetic of the live
results, never recomputed here. Exports work at any phase and with nobody in the room.

Nothing names a participant: no names, organisations, tokens or database ids. The JSON record
refers to participants by an anonymous number (p1, p2, ... in joining order) that only holds
within one file. Headings and labels are translated into the workshop's language.
"""
from __future__ import annotations

import io
import json
import math
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from flask_babel import force_locale, format_decimal
from flask_babel import gettext as _

from . import workshop as rules
from .extensions import db
from .models import Comment, Domain, Event, Participant, Priority, Ranking, Score, Vote, Workshop

FORMATS = ("csv", "xlsx", "docx", "json", "md")

MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "json": "application/json",
    "md": "text/markdown; charset=utf-8",
}

RECORD_FORMAT, RECORD_VERSION = "edp-live-record", 1

# Sheet (table) order; the first three are part of the outside contract.
SHEETS = ("Priorities", "Domains", "Deliberation", "Participation", "Events")

# Characters XML 1.0 (xlsx, docx) cannot hold; participants' text may contain them.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# A spreadsheet treats cells starting with these as formulas (CSV/formula injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_EXCEL_CELL_MAX = 32_767


def build(ws: Workshop, fmt: str) -> tuple[bytes, str, str]:
    """The export of `ws` in `fmt` as (data, mimetype, filename). Needs an app context."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format: {fmt!r}")
    snap = _snapshot(ws)
    with force_locale(ws.language or "en"):
        if fmt == "json":
            data = _to_json(snap)
        else:
            frames = _frames(snap)
            data = {"csv": _to_csv, "xlsx": _to_xlsx, "docx": _to_docx, "md": _to_md}[fmt](
                snap, frames
            )
    return data, MIMETYPES[fmt], filename(ws, fmt)


def filename(ws: Workshop, fmt: str) -> str:
    return f"edp-{ws.code}-{slug(ws.title)}.{fmt}"


def slug(text: str, limit: int = 60) -> str:
    """ASCII, lower case, words joined by hyphens: "Riego de precisión" -> "riego-de-precision"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return words[:limit].rstrip("-") or "workshop"


# ---------------------------------------------------------------- reading the workshop once


@dataclass
class _Snapshot:
    ws: Workshop
    exported_at: datetime
    results: dict[str, Any]
    domains: list[Domain]
    priorities: list[Priority]
    comments: list[Any]  # rows: id, domain_id, stance, text, created_at, participant_id, helix
    participants: list[Any]  # rows: id, helix, created_at
    refs: dict[int, str]  # participant id -> "p1", "p2", ...
    events: list[Any]  # rows: id, at, kind, actor_role, helix, participant_id, payload
    votes: list[Any] = field(default_factory=list)
    scores: list[Any] = field(default_factory=list)
    rankings: list[Any] = field(default_factory=list)

    @property
    def helix_labels(self) -> dict[str, str]:
        labels = {h["key"]: h["label"] for h in self.ws.helices}
        for key in self.results["participation"]:
            labels.setdefault(key, key)
        for p in self.participants:
            labels.setdefault(p.helix, p.helix)
        return labels

    @property
    def by_domain(self) -> dict[int, dict[str, Any]]:
        return {e["domain_id"]: e for e in self.results["ranking"]}


def _snapshot(ws: Workshop) -> _Snapshot:
    """Every row the exports need, read in one go (plain rows, no lazy loading later)."""
    wid = ws.id
    results = rules.compute_results(ws)
    participants = db.session.execute(
        sa.select(Participant.id, Participant.helix, Participant.created_at)
        .where(Participant.workshop_id == wid)
        .order_by(Participant.id)
    ).all()
    refs = {row.id: f"p{n}" for n, row in enumerate(participants, start=1)}
    comments = db.session.execute(
        sa.select(Comment.id, Comment.domain_id, Comment.stance, Comment.text,
                  Comment.created_at, Comment.participant_id, Participant.helix)
        .join(Participant, Participant.id == Comment.participant_id)
        .where(Comment.workshop_id == wid)
        .order_by(Comment.id)
    ).all()
    priorities = list(db.session.scalars(
        sa.select(Priority).where(Priority.workshop_id == wid)
        .order_by(Priority.rank, Priority.domain_id)
    ))
    events = db.session.execute(
        sa.select(Event.id, Event.at, Event.kind, Event.actor_role, Event.helix,
                  Event.participant_id, Event.payload)
        .where(Event.workshop_id == wid)
        .order_by(Event.id)
    ).all()
    votes = db.session.execute(
        sa.select(Vote.participant_id, Vote.domain_id, Vote.points)
        .where(Vote.workshop_id == wid).order_by(Vote.participant_id, Vote.domain_id)
    ).all()
    scores = db.session.execute(
        sa.select(Score.participant_id, Score.domain_id, Score.criterion, Score.value)
        .where(Score.workshop_id == wid)
        .order_by(Score.participant_id, Score.domain_id, Score.criterion)
    ).all()
    rankings = db.session.execute(
        sa.select(Ranking.participant_id, Ranking.order)
        .where(Ranking.workshop_id == wid).order_by(Ranking.participant_id)
    ).all()
    return _Snapshot(
        ws=ws,
        exported_at=datetime.now(UTC).replace(tzinfo=None),
        results=results,
        domains=rules.domains_of(ws),
        priorities=priorities,
        comments=comments,
        participants=participants,
        refs=refs,
        events=events,
        votes=votes,
        scores=scores,
        rankings=rankings,
    )


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z (stored datetimes are naive UTC)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat() + "Z"


# ---------------------------------------------------------------- the frames


def helix_column(key: str) -> str:
    return f"by_helix_{key}"


def tables(ws: Workshop) -> dict[str, pd.DataFrame]:
    """The workshop as frames: Priorities, Domains, Deliberation, Participation, Events.

    Column names are stable machine keys (`rank`, `title`, `score`, `by_helix_<helix key>`...);
    the spreadsheet and the reports show translated headers instead.
    """
    return _frames(_snapshot(ws))


def _frames(snap: _Snapshot) -> dict[str, pd.DataFrame]:
    results = snap.results
    labels = snap.helix_labels
    helices = list(labels)
    hcols = [helix_column(h) for h in helices]
    by_domain = snap.by_domain
    titles = {d.id: d.title for d in snap.domains}
    prio = {p.domain_id: p for p in snap.priorities}
    n_comments: dict[int, int] = {}
    for c in snap.comments:
        n_comments[c.domain_id] = n_comments.get(c.domain_id, 0) + 1

    def numbers(domain_id: int) -> dict[str, Any]:
        entry = by_domain.get(domain_id)
        if entry is None:  # not approved: no live result
            return {"score": math.nan, "balanced_score": math.nan, "voters": pd.NA,
                    **{helix_column(h): math.nan for h in helices}}
        return {
            "score": entry["score"],
            "balanced_score": entry["balanced_score"],
            "voters": entry["voters"],
            # A helix without voters has no entry (empty cell); one that gave nothing has 0.
            **{helix_column(h): entry["by_helix"].get(h, math.nan) for h in helices},
        }

    # Priorities
    rows = []
    for p in snap.priorities:
        rows.append({
            "rank": p.rank,
            "domain_id": p.domain_id,
            "title": titles.get(p.domain_id, ""),
            "rationale": p.rationale,
            "indicators": "; ".join(p.indicators or []),
            **numbers(p.domain_id),
        })
    cols = ["rank", "domain_id", "title", "rationale", "indicators", "score", "balanced_score",
            "voters", *hcols]
    priorities = _typed(pd.DataFrame(rows, columns=cols), ints=("rank", "domain_id", "voters"))

    # Domains: the short list by rank, then the other approved domains in results order,
    # then those not on the ballot (pending, hidden, merged) by id.
    position = {e["domain_id"]: k for k, e in enumerate(results["ranking"])}
    status_order = {"approved": 0, "pending": 1, "hidden": 2, "merged": 3}

    def order(d: Domain) -> tuple:
        if d.id in prio:
            return (0, prio[d.id].rank, d.id)
        if d.id in position:
            return (1, position[d.id], d.id)
        return (2, status_order.get(d.status, 9), d.id)

    rows = []
    for d in sorted(snap.domains, key=order):
        p = prio.get(d.id)
        rows.append({
            "rank": p.rank if p else pd.NA,
            "domain_id": d.id,
            "title": d.title,
            "status": d.status,
            "seed": bool(d.seed),
            "merged_into": d.merged_into_id if d.merged_into_id is not None else pd.NA,
            "description": d.description or "",
            "proposal_rationale": d.rationale or "",
            "sdgs": ", ".join(str(s) for s in d.sdgs or []),
            "comments": n_comments.get(d.id, 0),
            **numbers(d.id),
            "rationale": p.rationale if p else "",
            "indicators": "; ".join(p.indicators or []) if p else "",
        })
    cols = ["rank", "domain_id", "title", "status", "seed", "merged_into", "description",
            "proposal_rationale", "sdgs", "comments", "score", "balanced_score", "voters", *hcols,
            "rationale", "indicators"]
    domains = _typed(pd.DataFrame(rows, columns=cols),
                     ints=("rank", "domain_id", "merged_into", "comments", "voters"))

    # Deliberation: every comment, with the author's helix only.
    deliberation = pd.DataFrame(
        [
            {"comment_id": c.id, "domain_id": c.domain_id, "domain": titles.get(c.domain_id, ""),
             "stance": c.stance, "helix": c.helix, "text": c.text, "at": c.created_at}
            for c in snap.comments
        ],
        columns=["comment_id", "domain_id", "domain", "stance", "helix", "text", "at"],
    )
    deliberation = _typed(deliberation, ints=("comment_id", "domain_id"), times=("at",))

    # Participation: who joined and who cast anything, per helix.
    joined: dict[str, int] = {}
    for p in snap.participants:
        joined[p.helix] = joined.get(p.helix, 0) + 1
    participation = pd.DataFrame(
        [
            {"helix": h, "label": labels[h], "participants": joined.get(h, 0),
             "voters": int(results["participation"].get(h, 0))}
            for h in helices
        ],
        columns=["helix", "label", "participants", "voters"],
    )
    participation = _typed(participation, ints=("participants", "voters"))

    # Events: the append-only record, without participant ids.
    events = pd.DataFrame(
        [
            {"event_id": e.id, "at": e.at, "kind": e.kind, "actor_role": e.actor_role,
             "helix": e.helix, "payload": _dumps(e.payload or {})}
            for e in snap.events
        ],
        columns=["event_id", "at", "kind", "actor_role", "helix", "payload"],
    )
    events = _typed(events, ints=("event_id",), times=("at",))

    return {
        "Priorities": priorities,
        "Domains": domains,
        "Deliberation": deliberation,
        "Participation": participation,
        "Events": events,
    }


def _typed(frame: pd.DataFrame, ints=(), times=()) -> pd.DataFrame:
    """Nullable integers (empty, not 1.0/NaN) and datetimes, also for empty frames."""
    frame = frame.copy()
    for col in ints:
        frame[col] = pd.array(
            [None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
             else int(v) for v in frame[col]],
            dtype="Int64",
        )
    for col in times:
        frame[col] = pd.to_datetime(frame[col])
    for col in frame.columns:
        if col in ("score", "balanced_score") or col.startswith("by_helix_"):
            frame[col] = frame[col].astype("float64")
    return frame


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


# ---------------------------------------------------------------- labels (translated)


def _headers(snap: _Snapshot) -> dict[str, str]:
    headers = {
        "rank": _("Rank"),
        "domain_id": _("Domain id"),
        "title": _("Domain"),
        "domain": _("Domain"),
        "rationale": _("Rationale"),
        "indicators": _("Monitoring indicators"),
        "score": _("Score"),
        "balanced_score": _("Helix-balanced score"),
        "voters": _("Voters"),
        "status": _("Status"),
        "seed": _("From the regional diagnosis"),
        "merged_into": _("Merged into (id)"),
        "description": _("Description"),
        "proposal_rationale": _("Why the region can lead"),
        "sdgs": _("SDGs"),
        "comments": _("Comments"),
        "comment_id": _("Comment id"),
        "stance": _("Stance"),
        "helix": _("Helix"),
        "text": _("Comment"),
        "at": _("Time (UTC)"),
        "label": _("Helix"),
        "participants": _("Participants"),
        "event_id": _("Event id"),
        "kind": _("Event"),
        "actor_role": _("Role"),
        "payload": _("Details (JSON)"),
    }
    for key, label in snap.helix_labels.items():
        headers[helix_column(key)] = label
    return headers


def _sheet_names() -> dict[str, str]:
    """Sheet names stay the same in every language, so scripts that read the workbook keep
    working; the column headers inside are translated."""
    return {name: name for name in SHEETS}


def _stance_label(stance: str) -> str:
    return {
        "support": _("Support"),
        "concern": _("Concern"),
        "question": _("Question"),
        "evidence": _("Evidence"),
    }.get(stance, stance)


def _status_label(status: str) -> str:
    return {
        "approved": _("Approved"),
        "pending": _("Waiting for approval"),
        "hidden": _("Hidden"),
        "merged": _("Merged"),
    }.get(status, status)


def _phase_label(phase: str) -> str:
    return {
        "lobby": _("Lobby"),
        "propose": _("Propose"),
        "discuss": _("Discuss"),
        "vote": _("Vote"),
        "results": _("Results"),
        "decide": _("Decide"),
        "closed": _("Closed"),
    }.get(phase, phase)


def _method_label(method: str) -> str:
    return {
        "dot": _("Dot voting"),
        "score": _("Multi-criteria scoring"),
        "rank": _("Ranking"),
    }.get(method, method)


def _method_text(ws: Workshop) -> str:
    """One sentence on how the scores were made, for the reports."""
    if ws.method == "dot":
        text = _("Each participant spread %(budget)s points over the domains; the score is the "
                 "total of points, and each helix's support is its points per voter.",
                 budget=ws.budget)
    elif ws.method == "score":
        criteria = ", ".join(f"{c['label']} ({format_decimal(c['weight'], '0.##')})"
                             for c in ws.criteria)
        text = _("Each participant scored the domains from 1 to 5 on every criterion (%(criteria)s); "
                 "the score is the mean of the participants' weighted means.", criteria=criteria)
    else:
        text = _("Each participant ranked the domains; the score is the Borda count (with m "
                 "domains, position i earns m - i points), and each helix's support is its "
                 "points per voter.")
    return text + " " + _("The helix-balanced score gives every helix with voters the same "
                          "weight, whatever its head count.")


def _num(value: Any) -> str:
    """A number for people, in the workshop's locale ("–" when there is none)."""
    if value is None or value is pd.NA:
        return "–"
    value = float(value)
    if math.isnan(value):
        return "–"
    return format_decimal(value, format="#,##0.##")


def _date(value: datetime) -> str:
    return value.strftime("%Y-%m-%d")


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else ""


# ---------------------------------------------------------------- shared report pieces


def _priority_items(snap: _Snapshot) -> list[dict[str, Any]]:
    titles = {d.id: d.title for d in snap.domains}
    by_domain = snap.by_domain
    return [
        {"rank": p.rank, "domain_id": p.domain_id, "title": titles.get(p.domain_id, ""),
         "rationale": p.rationale, "indicators": list(p.indicators or []),
         "result": by_domain.get(p.domain_id)}
        for p in snap.priorities
    ]


def _comments_by_domain(snap: _Snapshot) -> dict[int, dict[str, list[Any]]]:
    grouped: dict[int, dict[str, list[Any]]] = {}
    for c in snap.comments:
        grouped.setdefault(c.domain_id, {}).setdefault(c.stance, []).append(c)
    return grouped


def _stances_in_order(found: dict[str, list[Any]]) -> list[str]:
    return [s for s in rules.STANCES if s in found] + sorted(set(found) - set(rules.STANCES))


def _long_list(snap: _Snapshot) -> list[dict[str, Any]]:
    """Approved domains not on the short list, in results order."""
    decided = {p.domain_id for p in snap.priorities}
    return [e for e in snap.results["ranking"] if e["domain_id"] not in decided]


# ---------------------------------------------------------------- csv


def _csv_safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _to_csv(snap: _Snapshot, frames: dict[str, pd.DataFrame]) -> bytes:
    frame = frames["Domains"].copy()
    for col in frame.columns:
        if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
            frame[col] = frame[col].map(_csv_safe)
    text = frame.to_csv(index=False, lineterminator="\r\n")
    # A BOM so that Excel opens accents (Región, Bioinsumos, ...) right.
    return ("\ufeff" + text).encode("utf-8", "replace")


# ---------------------------------------------------------------- xlsx


def _xl_text(value: Any) -> Any:
    if isinstance(value, str):
        value = _XML_ILLEGAL.sub("", value)
        if len(value) > _EXCEL_CELL_MAX:
            value = value[: _EXCEL_CELL_MAX - 1] + "…"
    return value


def _sheet_title(name: str, taken: set[str]) -> str:
    title = re.sub(r"[\[\]:*?/\\]", " ", name).strip()[:31] or "Sheet"
    base, n = title, 2
    while title.lower() in taken:
        suffix = f" ({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(title.lower())
    return title


def _unique(names: list[str]) -> list[str]:
    """Headers made unique (a helix label may repeat another header)."""
    seen: set[str] = set()
    out = []
    for name in names:
        candidate, n = name, 2
        while candidate.lower() in seen:
            candidate, n = f"{name} ({n})", n + 1
        seen.add(candidate.lower())
        out.append(candidate)
    return out


_WIDE_COLUMNS = {"rationale", "text", "description", "proposal_rationale", "payload", "indicators"}


def _to_xlsx(snap: _Snapshot, frames: dict[str, pd.DataFrame]) -> bytes:
    from openpyxl.styles import Alignment, Font

    headers = _headers(snap)
    names = _sheet_names()
    frames = dict(frames)
    labels = snap.helix_labels

    def helix_label(key: Any) -> Any:
        return labels.get(key, key) if isinstance(key, str) else key

    frames["Deliberation"] = frames["Deliberation"].assign(
        stance=frames["Deliberation"]["stance"].map(_stance_label),
        helix=frames["Deliberation"]["helix"].map(helix_label),
    )
    frames["Events"] = frames["Events"].assign(
        helix=frames["Events"]["helix"].map(helix_label)
    )
    frames["Domains"] = frames["Domains"].assign(
        status=frames["Domains"]["status"].map(_status_label)
    )
    frames["Participation"] = frames["Participation"].drop(columns=["helix"])
    about = pd.DataFrame(
        [
            (_("Workshop"), snap.ws.title),
            (_("Region"), snap.ws.region),
            (_("Join code"), snap.ws.code),
            (_("Phase"), _phase_label(snap.ws.phase)),
            (_("Voting method"), _method_label(snap.ws.method)),
            (_("Exported at"), _iso(snap.exported_at)),
        ],
        columns=[_("Item"), _("Value")],
    )
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    buf = io.BytesIO()
    taken: set[str] = set()
    with pd.ExcelWriter(buf, engine="openpyxl", datetime_format="yyyy-mm-dd hh:mm:ss") as xw:
        for key in (*SHEETS, "About"):
            if key == "About":
                frame, title = about, _sheet_title("Workshop", taken)
                keys = ["item", "value"]
            else:
                frame = frames[key]
                keys = list(frame.columns)
                frame = frame.rename(columns=headers)
                title = _sheet_title(names[key], taken)
            frame = frame.copy()
            frame.columns = _unique([_xl_text(str(c)) for c in frame.columns])
            for col in frame.columns:
                if frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col]):
                    frame[col] = frame[col].map(_xl_text)
            frame.to_excel(xw, sheet_name=title, index=False)
            sheet = xw.sheets[title]
            for cell in sheet[1]:
                cell.font = bold
            sheet.freeze_panes = "A2"
            if len(frame):
                sheet.auto_filter.ref = sheet.dimensions
            for idx, (col, keyname) in enumerate(zip(frame.columns, keys), start=1):
                letter = sheet.cell(row=1, column=idx).column_letter
                lengths = frame[col].map(lambda v: len(str(v)) if v is not None else 0)
                longest = max([len(str(col)), *(lengths.tolist() or [0])])
                wide = keyname in _WIDE_COLUMNS
                sheet.column_dimensions[letter].width = max(8, min(longest + 2, 60 if wide else 40))
                if wide and key != "Events":  # the event log stays one line per event
                    for cell in sheet[letter][1:]:
                        cell.alignment = wrap
            # Text that looks like a formula (=, +, -, @) stays text.
            for row in sheet.iter_rows(min_row=2):
                for cell in row:
                    if cell.data_type == "f":
                        cell.data_type = "s"
    return buf.getvalue()


# ---------------------------------------------------------------- json


def _json_clean(value: Any) -> Any:
    """NaN/inf are not JSON: they become null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_clean(v) for v in value]
    return value


def record_dict(snap: _Snapshot) -> dict[str, Any]:
    """The whole workshop as one JSON-ready dict (a later round or another region imports it)."""
    ws, refs = snap.ws, snap.refs
    helix_of = {p.id: p.helix for p in snap.participants}
    n_comments: dict[int, int] = {}
    for c in snap.comments:
        n_comments[c.domain_id] = n_comments.get(c.domain_id, 0) + 1

    workshop = {
        **rules.workshop_dict(ws),
        "description": (ws.settings or {}).get("description", ""),
        "settings": ws.settings or {},
        "created_at": _iso(ws.created_at),
        "participants_by_helix": rules.helix_counts(ws),
    }
    domains = []
    for d in snap.domains:
        item = rules.domain_dict(d, n_comments.get(d.id, 0))
        item["proposed_by"] = refs.get(d.participant_id) if d.participant_id else None
        item["proposer_helix"] = helix_of.get(d.participant_id) if d.participant_id else None
        item["created_at"] = _iso(d.created_at)
        domains.append(item)

    votes: dict[str, dict[str, Any]] = {}
    for v in snap.votes:
        ref = refs.get(v.participant_id)
        if ref is None:
            continue
        entry = votes.setdefault(ref, {"helix": helix_of[v.participant_id], "points": {}})
        entry["points"][str(v.domain_id)] = v.points
    scores: dict[str, dict[str, Any]] = {}
    for s in snap.scores:
        ref = refs.get(s.participant_id)
        if ref is None:
            continue
        entry = scores.setdefault(ref, {"helix": helix_of[s.participant_id], "values": {}})
        entry["values"].setdefault(str(s.domain_id), {})[s.criterion] = s.value
    rankings: dict[str, dict[str, Any]] = {}
    for r in snap.rankings:
        ref = refs.get(r.participant_id)
        if ref is not None:
            rankings[ref] = {"helix": helix_of[r.participant_id], "order": list(r.order or [])}

    priorities = []
    grouped = _comments_by_domain(snap)
    decided_at = {p.domain_id: p.decided_at for p in snap.priorities}
    for item in _priority_items(snap):
        result = item.pop("result")
        item["decided_at"] = _iso(decided_at.get(item["domain_id"]))
        item["score"] = result["score"] if result else None
        item["balanced_score"] = result["balanced_score"] if result else None
        item["by_helix"] = result["by_helix"] if result else {}
        item["voters"] = result["voters"] if result else 0
        found = grouped.get(item["domain_id"], {})
        item["evidence"] = {s: [c.id for c in found.get(s, [])] for s in rules.STANCES}
        priorities.append(item)

    return _json_clean({
        "format": RECORD_FORMAT,
        "version": RECORD_VERSION,
        "exported_at": _iso(snap.exported_at),
        "workshop": workshop,
        "domains": domains,
        "comments": [
            {"comment_id": c.id, "domain_id": c.domain_id, "stance": c.stance, "text": c.text,
             "helix": c.helix, "at": _iso(c.created_at)}
            for c in snap.comments
        ],
        "participants": [
            {"ref": refs[p.id], "helix": p.helix, "joined_at": _iso(p.created_at)}
            for p in snap.participants
        ],
        "votes": votes,
        "scores": scores,
        "rankings": rankings,
        "priorities": priorities,
        "results": snap.results,
        "events": [
            {"id": e.id, "at": _iso(e.at), "kind": e.kind, "actor_role": e.actor_role,
             "helix": e.helix,
             "participant": refs.get(e.participant_id) if e.participant_id is not None else None,
             "payload": e.payload or {}}
            for e in snap.events
        ],
    })


def _to_json(snap: _Snapshot) -> bytes:
    text = json.dumps(record_dict(snap), ensure_ascii=False, indent=2, default=str)
    return text.encode("utf-8", "replace")


# ---------------------------------------------------------------- markdown


def _md_inline(text: Any) -> str:
    """One line of text for a heading, list item or table cell."""
    text = " ".join(("" if text is None else str(text)).split())
    return text.replace("\\", "\\\\").replace("<", "&lt;").replace("|", "\\|")


def _md_block(text: Any) -> str:
    """Several lines kept as hard line breaks, with block markup at line starts escaped."""
    lines = []
    for line in ("" if text is None else str(text)).replace("\r\n", "\n").split("\n"):
        line = " ".join(line.split()).replace("\\", "\\\\").replace("<", "&lt;")
        line = re.sub(r"^([#>+*=-]|\d+[.)])", r"\\\1", line)
        if line:
            lines.append(line)
    return "  \n".join(lines)


def _md_table(head: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(_md_inline(h) for h in head) + " |",
           "|" + "|".join("---" for _h in head) + "|"]
    out += ["| " + " | ".join(_md_inline(c) for c in row) + " |" for row in rows]
    return out


def _to_md(snap: _Snapshot, frames: dict[str, pd.DataFrame]) -> bytes:
    ws = snap.ws
    labels = snap.helix_labels
    titles = {d.id: d.title for d in snap.domains}
    out = [f"# {_md_inline(ws.title)}", ""]
    facts = [
        (_("Region"), ws.region or "–"),
        (_("Date"), _date(snap.exported_at)),
        (_("Phase"), _phase_label(ws.phase)),
        (_("Voting method"), _method_label(ws.method)),
    ]
    out += ["  \n".join(f"**{k}:** {_md_inline(v)}" for k, v in facts), ""]
    out += [_md_inline(_method_text(ws)), ""]

    part = frames["Participation"]
    out += [f"## {_('Participation by helix')}", ""]
    rows = [[r.label, r.participants, r.voters] for r in part.itertuples()]
    rows.append([_("Total"), int(part["participants"].sum()), int(part["voters"].sum())])
    out += _md_table([_("Helix"), _("Participants"), _("Voters")], rows) + [""]

    out += [f"## {_('Priorities')}", ""]
    items = _priority_items(snap)
    if not items:
        out += [_md_inline(_("No priorities have been decided yet.")), ""]
    for item in items:
        out += [f"### {item['rank']}. {_md_inline(item['title'])}", ""]
        out += [f"**{_('Rationale')}:**  ", _md_block(item["rationale"]), ""]
        if item["indicators"]:
            out += [f"**{_('Monitoring indicators')}:**", ""]
            out += [f"- {_md_inline(i)}" for i in item["indicators"]] + [""]
        result = item["result"]
        if result:
            out += [(f"**{_('Score')}:** {_num(result['score'])} · "
                     f"**{_('Helix-balanced score')}:** {_num(result['balanced_score'])} · "
                     f"**{_('Voters')}:** {result['voters']}"), ""]
            if result["by_helix"]:
                out += _md_table([_("Helix"), _("Support")],
                                 [[labels.get(h, h), _num(v)]
                                  for h, v in result["by_helix"].items()]) + [""]
        else:
            out += [_md_inline(_("This domain is no longer on the ballot.")), ""]

    out += [f"## {_('Below the line')}", ""]
    rest = _long_list(snap)
    if rest:
        out += _md_table(
            ["#", _("Domain"), _("Score"), _("Helix-balanced score"), _("Voters")],
            [[n, e["title"], _num(e["score"]), _num(e["balanced_score"]), e["voters"]]
             for n, e in enumerate(rest, start=1)],
        ) + [""]
    else:
        out += [_md_inline(_("No other domains on the ballot.")), ""]

    out += [f"## {_('Deliberation')}", ""]
    grouped = _comments_by_domain(snap)
    if not grouped:
        out += [_md_inline(_("No comments yet.")), ""]
    ordered = [d for d in frames["Domains"]["domain_id"].tolist() if d in grouped]
    for domain_id in ordered:
        out += [f"### {_md_inline(titles.get(domain_id, ''))}", ""]
        found = grouped[domain_id]
        for stance in _stances_in_order(found):
            out += [f"**{_stance_label(stance)}**", ""]
            out += [f"- {_md_inline(c.text)} — *{_md_inline(labels.get(c.helix, c.helix))}, "
                    f"{_time(c.created_at)}*" for c in found[stance]] + [""]

    out += ["---", "", _md_inline(_("Exported from EDP Live on %(when)s.",
                                     when=_iso(snap.exported_at))), ""]
    return "\n".join(out).encode("utf-8", "replace")


# ---------------------------------------------------------------- docx


def _dx(text: Any) -> str:
    return _XML_ILLEGAL.sub("", str(text if text is not None else ""))


def _short(text: str, limit: int = 45) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _chart_png(snap: _Snapshot, top: int = 15) -> bytes | None:
    """Horizontal bars of score and helix-balanced score (matplotlib, Agg, no pyplot state)."""
    ranking = snap.results["ranking"][:top]
    if not ranking:
        return None
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = [_short(e["title"]) for e in ranking][::-1]
    score = [e["score"] for e in ranking][::-1]
    balanced = [e["balanced_score"] for e in ranking][::-1]
    with warnings.catch_warnings():
        # A missing glyph (emoji in a title) must not stop the report.
        warnings.simplefilter("ignore")
        fig = Figure(figsize=(8, 1.2 + 0.42 * len(ranking)), dpi=150)
        FigureCanvasAgg(fig)
        ax1, ax2 = fig.subplots(1, 2, sharey=True)
        # Numeric positions: two domains with the same title must keep two bars.
        ys = list(range(len(names)))
        ax1.barh(ys, score, color="#1f6f8b")
        ax1.set_yticks(ys, names)
        ax1.set_title(_("Score"), fontsize=10)
        ax2.barh(ys, balanced, color="#99a8b2")
        ax2.set_title(_("Helix-balanced score"), fontsize=10)
        for ax in (ax1, ax2):
            ax.tick_params(labelsize=8)
            ax.spines[["top", "right"]].set_visible(False)
        fig.suptitle(_("Results: %(method)s", method=_method_label(snap.ws.method)), fontsize=11)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def _docx_table(doc, head: list[str], rows: list[list[Any]]):
    table = doc.add_table(rows=1, cols=len(head))
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, head):
        cell.text = ""
        cell.paragraphs[0].add_run(_dx(text)).bold = True
    for row in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, row):
            cell.text = _dx(value)
    return table


def _to_docx(snap: _Snapshot, frames: dict[str, pd.DataFrame]) -> bytes:
    from docx import Document
    from docx.shared import Inches

    ws = snap.ws
    labels = snap.helix_labels
    titles = {d.id: d.title for d in snap.domains}
    doc = Document()
    doc.core_properties.title = _dx(ws.title)
    doc.core_properties.language = ws.language or "en"
    doc.core_properties.subject = _("Entrepreneurial Discovery Process: priorities and rationale")

    doc.add_heading(_dx(ws.title), level=0)
    doc.add_paragraph(_dx(" · ".join(x for x in (
        ws.region, _date(snap.exported_at), _phase_label(ws.phase)) if x)))

    doc.add_heading(_("Method and participation"), level=1)
    doc.add_paragraph(_dx(f"{_method_label(ws.method)}. {_method_text(ws)}"))
    part = frames["Participation"]
    rows = [[r.label, r.participants, r.voters] for r in part.itertuples()]
    rows.append([_("Total"), int(part["participants"].sum()), int(part["voters"].sum())])
    _docx_table(doc, [_("Helix"), _("Participants"), _("Voters")], rows)

    doc.add_heading(_("Results"), level=1)
    png = _chart_png(snap)
    if png:
        doc.add_picture(io.BytesIO(png), width=Inches(6.3))
    else:
        doc.add_paragraph(_("No domains on the ballot yet."))

    doc.add_heading(_("Priorities"), level=1)
    items = _priority_items(snap)
    if not items:
        doc.add_paragraph(_("No priorities have been decided yet."))
    for item in items:
        doc.add_heading(_dx(f"{item['rank']}. {item['title']}"), level=2)
        para = doc.add_paragraph()
        para.add_run(_("Rationale") + ": ").bold = True
        para.add_run(_dx(item["rationale"]))
        if item["indicators"]:
            doc.add_paragraph().add_run(_("Monitoring indicators") + ":").bold = True
            for indicator in item["indicators"]:
                doc.add_paragraph(_dx(indicator), style="List Bullet")
        result = item["result"]
        if result:
            doc.add_paragraph(_dx(
                f"{_('Score')}: {_num(result['score'])} · "
                f"{_('Helix-balanced score')}: {_num(result['balanced_score'])} · "
                f"{_('Voters')}: {result['voters']}"
            ))
            if result["by_helix"]:
                doc.add_paragraph(_dx(_("Support by helix") + ": " + "; ".join(
                    f"{labels.get(h, h)} {_num(v)}" for h, v in result["by_helix"].items())))

    doc.add_heading(_("All domains"), level=1)
    dom = frames["Domains"]
    _docx_table(
        doc,
        [_("Rank"), _("Domain"), _("Status"), _("Score"), _("Helix-balanced score"), _("Voters")],
        [
            ["" if pd.isna(r.rank) else int(r.rank), r.title, _status_label(r.status),
             _num(r.score), _num(r.balanced_score), "" if pd.isna(r.voters) else int(r.voters)]
            for r in dom.itertuples()
        ],
    )

    doc.add_heading(_("Deliberation on the priorities"), level=1)
    grouped = _comments_by_domain(snap)
    if not items:
        doc.add_paragraph(_("No priorities have been decided yet."))
    for item in items:
        doc.add_heading(_dx(titles.get(item["domain_id"], "")), level=2)
        found = grouped.get(item["domain_id"], {})
        if not found:
            doc.add_paragraph(_("No comments yet."))
        for stance in _stances_in_order(found):
            doc.add_heading(_stance_label(stance), level=3)
            for c in found[stance]:
                para = doc.add_paragraph(_dx(c.text), style="List Bullet")
                para.add_run(_dx(f" ({labels.get(c.helix, c.helix)})")).italic = True

    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
