"""The workshop as pandas frames, one per sheet, declared as column specs.

A column is one `Col` in its sheet's spec: its machine key (the frame and the CSV), its header
(the workbook and reports, translated), its type (nullable ints and booleans stay empty rather
than 1.0/NaN) and whether the workbook gives it a wide, wrapped column. The row builders below
fill the values by key; a new column is its `Col` plus its value in the sheet's builder.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from flask_babel import lazy_gettext as _l

from ..sdgs import sdg_label
from .events import Describer, timeline
from .labels import (
    data_line,
    indicator_text,
    quadrant_label,
    role_label,
    stance_label,
    status_label,
)
from .snapshot import OPPOSING, SUPPORTING, Snapshot, indicator_parts

# Sheet (table) order; the first three are part of the outside contract. Names stay English.
SHEETS = ("Priorities", "Domains", "Deliberation", "Participation", "Events", "Indicators",
          "Funders", "Vision", "SWOT", "Evidence", "Regional data", "Lineage", "Timeline")


@dataclass(frozen=True)
class Col:
    key: str
    header: Any  # a lazy translated string
    kind: str = "text"  # text | int | float | bool | time
    wide: bool = False  # a wide, wrapped column in the workbook
    show: str | None = None  # the workbook shows a label: stance | status | helix | role
    book: bool = True  # False: left out of the workbook (a label column says it)
    named: bool = False  # only in a "named" workshop


# Expanded into one float column per helix (`by_helix_<key>`, headed by the helix label).
HELICES = Col("*helices", "", "float")


def helix_column(key: str) -> str:
    return f"by_helix_{key}"


RANK, DOMAIN_ID = Col("rank", _l("Rank"), "int"), Col("domain_id", _l("Domain id"), "int")
TITLE = Col("title", _l("Domain"))
RATIONALE = Col("rationale", _l("Rationale"), wide=True)
INDICATORS = Col("indicators", _l("Monitoring indicators"), wide=True)
FUNDERS = Col("funders", _l("Funders and instruments"), wide=True)
VOTERS = Col("voters", _l("Voters"), "int")
NUMBERS = (Col("score", _l("Score"), "float"),
           Col("balanced_score", _l("Helix-balanced score"), "float"), VOTERS,
           Col("consensus", _l("Consensus"), "float"), Col("spread", _l("Spread"), "float"),
           Col("polarised", _l("Helices disagree"), "bool"),
           Col("one_helix", _l("Support from one helix only"), "bool"))
# The funders' signal: its own axis beside support (counts of yes / maybe / no).
FUNDING = (Col("funding_yes", _l("Funders: yes"), "int"),
           Col("funding_maybe", _l("Funders: maybe"), "int"),
           Col("funding_no", _l("Funders: no"), "int"),
           Col("funding_instruments", _l("Instruments named by funders"), wide=True))
N_FOR = Col("supporting_comments", _l("Supporting comments"), "int")
N_AGAINST = Col("opposing_comments", _l("Concerns and questions"), "int")
HELIX_KEY = Col("helix", _l("Helix"), book=False)
HELIX_LABEL = Col("label", _l("Helix"))
AT = Col("at", _l("Time (UTC)"), "time")

COLUMNS: dict[str, tuple[Col, ...]] = {
    "Priorities": (RANK, DOMAIN_ID, TITLE, RATIONALE, INDICATORS, FUNDERS, *NUMBERS, *FUNDING,
                   N_FOR, N_AGAINST, HELICES),
    "Domains": (
        RANK, DOMAIN_ID, TITLE, Col("status", _l("Status"), show="status"),
        Col("seed", _l("From the regional diagnosis")),
        Col("merged_into", _l("Merged into (id)"), "int"),
        Col("merged_from", _l("Merged from"), wide=True),
        Col("description", _l("Description"), wide=True),
        Col("proposal_rationale", _l("Why the region can lead"), wide=True),
        Col("proposer_helix", _l("Proposed by (helix)"), show="helix"),
        Col("proposer", _l("Proposed by"), named=True), Col("sdgs", _l("SDGs")),
        Col("sdg_names", _l("Sustainable Development Goals"), wide=True),
        Col("comments", _l("Comments"), "int"), *NUMBERS, *FUNDING, HELICES, RATIONALE,
        INDICATORS, FUNDERS, Col("sectors", _l("Sectors")),
        Col("regional_data", _l("Regional data"), wide=True)),
    "Deliberation": (Col("comment_id", _l("Comment id"), "int"), DOMAIN_ID,
                     Col("domain", _l("Domain")), Col("stance", _l("Stance"), show="stance"),
                     Col("helix", _l("Helix"), show="helix"),
                     Col("author", _l("Author"), named=True),
                     Col("text", _l("Comment"), wide=True), AT),
    "Participation": (HELIX_KEY, HELIX_LABEL, Col("participants", _l("Participants"), "int"),
                      VOTERS),
    "Events": (Col("event_id", _l("Event id"), "int"), AT, Col("kind", _l("Event")),
               Col("actor_role", _l("Role")), Col("helix", _l("Helix"), show="helix"),
               Col("summary", _l("What happened"), wide=True),
               Col("payload", _l("Details (JSON)"), wide=True)),
    "Indicators": (RANK, DOMAIN_ID, TITLE, Col("indicator", _l("Indicator"), wide=True),
                   Col("baseline", _l("Baseline")), Col("target", _l("Target"))),
    "Funders": (RANK, DOMAIN_ID, TITLE, Col("funder", _l("Funder or instrument"))),
    "Vision": (Col("statement_id", _l("Statement id"), "int"),
               Col("text", _l("Statement"), wide=True), Col("agree", _l("Agree"), "int"),
               Col("disagree", _l("Disagree"), "int"), Col("pass", _l("Pass"), "int"),
               Col("agreement", _l("Agreement across helices"), "float"),
               Col("adopted", _l("Adopted"), "bool")),
    "SWOT": (Col("item_id", _l("Item id"), "int"), DOMAIN_ID, Col("domain", _l("Domain")),
             Col("quadrant", _l("Quadrant"), show="quadrant"),
             Col("helix", _l("Helix"), show="helix"), Col("text", _l("Text"), wide=True), AT),
    "Evidence": (RANK, DOMAIN_ID, TITLE, HELIX_KEY, HELIX_LABEL,
                 Col("support", _l("Support"), "float"), N_FOR, N_AGAINST),
    # Each linked domain's sectors with the region's figures (edp/evidence.py).
    "Regional data": (RANK, DOMAIN_ID, TITLE, Col("sector", _l("Sector")),
                      Col("sector_name", _l("Sector name")),
                      Col("value", _l("Region's value"), "float"),
                      Col("rca", _l("Specialisation (RCA)"), "float"),
                      Col("share", _l("Share of the region"), "float"),
                      Col("density", _l("Relatedness density"), "float"),
                      Col("complexity", _l("Complexity"), "float"),
                      Col("related", _l("Related strengths"), wide=True),
                      Col("region", _l("Region")), Col("source", _l("Source")),
                      Col("year", _l("Year"), "int")),
    "Lineage": (DOMAIN_ID, TITLE, Col("merged_into", _l("Merged into (id)"), "int"),
                Col("into_title", _l("Merged into")),
                Col("final_domain_id", _l("Final domain id"), "int"),
                Col("final_title", _l("Final domain"))),
    "Timeline": (AT, Col("until", _l("Until (UTC)"), "time"),
                 Col("actor_role", _l("Role"), show="role"), Col("helix", _l("Helix")),
                 Col("summary", _l("What happened"), wide=True)),
}
# The event log stays one line per event in the workbook.
UNWRAPPED = ("Events",)


def columns(snap: Snapshot, sheet: str) -> list[Col]:
    """The sheet's columns for this workshop (helix columns expanded, names only if named)."""
    out = []
    for col in COLUMNS[sheet]:
        if col is HELICES:
            out += [Col(helix_column(k), label, "float") for k, label in snap.helix_labels.items()]
        elif snap.named or not col.named:
            out.append(col)
    return out


def _ints(values: pd.Series) -> Any:
    return pd.array([None if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v))
                     else int(v) for v in values], dtype="Int64")


def _bools(values: pd.Series) -> Any:
    return pd.array([None if v is None or v is pd.NA else bool(v) for v in values],
                    dtype="boolean")


_CAST: dict[str, Callable[[pd.Series], Any]] = {
    "int": _ints, "bool": _bools, "time": pd.to_datetime,
    "float": lambda s: s.astype("float64"),
}


def frame(cols: list[Col], rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows as a typed frame with the columns in spec order (also when there are no rows)."""
    out = pd.DataFrame(rows, columns=[c.key for c in cols])
    for c in cols:
        if c.kind in _CAST:
            out[c.key] = _CAST[c.kind](out[c.key])
    return out


class Frames:
    """The sheets of one snapshot, each built on first use (the CSV needs only Domains)."""

    def __init__(self, snap: Snapshot):
        self.snap = snap
        self._built: dict[str, pd.DataFrame] = {}
        self.describe = Describer(snap)

    def __getitem__(self, sheet: str) -> pd.DataFrame:
        if sheet not in self._built:
            builder = getattr(self, "_" + sheet.lower().replace(" ", "_"))
            self._built[sheet] = frame(columns(self.snap, sheet), builder())
        return self._built[sheet]

    def all(self) -> dict[str, pd.DataFrame]:
        return {name: self[name] for name in SHEETS}

    def numbers(self, domain_id: int) -> dict[str, Any]:
        """The live result of one domain; empty cells when it is not on the ballot. A helix
        without voters has no entry (empty cell); one that gave nothing has 0."""
        entry = self.snap.by_domain.get(domain_id) or {}
        out = {c.key: entry.get(c.key, math.nan if c.kind == "float" else pd.NA)
               for c in NUMBERS}
        by_helix = entry.get("by_helix", {})
        out.update({helix_column(h): by_helix.get(h, math.nan) for h in self.snap.helix_labels})
        funding = self.snap.funding_of(domain_id)
        out.update({f"funding_{k}": funding[k] for k in ("yes", "maybe", "no")},
                   funding_instruments="; ".join(funding["instruments"]))
        return out

    def _priorities(self) -> list[dict[str, Any]]:
        n_for, n_against = self.snap.comment_counts(SUPPORTING), self.snap.comment_counts(OPPOSING)
        return [{"rank": p.rank, "domain_id": p.domain_id,
                 "title": self.snap.titles.get(p.domain_id, ""), **_decision(p),
                 **self.numbers(p.domain_id),
                 "supporting_comments": n_for.get(p.domain_id, 0),
                 "opposing_comments": n_against.get(p.domain_id, 0)}
                for p in self.snap.priorities]

    def _domain_order(self) -> Callable[[Any], tuple]:
        """The short list by rank, then the other approved domains in results order, then
        those not on the ballot (pending, hidden, merged) by id."""
        prio = {p.domain_id: p.rank for p in self.snap.priorities}
        position = {e["domain_id"]: k for k, e in enumerate(self.snap.results["ranking"])}
        status_order = {"approved": 0, "pending": 1, "hidden": 2, "merged": 3}

        def order(d) -> tuple:
            if d.id in prio:
                return (0, prio[d.id], d.id)
            if d.id in position:
                return (1, position[d.id], d.id)
            return (2, status_order.get(d.status, 9), d.id)
        return order

    def _domains(self) -> list[dict[str, Any]]:
        snap = self.snap
        prio = {p.domain_id: p for p in snap.priorities}
        lineage, n_comments = snap.lineage(), snap.comment_counts()
        rows = []
        for d in sorted(snap.domains, key=self._domain_order()):
            p = prio.get(d.id)
            rows.append({
                "rank": p.rank if p else pd.NA, "domain_id": d.id, "title": d.title,
                "status": d.status, "seed": bool(d.seed), "merged_into": d.merged_into_id,
                "merged_from": "; ".join(f"#{x['domain_id']} {x['title']}"
                                         for x in lineage.get(d.id, [])),
                "description": d.description or "", "proposal_rationale": d.rationale or "",
                "proposer_helix": snap.helix_of.get(d.participant_id, "")
                if d.participant_id else "",
                "proposer": snap.author(d.participant_id),
                "sdgs": ", ".join(str(s) for s in d.sdgs or []),
                "sdg_names": "; ".join(sdg_label(n) for n in d.sdgs or []),
                "comments": n_comments.get(d.id, 0), **self.numbers(d.id),
                **(_decision(p) if p else {"rationale": "", "indicators": "", "funders": ""}),
                "sectors": ", ".join(d.sectors or []),
                "regional_data": data_line(snap.evidence[d.id]) if d.id in snap.evidence
                else "",
            })
        return rows

    def _regional_data(self) -> list[dict[str, Any]]:
        """One row per linked domain and sector, in the Domains order."""
        snap = self.snap
        prio = {p.domain_id: p.rank for p in snap.priorities}
        rows = []
        for d in sorted(snap.domains, key=self._domain_order()):
            found = snap.evidence.get(d.id)
            for s in (found or {}).get("sectors", []):
                rows.append({
                    "rank": prio.get(d.id, pd.NA), "domain_id": d.id, "title": d.title,
                    "sector": s["code"], "sector_name": s.get("name") or "",
                    **{k: math.nan if s.get(k) is None else s[k]
                       for k in ("value", "rca", "share", "density", "complexity")},
                    "related": "; ".join(f"{r['code']} {r['name']} (RCA {r['rca']})"
                                         for r in s.get("related") or []),
                    "region": found.get("region") or "", "source": found.get("source") or "",
                    "year": found.get("year") if found.get("year") is not None else pd.NA})
        return rows

    def _deliberation(self) -> list[dict[str, Any]]:
        """Every visible comment, with the author's helix (and name only when "named")."""
        snap = self.snap
        return [{"comment_id": c.id, "domain_id": c.domain_id,
                 "domain": snap.titles.get(c.domain_id, ""), "stance": c.stance,
                 "helix": c.helix, "author": snap.author(c.participant_id), "text": c.text,
                 "at": c.created_at} for c in snap.comments]

    def _participation(self) -> list[dict[str, Any]]:
        """Who joined and who cast anything, per helix."""
        joined: dict[str, int] = {}
        for p in self.snap.participants:
            joined[p.helix] = joined.get(p.helix, 0) + 1
        voters = self.snap.results["participation"]
        return [{"helix": h, "label": label, "participants": joined.get(h, 0),
                 "voters": int(voters.get(h, 0))} for h, label in self.snap.helix_labels.items()]

    def _events(self) -> list[dict[str, Any]]:
        """The append-only record, without participant ids or references."""
        return [{"event_id": e.id, "at": e.at, "kind": e.kind, "actor_role": e.actor_role,
                 "helix": e.helix, "summary": self.describe(e),
                 "payload": json.dumps(e.payload or {}, ensure_ascii=False, sort_keys=True,
                                       default=str)}
                for e in self.snap.events]

    def _indicators(self) -> list[dict[str, Any]]:
        return [{**self._about(p), **dict(zip(("indicator", "baseline", "target"),
                                               indicator_parts(item)))}
                for p in self.snap.priorities for item in p.indicators or []]

    def _funders(self) -> list[dict[str, Any]]:
        return [{**self._about(p), "funder": funder}
                for p in self.snap.priorities for funder in p.funders or []]

    def _vision(self) -> list[dict[str, Any]]:
        """The visible vision statements, adopted first, then by agreement across helices."""
        return [{k: s[k] for k in ("statement_id", "text", "agree", "disagree", "pass",
                                   "agreement", "adopted")}
                for s in self.snap.vision if not s.get("hidden")]

    def _swot(self) -> list[dict[str, Any]]:
        """Every visible SWOT item on the domain it was written on, with its helix."""
        titles = self.snap.titles
        return [{"item_id": i.id, "domain_id": i.domain_id, "domain": titles.get(i.domain_id, ""),
                 "quadrant": i.quadrant, "helix": i.helix, "text": i.text, "at": i.created_at}
                for i in self.snap.swot_items if not i.hidden]

    def _about(self, p) -> dict[str, Any]:
        return {"rank": p.rank, "domain_id": p.domain_id,
                "title": self.snap.titles.get(p.domain_id, "")}

    def _evidence(self) -> list[dict[str, Any]]:
        """Each priority's support and comments by helix."""
        grouped = self.snap.comments_by_domain
        return [{"rank": item["rank"], "domain_id": item["domain_id"], "title": item["title"],
                 **row}
                for item in self.snap.priority_items()
                for row in self.snap.helix_evidence(item, grouped.get(item["domain_id"], {}))]

    def _lineage(self) -> list[dict[str, Any]]:
        """Every merged proposal and where it went (the final domain follows the chain)."""
        titles = self.snap.titles
        rows = []
        for d in self.snap.domains:
            if d.merged_into_id is None:
                continue
            final = self.snap.surviving(d.id)
            rows.append({"domain_id": d.id, "title": d.title, "merged_into": d.merged_into_id,
                         "into_title": titles.get(d.merged_into_id, ""),
                         "final_domain_id": final, "final_title": titles.get(final, "")})
        return rows

    def _timeline(self) -> list[dict[str, Any]]:
        return timeline(self.snap, self.describe)


def _decision(p) -> dict[str, str]:
    return {"rationale": p.rationale,
            "indicators": "; ".join(indicator_text(i) for i in p.indicators or []),
            "funders": "; ".join(p.funders or [])}


def shown(snap: Snapshot, sheet: str, data: pd.DataFrame) -> pd.DataFrame:
    """The sheet as people read it: labels for machine values, translated headers (made
    unique: a helix label may repeat another header)."""
    labels = snap.helix_labels
    show = {"stance": stance_label, "status": status_label, "role": role_label,
            "quadrant": quadrant_label,
            "helix": lambda k: labels.get(k, k) if isinstance(k, str) else k}
    cols = [c for c in columns(snap, sheet) if c.book]
    out = data[[c.key for c in cols]].copy()
    for c in cols:
        if c.show:
            out[c.key] = out[c.key].map(show[c.show])
    out.columns = unique([str(c.header) for c in cols])
    return out


def unique(names: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        candidate, n = name, 2
        while candidate.lower() in seen:
            candidate, n = f"{name} ({n})", n + 1
        seen.add(candidate.lower())
        out.append(candidate)
    return out
