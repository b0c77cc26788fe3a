"""Recompute a workshop's results from its append-only event log alone.

The live results read the current tables (domains, votes, scores, rankings); this module reads
nothing but the `Event` rows and folds them back into the same ballot frames, then calls the
same `analysis.results`. Equal numbers on both sides show that the deliberation record is
complete: a published result can be re-derived from the record (for instance from the `events`
of a JSON export) without trusting the tables.

How events fold (each in id order; later events win):

- `propose` (participants and, with actor_role `system`, the template's seed domains): a domain
  with `domain_id`, `title` and `status` (absent = `approved`; `pending` in pre-moderated
  workshops).
- `moderate` `{domain_id, action, into}`: approve -> `approved`, hide -> `hidden`,
  merge -> `merged`. Moderation itself moves no ballot: the dot points a hide gives back or a
  merge moves are `vote` events of their own (actor_role `system`); scores and rankings of a
  hidden or merged domain stay and count again if the domain is approved again.
- `vote` `{domain_id, points}`: sets (not adds) the participant's points; 0 removes them.
- `score` `{domain_id, criterion, value}`: sets one criterion value.
- `rank` `{order}`: replaces the participant's whole ranking.
- `join`: one participant present in the event's helix (used for `present`).
- `decide` `{domain_id, rank, rationale, indicators, funders, shortlist}` and `undecide`
  `{domain_id}`: the decided short list.
- `fund` `{domain_id, signal, instrument}`: sets (not adds) a funder's signal on a domain;
  each ranking entry's `funding` {"yes", "maybe", "no"} counts them, as `compute_results` does
  (its own axis: it never moves a score).
- The vision: `statement` `{statement_id, text, adopted?}` (a statement carried from an
  earlier round comes adopted), `adopt` `{statement_id, adopted}`, `statement_hidden` (which
  also takes the adoption back, as the rule does) and `statement_restored`; `react`
  `{statement_id, reaction}` sets a participant's reaction.
- SWOT: `swot` `{item_id, domain_id, quadrant, text}` with the event's helix, `swot_hidden`
  and `swot_restored` `{item_id}`.

Every other kind the app records (`KNOWN_KINDS`: comments, phases, timers, reveals, rounds...)
changes nothing replayed here; `unknown_kinds` names kinds this version does not know at all.

The voter's helix is the event's `helix` field. A participant is identified by the event's
`participant_id`, or by `participant` (the anonymous reference of a JSON export).

The pure part (`domains_from_events`, `ballots_from_events`, `present_from_events`,
`priorities_from_events`, `funding_from_events`, `vision_from_events`, `swot_from_events`,
`results_from_events`) needs no Flask; `events_from_db` and
`workshop_dict_for_replay` read a workshop's rows through the app's database session, and
`edp.verify` compares the replay with the stored tables (`edp workshop verify CODE`).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from . import analysis

# Statuses a `moderate` action leads to (see workshop.moderate).
MODERATION_STATUS = {"approve": "approved", "hide": "hidden", "merge": "merged"}
# The statuses that take part in the results (workshop.VOTABLE).
VOTABLE = ("approved",)
SIGNALS = ("yes", "maybe", "no")  # method.SIGNALS
# The kinds folded here, and those recorded for the story only (they move no result, ballot,
# priority, statement, SWOT item or signal).
REPLAYED_KINDS = frozenset({
    "propose", "moderate", "vote", "score", "rank", "join", "decide", "undecide", "fund",
    "statement", "adopt", "statement_hidden", "statement_restored", "react",
    "swot", "swot_hidden", "swot_restored"})
STORY_KINDS = frozenset({
    "workshop_created", "comment", "moderate_comment", "phase", "timer", "reveal", "method",
    "joining", "round", "carry", "invite", "diagnosis", "link"})
KNOWN_KINDS = REPLAYED_KINDS | STORY_KINDS


# --------------------------------------------------------------------------- pure folds


def _payload(ev: Mapping[str, Any]) -> Mapping[str, Any]:
    p = ev.get("payload")
    return p if isinstance(p, Mapping) else {}


def _as_int(x: Any) -> int | None:
    try:
        return int(x)
    except (TypeError, ValueError):
        return None


class _People:
    """Participant keys (ids or export references) as stable integers."""

    def __init__(self) -> None:
        self._refs: dict[Any, int] = {}

    def key(self, ev: Mapping[str, Any]) -> int | None:
        pid = ev.get("participant_id")
        if pid is not None:
            return _as_int(pid)
        ref = ev.get("participant")
        if ref is None:
            return None
        # Export references are strings; give them negative ids so they never meet real ids.
        return self._refs.setdefault(ref, -(len(self._refs) + 1))


def domains_from_events(events: Iterable[Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    """domain_id -> {"title", "status", "merged_into", "seed"} after every propose/moderate."""
    domains: dict[int, dict[str, Any]] = {}
    for ev in events:
        kind, p = ev.get("kind"), _payload(ev)
        did = _as_int(p.get("domain_id"))
        if did is None:
            continue
        if kind == "propose":
            domains[did] = {
                "title": str(p.get("title", "")),
                "status": str(p.get("status") or "approved"),
                "merged_into": None,
                "seed": ev.get("actor_role") == "system" or bool(p.get("seed")),
            }
        elif kind == "moderate" and did in domains:
            status = MODERATION_STATUS.get(str(p.get("action")))
            if status is None:
                continue
            d = domains[did]
            d["status"] = status
            if status == "merged":
                d["merged_into"] = _as_int(p.get("into"))
            elif status == "approved":
                d["merged_into"] = None
    return domains


def ballots_from_events(events: Iterable[Mapping[str, Any]]) -> dict[str, pd.DataFrame]:
    """The final ballots as `analysis` frames (votes, scores, rankings), set-not-add semantics."""
    people = _People()
    helix: dict[int, str | None] = {}
    votes: dict[tuple[int, int], int] = {}
    scores: dict[tuple[int, int, str], int] = {}
    rankings: dict[int, list[int]] = {}
    for ev in events:
        kind = ev.get("kind")
        if kind not in ("vote", "score", "rank"):
            continue
        pid = people.key(ev)
        if pid is None:
            continue
        if ev.get("helix") is not None:
            helix[pid] = str(ev["helix"])
        else:
            helix.setdefault(pid, None)
        p = _payload(ev)
        if kind == "rank":
            order = p.get("order")
            if isinstance(order, list):
                rankings[pid] = [d for d in (_as_int(x) for x in order) if d is not None]
            continue
        did = _as_int(p.get("domain_id"))
        if did is None:
            continue
        if kind == "vote":
            points = _as_int(p.get("points"))
            if points:
                votes[pid, did] = points
            else:
                votes.pop((pid, did), None)
        else:
            value = _as_int(p.get("value"))
            crit = str(p.get("criterion"))
            if value is None:
                scores.pop((pid, did, crit), None)
            else:
                scores[pid, did, crit] = value

    frames = analysis.empty_frames()
    if votes:
        frames["votes"] = pd.DataFrame(
            [(pid, helix[pid], did, pts) for (pid, did), pts in votes.items()],
            columns=analysis.VOTE_COLUMNS,
        )
    if scores:
        frames["scores"] = pd.DataFrame(
            [(pid, helix[pid], did, c, v) for (pid, did, c), v in scores.items()],
            columns=analysis.SCORE_COLUMNS,
        )
    ranked = [
        (pid, helix[pid], did, pos)
        for pid, order in rankings.items()
        for pos, did in enumerate(order, start=1)
    ]
    if ranked:
        frames["rankings"] = pd.DataFrame(ranked, columns=analysis.RANK_COLUMNS)
    return frames


def present_from_events(
    events: Iterable[Mapping[str, Any]], helices: Iterable[str] = ()
) -> dict[str, int]:
    """Participants joined per helix (every configured helix listed, 0 when nobody joined)."""
    counts = {str(h): 0 for h in helices}
    seen: set[Any] = set()
    people = _People()
    for ev in events:
        if ev.get("kind") != "join" or ev.get("helix") is None:
            continue
        pid = people.key(ev)
        if pid is not None:
            if pid in seen:
                continue  # a rejoin is the same participant
            seen.add(pid)
        h = str(ev["helix"])
        counts[h] = counts.get(h, 0) + 1
    return counts


def priorities_from_events(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The decided short list after every `decide` and `undecide`, in rank order:
    [{"domain_id", "rank", "rationale", "indicators", "funders"}].

    A `decide` event carries the whole `shortlist` after it (older records may not: then the
    rank is applied as `workshop.decide` does, moving the others down a place); a `decide`
    without `funders` keeps those recorded before, as the rule does."""
    chosen: dict[int, dict[str, Any]] = {}
    order: list[int] = []
    for ev in events:
        kind, p = ev.get("kind"), _payload(ev)
        did = _as_int(p.get("domain_id"))
        if did is None or kind not in ("decide", "undecide"):
            continue
        if did in order:
            order.remove(did)
        if kind == "undecide":
            chosen.pop(did, None)
            continue
        before = chosen.get(did, {})
        chosen[did] = {"rationale": str(p.get("rationale") or ""),
                       "indicators": list(p.get("indicators") or []),
                       "funders": list(p.get("funders", before.get("funders")) or [])}
        shortlist = p.get("shortlist")
        if isinstance(shortlist, list):
            order = [d for d in (_as_int(x) for x in shortlist) if d in chosen]
        else:
            order.insert(min(max((_as_int(p.get("rank")) or 1) - 1, 0), len(order)), did)
    return [{"domain_id": did, "rank": n, **chosen[did]}
            for n, did in enumerate(order, start=1) if did in chosen]


def unknown_kinds(events: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Kinds this version neither replays nor knows as part of the story, with their counts
    (a record from a later version, say)."""
    out: dict[str, int] = {}
    for ev in events:
        kind = str(ev.get("kind"))
        if kind not in KNOWN_KINDS:
            out[kind] = out.get(kind, 0) + 1
    return out


def funding_from_events(events: Iterable[Mapping[str, Any]]) -> dict[tuple[int, int], dict]:
    """(participant, domain_id) -> {"signal", "instrument"} after every `fund` (set, not add)."""
    people = _People()
    out: dict[tuple[int, int], dict[str, Any]] = {}
    for ev in events:
        if ev.get("kind") != "fund":
            continue
        p, pid = _payload(ev), people.key(ev)
        did = _as_int(p.get("domain_id"))
        if pid is None or did is None or p.get("signal") not in SIGNALS:
            continue
        before = out.get((pid, did), {})
        instrument = p.get("instrument")
        out[pid, did] = {"signal": p["signal"],
                         "instrument": before.get("instrument", "") if instrument is None
                         else str(instrument)}
    return out


def funding_counts(signals: Mapping[tuple[int, int], Mapping[str, Any]]) -> dict[int, dict]:
    """domain_id -> {"yes": n, "maybe": n, "no": n}."""
    out: dict[int, dict[str, int]] = {}
    for (_pid, did), item in signals.items():
        out.setdefault(did, dict.fromkeys(SIGNALS, 0))[item["signal"]] += 1
    return out


def vision_from_events(events: Iterable[Mapping[str, Any]]) -> tuple[dict, dict]:
    """(statements, reactions): statement_id -> {"text", "adopted", "hidden"}, and
    (participant, statement_id) -> reaction."""
    people = _People()
    statements: dict[int, dict[str, Any]] = {}
    reactions: dict[tuple[int, int], str] = {}
    for ev in events:
        kind, p = ev.get("kind"), _payload(ev)
        sid = _as_int(p.get("statement_id"))
        if sid is None:
            continue
        if kind == "statement":
            statements[sid] = {"text": str(p.get("text", "")), "adopted": bool(p.get("adopted")),
                               "hidden": False}
        elif kind == "react":
            pid = people.key(ev)
            if pid is not None and p.get("reaction") is not None:
                reactions[pid, sid] = str(p["reaction"])
        elif sid in statements and kind == "adopt":
            statements[sid]["adopted"] = bool(p.get("adopted"))
        elif sid in statements and kind in ("statement_hidden", "statement_restored"):
            statements[sid]["hidden"] = kind == "statement_hidden"
            if kind == "statement_hidden":
                statements[sid]["adopted"] = False
    return statements, reactions


def swot_from_events(events: Iterable[Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    """item_id -> {"domain_id", "quadrant", "text", "helix", "hidden"}."""
    items: dict[int, dict[str, Any]] = {}
    for ev in events:
        kind, p = ev.get("kind"), _payload(ev)
        iid = _as_int(p.get("item_id"))
        if iid is None:
            continue
        if kind == "swot":
            items[iid] = {"domain_id": _as_int(p.get("domain_id")),
                          "quadrant": str(p.get("quadrant", "")), "text": str(p.get("text", "")),
                          "helix": ev.get("helix"), "hidden": False}
        elif iid in items and kind in ("swot_hidden", "swot_restored"):
            items[iid]["hidden"] = kind == "swot_hidden"
    return items


def _helix_keys(workshop: Mapping[str, Any]) -> list[str]:
    return [str(h["key"]) if isinstance(h, Mapping) else str(h) for h in workshop["helices"]]


def results_from_events(events: list[dict], workshop: dict) -> dict:
    """The `results` payload recomputed from the event log alone.

    `events`: plain dicts (id, at, kind, actor_role, helix, participant_id, payload) in id order.
    `workshop`: {"method": the final method, "helices": [{key, label}], "criteria":
    [{key, label, weight}]}. The approved domains and the final ballots are folded from the
    events; `present` (participants joined per helix, from the `join` events) is passed on, so
    the warnings include under-represented helices.
    """
    events = sorted(events, key=lambda e: e.get("id", 0))
    helices = _helix_keys(workshop)
    domains = domains_from_events(events)
    approved = pd.DataFrame(
        [(did, d["title"]) for did, d in sorted(domains.items()) if d["status"] in VOTABLE],
        columns=["domain_id", "title"],
    )
    frames = ballots_from_events(events)
    weights = {str(c["key"]): float(c["weight"]) for c in workshop.get("criteria") or []}
    results = analysis.results(
        workshop["method"],
        approved,
        frames["votes"],
        frames["scores"],
        frames["rankings"],
        helices,
        weights,
        present=present_from_events(events, helices),
    )
    funding = funding_counts(funding_from_events(events))
    for entry in results["ranking"]:
        entry["funding"] = funding.get(entry["domain_id"]) or dict.fromkeys(SIGNALS, 0)
    return results


# --------------------------------------------------------------------------- database


def events_from_db(ws) -> list[dict]:
    """The workshop's `Event` rows as plain dicts, in id order (`at` as a datetime)."""
    import sqlalchemy as sa

    from .extensions import db
    from .models import Event

    rows = db.session.execute(
        sa.select(Event.id, Event.at, Event.kind, Event.actor_role, Event.helix,
                  Event.participant_id, Event.payload)
        .where(Event.workshop_id == ws.id)
        .order_by(Event.id)
    ).all()
    return [
        {"id": r.id, "at": r.at, "kind": r.kind, "actor_role": r.actor_role, "helix": r.helix,
         "participant_id": r.participant_id, "payload": dict(r.payload or {})}
        for r in rows
    ]


def workshop_dict_for_replay(ws) -> dict:
    """What `results_from_events` needs to know of the workshop besides its events."""
    return {
        "method": ws.method,
        "helices": [{"key": h["key"], "label": h.get("label", h["key"])} for h in ws.helices],
        "criteria": [
            {"key": c["key"], "label": c.get("label", c["key"]), "weight": float(c["weight"])}
            for c in ws.criteria
        ],
    }
