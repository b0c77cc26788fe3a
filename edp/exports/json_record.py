"""The JSON record: the whole workshop in one file (`edp.record` imports it back).

Participants appear as references (`p1`, `p2`, ...) with their helix; in a "named" workshop,
comments and proposals add the `name` and `organisation` their authors gave. Domains carry
`merged_into` and `lineage` (the domains that became this one); priorities carry indicators,
funders and their `evidence`. The method beyond voting: `vision` (every statement with its
reactions counted, `agreement` and `adopted`), `reactions` by participant reference as the
ballots are, each domain's `swot` items and `funding` counts, and `funding` (each funder's
signal by reference).
"""
from __future__ import annotations

import json
from typing import Any

from .. import method
from .. import workshop as rules
from ..sdgs import sdg_label
from ..validation import finite
from .snapshot import Snapshot, iso, split_comments

# Version 2 added: comment authors (refs), funders, indicator objects, merge lineage, SDG names,
# evidence per priority, the anonymity setting. Version 3: the vision (statements, reactions),
# SWOT items per domain and the funders' signal. `edp.record` imports versions 1 to 3.
RECORD_FORMAT, RECORD_VERSION = "edp-live-record", 3


def _workshop(snap: Snapshot) -> dict[str, Any]:
    ws = snap.ws
    out = {**rules.workshop_dict(ws), "description": (ws.settings or {}).get("description", ""),
           "settings": ws.settings or {}, "created_at": iso(ws.created_at),
           "participants_by_helix": rules.helix_counts(ws)}
    out.pop("server_time", None)  # the live clock for phones; `exported_at` tells it here
    return out


def _domains(snap: Snapshot) -> list[dict[str, Any]]:
    lineage, n_comments, swot = snap.lineage(), snap.comment_counts(), _swot(snap)
    out = []
    for d in snap.domains:
        item = rules.domain_dict(d, n_comments.get(d.id, 0))
        item["proposed_by"] = snap.refs.get(d.participant_id) if d.participant_id else None
        item["proposer_helix"] = snap.helix_of.get(d.participant_id) if d.participant_id else None
        if snap.named and d.participant_id:
            name, org = snap.names.get(d.participant_id, ("", ""))
            item["proposer_name"], item["proposer_organisation"] = name, org
        item["sdg_names"] = [sdg_label(n) for n in d.sdgs or []]
        item["lineage"] = lineage.get(d.id, [])
        item["created_at"] = iso(d.created_at)
        item["swot"] = swot.get(d.id, [])
        item["funding"] = snap.funding_of(d.id)
        # The region's figures for the sectors it is linked to (None: not linked).
        item["evidence"] = snap.evidence.get(d.id)
        out.append(item)
    return out


def _swot(snap: Snapshot) -> dict[int, list[dict[str, Any]]]:
    """Each domain's own SWOT items (merges not followed), hidden ones kept and marked."""
    out: dict[int, list[dict[str, Any]]] = {}
    for i in snap.swot_items:
        item = {"item_id": i.id, "quadrant": i.quadrant, "text": i.text, "helix": i.helix,
                "participant": snap.refs.get(i.participant_id), "at": iso(i.created_at)}
        if i.hidden:
            item["hidden"] = True  # hidden by the facilitator: kept here, out of the room
        out.setdefault(i.domain_id, []).append(item)
    return out


def _vision(snap: Snapshot) -> list[dict[str, Any]]:
    """Every statement in id order with its reactions counted (all helices: the record is
    the facilitator's), `agreement` across helices and whether it was adopted or hidden."""
    summary = {s["statement_id"]: s for s in snap.vision}
    out = []
    for s in snap.statements:
        counted = summary.get(s.id, {})
        out.append({"statement_id": s.id, "text": s.text,
                    **{k: counted.get(k, 0) for k in method.REACTIONS},
                    "agreement": counted.get("agreement"), "adopted": bool(s.adopted),
                    "hidden": bool(s.hidden), "by_helix": counted.get("by_helix", {}),
                    "participant": snap.refs.get(s.participant_id), "at": iso(s.created_at)})
    return out


def _by_ref(snap: Snapshot, rows, slot: str, put) -> dict[str, dict[str, Any]]:
    """Rows of one participant-owned table grouped by participant reference: each entry is
    `{"helix", slot: {...}}`, and `put(entry[slot], row)` adds one row to it."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.participant_id in snap.refs:
            entry = out.setdefault(snap.refs[row.participant_id],
                                   {"helix": snap.helix_of[row.participant_id], slot: {}})
            put(entry[slot], row)
    return out


def _method_ballots(snap: Snapshot) -> dict[str, dict[str, dict[str, Any]]]:
    """Reactions and funders' signals, each by participant reference (as the ballots)."""
    def react(into: dict, r) -> None:
        into[str(r.statement_id)] = r.reaction

    def fund(into: dict, f) -> None:
        into[str(f.domain_id)] = {"signal": f.signal, "instrument": f.instrument or "",
                                  "at": iso(f.updated_at)}

    return {"reactions": _by_ref(snap, snap.reactions, "statements", react),
            "funding": _by_ref(snap, snap.funding, "signals", fund)}


def _ballots(snap: Snapshot) -> dict[str, dict[str, dict[str, Any]]]:
    """votes, scores and rankings, each by participant reference."""
    def vote(into: dict, v) -> None:
        into[str(v.domain_id)] = v.points

    def score(into: dict, s) -> None:
        into.setdefault(str(s.domain_id), {})[s.criterion] = s.value

    refs, helix_of = snap.refs, snap.helix_of
    rankings = {refs[r.participant_id]: {"helix": helix_of[r.participant_id],
                                         "order": list(r.order or [])}
                for r in snap.rankings if r.participant_id in refs}
    return {"votes": _by_ref(snap, snap.votes, "points", vote),
            "scores": _by_ref(snap, snap.scores, "values", score), "rankings": rankings}


def _evidence(snap: Snapshot, item: dict[str, Any], found: dict[str, list[Any]]) -> dict:
    result = item["result"] or {}
    supporting, opposing = split_comments(found)
    return {
        "on_ballot": bool(item["result"]),
        **{key: result.get(key) for key in
           ("consensus", "spread", "polarised", "one_helix", "supporting_helices")},
        "warnings": [w for w in snap.results.get("warnings", [])
                     if w.get("domain_id") == item["domain_id"]],
        "supporting": [c.id for c in supporting],
        "opposing": [c.id for c in opposing],
        "by_stance": {s: [c.id for c in found.get(s, [])] for s in rules.STANCES},
        "by_helix": {row["helix"]: {k: row[k] for k in ("support", "supporting_comments",
                                                        "opposing_comments")}
                     for row in snap.helix_evidence(item, found)},
        # Beside support, never folded into it: the SWOT (merged proposals' items included)
        # and the funders' signal.
        "swot": [{"quadrant": i.quadrant, "text": i.text, "helix": i.helix}
                 for i in snap.swot_by_domain.get(item["domain_id"], [])],
        "funding": snap.funding_of(item["domain_id"]),
        # The region's data for the domain's sectors, with its source and year.
        "data": snap.evidence.get(item["domain_id"]),
    }


def _priorities(snap: Snapshot) -> list[dict[str, Any]]:
    decided_at = {p.domain_id: p.decided_at for p in snap.priorities}
    out = []
    for item in snap.priority_items():
        result = item["result"] or {}
        evidence = _evidence(snap, item, snap.comments_by_domain.get(item["domain_id"], {}))
        out.append({**{k: v for k, v in item.items() if k not in ("result", "domain")},
                    "decided_at": iso(decided_at.get(item["domain_id"])),
                    "score": result.get("score"), "balanced_score": result.get("balanced_score"),
                    "by_helix": result.get("by_helix", {}), "voters": result.get("voters", 0),
                    "evidence": evidence})
    return out


def _comment(snap: Snapshot, c: Any) -> dict[str, Any]:
    item = {"comment_id": c.id, "domain_id": c.domain_id, "stance": c.stance, "text": c.text,
            "helix": c.helix, "participant": snap.refs.get(c.participant_id),
            "at": iso(c.created_at)}
    if getattr(c, "hidden", False):
        item["hidden"] = True  # hidden by the facilitator: kept in the record, out of the room
    if snap.named:
        item["name"], item["organisation"] = snap.names.get(c.participant_id, ("", ""))
    return item


def _event(snap: Snapshot, e: Any) -> dict[str, Any]:
    return {"id": e.id, "at": iso(e.at), "kind": e.kind, "actor_role": e.actor_role,
            "helix": e.helix,
            "participant": snap.refs.get(e.participant_id) if e.participant_id is not None
            else None,
            "payload": e.payload or {}}


def record_dict(snap: Snapshot) -> dict[str, Any]:
    """The whole workshop as one JSON-ready dict."""
    return finite({
        "format": RECORD_FORMAT,
        "version": RECORD_VERSION,
        "exported_at": iso(snap.exported_at),
        "workshop": _workshop(snap),
        "vision": _vision(snap),
        "domains": _domains(snap),
        "comments": [_comment(snap, c) for c in snap.all_comments],
        "participants": [{"ref": snap.refs[p.id], "helix": p.helix,
                          "joined_at": iso(p.created_at)} for p in snap.participants],
        **_ballots(snap),
        **_method_ballots(snap),
        "priorities": _priorities(snap),
        # The region's diagnosis data whole (regions, sectors, values), so an import or a
        # partner region recomputes the same evidence.
        "diagnosis": snap.diagnosis_data,
        "results": snap.results,
        "events": [_event(snap, e) for e in snap.events],
    })


def json_bytes(snap: Snapshot) -> bytes:
    text = json.dumps(record_dict(snap), ensure_ascii=False, indent=2, default=str)
    return text.encode("utf-8", "replace")
