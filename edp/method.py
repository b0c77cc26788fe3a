"""The EDP method beyond voting: the shared vision, SWOT per domain and the funders' signal.

Rules only (like `workshop.py`, which keeps phases, ballots and moderation): each function
checks the phase and the payload, writes its row and its `Event` in the caller's transaction,
and raises `EDPError` with a machine code.

- Vision (phase `vision`): participants write short statements and react agree / disagree /
  pass to each (one at a time on the phone, as in Pol.is); the facilitator adopts some. The
  statements are ordered by `agreement`, Pol.is's group-informed consensus over the helices
  (see `vision_summary`), so a statement one helix loves and the others reject does not top
  the list by head count.
- SWOT: strengths, weaknesses, opportunities and threats per domain, each with its author's
  helix (never the author), accepted while domains are proposed, discussed and voted.
- Funding: participants of a funding helix (`funder = true` in the template) say yes / maybe /
  no per domain, with an optional instrument. It is its own axis beside support, never a
  criterion folded into a mean.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from . import analysis
from .extensions import db
from .models import Funding, Participant, Reaction, Statement, SwotItem, Workshop
from .workshop import (
    EDPError,
    by_client_id,
    check_cap,
    fail,
    min_group,
    record,
    require_phase,
    votable_domain,
    workshop_by_id,
)

REACTIONS = ("agree", "disagree", "pass")
QUADRANTS = ("strength", "weakness", "opportunity", "threat")
SIGNALS = ("yes", "maybe", "no")

NOT_FUNDER = _l("Only participants of a funding group can give the funders' signal.")
STATEMENT_GONE = _l("That statement does not exist or was withdrawn.")


def is_funder(ws: Workshop, helix: str | None) -> bool:
    """Whether `helix` is one of the workshop's funding helices (`funder = true`)."""
    return any(h.get("key") == helix and h.get("funder") for h in ws.helices or [])


def funder_helices(ws: Workshop) -> list[str]:
    return [h["key"] for h in ws.helices or [] if h.get("funder")]


# ---------------------------------------------------------------- vision


def statement(p: Participant, text: str, client_id: str | None = None,
              admit: Callable[[], None] | None = None) -> Statement:
    """A vision statement; a reused `client_id` returns the earlier one (a retried ack)."""
    earlier = by_client_id(Statement, p, client_id)
    if earlier is not None:
        return earlier
    ws = workshop_by_id(p.workshop_id)
    require_phase(ws, "statement")
    text = " ".join(text.split())
    if not text:
        raise fail("bad_payload")
    check_cap(ws, "statements_per_participant", db.session.scalar(
        sa.select(sa.func.count(Statement.id)).where(Statement.participant_id == p.id)))
    check_cap(ws, "statements_per_workshop", db.session.scalar(
        sa.select(sa.func.count(Statement.id)).where(Statement.workshop_id == ws.id)))
    if admit is not None:
        admit()
    s = Statement(workshop_id=ws.id, participant_id=p.id, text=text, client_id=client_id or None)
    db.session.add(s)
    db.session.flush()
    record(ws, "statement", "participant", p, statement_id=s.id, text=text)
    return s


def facilitator_statement(ws: Workshop, text: str) -> Statement:
    """A statement the facilitator writes (e.g. from the region's earlier strategy); any phase."""
    text = " ".join(text.split())
    if not text:
        raise fail("bad_payload")
    s = Statement(workshop_id=ws.id, text=text)
    db.session.add(s)
    db.session.flush()
    record(ws, "statement", "facilitator", statement_id=s.id, text=text)
    return s


def _statement(ws: Workshop, statement_id: int) -> Statement:
    s = db.session.get(Statement, statement_id)
    if s is None or s.workshop_id != ws.id:
        raise EDPError("not_found", STATEMENT_GONE)
    return s


def react(p: Participant, statement_id: int, reaction: str) -> Reaction:
    """Set (not add) this participant's reaction to a statement: a retry is harmless."""
    ws = workshop_by_id(p.workshop_id)
    require_phase(ws, "react")
    if reaction not in REACTIONS:
        raise fail("bad_payload")
    s = _statement(ws, statement_id)
    if s.hidden:
        raise EDPError("not_found", STATEMENT_GONE)
    row = db.session.scalar(sa.select(Reaction).where(
        Reaction.participant_id == p.id, Reaction.statement_id == s.id))
    if row is None:
        row = Reaction(workshop_id=ws.id, statement_id=s.id, participant_id=p.id,
                       reaction=reaction)
        db.session.add(row)
    elif row.reaction == reaction:
        return row  # nothing changed: no event
    else:
        row.reaction = reaction
    db.session.flush()
    record(ws, "react", "participant", p, statement_id=s.id, reaction=reaction)
    return row


def adopt(ws: Workshop, statement_id: int, adopted: bool) -> Statement:
    """The facilitator adopts a statement into the shared vision (or takes it back)."""
    s = _statement(ws, statement_id)
    if s.adopted != adopted:
        s.adopted = adopted
        record(ws, "adopt", "facilitator", statement_id=s.id, adopted=adopted)
    return s


def hide_statement(ws: Workshop, statement_id: int, hidden: bool) -> Statement:
    """Withdraw a statement from the room (off-topic, offensive) or bring it back."""
    s = _statement(ws, statement_id)
    if s.hidden != hidden:
        s.hidden = hidden
        if hidden:
            s.adopted = False
        record(ws, "statement_hidden" if hidden else "statement_restored", "facilitator",
               statement_id=s.id)
    return s


def agreement(rates: dict[str, tuple[int, int]]) -> float | None:
    """How broadly the helices agree with a statement: the results' consensus measure
    (`analysis.group_consensus`, Pol.is's group-informed consensus scaled to [0, 1]) over the
    groups that reacted, with `rates` mapping a group to (agree, reactions). None without any
    group."""
    if not rates:
        return None
    agree = np.array([[a for a, _n in rates.values()]], dtype=np.float64)
    seen = np.array([[n for _a, n in rates.values()]], dtype=np.float64)
    return float(analysis.group_consensus(agree, seen)[0])


def vision_summary(ws: Workshop, facilitator: bool = False) -> list[dict[str, Any]]:
    """The statements with their reactions, broadest cross-helix agreement first.

    Everyone sees the totals and `agreement`; per-helix counts go to the facilitator only.
    `agreement` is computed over the helices that reacted; helices with fewer than
    `min_group` reacting participants are pooled (or left out when still too small) in the
    room's copy, as the results are, so nobody can read a small group's reactions off it."""
    rows = list(db.session.scalars(
        sa.select(Statement).where(Statement.workshop_id == ws.id).order_by(Statement.id)))
    if not facilitator:
        rows = [s for s in rows if not s.hidden]
    counts: dict[int, dict[str, dict[str, int]]] = {}
    reactors: dict[str, set[int]] = {}
    for sid, helix, pid, reaction in db.session.execute(
        sa.select(Reaction.statement_id, Participant.helix, Participant.id, Reaction.reaction)
        .join(Participant, Participant.id == Reaction.participant_id)
        .where(Reaction.workshop_id == ws.id)
    ).all():
        per = counts.setdefault(sid, {}).setdefault(helix, dict.fromkeys(REACTIONS, 0))
        per[reaction] += 1
        reactors.setdefault(helix, set()).add(pid)
    buckets = {h: h for h in reactors}
    if not facilitator:
        buckets = analysis.public_buckets({h: len(v) for h, v in reactors.items()}, min_group(ws))
    out = []
    for s in rows:
        by_helix = counts.get(s.id, {})
        pooled: dict[str, dict[str, int]] = {}
        for helix, c in by_helix.items():
            bucket = buckets.get(helix)
            if bucket is None:
                continue
            into = pooled.setdefault(bucket, dict.fromkeys(REACTIONS, 0))
            for k in REACTIONS:
                into[k] += c[k]
        totals = {k: sum(c[k] for c in pooled.values()) for k in REACTIONS}
        rates = {h: (c["agree"], c["agree"] + c["disagree"] + c["pass"])
                 for h, c in pooled.items()}
        item = {"statement_id": s.id, "text": s.text, **totals,
                "agreement": agreement(rates), "groups": len(pooled),
                "adopted": bool(s.adopted)}
        if facilitator:
            item["by_helix"] = by_helix
            item["hidden"] = bool(s.hidden)
        out.append(item)
    out.sort(key=lambda i: (not i["adopted"], -(i["agreement"] or 0.0), i["statement_id"]))
    return out


def my_reactions(p: Participant) -> dict[str, str]:
    return {str(sid): r for sid, r in db.session.execute(
        sa.select(Reaction.statement_id, Reaction.reaction)
        .where(Reaction.participant_id == p.id)).all()}


# ---------------------------------------------------------------- SWOT


def swot(p: Participant, domain_id: int, quadrant: str, text: str,
         client_id: str | None = None, admit: Callable[[], None] | None = None) -> SwotItem:
    """One SWOT item on a domain; a reused `client_id` returns the earlier one."""
    earlier = by_client_id(SwotItem, p, client_id)
    if earlier is not None:
        return earlier
    ws = workshop_by_id(p.workshop_id)
    require_phase(ws, "swot")
    votable_domain(ws, domain_id)
    text = " ".join(text.split())
    if quadrant not in QUADRANTS or not text:
        raise fail("bad_payload")
    check_cap(ws, "swot_per_participant", db.session.scalar(
        sa.select(sa.func.count(SwotItem.id)).where(SwotItem.participant_id == p.id)))
    check_cap(ws, "swot_per_workshop", db.session.scalar(
        sa.select(sa.func.count(SwotItem.id)).where(SwotItem.workshop_id == ws.id)))
    if admit is not None:
        admit()
    item = SwotItem(workshop_id=ws.id, domain_id=domain_id, participant_id=p.id,
                    quadrant=quadrant, text=text, helix=p.helix, client_id=client_id or None)
    db.session.add(item)
    db.session.flush()
    record(ws, "swot", "participant", p, item_id=item.id, domain_id=domain_id,
           quadrant=quadrant, text=text)
    return item


def swot_dict(item: SwotItem, facilitator: bool = False) -> dict[str, Any]:
    out = {"item_id": item.id, "domain_id": item.domain_id, "quadrant": item.quadrant,
           "text": item.text, "helix": item.helix}
    if facilitator:
        out["hidden"] = bool(item.hidden)
    return out


def hide_swot(ws: Workshop, item_id: int, hidden: bool) -> SwotItem:
    item = db.session.get(SwotItem, item_id)
    if item is None or item.workshop_id != ws.id:
        raise fail("not_found")
    if item.hidden != hidden:
        item.hidden = hidden
        record(ws, "swot_hidden" if hidden else "swot_restored", "facilitator",
               item_id=item.id, domain_id=item.domain_id)
    return item


def swot_by_domain(ws: Workshop, facilitator: bool = False,
                   domain_ids: set[int] | None = None) -> dict[int, list[dict[str, Any]]]:
    """Each domain's SWOT items in quadrant order, oldest first (hidden ones for the
    facilitator only, marked)."""
    query = sa.select(SwotItem).where(SwotItem.workshop_id == ws.id)
    if not facilitator:
        query = query.where(SwotItem.hidden.is_(False))
    out: dict[int, list[dict[str, Any]]] = {}
    rows = db.session.scalars(query.order_by(SwotItem.id)).all()
    rows = sorted(rows, key=lambda r: QUADRANTS.index(r.quadrant)
                  if r.quadrant in QUADRANTS else len(QUADRANTS))
    for r in rows:
        if domain_ids is None or r.domain_id in domain_ids:
            out.setdefault(r.domain_id, []).append(swot_dict(r, facilitator))
    return out


# ---------------------------------------------------------------- funders' signal


def fund(p: Participant, domain_id: int, signal: str, instrument: str | None = None) -> Funding:
    """Set (not add) a funder's signal on a domain; `instrument` None keeps the one given
    before, "" clears it."""
    ws = workshop_by_id(p.workshop_id)
    if not is_funder(ws, p.helix):
        raise EDPError("forbidden", NOT_FUNDER)
    require_phase(ws, "fund")
    votable_domain(ws, domain_id)
    if signal not in SIGNALS:
        raise fail("bad_payload")
    row = db.session.scalar(sa.select(Funding).where(
        Funding.participant_id == p.id, Funding.domain_id == domain_id))
    if row is None:
        row = Funding(workshop_id=ws.id, domain_id=domain_id, participant_id=p.id,
                      signal=signal, instrument="")
        db.session.add(row)
    if instrument is not None:
        row.instrument = " ".join(instrument.split())
    row.signal = signal
    db.session.flush()
    record(ws, "fund", "participant", p, domain_id=domain_id, signal=signal,
           instrument=row.instrument)  # (record forgets the cached join state)
    return row


def funding_by_domain(ws: Workshop) -> dict[int, dict[str, Any]]:
    """Per domain: {"yes": n, "maybe": n, "no": n, "instruments": [...]} (instruments named by
    the funders who said yes or maybe, most named first)."""
    out: dict[int, dict[str, Any]] = {}
    named: dict[int, dict[str, int]] = {}
    for did, signal, instrument in db.session.execute(
        sa.select(Funding.domain_id, Funding.signal, Funding.instrument)
        .where(Funding.workshop_id == ws.id)
    ).all():
        entry = out.setdefault(did, {**dict.fromkeys(SIGNALS, 0), "instruments": []})
        if signal in SIGNALS:
            entry[signal] += 1
        if instrument and signal in ("yes", "maybe"):
            named.setdefault(did, {})
            named[did][instrument] = named[did].get(instrument, 0) + 1
    for did, counts in named.items():
        out[did]["instruments"] = [k for k, _n in sorted(counts.items(),
                                                         key=lambda kv: (-kv[1], kv[0]))]
    return out


def empty_funding() -> dict[str, Any]:
    return {**dict.fromkeys(SIGNALS, 0), "instruments": []}


def my_funding(p: Participant) -> dict[str, dict[str, str]]:
    return {str(d): {"signal": s, "instrument": i} for d, s, i in db.session.execute(
        sa.select(Funding.domain_id, Funding.signal, Funding.instrument)
        .where(Funding.participant_id == p.id)).all()}

