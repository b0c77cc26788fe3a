"""Group commit of votes (`sockets.GroupCommit` over `workshop.vote_batch`), on SQLite and
PostgreSQL (the `app` fixture runs both): votes sent at once share transactions, each still
gets its own answer, and nothing is lost when a batch fails.

The batch-against-one-by-one equivalence of the rules is in test_workshop.py; a live server's
burst with kill -9 in the middle is in test_server.py."""
from __future__ import annotations

import threading
import time

import sqlalchemy as sa
from conftest import World, make_app

from edp import workshop as rules
from edp.extensions import db, socketio
from edp.models import Event, Vote
from edp.sockets import GroupCommit, Throttle, _vote_one


def _voting_room(app, phones: int, budget: int) -> tuple[int, list[int], list[int]]:
    world = World(app)
    world.facilitator()
    info = world.workshop(budget=budget)
    with app.app_context():
        ws = rules.workshop_by_id(info["id"])
        ws.phase = "vote"
        pids = [rules.join(ws.code, "business")[0].id for _ in range(phones)]
        dids = [d.id for d in rules.domains_of(ws)]
        db.session.commit()
    return info["id"], pids, dids


def _send_at_once(app, commits: GroupCommit, wid: int, items: list[tuple]) -> list:
    """Each item from its own thread (its own app context and session), all released at once."""
    start = threading.Barrier(len(items))
    out: list = [None] * len(items)

    def send(k: int) -> None:
        with app.app_context():
            start.wait()
            try:
                out[k] = commits.submit(items[k], wid)
            except rules.EDPError as exc:
                out[k] = exc.code
            finally:
                db.session.remove()

    threads = [threading.Thread(target=send, args=(k,)) for k in range(len(items))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a vote never got its answer"
    return out


def _stored(app, wid: int) -> tuple[dict, int]:
    with app.app_context():
        votes = {(p, d): n for p, d, n in db.session.execute(
            sa.select(Vote.participant_id, Vote.domain_id, Vote.points).where(
                Vote.workshop_id == wid))}
        events = db.session.scalar(sa.select(sa.func.count()).select_from(Event).where(
            Event.workshop_id == wid, Event.kind == "vote"))
    return votes, events


def test_votes_sent_together_share_transactions_and_each_gets_its_own_answer(app):
    # Budget 3: each phone sends 2 points on two domains at the same moment, so exactly one
    # of its two votes fits, whichever the batch reads first; the other is refused.
    wid, pids, (a, b, *_rest) = _voting_room(app, phones=12, budget=3)
    commits = GroupCommit(rules.vote_batch, _vote_one, wait=0.05)
    items = [(pid, d, 2) for pid in pids for d in (a, b)]
    out = _send_at_once(app, commits, wid, items)

    for k, pid in enumerate(pids):
        answers = sorted(map(str, out[2 * k:2 * k + 2]))
        assert answers == ["1", "over_budget"], (pid, answers)
    assert commits.items == len(items)
    assert commits.batches < len(items) / 2, "votes sent together were not grouped"
    votes, events = _stored(app, wid)
    accepted = {(pid, d) for (pid, d, _), x in zip(items, out, strict=True) if x == 1}
    assert votes == dict.fromkeys(accepted, 2)  # exactly the acked ones, nothing else
    assert events == len(pids)  # one event per accepted vote, committed with it


def test_a_failed_batch_is_written_vote_by_vote_and_loses_nothing(app):
    wid, pids, (a, b, *_rest) = _voting_room(app, phones=6, budget=10)
    failures = []

    def batch_that_fails_once(items):
        if not failures:
            failures.append(len(items))
            # Real writes first (other points, with their events), so that the rollback has
            # something to undo.
            rules.vote_batch([(pid, d, 5) for pid, d, _ in items])
            raise RuntimeError("the batch broke")
        return rules.vote_batch(items)

    commits = GroupCommit(batch_that_fails_once, _vote_one, wait=0.05)
    items = [(pid, a, 3) for pid in pids] + [(10**7, b, 1)]  # and one that is not joined
    out = _send_at_once(app, commits, wid, items)

    assert failures, "the failing batch never ran"
    assert out == [7] * len(pids) + ["not_joined"]
    votes, events = _stored(app, wid)
    assert votes == {(pid, a): 3 for pid in pids}
    assert events == len(pids)  # the failed batch's 5 points left no event behind


# ---------------------------------------------------------------- results that cost more


def _run_times(app, throttle: Throttle, seconds: float) -> list[float]:
    """Calls the throttle every 10 ms for `seconds` (a stream of votes); returns the start
    times of the runs it made. The waits are the server's own (`socketio.sleep`), which let
    the throttle's background runs go."""
    with app.app_context():
        app.config["RESULTS_INTERVAL"] = 0.05
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            throttle(1)
            socketio.sleep(0.01)
        socketio.sleep(0.6)  # the trailing run
    return throttle_runs.pop(id(throttle), [])


throttle_runs: dict[int, list[float]] = {}


def _slow_results(key: int):
    def compute(_workshop_id: int) -> None:
        throttle_runs.setdefault(key, []).append(time.monotonic())
        time.sleep(0.1)  # results that take 100 ms to compute

    return compute


def test_results_that_take_long_are_computed_less_often(sqlite_url):
    app = make_app(sqlite_url)  # no database work here: one engine is enough
    # At most a quarter of the time: 100 ms of work, then at least 300 ms without.
    capped = Throttle("RESULTS_INTERVAL", None, max_share=0.25)
    capped.fn = _slow_results(id(capped))
    runs = _run_times(app, capped, 1.6)
    gaps = [b - a for a, b in zip(runs, runs[1:], strict=False)]
    assert len(runs) >= 3, runs
    assert min(gaps) >= 0.38, gaps

    # Without a cap the same stream runs them back to back.
    plain = Throttle("RESULTS_INTERVAL", None)
    plain.fn = _slow_results(id(plain))
    runs = _run_times(app, plain, 1.6)
    gaps = [b - a for a, b in zip(runs, runs[1:], strict=False)]
    assert len(runs) >= 8 and max(gaps) < 0.3, gaps
