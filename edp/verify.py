"""`edp workshop verify CODE`: does the event log still give the stored results?

The live tables (domains, participants, votes, scores, rankings, priorities, vision statements
and reactions, SWOT items, funders' signals) are what the console, the projector and the
exports read; the append-only `Event` table is the record the results can be recomputed from
(`edp.replay`). Verifying replays the log into fresh domains, ballots, results (with each
domain's funders' signal), a short list, the vision, the SWOT items and the funders' signals
and compares each with what is stored, so a row changed
behind the rules' back (by hand in the database, a bad migration, a restore that lost events)
shows up, named, before the results are published.

The command lives here rather than in `edp.cli` so that tests can run it in-process with
Flask's CLI runner (importing `edp.cli` patches the interpreter with gevent); like `edp.cli` it
imports the app's modules (pandas, SQLAlchemy models) only when it runs, so `edp --help` stays
quick.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

if TYPE_CHECKING:
    from .models import Workshop

# Exit codes of `edp workshop verify` (docs/operations.md).
EXIT_OK, EXIT_DIFFERENT, EXIT_UNKNOWN = 0, 1, 2
# Differences printed before "... and N more" (a tampered table can differ in thousands).
SHOWN = 100


@dataclass(frozen=True)
class Difference:
    """One thing the tables and the event log disagree on."""

    part: str  # domains | participants | ballots | results | priorities | vision | swot | funding
    subject: str  # what it is about, e.g. 'domain 12 "Precision irrigation"'
    stored: Any  # what the tables hold (None: nothing)
    replayed: Any  # what the event log gives (None: nothing)

    def __str__(self) -> str:
        return (f"{self.part}: {self.subject}: stored {_show(self.stored)}, "
                f"event log {_show(self.replayed)}")


def _rows(query):
    """Rows of a query on the app's session (imported late: see the module's docstring)."""
    from .extensions import db

    return db.session.execute(query)


def _show(value: Any) -> str:
    return "nothing" if value is None else repr(value)


def _same(a: Any, b: Any) -> bool:
    """Equal, with floats compared to 1e-9 (the two sides sum in different orders)."""
    if isinstance(a, float) or isinstance(b, float):
        return (isinstance(a, (int, float)) and isinstance(b, (int, float))
                and math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _compare(part: str, stored: Mapping, replayed: Mapping,
             subject: Callable[[Any], str]) -> list[Difference]:
    """Differences between two keyed collections, in key order."""
    return [Difference(part, subject(key), stored.get(key), replayed.get(key))
            for key in sorted(stored.keys() | replayed.keys())
            if not _same(stored.get(key), replayed.get(key))]


class _Names:
    """Readable subjects: a domain by id and title, a participant by id and helix."""

    def __init__(self, ws: Workshop) -> None:
        from .models import Domain

        self.titles = dict(_rows(
            sa.select(Domain.id, Domain.title).where(Domain.workshop_id == ws.id)).all())

    def domain(self, did: Any) -> str:
        title = self.titles.get(did)
        return f'domain {did} "{title}"' if title is not None else f"domain {did}"

    def ballot(self, key: tuple) -> str:
        pid, did, *criterion = key
        where = f"{self.domain(did)}, criterion {criterion[0]}" if criterion else self.domain(did)
        return f"participant {pid}, {where}"


def _domains(ws: Workshop, events: list[dict], names: _Names) -> list[Difference]:
    from . import replay
    from .models import Domain

    stored = {did: {"title": t, "status": s} for did, t, s in _rows(
        sa.select(Domain.id, Domain.title, Domain.status).where(Domain.workshop_id == ws.id))}
    replayed = {did: {"title": d["title"], "status": d["status"]}
                for did, d in replay.domains_from_events(events).items()}
    return _compare("domains", stored, replayed, names.domain)


def _participants(ws: Workshop, events: list[dict]) -> list[Difference]:
    """Each participant's helix (it weighs their ballots), from the table and the `join`s."""
    from .models import Participant

    stored = dict(_rows(
        sa.select(Participant.id, Participant.helix).where(Participant.workshop_id == ws.id)
    ).all())
    replayed: dict[int, str] = {}
    for ev in events:
        if ev["kind"] == "join" and ev["participant_id"] is not None:
            replayed.setdefault(ev["participant_id"], ev["helix"])
    return _compare("participants", stored, replayed, lambda pid: f"participant {pid} helix")


def _ballots(ws: Workshop, events: list[dict], names: _Names) -> list[Difference]:
    from . import replay
    from . import workshop as rules

    stored, replayed = rules.ballot_frames(ws), replay.ballots_from_events(events)

    def keyed(frames: dict, name: str, keys: list[str], value: str) -> dict:
        frame = frames[name]
        return {tuple(row[:-1]): row[-1]
                for row in frame[[*keys, value]].itertuples(index=False, name=None)}

    out = []
    for name, keys, value in (("votes", ["participant_id", "domain_id"], "points"),
                              ("scores", ["participant_id", "domain_id", "criterion"], "value")):
        out += _compare("ballots", keyed(stored, name, keys, value),
                        keyed(replayed, name, keys, value), names.ballot)

    def orders(frames: dict) -> dict:
        ranked = frames["rankings"].sort_values(["participant_id", "position"])
        return {int(pid): [int(d) for d in group["domain_id"]]
                for pid, group in ranked.groupby("participant_id")}

    out += _compare("ballots", orders(stored), orders(replayed),
                    lambda pid: f"participant {pid}, ranking")
    return out


def _results(ws: Workshop, events: list[dict], names: _Names) -> list[Difference]:
    from . import replay
    from . import workshop as rules

    stored = rules.compute_results(ws)
    replayed = replay.results_from_events(events, replay.workshop_dict_for_replay(ws))

    def entries(results: dict) -> dict:
        return {e["domain_id"]: e for e in results.get("ranking", [])}

    out = []
    mine, theirs = entries(stored), entries(replayed)
    for did in sorted(mine.keys() | theirs.keys()):
        a, b = mine.get(did), theirs.get(did)
        if a is None or b is None:
            out.append(Difference("results", f"{names.domain(did)} in the ranking",
                                  a and a.get("score"), b and b.get("score")))
            continue
        out += [Difference("results", f"{names.domain(did)}: {key}", a.get(key), b.get(key))
                for key in sorted(a.keys() | b.keys()) if not _same(a.get(key), b.get(key))]
    if not out and not _same(list(mine), list(theirs)):
        out.append(Difference("results", "ranking order", list(mine), list(theirs)))
    for key in sorted((stored.keys() | replayed.keys()) - {"ranking"}):
        if not _same(stored.get(key), replayed.get(key)):
            out.append(Difference("results", key, stored.get(key), replayed.get(key)))
    return out


def _priorities(ws: Workshop, events: list[dict], names: _Names) -> list[Difference]:
    from . import replay
    from .models import Priority

    rows = _rows(sa.select(Priority).where(Priority.workshop_id == ws.id)).scalars()
    stored = {r.domain_id: {"rank": r.rank, "rationale": r.rationale,
                            "indicators": list(r.indicators or []),
                            "funders": list(r.funders or [])} for r in rows}
    replayed = {p["domain_id"]: {k: v for k, v in p.items() if k != "domain_id"}
                for p in replay.priorities_from_events(events)}
    return _compare("priorities", stored, replayed, names.domain)


def _vision(ws: Workshop, events: list[dict]) -> list[Difference]:
    """Each statement's text, adoption and visibility, and each participant's reaction."""
    from . import replay
    from .models import Reaction, Statement

    stored = {sid: {"text": t, "adopted": bool(a), "hidden": bool(h)} for sid, t, a, h in _rows(
        sa.select(Statement.id, Statement.text, Statement.adopted, Statement.hidden)
        .where(Statement.workshop_id == ws.id))}
    reacted = {(pid, sid): r for pid, sid, r in _rows(
        sa.select(Reaction.participant_id, Reaction.statement_id, Reaction.reaction)
        .where(Reaction.workshop_id == ws.id))}
    statements, reactions = replay.vision_from_events(events)
    return (_compare("vision", stored, statements, lambda sid: f"statement {sid}")
            + _compare("vision", reacted, reactions,
                       lambda key: f"participant {key[0]}, reaction to statement {key[1]}"))


def _swot(ws: Workshop, events: list[dict], names: _Names) -> list[Difference]:
    from . import replay
    from .models import SwotItem

    stored = {iid: {"domain_id": did, "quadrant": q, "text": t, "helix": hx, "hidden": bool(h)}
              for iid, did, q, t, hx, h in _rows(
                  sa.select(SwotItem.id, SwotItem.domain_id, SwotItem.quadrant, SwotItem.text,
                            SwotItem.helix, SwotItem.hidden)
                  .where(SwotItem.workshop_id == ws.id))}
    replayed = replay.swot_from_events(events)

    def subject(iid: int) -> str:
        item = stored.get(iid) or replayed.get(iid) or {}
        return f"item {iid} on {names.domain(item.get('domain_id'))}"

    return _compare("swot", stored, replayed, subject)


def _funding(ws: Workshop, events: list[dict], names: _Names) -> list[Difference]:
    """Each funder's signal and instrument per domain (the counts are in the results)."""
    from . import replay
    from .models import Funding

    stored = {(pid, did): {"signal": s, "instrument": i or ""} for pid, did, s, i in _rows(
        sa.select(Funding.participant_id, Funding.domain_id, Funding.signal, Funding.instrument)
        .where(Funding.workshop_id == ws.id))}
    return _compare("funding", stored, replay.funding_from_events(events),
                    lambda key: f"participant {key[0]}, {names.domain(key[1])}")


def differences(ws: Workshop, events: list[dict] | None = None
                ) -> tuple[int, list[Difference]]:
    """The number of events replayed and every difference between the tables and the replay
    (domains, participants' helices, ballots, results, the decided short list, the vision,
    SWOT items and funders' signals)."""
    from . import replay

    events = replay.events_from_db(ws) if events is None else events
    names = _Names(ws)
    found = (_domains(ws, events, names) + _participants(ws, events)
             + _ballots(ws, events, names) + _results(ws, events, names)
             + _priorities(ws, events, names) + _vision(ws, events)
             + _swot(ws, events, names) + _funding(ws, events, names))
    return len(events), found


def _note_unknown(events: list[dict]) -> None:
    """Kinds of events this version does not know (from a later version, say): said, not
    counted as differences, since nothing replayed here depends on them."""
    from . import replay

    unknown = replay.unknown_kinds(events)
    if unknown:
        click.echo("Note: events of kinds this version does not replay: " + ", ".join(
            f"{kind} ({n})" for kind, n in sorted(unknown.items())))


@click.command("verify")
@click.argument("code")
@with_appcontext
def verify_command(code: str) -> None:
    """Replay the workshop's event log and compare it with the stored domains, ballots,
    results, priorities, vision, SWOT items and funders' signals; exit 0 when they match, 1
    when they differ, 2 for an unknown code."""
    from . import replay
    from . import workshop as rules

    try:
        ws = rules.workshop_by_code(code)
    except rules.EDPError:
        click.echo(f"Error: no workshop with code {code}", err=True)
        raise click.exceptions.Exit(EXIT_UNKNOWN) from None
    events = replay.events_from_db(ws)
    count, found = differences(ws, events)
    click.echo(f'Workshop {ws.code} "{ws.title}": {count} events replayed.')
    _note_unknown(events)
    if not found:
        click.echo("OK: the domains, ballots, results, priorities, vision, SWOT items and "
                   "funders' signals match the event log.")
        return
    click.echo(f"DIFFERENT: {len(found)} difference(s) between the stored tables and the "
               "event log:")
    for item in found[:SHOWN]:
        click.echo(f"  {item}")
    if len(found) > SHOWN:
        click.echo(f"  ... and {len(found) - SHOWN} more")
    raise click.exceptions.Exit(EXIT_DIFFERENT)
