"""The read model of a workshop: every row the exports need, read once at the start of an export.

Nothing here formats or translates; the frames, the report and the JSON record all read the
same `Snapshot`, so the formats cannot disagree about what happened.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import sqlalchemy as sa

from .. import method
from .. import workshop as rules
from ..extensions import db
from ..models import (
    Comment,
    Domain,
    Event,
    Funding,
    Participant,
    Priority,
    Ranking,
    Reaction,
    Score,
    Statement,
    SwotItem,
    Vote,
    Workshop,
)

# Comment stances that speak for a domain and those that speak against it (or ask).
SUPPORTING = ("support", "evidence")
OPPOSING = ("concern", "question")


def anonymity(ws: Workshop) -> str:
    """The workshop's anonymity setting: "anonymous" (default) or "named"."""
    value = (ws.settings or {}).get("anonymity")
    return value if value in rules.ANONYMITY else "anonymous"


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z (stored datetimes are naive UTC)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat() + "Z"


@dataclass
class Snapshot:
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
    # The method beyond voting. `vision` is `method.vision_summary` for the facilitator (every
    # statement, hidden ones marked, with per-helix counts); `statements` the rows behind it
    # (id, text, adopted, hidden, participant_id, created_at) in id order; `reactions` rows
    # (statement_id, participant_id, reaction). `swot_items` rows (id, domain_id, quadrant,
    # text, helix, hidden, participant_id, created_at), hidden ones too; `funding` rows
    # (participant_id, domain_id, signal, instrument, updated_at) and `funding_by_domain` their
    # counts (`method.funding_by_domain`).
    vision: list[dict[str, Any]] = field(default_factory=list)
    statements: list[Any] = field(default_factory=list)
    reactions: list[Any] = field(default_factory=list)
    swot_items: list[Any] = field(default_factory=list)
    funding: list[Any] = field(default_factory=list)
    funding_by_domain: dict[int, dict[str, Any]] = field(default_factory=dict)
    # The region's diagnosis data (edp/evidence.py): its summary (region, source, year,
    # counts) or None, the stored table for the record, and each linked domain's evidence.
    diagnosis: dict[str, Any] | None = None
    diagnosis_data: dict[str, Any] | None = None
    evidence: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def named(self) -> bool:
        return anonymity(self.ws) == "named"

    @cached_property
    def titles(self) -> dict[int, str]:
        return {d.id: d.title for d in self.domains}

    @cached_property
    def helix_of(self) -> dict[int, str]:
        """participant id -> helix key."""
        return {p.id: p.helix for p in self.participants}

    @cached_property
    def helix_labels(self) -> dict[str, str]:
        labels = {h["key"]: h["label"] for h in self.ws.helices}
        for key in self.results["participation"]:
            labels.setdefault(key, key)
        for p in self.participants:
            labels.setdefault(p.helix, p.helix)
        return labels

    @cached_property
    def by_domain(self) -> dict[int, dict[str, Any]]:
        return {e["domain_id"]: e for e in self.results["ranking"]}

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

    def surviving(self, domain_id: int) -> int:
        """The domain `domain_id` ended up in, following merges."""
        parent = self._parents
        seen = {domain_id}
        while parent.get(domain_id) is not None and parent[domain_id] not in seen:
            domain_id = parent[domain_id]
            seen.add(domain_id)
        return domain_id

    @cached_property
    def _parents(self) -> dict[int, int | None]:
        return {d.id: d.merged_into_id for d in self.domains}

    @cached_property
    def comments_by_domain(self) -> dict[int, dict[str, list[Any]]]:
        """Visible comments by domain and stance; a comment on a domain that was merged counts
        for the domain it ended up in (it is evidence about the same field)."""
        grouped: dict[int, dict[str, list[Any]]] = {}
        for c in self.comments:
            grouped.setdefault(self.surviving(c.domain_id), {}).setdefault(c.stance, []).append(c)
        return grouped

    @cached_property
    def adopted(self) -> list[str]:
        """The shared vision: the adopted statements (never hidden ones), in the room's order."""
        return [s["text"] for s in self.vision if s["adopted"] and not s.get("hidden")]

    @cached_property
    def swot_by_domain(self) -> dict[int, list[Any]]:
        """Visible SWOT items by domain, in quadrant order then oldest first; like comments, an
        item on a merged domain counts for the domain it ended up in."""
        order = {q: n for n, q in enumerate(method.QUADRANTS)}
        grouped: dict[int, list[Any]] = {}
        for item in sorted((i for i in self.swot_items if not i.hidden),
                           key=lambda i: (order.get(i.quadrant, len(order)), i.id)):
            grouped.setdefault(self.surviving(item.domain_id), []).append(item)
        return grouped

    def funding_of(self, domain_id: int) -> dict[str, Any]:
        """{"yes", "maybe", "no", "instruments"}: the domain's own signals, as in the results."""
        return self.funding_by_domain.get(domain_id) or method.empty_funding()

    def comment_counts(self, stances: tuple[str, ...] | None = None) -> dict[int, int]:
        """domain id -> visible comments on it (of `stances`, or all), merges not followed."""
        out: dict[int, int] = {}
        for c in self.comments:
            if stances is None or c.stance in stances:
                out[c.domain_id] = out.get(c.domain_id, 0) + 1
        return out

    def priority_items(self) -> list[dict[str, Any]]:
        """The short list in rank order; `result` is the live results entry (None when the
        domain left the ballot) and `domain` the Domain row (the JSON record drops both)."""
        domains = {d.id: d for d in self.domains}
        return [
            {"rank": p.rank, "domain_id": p.domain_id,
             "title": domains[p.domain_id].title if p.domain_id in domains else "",
             "rationale": p.rationale, "indicators": list(p.indicators or []),
             "funders": list(p.funders or []),
             "result": self.by_domain.get(p.domain_id), "domain": domains.get(p.domain_id)}
            for p in self.priorities
        ]

    def helix_evidence(self, item: dict[str, Any],
                       found: dict[str, list[Any]]) -> list[dict[str, Any]]:
        """Per helix: its support for the domain (the `by_helix` value; NaN when the helix has
        no voters) and its supporting and opposing comments."""
        by_helix = (item["result"] or {}).get("by_helix", {})
        supporting, opposing = split_comments(found)
        return [
            {"helix": key, "label": label, "support": by_helix.get(key, math.nan),
             "supporting_comments": sum(1 for c in supporting if c.helix == key),
             "opposing_comments": sum(1 for c in opposing if c.helix == key)}
            for key, label in self.helix_labels.items()
        ]

    def long_list(self) -> list[dict[str, Any]]:
        """Approved domains not on the short list, in results order."""
        decided = {p.domain_id for p in self.priorities}
        return [e for e in self.results["ranking"] if e["domain_id"] not in decided]


def split_comments(found: dict[str, list[Any]]) -> tuple[list[Any], list[Any]]:
    """(supporting, opposing) comments of one domain, each in id order."""
    supporting = sorted((c for s in SUPPORTING for c in found.get(s, [])), key=lambda c: c.id)
    opposing = sorted((c for s in OPPOSING for c in found.get(s, [])), key=lambda c: c.id)
    return supporting, opposing


def stances_in_order(found: dict[str, list[Any]]) -> list[str]:
    return [s for s in rules.STANCES if s in found] + sorted(set(found) - set(rules.STANCES))


def indicator_parts(item: Any) -> tuple[str, str, str]:
    """(name, baseline, target) of an indicator stored as a string or an object."""
    if isinstance(item, dict):
        return (str(item.get("name") or ""), str(item.get("baseline") or ""),
                str(item.get("target") or ""))
    return (str(item), "", "")


def _rows(query) -> list[Any]:
    return db.session.execute(query).all()


def read(ws: Workshop) -> Snapshot:
    """Every row the exports need, read in one go (plain rows, no lazy loading later)."""
    wid = ws.id
    participants = _rows(sa.select(Participant.id, Participant.helix, Participant.created_at)
                         .where(Participant.workshop_id == wid).order_by(Participant.id))
    comments = _rows(
        sa.select(Comment.id, Comment.domain_id, Comment.stance, Comment.text,
                  Comment.created_at, Comment.participant_id, Participant.helix, Comment.hidden)
        .join(Participant, Participant.id == Comment.participant_id)
        .where(Comment.workshop_id == wid).order_by(Comment.id))
    names: dict[int, tuple[str, str]] = {}
    if anonymity(ws) == "named":  # identities are read only where the workshop allows them
        names = {row.id: (row.name or "", row.organisation or "") for row in _rows(
            sa.select(Participant.id, Participant.name, Participant.organisation)
            .where(Participant.workshop_id == wid))}
    return Snapshot(
        ws=ws,
        exported_at=datetime.now(UTC).replace(tzinfo=None),
        results=rules.compute_results(ws),
        domains=rules.domains_of(ws),
        priorities=list(db.session.scalars(
            sa.select(Priority).where(Priority.workshop_id == wid)
            .order_by(Priority.rank, Priority.domain_id))),
        comments=[c for c in comments if not c.hidden],
        all_comments=comments,
        participants=participants,
        refs={row.id: f"p{n}" for n, row in enumerate(participants, start=1)},
        events=_rows(sa.select(Event.id, Event.at, Event.kind, Event.actor_role, Event.helix,
                               Event.participant_id, Event.payload)
                     .where(Event.workshop_id == wid).order_by(Event.id)),
        votes=_rows(sa.select(Vote.participant_id, Vote.domain_id, Vote.points)
                    .where(Vote.workshop_id == wid)
                    .order_by(Vote.participant_id, Vote.domain_id)),
        scores=_rows(sa.select(Score.participant_id, Score.domain_id, Score.criterion,
                               Score.value)
                     .where(Score.workshop_id == wid)
                     .order_by(Score.participant_id, Score.domain_id, Score.criterion)),
        rankings=_rows(sa.select(Ranking.participant_id, Ranking.order)
                       .where(Ranking.workshop_id == wid).order_by(Ranking.participant_id)),
        names=names,
        **_method_rows(ws),
        **_evidence_rows(ws),
    )


def _evidence_rows(ws: Workshop) -> dict[str, Any]:
    """The diagnosis and every linked domain's evidence (see `Snapshot`)."""
    from .. import evidence

    diag = evidence.diagnosis_of(ws)
    if diag is None:
        return {}
    found = {}
    for d in rules.domains_of(ws):
        item = evidence.evidence_for(ws, list(d.sectors or []), diag)
        if item is not None:
            found[d.id] = item
    return {"diagnosis": evidence.summary(ws, diag),
            "diagnosis_data": {"region": diag.region, "source": diag.source, "year": diag.year,
                               "loaded_at": iso(diag.loaded_at), **diag.data},
            "evidence": found}


def _method_rows(ws: Workshop) -> dict[str, Any]:
    """The vision, SWOT items and funders' signals of `ws` (see `Snapshot`)."""
    wid = ws.id
    return {
        "vision": method.vision_summary(ws, facilitator=True),
        "statements": _rows(
            sa.select(Statement.id, Statement.text, Statement.adopted, Statement.hidden,
                      Statement.participant_id, Statement.created_at)
            .where(Statement.workshop_id == wid).order_by(Statement.id)),
        "reactions": _rows(
            sa.select(Reaction.statement_id, Reaction.participant_id, Reaction.reaction)
            .where(Reaction.workshop_id == wid)
            .order_by(Reaction.participant_id, Reaction.statement_id)),
        "swot_items": _rows(
            sa.select(SwotItem.id, SwotItem.domain_id, SwotItem.quadrant, SwotItem.text,
                      SwotItem.helix, SwotItem.hidden, SwotItem.participant_id,
                      SwotItem.created_at)
            .where(SwotItem.workshop_id == wid).order_by(SwotItem.id)),
        "funding": _rows(
            sa.select(Funding.participant_id, Funding.domain_id, Funding.signal,
                      Funding.instrument, Funding.updated_at)
            .where(Funding.workshop_id == wid)
            .order_by(Funding.participant_id, Funding.domain_id)),
        "funding_by_domain": method.funding_by_domain(ws),
    }
