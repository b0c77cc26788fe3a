"""Export files built in memory from the analysis frames (the view only calls send_file).

Every format comes from one snapshot of the workshop read at the start of `build`:
`tables(ws)` turns it into pandas frames (CSV, XLSX, DOCX, Markdown) and `record_dict` into the
JSON record. The numbers are `workshop.compute_results(ws)`, the very arithmetic of the live
results, never recomputed here. Exports work at any phase and with nobody in the room.

Identity follows the workshop's `anonymity` setting (`settings["anonymity"]`):

- "anonymous" (the default): nothing names a participant (no names, organisations, tokens or
  database ids); comments, proposals and events carry the helix only.
- "named": comments and proposals also show the author's name and organisation (as given when
  joining). The event log and the deliberation timeline stay anonymous in both settings.

The JSON record refers to participants by an anonymous number (p1, p2, ... in joining order)
that only holds within one file; `edp.record` imports it back. Headings and labels are
translated into the workshop's language (sheet names stay in English).

Each decided priority carries its evidence, attached here from the live results and the
comments: score, helix-balanced score, the split by helix, consensus, spread, the polarised and
one-helix flags with their warnings, and the supporting (support, evidence) and opposing
(concern, question) comments. Merge lineage (which proposals became which domain) comes from
`Domain.merged_into_id`.
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
from .sdgs import sdg_label

FORMATS = ("csv", "xlsx", "docx", "json", "md")

MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "json": "application/json",
    "md": "text/markdown; charset=utf-8",
}

# Version 2 added: comment authors (refs), funders, indicator objects, merge lineage, SDG names,
# evidence per priority, the anonymity setting. `edp.record` imports versions 1 and 2.
RECORD_FORMAT, RECORD_VERSION = "edp-live-record", 2

# Sheet (table) order; the first three are part of the outside contract. Names stay English.
SHEETS = ("Priorities", "Domains", "Deliberation", "Participation", "Events", "Indicators",
          "Funders", "Evidence", "Lineage", "Timeline")

# Comment stances that speak for a domain and those that speak against it (or ask).
SUPPORTING = ("support", "evidence")
OPPOSING = ("concern", "question")
# Events that come in crowds; the timeline summarises each uninterrupted run of them.
_BULK_KINDS = ("join", "vote", "score", "rank", "comment")

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
    # rows: id, domain_id, stance, text, created_at, participant_id, helix, hidden; `comments`
    # leaves out those the facilitator hid (the JSON record keeps them: `all_comments`).
    comments: list[Any]
    participants: list[Any]  # rows: id, helix, created_at
    refs: dict[int, str]  # participant id -> "p1", "p2", ...
    events: list[Any]  # rows: id, at, kind, actor_role, helix, participant_id, payload
    votes: list[Any] = field(default_factory=list)
    scores: list[Any] = field(default_factory=list)
    rankings: list[Any] = field(default_factory=list)
    # participant id -> (name, organisation); filled only when the workshop is "named".
    names: dict[int, tuple[str, str]] = field(default_factory=dict)
    all_comments: list[Any] = field(default_factory=list)

    @property
    def named(self) -> bool:
        return anonymity(self.ws) == "named"

    @property
    def titles(self) -> dict[int, str]:
        return {d.id: d.title for d in self.domains}

    def author(self, participant_id: int | None) -> str:
        """"Name (Organisation)" in a named workshop, "" otherwise or when none was given."""
        if not self.named or participant_id is None:
            return ""
        name, org = self.names.get(participant_id, ("", ""))
        if name and org:
            return f"{name} ({org})"
        return name or org

    def lineage(self) -> dict[int, list[dict[str, Any]]]:
        """domain id -> the domains that became it, directly or through earlier merges:
        `{"domain_id", "title", "into"}` in id order (`into` is the direct merge target)."""
        parent = {d.id: d.merged_into_id for d in self.domains if d.merged_into_id is not None}
        titles = self.titles
        out: dict[int, list[dict[str, Any]]] = {}
        for did in sorted(parent):
            seen, node = {did}, parent[did]
            while node is not None and node not in seen:
                out.setdefault(node, []).append(
                    {"domain_id": did, "title": titles.get(did, ""), "into": parent[did]})
                seen.add(node)
                node = parent.get(node)
        return out

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
                  Comment.created_at, Comment.participant_id, Participant.helix,
                  Comment.hidden)
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
    names: dict[int, tuple[str, str]] = {}
    if anonymity(ws) == "named":  # identities are read only where the workshop allows them
        names = {
            row.id: (row.name or "", row.organisation or "")
            for row in db.session.execute(
                sa.select(Participant.id, Participant.name, Participant.organisation)
                .where(Participant.workshop_id == wid)
            )
        }
    return _Snapshot(
        ws=ws,
        exported_at=datetime.now(UTC).replace(tzinfo=None),
        results=results,
        domains=rules.domains_of(ws),
        priorities=priorities,
        comments=[c for c in comments if not c.hidden],
        all_comments=comments,
        participants=participants,
        refs=refs,
        events=events,
        votes=votes,
        scores=scores,
        rankings=rankings,
        names=names,
    )


def anonymity(ws: Workshop) -> str:
    """The workshop's anonymity setting: "anonymous" (default) or "named"."""
    value = (ws.settings or {}).get("anonymity")
    return value if value in rules.ANONYMITY else "anonymous"


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
    """The workshop as frames, one per sheet of `SHEETS` (Priorities, Domains, Deliberation,
    Participation, Events, Indicators, Funders, Evidence, Lineage, Timeline).

    Column names are stable machine keys (`rank`, `title`, `score`, `by_helix_<helix key>`...);
    the spreadsheet and the reports show translated headers instead. Texts made here (SDG
    names, event summaries) are in the workshop's language.
    """
    snap = _snapshot(ws)
    with force_locale(ws.language or "en"):
        return _frames(snap)


_AGREEMENT = ("consensus", "spread", "polarised", "one_helix")


def _frames(snap: _Snapshot) -> dict[str, pd.DataFrame]:
    results = snap.results
    labels = snap.helix_labels
    helices = list(labels)
    hcols = [helix_column(h) for h in helices]
    by_domain = snap.by_domain
    titles = snap.titles
    prio = {p.domain_id: p for p in snap.priorities}
    lineage = snap.lineage()
    helix_of = {p.id: p.helix for p in snap.participants}
    n_comments: dict[int, int] = {}
    n_for: dict[int, int] = {}
    n_against: dict[int, int] = {}
    for c in snap.comments:
        n_comments[c.domain_id] = n_comments.get(c.domain_id, 0) + 1
        if c.stance in SUPPORTING:
            n_for[c.domain_id] = n_for.get(c.domain_id, 0) + 1
        elif c.stance in OPPOSING:
            n_against[c.domain_id] = n_against.get(c.domain_id, 0) + 1

    def numbers(domain_id: int) -> dict[str, Any]:
        entry = by_domain.get(domain_id)
        if entry is None:  # not approved: no live result
            return {"score": math.nan, "balanced_score": math.nan, "voters": pd.NA,
                    "consensus": math.nan, "spread": math.nan, "polarised": pd.NA,
                    "one_helix": pd.NA, **{helix_column(h): math.nan for h in helices}}
        return {
            "score": entry["score"],
            "balanced_score": entry["balanced_score"],
            "voters": entry["voters"],
            "consensus": entry.get("consensus", math.nan),
            "spread": entry.get("spread", math.nan),
            "polarised": entry.get("polarised", pd.NA),
            "one_helix": entry.get("one_helix", pd.NA),
            # A helix without voters has no entry (empty cell); one that gave nothing has 0.
            **{helix_column(h): entry["by_helix"].get(h, math.nan) for h in helices},
        }

    def sdg_names(d: Domain) -> str:
        return "; ".join(sdg_label(n) for n in d.sdgs or [])

    def merged_from(domain_id: int) -> str:
        return "; ".join(f"#{x['domain_id']} {x['title']}" for x in lineage.get(domain_id, []))

    # Priorities, with the evidence attached.
    rows = []
    for p in snap.priorities:
        rows.append({
            "rank": p.rank,
            "domain_id": p.domain_id,
            "title": titles.get(p.domain_id, ""),
            "rationale": p.rationale,
            "indicators": "; ".join(_indicator_text(i) for i in p.indicators or []),
            "funders": "; ".join(p.funders or []),
            **numbers(p.domain_id),
            "supporting_comments": n_for.get(p.domain_id, 0),
            "opposing_comments": n_against.get(p.domain_id, 0),
        })
    cols = ["rank", "domain_id", "title", "rationale", "indicators", "funders", "score",
            "balanced_score", "voters", *_AGREEMENT, "supporting_comments",
            "opposing_comments", *hcols]
    priorities = _typed(pd.DataFrame(rows, columns=cols),
                        ints=("rank", "domain_id", "voters", "supporting_comments",
                              "opposing_comments"), bools=("polarised", "one_helix"))

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
        row = {
            "rank": p.rank if p else pd.NA,
            "domain_id": d.id,
            "title": d.title,
            "status": d.status,
            "seed": bool(d.seed),
            "merged_into": d.merged_into_id if d.merged_into_id is not None else pd.NA,
            "merged_from": merged_from(d.id),
            "description": d.description or "",
            "proposal_rationale": d.rationale or "",
            "proposer_helix": helix_of.get(d.participant_id, "") if d.participant_id else "",
            "sdgs": ", ".join(str(s) for s in d.sdgs or []),
            "sdg_names": sdg_names(d),
            "comments": n_comments.get(d.id, 0),
            **numbers(d.id),
            "rationale": p.rationale if p else "",
            "indicators": "; ".join(_indicator_text(i) for i in p.indicators or []) if p else "",
            "funders": "; ".join(p.funders or []) if p else "",
        }
        if snap.named:
            row["proposer"] = snap.author(d.participant_id)
        rows.append(row)
    cols = ["rank", "domain_id", "title", "status", "seed", "merged_into", "merged_from",
            "description", "proposal_rationale", "proposer_helix",
            *(["proposer"] if snap.named else []), "sdgs", "sdg_names", "comments", "score",
            "balanced_score", "voters", *_AGREEMENT, *hcols, "rationale", "indicators",
            "funders"]
    domains = _typed(pd.DataFrame(rows, columns=cols),
                     ints=("rank", "domain_id", "merged_into", "comments", "voters"),
                     bools=("polarised", "one_helix"))

    # Deliberation: every comment, with the author's helix (and name only when "named").
    cols = ["comment_id", "domain_id", "domain", "stance", "helix",
            *(["author"] if snap.named else []), "text", "at"]
    deliberation = pd.DataFrame(
        [
            {"comment_id": c.id, "domain_id": c.domain_id, "domain": titles.get(c.domain_id, ""),
             "stance": c.stance, "helix": c.helix, "author": snap.author(c.participant_id),
             "text": c.text, "at": c.created_at}
            for c in snap.comments
        ],
        columns=cols,
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

    # Events: the append-only record, without participant ids or references.
    describe = _Describer(snap)
    events = pd.DataFrame(
        [
            {"event_id": e.id, "at": e.at, "kind": e.kind, "actor_role": e.actor_role,
             "helix": e.helix, "summary": describe(e), "payload": _dumps(e.payload or {})}
            for e in snap.events
        ],
        columns=["event_id", "at", "kind", "actor_role", "helix", "summary", "payload"],
    )
    events = _typed(events, ints=("event_id",), times=("at",))

    # Indicators and funders, one row each.
    rows, money = [], []
    for p in snap.priorities:
        for item in p.indicators or []:
            name, baseline, target = _indicator_parts(item)
            rows.append({"rank": p.rank, "domain_id": p.domain_id,
                         "title": titles.get(p.domain_id, ""), "indicator": name,
                         "baseline": baseline, "target": target})
        for funder in p.funders or []:
            money.append({"rank": p.rank, "domain_id": p.domain_id,
                          "title": titles.get(p.domain_id, ""), "funder": funder})
    indicators = _typed(pd.DataFrame(rows, columns=["rank", "domain_id", "title", "indicator",
                                                    "baseline", "target"]),
                        ints=("rank", "domain_id"))
    funders = _typed(pd.DataFrame(money, columns=["rank", "domain_id", "title", "funder"]),
                     ints=("rank", "domain_id"))

    # Evidence: each priority's support and comments by helix.
    grouped = _comments_by_domain(snap)
    rows = []
    for item in _priority_items(snap):
        for h_row in _helix_evidence(snap, item, grouped.get(item["domain_id"], {})):
            rows.append({"rank": item["rank"], "domain_id": item["domain_id"],
                         "title": item["title"], **h_row})
    evidence = _typed(pd.DataFrame(rows, columns=["rank", "domain_id", "title", "helix",
                                                  "label", "support", "supporting_comments",
                                                  "opposing_comments"]),
                      ints=("rank", "domain_id", "supporting_comments", "opposing_comments"))
    evidence["support"] = evidence["support"].astype("float64")

    # Lineage: every merged proposal and where it went (the final domain follows the chain).
    rows = []
    parent = {d.id: d.merged_into_id for d in snap.domains}
    for d in snap.domains:
        if d.merged_into_id is None:
            continue
        final, seen = d.merged_into_id, {d.id}
        while parent.get(final) is not None and final not in seen:
            seen.add(final)
            final = parent[final]
        rows.append({"domain_id": d.id, "title": d.title, "merged_into": d.merged_into_id,
                     "into_title": titles.get(d.merged_into_id, ""), "final_domain_id": final,
                     "final_title": titles.get(final, "")})
    lineage_frame = _typed(pd.DataFrame(rows, columns=["domain_id", "title", "merged_into",
                                                       "into_title", "final_domain_id",
                                                       "final_title"]),
                           ints=("domain_id", "merged_into", "final_domain_id"))

    timeline = pd.DataFrame(_timeline(snap, describe),
                            columns=["at", "until", "actor_role", "helix", "summary"])
    timeline = _typed(timeline, times=("at", "until"))

    return {
        "Priorities": priorities,
        "Domains": domains,
        "Deliberation": deliberation,
        "Participation": participation,
        "Events": events,
        "Indicators": indicators,
        "Funders": funders,
        "Evidence": evidence,
        "Lineage": lineage_frame,
        "Timeline": timeline,
    }


def _typed(frame: pd.DataFrame, ints=(), times=(), bools=()) -> pd.DataFrame:
    """Nullable integers and booleans (empty, not 1.0/NaN) and datetimes, also for empty
    frames."""
    frame = frame.copy()
    for col in ints:
        frame[col] = pd.array(
            [None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
             else int(v) for v in frame[col]],
            dtype="Int64",
        )
    for col in bools:
        frame[col] = pd.array(
            [None if v is None or v is pd.NA else bool(v) for v in frame[col]], dtype="boolean")
    for col in times:
        frame[col] = pd.to_datetime(frame[col])
    for col in frame.columns:
        if col in ("score", "balanced_score", "consensus", "spread") or col.startswith(
                "by_helix_"):
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
        "funders": _("Funders and instruments"),
        "consensus": _("Consensus"),
        "spread": _("Spread"),
        "polarised": _("Polarised"),
        "one_helix": _("Support from one helix only"),
        "supporting_comments": _("Supporting comments"),
        "opposing_comments": _("Concerns and questions"),
        "merged_from": _("Merged from"),
        "proposer_helix": _("Proposed by (helix)"),
        "proposer": _("Proposed by"),
        "author": _("Author"),
        "sdg_names": _("Sustainable Development Goals"),
        "summary": _("What happened"),
        "until": _("Until (UTC)"),
        "indicator": _("Indicator"),
        "baseline": _("Baseline"),
        "target": _("Target"),
        "funder": _("Funder or instrument"),
        "support": _("Support"),
        "into_title": _("Merged into"),
        "final_domain_id": _("Final domain id"),
        "final_title": _("Final domain"),
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


def _anonymity_text(snap: _Snapshot) -> str:
    if snap.named:
        return _("Named: comments and proposals show the names and organisations participants "
                 "gave; the deliberation timeline stays anonymous.")
    return _("Anonymous: participants appear by helix only.")


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
    """The short list in rank order; `result` is the live results entry (None when the domain
    left the ballot) and `domain` the Domain row (the JSON record drops both)."""
    domains = {d.id: d for d in snap.domains}
    by_domain = snap.by_domain
    return [
        {"rank": p.rank, "domain_id": p.domain_id,
         "title": domains[p.domain_id].title if p.domain_id in domains else "",
         "rationale": p.rationale, "indicators": list(p.indicators or []),
         "funders": list(p.funders or []),
         "result": by_domain.get(p.domain_id), "domain": domains.get(p.domain_id)}
        for p in snap.priorities
    ]


def _indicator_parts(item: Any) -> tuple[str, str, str]:
    """(name, baseline, target) of an indicator stored as a string or an object."""
    if isinstance(item, dict):
        return (str(item.get("name") or ""), str(item.get("baseline") or ""),
                str(item.get("target") or ""))
    return (str(item), "", "")


def _indicator_text(item: Any) -> str:
    """"Hectares irrigated (baseline 1200, target 5000)"; a plain string stays as it is."""
    name, baseline, target = _indicator_parts(item)
    extra = []
    if baseline:
        extra.append(_("baseline %(value)s", value=baseline))
    if target:
        extra.append(_("target %(value)s", value=target))
    return f"{name} ({', '.join(extra)})" if extra else name


def _split_comments(found: dict[str, list[Any]]) -> tuple[list[Any], list[Any]]:
    """(supporting, opposing) comments of one domain, each in id order."""
    supporting = sorted((c for s in SUPPORTING for c in found.get(s, [])), key=lambda c: c.id)
    opposing = sorted((c for s in OPPOSING for c in found.get(s, [])), key=lambda c: c.id)
    return supporting, opposing


def _helix_evidence(snap: _Snapshot, item: dict[str, Any],
                    found: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Per helix: its support for the domain (the `by_helix` value; empty when the helix has no
    voters) and its supporting and opposing comments."""
    by_helix = (item["result"] or {}).get("by_helix", {})
    supporting, opposing = _split_comments(found)
    rows = []
    for key, label in snap.helix_labels.items():
        rows.append({
            "helix": key,
            "label": label,
            "support": by_helix.get(key, math.nan),
            "supporting_comments": sum(1 for c in supporting if c.helix == key),
            "opposing_comments": sum(1 for c in opposing if c.helix == key),
        })
    return rows


def _domain_warnings(snap: _Snapshot, domain_id: int) -> list[str]:
    """The results' warnings about one domain, as sentences."""
    labels = snap.helix_labels
    out = []
    for w in snap.results.get("warnings", []):
        if w.get("domain_id") != domain_id:
            continue
        if w.get("code") == "one_helix":
            out.append(_("All its support comes from one helix: %(helix)s.",
                         helix=labels.get(w.get("helix"), w.get("helix"))))
        elif w.get("code") == "polarised":
            out.append(_("Polarised: the least supportive helix gives it less than a quarter "
                         "of what the most supportive one gives."))
    return out


def _representation_warnings(snap: _Snapshot) -> list[str]:
    labels = snap.helix_labels
    return [
        _("%(helix)s is under-represented (%(n)s joined).",
          helix=labels.get(w["helix"], w["helix"]), n=w.get("present", 0))
        for w in snap.results.get("warnings", []) if w.get("code") == "under_represented"
    ]


def _evidence_line(result: dict[str, Any]) -> str:
    """Score, balanced score, voters and consensus in one line."""
    parts = [
        f"{_('Score')}: {_num(result['score'])}",
        f"{_('Helix-balanced score')}: {_num(result['balanced_score'])}",
        f"{_('Voters')}: {result['voters']}",
    ]
    if "consensus" in result:
        parts.append(f"{_('Consensus')}: {_num(result['consensus'])}")
        parts.append(f"{_('Spread')}: {_num(result.get('spread'))}")
    return " · ".join(parts)


def _proposer(snap: _Snapshot, d: Domain | None) -> str:
    if d is None:
        return ""
    if d.seed or d.participant_id is None:
        return _("From the regional diagnosis")
    helix_of = {p.id: p.helix for p in snap.participants}
    helix = snap.helix_labels.get(helix_of.get(d.participant_id, ""), "")
    who = snap.author(d.participant_id)
    return f"{who}, {helix}" if who else _("A participant from %(helix)s", helix=helix)


class _Describer:
    """One translated sentence per event, naming domains and helices, never a person."""

    def __init__(self, snap: _Snapshot):
        self.titles = snap.titles
        self.labels = snap.helix_labels
        self.t = {
            "workshop_created": _("Workshop created: %(title)s (%(method)s)"),
            "join": _("A participant joined"),
            "seed": _("Domain from the regional diagnosis: %(title)s"),
            "propose": _("Proposal: %(title)s"),
            "pending": _("waiting for approval"),
            "approve": _("Approved: %(title)s"),
            "hide": _("Hidden: %(title)s"),
            "merge": _("Merged: %(title)s into %(into)s"),
            "points_moved": _("%(n)s points moved"),
            "points_returned": _("%(n)s points returned to the voters"),
            "comment": _("Comment (%(stance)s) on %(title)s"),
            "vote": _("Points on %(title)s: %(before)s → %(points)s"),
            "vote_merged": _("Points moved by a merge, %(title)s: %(before)s → %(points)s"),
            "vote_hidden": _("Points returned from a hidden domain, %(title)s: "
                             "%(before)s → %(points)s"),
            "score": _("Score on %(title)s, %(criterion)s: %(before)s → %(value)s"),
            "rank": _("Ranking changed (%(n)s domains)"),
            "phase": _("Phase: %(before)s → %(phase)s"),
            "reveal_on": _("Results shown to participants and the projector"),
            "reveal_off": _("Results hidden from participants"),
            "method": _("Voting method: %(before)s → %(method)s"),
            "decide": _("Priority %(rank)s: %(title)s"),
            "updated": _("updated"),
            "undecide": _("Removed from the short list: %(title)s"),
            "comment_hide": _("A comment on %(title)s hidden by the facilitator"),
            "comment_restore": _("A comment on %(title)s restored by the facilitator"),
        }
        self.stances = {s: _stance_label(s) for s in rules.STANCES}
        self.phases = {p: _phase_label(p) for p in rules.PHASES}
        self.methods = {m: _method_label(m) for m in rules.METHODS}

    def title(self, p: dict[str, Any], key: str = "domain_id") -> str:
        did = p.get(key)
        return self.titles.get(did) or str(p.get("title") or (f"#{did}" if did else ""))

    def __call__(self, e: Any) -> str:
        t, p, kind = self.t, e.payload or {}, e.kind

        def opt(value: Any) -> str:
            return "–" if value is None else str(value)

        try:
            if kind == "workshop_created":
                return t[kind] % {"title": p.get("title", ""),
                                  "method": self.methods.get(p.get("method"), p.get("method"))}
            if kind == "join":
                return t["join"]
            if kind == "propose":
                seed = e.actor_role == "system" or p.get("seed")
                text = t["seed" if seed else "propose"] % {"title": self.title(p)}
                if p.get("status") == "pending":
                    text += f" ({t['pending']})"
                if p.get("sdgs"):
                    text += " · " + ", ".join(_("SDG %(n)s", n=n) for n in p["sdgs"])
                return text
            if kind == "moderate":
                action = p.get("action")
                if action == "merge":
                    text = t["merge"] % {"title": self.title(p),
                                         "into": p.get("into_title") or self.title(p, "into")}
                else:
                    text = t.get(action, str(action)) % {"title": self.title(p)}
                for key in ("points_moved", "points_returned"):
                    if p.get(key):
                        text += " · " + t[key] % {"n": p[key]}
                return text
            if kind == "comment":
                return t["comment"] % {"stance": self.stances.get(p.get("stance"), p.get("stance")),
                                       "title": self.title(p)}
            if kind == "vote":
                key = {"merged": "vote_merged", "hidden": "vote_hidden"}.get(p.get("reason"),
                                                                            "vote")
                return t[key] % {"title": self.title(p), "before": opt(p.get("before")),
                                 "points": opt(p.get("points"))}
            if kind == "score":
                return t["score"] % {"title": self.title(p), "criterion": p.get("criterion"),
                                     "before": opt(p.get("before")), "value": opt(p.get("value"))}
            if kind == "rank":
                return t["rank"] % {"n": len(p.get("order") or [])}
            if kind == "phase":
                return t["phase"] % {"before": self.phases.get(p.get("before"), opt(p.get("before"))),
                                     "phase": self.phases.get(p.get("phase"), p.get("phase"))}
            if kind == "reveal":
                return t["reveal_on" if p.get("shown") else "reveal_off"]
            if kind == "method":
                return t["method"] % {"before": self.methods.get(p.get("before"), p.get("before")),
                                      "method": self.methods.get(p.get("method"), p.get("method"))}
            if kind == "decide":
                text = t["decide"] % {"rank": p.get("rank"), "title": self.title(p)}
                return text + (f" ({t['updated']})" if p.get("before") else "")
            if kind == "undecide":
                return t["undecide"] % {"title": self.title(p)}
            if kind == "moderate_comment":
                return t[f"comment_{p.get('action')}"] % {"title": self.title(p)}
        except (TypeError, ValueError, KeyError):
            pass  # an unexpected payload: fall back to the event's name
        return str(kind)


def _timeline(snap: _Snapshot, describe: _Describer) -> list[dict[str, Any]]:
    """The anonymised deliberation timeline: every event in order, with crowds of joins,
    comments and ballot changes summarised per uninterrupted run (counts by helix and stance),
    and the system's point moves folded into the moderation they follow. No identities."""
    labels = snap.helix_labels
    out: list[dict[str, Any]] = []
    run: list[Any] = []

    def counts(items: list[str], label) -> str:
        found: dict[str, int] = {}
        for x in items:
            found[x] = found.get(x, 0) + 1
        return ", ".join(f"{label(k)} {n}" for k, n in found.items())

    def flush() -> None:
        if not run:
            return
        joins = [e.helix or "" for e in run if e.kind == "join"]
        comments = [e for e in run if e.kind == "comment"]
        ballots = [e.helix or "" for e in run if e.kind in ("vote", "score", "rank")]
        parts = []
        if joins:
            parts.append(_("Participants joined: %(n)s (%(detail)s)", n=len(joins),
                           detail=counts(joins, lambda h: labels.get(h, h))))
        if comments:
            stances = [str((e.payload or {}).get("stance", "")) for e in comments]
            parts.append(_("Comments: %(n)s (%(detail)s)", n=len(comments),
                           detail=counts(stances, lambda s: _stance_label(s))))
        if ballots:
            parts.append(_("Ballot changes: %(n)s (%(detail)s)", n=len(ballots),
                           detail=counts(ballots, lambda h: labels.get(h, h))))
        out.append({"at": run[0].at, "until": run[-1].at, "actor_role": "participant",
                    "helix": "", "summary": "; ".join(parts)})
        run.clear()

    for e in snap.events:
        if e.kind in _BULK_KINDS and e.actor_role == "participant":
            run.append(e)
            continue
        if e.kind == "vote" and e.actor_role == "system":
            continue  # told by the moderation event just before
        flush()
        out.append({"at": e.at, "until": e.at, "actor_role": e.actor_role,
                    "helix": labels.get(e.helix, e.helix) if e.helix else "",
                    "summary": describe(e)})
    flush()
    return out


def _comments_by_domain(snap: _Snapshot) -> dict[int, dict[str, list[Any]]]:
    """Visible comments by domain and stance; a comment on a domain that was merged counts for
    the domain it ended up in (it is evidence about the same field)."""
    parent = {d.id: d.merged_into_id for d in snap.domains if d.merged_into_id}

    def surviving(domain_id: int) -> int:
        seen = {domain_id}
        while domain_id in parent and parent[domain_id] not in seen:
            domain_id = parent[domain_id]
            seen.add(domain_id)
        return domain_id

    grouped: dict[int, dict[str, list[Any]]] = {}
    for c in snap.comments:
        grouped.setdefault(surviving(c.domain_id), {}).setdefault(c.stance, []).append(c)
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


_WIDE_COLUMNS = {"rationale", "text", "description", "proposal_rationale", "payload", "indicators",
                 "summary", "funders", "merged_from", "sdg_names", "indicator"}


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
        status=frames["Domains"]["status"].map(_status_label),
        proposer_helix=frames["Domains"]["proposer_helix"].map(helix_label),
    )
    frames["Participation"] = frames["Participation"].drop(columns=["helix"])
    frames["Evidence"] = frames["Evidence"].drop(columns=["helix"])
    frames["Timeline"] = frames["Timeline"].assign(
        actor_role=frames["Timeline"]["actor_role"].map(_role_label))
    about = pd.DataFrame(
        [
            (_("Workshop"), snap.ws.title),
            (_("Region"), snap.ws.region),
            (_("Join code"), snap.ws.code),
            (_("Phase"), _phase_label(snap.ws.phase)),
            (_("Voting method"), _method_label(snap.ws.method)),
            (_("Language"), snap.ws.language),
            (_("Identities"), _anonymity_text(snap)),
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
    """The whole workshop as one JSON-ready dict (a later round or another region imports it
    with `edp workshop import`, see `edp.record`).

    Participants appear as references (`p1`, `p2`, ...) with their helix; in a "named"
    workshop, comments and proposals add the `name` and `organisation` their authors gave.
    Domains carry `merged_into` and `lineage` (the domains that became this one); priorities
    carry indicators, funders and their `evidence`."""
    ws, refs = snap.ws, snap.refs
    lineage = snap.lineage()
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
    workshop.pop("server_time", None)  # the live clock for phones; `exported_at` tells it here
    domains = []
    for d in snap.domains:
        item = rules.domain_dict(d, n_comments.get(d.id, 0))
        item["proposed_by"] = refs.get(d.participant_id) if d.participant_id else None
        item["proposer_helix"] = helix_of.get(d.participant_id) if d.participant_id else None
        if snap.named and d.participant_id:
            name, org = snap.names.get(d.participant_id, ("", ""))
            item["proposer_name"], item["proposer_organisation"] = name, org
        item["sdg_names"] = [sdg_label(n) for n in d.sdgs or []]
        item["lineage"] = lineage.get(d.id, [])
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
        result = item["result"] or {}
        found = grouped.get(item["domain_id"], {})
        supporting, opposing = _split_comments(found)
        evidence = {
            "on_ballot": bool(item["result"]),
            **{key: result.get(key) for key in
               ("consensus", "spread", "polarised", "one_helix", "supporting_helices")},
            "warnings": [w for w in snap.results.get("warnings", [])
                         if w.get("domain_id") == item["domain_id"]],
            "supporting": [c.id for c in supporting],
            "opposing": [c.id for c in opposing],
            "by_stance": {s: [c.id for c in found.get(s, [])] for s in rules.STANCES},
            "by_helix": {
                row["helix"]: {"support": row["support"],
                               "supporting_comments": row["supporting_comments"],
                               "opposing_comments": row["opposing_comments"]}
                for row in _helix_evidence(snap, item, found)
            },
        }
        item = {k: v for k, v in item.items() if k not in ("result", "domain")}
        item["decided_at"] = _iso(decided_at.get(item["domain_id"]))
        item["score"] = result.get("score")
        item["balanced_score"] = result.get("balanced_score")
        item["by_helix"] = result.get("by_helix", {})
        item["voters"] = result.get("voters", 0)
        item["evidence"] = evidence
        priorities.append(item)

    return _json_clean({
        "format": RECORD_FORMAT,
        "version": RECORD_VERSION,
        "exported_at": _iso(snap.exported_at),
        "workshop": workshop,
        "domains": domains,
        "comments": [_comment_item(snap, c) for c in snap.all_comments],
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


def _comment_item(snap: _Snapshot, c: Any) -> dict[str, Any]:
    item = {"comment_id": c.id, "domain_id": c.domain_id, "stance": c.stance, "text": c.text,
            "helix": c.helix, "participant": snap.refs.get(c.participant_id),
            "at": _iso(c.created_at)}
    if getattr(c, "hidden", False):
        item["hidden"] = True  # hidden by the facilitator: kept in the record, out of the room
    if snap.named:
        item["name"], item["organisation"] = snap.names.get(c.participant_id, ("", ""))
    return item


def _to_json(snap: _Snapshot) -> bytes:
    text = json.dumps(record_dict(snap), ensure_ascii=False, indent=2, default=str)
    return text.encode("utf-8", "replace")


# ---------------------------------------------------------------- the report
#
# The DOCX and Markdown reports render the same list of blocks, so they carry the same content
# (the charts are images in the DOCX only):
#   ("title", text) ("h1"|"h2"|"h3", text) ("p", text) ("labelled", label, text)
#   ("facts", [(label, value)]) ("bullets", [text]) ("notes", [(text, note)])
#   ("table", head, rows) ("chart", png or None) ("pagebreak",)


def _report(snap: _Snapshot, frames: dict[str, pd.DataFrame], charts: bool) -> list[tuple]:
    ws = snap.ws
    labels = snap.helix_labels
    titles = snap.titles
    grouped = _comments_by_domain(snap)
    items = _priority_items(snap)
    lineage = snap.lineage()
    part = frames["Participation"]
    total_people = int(part["participants"].sum())
    out: list[tuple] = []
    add = out.append

    def none(text: str) -> None:
        add(("p", text))

    def comment_notes(comments: list[Any], with_stance: bool = False) -> list[tuple[str, str]]:
        notes = []
        for c in comments:
            who = [labels.get(c.helix, c.helix)]
            author = snap.author(c.participant_id)
            if author:
                who.insert(0, author)
            if with_stance:
                who.insert(0, _stance_label(c.stance))
            notes.append((c.text, ", ".join(who)))
        return notes

    # Title page
    add(("title", ws.title))
    add(("p", _("Entrepreneurial Discovery Process: priorities and rationale")))
    facts = [
        (_("Region"), ws.region or "–"),
        (_("Date"), _date(snap.exported_at)),
        (_("Phase"), _phase_label(ws.phase)),
        (_("Voting method"), _method_label(ws.method)),
        (_("Participants"), total_people),
        (_("Priorities"), f"{len(items)} / {ws.max_priorities}"),
    ]
    add(("facts", facts))
    description = (ws.settings or {}).get("description")
    if description:
        add(("p", description))
    add(("p", _("Exported from EDP Live on %(when)s.", when=_iso(snap.exported_at))))
    add(("pagebreak",))

    # Method and participation
    add(("h1", _("Method and participation")))
    add(("p", f"{_method_label(ws.method)}. {_method_text(ws)}"))
    add(("p", _anonymity_text(snap)))
    rows = [[r.label, r.participants, r.voters] for r in part.itertuples()]
    rows.append([_("Total"), total_people, int(part["voters"].sum())])
    add(("table", [_("Helix"), _("Participants"), _("Voters")], rows))
    if charts:
        add(("chart", _participation_png(snap, part)))
    under = _representation_warnings(snap)
    if under:
        add(("labelled", _("Under-represented helices"), ""))
        add(("bullets", under))

    # Results: the chart (DOCX) and the ranking with its agreement flags
    add(("h1", _("Results")))
    ranking = snap.results["ranking"]
    if not ranking:
        none(_("No domains on the ballot yet."))
    else:
        if charts:
            add(("chart", _chart_png(snap)))
        decided = {i["domain_id"]: i["rank"] for i in items}

        def flags(e: dict[str, Any]) -> str:
            out_ = []
            if e.get("one_helix"):
                out_.append(_("Support from one helix only"))
            elif e.get("polarised"):
                out_.append(_("Polarised"))
            if e["domain_id"] in decided:
                out_.append(_("Priority %(rank)s", rank=decided[e["domain_id"]]))
            return "; ".join(out_)

        add(("table", ["#", _("Domain"), _("Score"), _("Helix-balanced score"),
                       _("Consensus"), _("Voters"), _("Notes")],
             [[n, e["title"], _num(e["score"]), _num(e["balanced_score"]),
               _num(e.get("consensus")), e["voters"], flags(e)]
              for n, e in enumerate(ranking, start=1)]))

    # The priorities, with rationale and evidence
    add(("h1", _("Priorities")))
    if not items:
        none(_("No priorities have been decided yet."))
    for item in items:
        found = grouped.get(item["domain_id"], {})
        supporting, opposing = _split_comments(found)
        add(("h2", f"{item['rank']}. {item['title']}"))
        add(("labelled", _("Rationale"), item["rationale"]))
        if item["indicators"]:
            add(("labelled", _("Monitoring indicators"), ""))
            add(("bullets", [_indicator_text(i) for i in item["indicators"]]))
        if item["funders"]:
            add(("labelled", _("Funders and instruments"), ""))
            add(("bullets", item["funders"]))
        result = item["result"]
        if result:
            add(("p", _evidence_line(result)))
            if result["by_helix"]:
                add(("p", _("Support by helix") + ": " + "; ".join(
                    f"{labels.get(h, h)} {_num(v)}" for h, v in result["by_helix"].items())))
            warnings_ = _domain_warnings(snap, item["domain_id"])
            if warnings_:
                add(("bullets", warnings_))
        else:
            none(_("This domain is no longer on the ballot."))
        add(("p", (f"{_('Supporting comments')}: {len(supporting)} · "
                   f"{_('Concerns and questions')}: {len(opposing)}")))
    if charts and items:
        png = _split_png(snap, items)
        if png:
            add(("chart", png))

    # One domain sheet per priority
    if items:
        add(("h1", _("Domain sheets")))
    for item in items:
        d = item["domain"]
        found = grouped.get(item["domain_id"], {})
        supporting, opposing = _split_comments(found)
        add(("h2", _("Domain sheet: %(title)s", title=item["title"])))
        sheet_facts = [(_("Priority"), item["rank"])]
        if d is not None:
            sheet_facts.append((_("Proposed by"), _proposer(snap, d)))
            sdgs = [sdg_label(n) for n in d.sdgs or []]
            sheet_facts.append((_("Sustainable Development Goals"), "; ".join(sdgs) or "–"))
            merged = lineage.get(d.id, [])
            if merged:
                sheet_facts.append((_("Merged from"), "; ".join(x["title"] for x in merged)))
        add(("facts", sheet_facts))
        if d is not None and d.description:
            add(("labelled", _("Description"), d.description))
        if d is not None and d.rationale:
            add(("labelled", _("Why the region can lead"), d.rationale))
        add(("h3", _("Supporters and concerns by helix")))
        add(("table", [_("Helix"), _("Support"), _("Supporting comments"),
                       _("Concerns and questions")],
             [[row["label"], _num(row["support"]), row["supporting_comments"],
               row["opposing_comments"]]
              for row in _helix_evidence(snap, item, found)]))
        add(("h3", _("Monitoring indicators")))
        if item["indicators"]:
            add(("table", [_("Indicator"), _("Baseline"), _("Target")],
                 [list(_indicator_parts(i)) for i in item["indicators"]]))
        else:
            none(_("None recorded yet."))
        add(("h3", _("Funders and instruments")))
        if item["funders"]:
            add(("bullets", item["funders"]))
        else:
            none(_("None recorded yet."))
        add(("h3", _("Supporting comments")))
        if supporting:
            add(("notes", comment_notes(supporting, with_stance=True)))
        else:
            none(_("No comments yet."))
        add(("h3", _("Concerns and questions")))
        if opposing:
            add(("notes", comment_notes(opposing, with_stance=True)))
        else:
            none(_("No comments yet."))

    # The long list below the line
    add(("h1", _("Below the line")))
    rest = _long_list(snap)
    if rest:
        add(("table", ["#", _("Domain"), _("Score"), _("Helix-balanced score"), _("Consensus"),
                       _("Voters")],
             [[n, e["title"], _num(e["score"]), _num(e["balanced_score"]),
               _num(e.get("consensus")), e["voters"]]
              for n, e in enumerate(rest, start=1)]))
    else:
        none(_("No other domains on the ballot."))

    # Every comment, by domain
    add(("h1", _("Deliberation")))
    if not grouped:
        none(_("No comments yet."))
    for domain_id in [d for d in frames["Domains"]["domain_id"].tolist() if d in grouped]:
        add(("h2", titles.get(domain_id, "")))
        found = grouped[domain_id]
        for stance in _stances_in_order(found):
            add(("h3", _stance_label(stance)))
            add(("notes", [(text, f"{note}, {_time(c.created_at)}") for (text, note), c in
                           zip(comment_notes(found[stance]), found[stance])]))

    # All domains (the last table of the DOCX)
    add(("h1", _("All domains")))
    dom = frames["Domains"]
    add(("table",
         [_("Rank"), _("Domain"), _("Status"), _("Score"), _("Helix-balanced score"),
          _("Voters"), _("Merged into")],
         [["" if pd.isna(r.rank) else int(r.rank), r.title, _status_label(r.status),
           _num(r.score), _num(r.balanced_score), "" if pd.isna(r.voters) else int(r.voters),
           "" if pd.isna(r.merged_into) else titles.get(int(r.merged_into), "")]
          for r in dom.itertuples()]))

    # The anonymised deliberation timeline
    add(("h1", _("Deliberation timeline")))
    add(("p", _("Every event of the record in order (times in UTC). Crowds of joins, comments "
                "and ballot changes are summarised per run; nobody is named.")))
    lines = []
    for row in frames["Timeline"].itertuples():
        when, until = _clock(row.at), _clock(row.until)
        if until and until != when:
            # The end of a run: only the time when it is the same day.
            when += "–" + (until[11:] if until[:10] == when[:10] else until)
        who = _role_label(row.actor_role) + (f", {row.helix}" if row.helix else "")
        lines.append((row.summary, f"{when}, {who}"))
    if lines:
        add(("notes", lines))
    return out


def _clock(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None and not pd.isna(value) else ""


def _role_label(role: str) -> str:
    return {"participant": _("Participant"), "facilitator": _("Facilitator"),
            "system": _("System")}.get(role, role)


# ---------------------------------------------------------------- markdown


# Square brackets open links (`[x](javascript:...)`), images (`![](http://tracker/...)`) and
# link definitions (`[x]: url`); escaped, participants' text can never become one. Raw HTML and
# autolinks (`<...>`) are already neutral: `<` is written as `&lt;`.
_MD_LINK = str.maketrans({"[": "\\[", "]": "\\]"})


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("<", "&lt;").translate(_MD_LINK)


def _md_inline(text: Any) -> str:
    """One line of text for a heading, list item or table cell (no links, images or HTML)."""
    text = " ".join(("" if text is None else str(text)).split())
    return _md_escape(text).replace("|", "\\|")


def _md_block(text: Any) -> str:
    """Several lines kept as hard line breaks, with block markup at line starts escaped."""
    lines = []
    for line in ("" if text is None else str(text)).replace("\r\n", "\n").split("\n"):
        line = _md_escape(" ".join(line.split()))
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
    out: list[str] = []
    marks = {"title": "#", "h1": "##", "h2": "###", "h3": "####"}
    for block in _report(snap, frames, charts=False):
        kind = block[0]
        if kind in marks:
            out += [f"{marks[kind]} {_md_inline(block[1])}", ""]
        elif kind == "p":
            out += [_md_block(block[1]), ""]
        elif kind == "labelled":
            label, text = block[1], block[2]
            out += [f"**{_md_inline(label)}:**" + (f"  \n{_md_block(text)}" if text else ""), ""]
        elif kind == "facts":
            out += ["  \n".join(f"**{_md_inline(k)}:** {_md_inline(v)}" for k, v in block[1]),
                    ""]
        elif kind == "bullets":
            out += [f"- {_md_inline(x)}" for x in block[1]] + [""]
        elif kind == "notes":
            out += [f"- {_md_inline(text)} — *{_md_inline(note)}*" for text, note in block[1]]
            out += [""]
        elif kind == "table":
            out += _md_table(block[1], block[2]) + [""]
        elif kind == "pagebreak":
            out += ["---", ""]
    return "\n".join(out).encode("utf-8", "replace")


# ---------------------------------------------------------------- docx


def _dx(text: Any) -> str:
    return _XML_ILLEGAL.sub("", str(text if text is not None else ""))


def _short(text: str, limit: int = 45) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _chart_png(snap: _Snapshot, top: int = 15) -> bytes | None:
    """Horizontal bars of score and helix-balanced score."""
    ranking = snap.results["ranking"][:top]
    if not ranking:
        return None
    names = [_short(e["title"]) for e in ranking][::-1]
    score = [e["score"] for e in ranking][::-1]
    balanced = [e["balanced_score"] for e in ranking][::-1]
    with warnings.catch_warnings():
        # A missing glyph (emoji in a title) must not stop the report.
        warnings.simplefilter("ignore")
        fig = _figure(1.2 + 0.42 * len(ranking))
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
        return _png(fig)


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


def _figure(height: float):
    """A matplotlib Figure on the Agg canvas (no pyplot state, safe in a server)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, height), dpi=150)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def _participation_png(snap: _Snapshot, part: pd.DataFrame) -> bytes | None:
    """Participants who joined and voters, per helix."""
    if not len(part):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = _figure(1.0 + 0.45 * len(part))
        ax = fig.subplots()
        ys = list(range(len(part)))[::-1]
        ax.barh([y + 0.2 for y in ys], part["participants"].astype(int), height=0.4,
                color="#1f6f8b", label=_("Participants"))
        ax.barh([y - 0.2 for y in ys], part["voters"].astype(int), height=0.4,
                color="#99a8b2", label=_("Voters"))
        ax.set_yticks(ys, [_short(str(x)) for x in part["label"]])
        ax.tick_params(labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(fontsize=8, frameon=False)
        ax.set_title(_("Participation by helix"), fontsize=11)
        return _png(fig)


def _split_png(snap: _Snapshot, items: list[dict[str, Any]]) -> bytes | None:
    """Each priority's support by helix (grouped bars)."""
    shown = [i for i in items if i["result"] and i["result"]["by_helix"]]
    if not shown:
        return None
    helices = list(dict.fromkeys(h for i in shown for h in i["result"]["by_helix"]))
    labels = snap.helix_labels
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = _figure(1.4 + 0.5 * len(shown) * max(1, len(helices)) / 3)
        ax = fig.subplots()
        width = 0.8 / len(helices)
        ys = list(range(len(shown)))[::-1]
        colors = ["#1f6f8b", "#99a8b2", "#e9a23b", "#5b8e7d", "#bc4b51", "#6d597a", "#355070"]
        for k, h in enumerate(helices):
            ax.barh([y + 0.4 - width * (k + 0.5) for y in ys],
                    [i["result"]["by_helix"].get(h, 0.0) for i in shown], height=width,
                    color=colors[k % len(colors)], label=_short(labels.get(h, h), 30))
        ax.set_yticks(ys, [_short(f"{i['rank']}. {i['title']}") for i in shown])
        ax.tick_params(labelsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(fontsize=7, frameon=False, loc="lower right")
        ax.set_title(_("Support by helix"), fontsize=11)
        return _png(fig)


def write_docx_blocks(doc, blocks) -> None:
    """Write report blocks (`("h1", text)`, `("p", text)`, `("labelled", label, value)`,
    `("facts", [(label, value)])`, `("bullets", [text])`, `("notes", [(text, note)])`,
    `("table", head, rows)`, `("chart", png)`, `("pagebreak",)`) into a python-docx document;
    the Markdown writers read the same blocks."""
    from docx.enum.text import WD_BREAK
    from docx.shared import Inches

    levels = {"title": 0, "h1": 1, "h2": 2, "h3": 3}
    # python-docx looks a style up by name on every paragraph (slow with thousands of
    # comments); the bullet style's id is set directly instead.
    bullet_id = doc.styles["List Bullet"].style_id

    def bullet(text: str):
        para = doc.add_paragraph(text)
        para._p.style = bullet_id
        return para

    for block in blocks:
        kind = block[0]
        if kind in levels:
            doc.add_heading(_dx(block[1]), level=levels[kind])
        elif kind == "p":
            doc.add_paragraph(_dx(block[1]))
        elif kind == "labelled":
            para = doc.add_paragraph()
            para.add_run(_dx(block[1]) + ":" + (" " if block[2] else "")).bold = True
            if block[2]:
                para.add_run(_dx(block[2]))
        elif kind == "facts":
            para = doc.add_paragraph()
            for n, (label, value) in enumerate(block[1]):
                if n:
                    para.add_run().add_break()
                para.add_run(_dx(label) + ": ").bold = True
                para.add_run(_dx(value))
        elif kind == "bullets":
            for text in block[1]:
                bullet(_dx(text))
        elif kind == "notes":
            for text, note in block[1]:
                bullet(_dx(text)).add_run(_dx(f" ({note})")).italic = True
        elif kind == "table":
            _docx_table(doc, block[1], block[2])
        elif kind == "chart":
            if block[1]:
                doc.add_picture(io.BytesIO(block[1]), width=Inches(6.3))
        elif kind == "pagebreak":
            doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)


def _to_docx(snap: _Snapshot, frames: dict[str, pd.DataFrame]) -> bytes:
    from docx import Document

    ws = snap.ws
    doc = Document()
    doc.core_properties.title = _dx(ws.title)
    doc.core_properties.language = ws.language or "en"
    doc.core_properties.subject = _("Entrepreneurial Discovery Process: priorities and rationale")
    write_docx_blocks(doc, _report(snap, frames, charts=True))
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
