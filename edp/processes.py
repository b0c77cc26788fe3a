"""Continuous EDP: processes, rounds, domains carried forward and the comparison of rounds.

Entrepreneurial discovery does not end with one workshop: a region runs thematic focus groups,
then validation workshops, sometimes a yearly review. A `Process` groups the workshops (rounds)
of one region over time. A new round is created from an earlier one (`new_round`) with the same
settings, helices, criteria, method, budget and language, and with the domains the facilitator
chose to carry forward as seed domains. Each carried domain points back to the one it continues
(`Domain.carried_from_id`), and the new workshop's record gets a `carry` event per domain with
the earlier round's results for it, so a domain's history survives even an export and import.
The shared vision travels too: the earlier round's adopted statements open the new round
adopted (`Statement.carried_from_id`), so the vision heads every round's report, and the room
can react to it again or adopt more.

The comparison (`compare_rounds`) matches domains across two rounds by that chain of carried
domains, else by their title, and tells for each whether it was kept, added or dropped, and how
its support, helix split and consensus changed. The numbers are always `workshop.compute_results`
of each round; only normalisations are added (`analysis.round_summary`, with the matching and
the comparison table there too, pure like the rest of the arithmetic), because raw scores of
two rounds are not comparable when the method or the budget differ.

Rules only: nothing here reads a request. Changes are added to the session; the caller commits.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from . import workshop as rules
from .analysis import (  # noqa: F401  (the comparison arithmetic, re-exported)
    ADDED,
    DROPPED,
    KEPT,
    comparison_frame,
    match_domains,
    normalise_title,
    round_summary,
)
from .extensions import db
from .models import (
    Domain,
    Event,
    Facilitator,
    Participant,
    Priority,
    Process,
    Statement,
    Workshop,
)

# What `new_round` may carry besides an explicit list of domain ids.
CARRY_ALL, CARRY_PRIORITIES = "all-approved", "priorities"
CARRY_MODES = (CARRY_ALL, CARRY_PRIORITIES)

MESSAGES = {
    "other_process": _l("That workshop is already a round of another process."),
    "process_not_found": _l("There is no such process."),
    "same_round": _l("Pick two different rounds to compare."),
}


def fail(code: str) -> rules.EDPError:
    if code in MESSAGES:
        return rules.EDPError(code, MESSAGES[code])
    return rules.fail(code)


# ---------------------------------------------------------------- processes


def create_process(
    facilitator: Facilitator, title: str, region: str = "", description: str = ""
) -> Process:
    title = (title or "").strip()
    if not title:
        raise fail("bad_payload")
    process = Process(title=title[:200], region=(region or "").strip()[:200],
                      description=(description or "").strip(), facilitator_id=facilitator.id)
    db.session.add(process)
    db.session.flush()
    return process


def process_by_id(process_id: int, facilitator: Facilitator | None = None) -> Process:
    """The process; with `facilitator`, only when it is theirs (`forbidden` otherwise)."""
    process = db.session.get(Process, process_id)
    if process is None:
        raise fail("process_not_found")
    if facilitator is not None and process.facilitator_id != facilitator.id:
        raise fail("forbidden")
    return process


def processes_of(facilitator: Facilitator) -> list[Process]:
    return list(db.session.scalars(
        sa.select(Process).where(Process.facilitator_id == facilitator.id)
        .order_by(Process.id.desc())
    ))


def rounds(process: Process) -> list[Workshop]:
    """The process's workshops in round order."""
    return list(db.session.scalars(
        sa.select(Workshop).where(Workshop.process_id == process.id)
        .order_by(Workshop.round_no, Workshop.id)
    ))


def attach(process: Process, ws: Workshop) -> int:
    """Make an existing workshop the process's next round; returns its round number.

    The workshop must belong to the process's facilitator and to no other process; attaching
    it twice to the same process changes nothing. Its `previous` becomes the last round so far
    (unless it already names one)."""
    if ws.facilitator_id != process.facilitator_id:
        raise fail("forbidden")
    if ws.process_id == process.id:
        return int(ws.round_no or 0)
    if ws.process_id is not None:
        raise fail("other_process")
    if db.session.get_bind().dialect.name != "sqlite":
        # Two rounds created at once must not get the same number: hold the process's row
        # (SQLite already serialises writers with BEGIN IMMEDIATE).
        db.session.scalars(sa.select(Process).where(Process.id == process.id)
                           .with_for_update()).one()
    earlier = rounds(process)
    ws.process_id = process.id
    ws.round_no = max((w.round_no or 0 for w in earlier), default=0) + 1
    if ws.previous_id is None and earlier:
        ws.previous_id = earlier[-1].id
    rules.record(ws, "round", "facilitator", process_id=process.id, round=ws.round_no,
                 previous_workshop_id=ws.previous_id)
    return ws.round_no


def round_label(ws: Workshop) -> str:
    """"Round 2" in the current locale, or the join code of a workshop outside any process."""
    return _("Round %(n)s", n=ws.round_no) if ws.round_no else ws.code


# ---------------------------------------------------------------- results of one round


def priorities_of(ws: Workshop) -> dict[int, dict[str, Any]]:
    return {
        p.domain_id: {"rank": p.rank, "rationale": p.rationale,
                      "indicators": list(p.indicators or [])}
        for p in db.session.scalars(
            sa.select(Priority).where(Priority.workshop_id == ws.id).order_by(Priority.rank))
    }


def summary_of(ws: Workshop) -> dict[int, dict[str, Any]]:
    """`round_summary` of a workshop's live results and decided priorities."""
    return round_summary(rules.compute_results(ws), priorities_of(ws))


def participants_of(ws: Workshop) -> int:
    return int(db.session.scalar(
        sa.select(sa.func.count(Participant.id)).where(Participant.workshop_id == ws.id)) or 0)


# ---------------------------------------------------------------- a new round


def carried_domains(previous: Workshop, carry: str | Iterable[int]) -> list[Domain]:
    """The domains of `previous` to carry: all approved ones, the decided priorities, or the
    given ids (each must be an approved domain of `previous`, else `not_found`). Ordered as the
    earlier round left them: priorities by rank, then the results ranking."""
    approved = {d.id: d for d in rules.domains_of(previous, rules.VOTABLE)}
    decided = priorities_of(previous)
    if carry == CARRY_ALL or carry == "all":
        chosen = list(approved)
    elif carry == CARRY_PRIORITIES:
        chosen = [d for d in decided if d in approved]
    elif isinstance(carry, str):
        raise fail("bad_payload")
    else:
        chosen = []
        for value in carry:
            if isinstance(value, bool):
                raise fail("bad_payload")
            try:
                did = int(value)
            except (TypeError, ValueError):
                raise fail("bad_payload") from None
            if did not in approved:
                raise fail("not_found")
            if did not in chosen:
                chosen.append(did)
    position = {e["domain_id"]: k for k, e in
                enumerate(rules.compute_results(previous)["ranking"])} if chosen else {}
    chosen.sort(key=lambda d: (decided[d]["rank"] if d in decided else 10**9,
                               position.get(d, 10**9), d))
    return [approved[d] for d in chosen]


def _template_of(previous: Workshop) -> dict[str, Any]:
    """The earlier round's settings as a template for `workshop.create_workshop`."""
    settings = previous.settings or {}
    return {
        "title": previous.title,
        "region": previous.region,
        "language": previous.language,
        "method": previous.method,
        "budget": previous.budget,
        "cap": previous.cap,
        "max_priorities": previous.max_priorities,
        "moderation": previous.moderation,
        "vote_own": settings.get("vote_own", True),
        "description": settings.get("description", ""),
        "anonymity": settings.get("anonymity", "anonymous"),
        "helices": [dict(h) for h in previous.helices],
        "criteria": [dict(c) for c in previous.criteria],
        "domains": [],
    }


def new_round(
    previous: Workshop,
    facilitator: Facilitator | None = None,
    title: str | None = None,
    carry: str | Iterable[int] = CARRY_ALL,
) -> Workshop:
    """Create the next round of `previous`'s process (one is made when `previous` has none,
    with `previous` as round 1). The new workshop starts in `lobby` with the earlier round's
    settings; each carried domain becomes an approved seed domain that points back to the one
    it continues, with a `propose` event (so the record replays) and a `carry` event holding
    the earlier round's results for it. The earlier round's adopted vision statements come
    adopted, so the shared vision heads the new round too."""
    facilitator = facilitator or previous.facilitator
    if previous.facilitator_id != facilitator.id:
        raise fail("forbidden")
    chosen = carried_domains(previous, carry)
    earlier = summary_of(previous) if chosen else {}
    if previous.process_id is None:
        process = create_process(facilitator, previous.title, previous.region)
        attach(process, previous)
    else:
        process = process_by_id(previous.process_id)
    number = max((w.round_no or 0 for w in rounds(process)), default=0) + 1
    if not (title or "").strip():
        with force_locale(previous.language or "en"):
            title = _("%(title)s, round %(n)s", title=process.title, n=number)
    ws = rules.create_workshop(_template_of(previous), facilitator, title=title.strip()[:200])
    ws.settings = {**(previous.settings or {}), **ws.settings}
    ws.process_id, ws.round_no, ws.previous_id = process.id, number, previous.id
    vision = adopted_statements(previous)
    rules.record(ws, "round", "facilitator", process_id=process.id, round=number,
                 previous_workshop_id=previous.id, previous_code=previous.code,
                 carried=len(chosen), vision=len(vision))
    _carry_vision(ws, vision)
    _carry_diagnosis(previous, ws)
    for old in chosen:
        d = Domain(workshop_id=ws.id, title=old.title, description=old.description,
                   rationale=old.rationale, sdgs=list(old.sdgs or []), status="approved",
                   seed=True, carried_from_id=old.id, sectors=list(old.sectors or []))
        db.session.add(d)
        db.session.flush()
        rules.record(ws, "propose", "system", domain_id=d.id, title=d.title, seed=True,
                     status=d.status, description=d.description, rationale=d.rationale,
                     sdgs=d.sdgs, carried_from=old.id)
        rules.record(ws, "carry", "facilitator", domain_id=d.id, title=d.title,
                     from_workshop_id=previous.id, from_code=previous.code,
                     from_round=previous.round_no, from_domain_id=old.id,
                     method=previous.method, results=_json_summary(earlier.get(old.id)))
    db.session.flush()
    return ws


def _carry_diagnosis(previous: Workshop, ws: Workshop) -> None:
    """The earlier round's diagnosis data stays the region's evidence until a new file is
    loaded (carried domains keep their sectors)."""
    from . import evidence
    from .models import Diagnosis

    earlier = evidence.diagnosis_of(previous)
    if earlier is None:
        return
    db.session.add(Diagnosis(workshop_id=ws.id, region=earlier.region, source=earlier.source,
                             year=earlier.year, data=earlier.data))
    db.session.flush()
    rules.record(ws, "diagnosis", "system", region=earlier.region, source=earlier.source,
                 year=earlier.year, regions=len(earlier.data["regions"]),
                 sectors=len(earlier.data["sectors"]), replaced=False,
                 carried_from=previous.id)


def adopted_statements(ws: Workshop) -> list[Statement]:
    """The workshop's shared vision: its adopted statements (never hidden ones), oldest first."""
    return list(db.session.scalars(
        sa.select(Statement).where(Statement.workshop_id == ws.id, Statement.adopted.is_(True),
                                   Statement.hidden.is_(False)).order_by(Statement.id)))


def _carry_vision(ws: Workshop, vision: list[Statement]) -> None:
    """The earlier round's adopted statements, adopted in `ws` too, each with a `statement`
    event (role `system`, `adopted: true`, `carried_from`) so the record replays."""
    for old in vision:
        s = Statement(workshop_id=ws.id, text=old.text, adopted=True, carried_from_id=old.id)
        db.session.add(s)
        db.session.flush()
        rules.record(ws, "statement", "system", statement_id=s.id, text=s.text, adopted=True,
                     carried_from=old.id)


def _json_summary(entry: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {k: entry[k] for k in _SUMMARY_KEYS}


# ---------------------------------------------------------------- history


_SUMMARY_KEYS = ("rank", "score", "balanced_score", "support", "consensus", "by_helix", "split",
                 "voters", "priority")


def domain_history(domain: Domain) -> list[dict[str, Any]]:
    """The domain and the domains it continues, oldest round first, each with that round's
    live results for it (`round_summary` fields; None where the domain was not on the ballot or
    nobody voted) and its workshop (`workshop_id`, `code`, `workshop_title`, `round`, `phase`,
    `method`), and `recorded: False`.

    Where the chain leaves the database (a round imported from a JSON record: the earlier
    round's domain is not here), the oldest domain's `carry` event still tells where it came
    from: that earlier round comes first, from the event, with `recorded: True`, the recorded
    results, and None for what the event does not hold (`workshop_id`, `domain_id`...)."""
    chain: list[Domain] = []
    seen: set[int] = set()
    d: Domain | None = domain
    while d is not None and d.id not in seen:
        seen.add(d.id)
        chain.append(d)
        d = db.session.get(Domain, d.carried_from_id) if d.carried_from_id else None
    out = []
    oldest = chain[-1]
    if oldest.carried_from_id is None:
        carried = _carry_event(oldest)
        if carried is not None:
            results = carried.get("results") or {}
            out.append({
                "workshop_id": None, "code": carried.get("from_code"), "workshop_title": None,
                "round": carried.get("from_round"), "phase": None,
                "method": carried.get("method"), "domain_id": None,
                "title": carried.get("title", oldest.title), "status": None,
                "carried_from_id": None, "recorded": True,
                **{k: results.get(k) for k in _SUMMARY_KEYS},
            })
    for d in reversed(chain):
        ws = db.session.get(Workshop, d.workshop_id)
        entry = summary_of(ws).get(d.id) or {}
        out.append({
            "workshop_id": ws.id, "code": ws.code, "workshop_title": ws.title,
            "round": ws.round_no, "phase": ws.phase, "method": ws.method,
            "domain_id": d.id, "title": d.title, "status": d.status,
            "carried_from_id": d.carried_from_id, "recorded": False,
            **{k: entry.get(k) for k in _SUMMARY_KEYS},
        })
    return out


def _carry_event(domain: Domain) -> dict[str, Any] | None:
    """The payload of the `carry` event that brought `domain` into its workshop, if any."""
    for payload in db.session.scalars(
        sa.select(Event.payload).where(Event.workshop_id == domain.workshop_id,
                                       Event.kind == "carry").order_by(Event.id)
    ):
        if isinstance(payload, dict) and payload.get("domain_id") == domain.id:
            return payload
    return None


# ---------------------------------------------------------------- comparison (pure part)


# ---------------------------------------------------------------- comparison (database)


def _lineage(later_domains: Iterable[Domain], earlier_id: int) -> dict[int, int | None]:
    """Later domain id -> the domain of workshop `earlier_id` its carried_from chain reaches."""
    out: dict[int, int | None] = {}
    for d in later_domains:
        seen, cur, found = {d.id}, d.carried_from_id, None
        while cur is not None and cur not in seen:
            seen.add(cur)
            row = db.session.get(Domain, cur)
            if row is None:
                break
            if row.workshop_id == earlier_id:
                found = row.id
                break
            cur = row.carried_from_id
        out[d.id] = found
    return out


def helix_keys(*workshops: Workshop) -> list[str]:
    """The helices of the rounds, in the later rounds' order, then any only earlier ones."""
    keys: list[str] = []
    for ws in reversed(workshops):
        keys += [k for k in ws.helix_keys() if k not in keys]
    return keys


def compare_rounds(
    earlier: Workshop, later: Workshop,
    summaries: dict[int, dict[int, dict[str, Any]]] | None = None,
) -> pd.DataFrame:
    """How each domain fared from `earlier` to `later` (see `comparison_frame`): the approved
    domains of both rounds matched by their carried-forward chain, else by title, with each
    round's `workshop.compute_results` numbers. `summaries` (workshop id -> `summary_of`) lets
    a page comparing several rounds compute each round's results once."""
    if earlier.id == later.id:
        raise fail("same_round")
    summaries = summaries if summaries is not None else {}
    for ws in (earlier, later):
        if ws.id not in summaries:
            summaries[ws.id] = summary_of(ws)
    a, b = summaries[earlier.id], summaries[later.id]
    later_domains = rules.domains_of(later, rules.VOTABLE)
    earlier_titles = {d: e["title"] for d, e in sorted(a.items(), key=_display_order)}
    later_titles = {d: e["title"] for d, e in sorted(b.items(), key=_display_order)}
    pairs = match_domains(earlier_titles, later_titles, _lineage(later_domains, earlier.id))
    return comparison_frame(a, b, pairs, helix_keys(earlier, later))


def _display_order(item: tuple[int, Mapping[str, Any]]) -> tuple:
    domain_id, entry = item
    return (entry["rank"] if entry.get("rank") is not None else 10**9, domain_id)


def comparison_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The comparison as plain dicts (None for empty cells), e.g. for a template or JSON."""
    return [{k: (None if _missing(v) else v) for k, v in row.items()}
            for row in frame.to_dict(orient="records")]


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def process_dict(process: Process) -> dict[str, Any]:
    """The process and its rounds as JSON-ready data (`edp process show`)."""
    items = []
    for ws in rounds(process):
        carried = int(db.session.scalar(
            sa.select(sa.func.count(Domain.id))
            .where(Domain.workshop_id == ws.id, Domain.carried_from_id.is_not(None))) or 0)
        items.append({"round": ws.round_no, "id": ws.id, "code": ws.code, "title": ws.title,
                      "phase": ws.phase, "method": ws.method, "language": ws.language,
                      "participants": participants_of(ws), "previous_id": ws.previous_id,
                      "carried": carried})
    return {"id": process.id, "title": process.title, "region": process.region,
            "description": process.description, "facilitator_id": process.facilitator_id,
            "created_at": process.created_at.isoformat() + "Z", "rounds": items}
