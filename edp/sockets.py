"""Socket.IO handlers: parse, validate, authorise, call the rule, commit, ack, broadcast.

The `event` decorator does the shared part so each handler is a few lines. Rooms:
`w<id>` gets what participants and the projector may see; `f<id>` the facilitator's view.
"""
from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from functools import wraps
from typing import Any

from flask import current_app, g, request, session
from flask_babel import force_locale
from flask_login import current_user
from flask_socketio import join_room, leave_room
from sqlalchemy.exc import IntegrityError, OperationalError

from . import logs, method
from . import workshop as rules
from .extensions import bound, db, socketio
from .limits import app_limits, client_address, join_guard, rate_ok, window
from .models import Domain, Participant
from .validation import CLIENT_ID, ID, Field, validate
from .workshop import EDPError, fail

log = logging.getLogger(__name__)

TITLE = 200
TEXT = 5000
STATEMENT = 500   # a vision statement: one or two sentences, readable on a projector
SWOT_TEXT = 300


def room(workshop_id: int) -> str:
    return f"w{workshop_id}"


def facilitator_room(workshop_id: int) -> str:
    return f"f{workshop_id}"


# ---------------------------------------------------------------- shared handler wiring


def after_commit(fn: Callable[[], None]) -> None:
    """Run `fn` once the handler's transaction has committed (broadcasts go here)."""
    g.setdefault("after_commit", []).append(fn)


def _rate_limit(name: str = "") -> None:
    """Every event counts per participant once joined (it survives reconnecting), per
    connection before that, and per connection for every `join` too; never per IP: a venue
    shares one address. RATE_BURST events, refilled at RATE_PER_SECOND (edp/limits.py)."""
    keys = []
    if name == "join" or not session.get("participant_id"):
        keys.append(request.sid)
    if session.get("participant_id"):
        keys.append(f"p{session['participant_id']}")
    config = current_app.config
    item = window(config["RATE_BURST"], config["RATE_PER_SECOND"])
    lim = app_limits()
    if len(keys) == 1:  # the usual case: one check that counts (limits' hit refuses when full)
        if not lim.hit(item, "events", keys[0]):
            raise fail("rate_limited")
        return
    if not all(lim.test(item, "events", key) for key in keys):
        raise fail("rate_limited")
    for key in keys:
        lim.hit(item, "events", key)


def rate_limit(setting: str, key: str, message=None) -> None:
    """Refuse with rate_limited (and `retry_after`, in seconds) when `config[setting]` is
    exhausted for `key` (see edp/limits.py)."""
    allowed, wait = rate_ok(setting, key)
    if not allowed:
        exc = fail("rate_limited")
        if message is not None:
            exc.message = message
        exc.extra = {"retry_after": wait}
        raise exc


def _error(code: str, message, **extra) -> dict[str, Any]:
    lang = session.get("lang")
    with force_locale(lang if lang in rules.LANGUAGES else "en"):
        return {"ok": False, "error": {"code": code, "message": str(message), **extra}}


# A transaction that meets a concurrent duplicate (unique constraint), a deadlock or a busy
# database is run again from the start, up to this many times in all.
ATTEMPTS = 3


def _run(name: str, schema: dict[str, Field], fn: Callable, data: Any) -> dict[str, Any]:
    """Rate limit → validate → rule → commit → after-commit broadcasts → ack."""
    try:
        _rate_limit(name)
    except EDPError as exc:
        return _error(exc.code, exc.message, **getattr(exc, "extra", {}))
    attempt, locked = 1, BusyWait()
    while True:
        g.pop("after_commit", None)
        try:
            payload = validate(schema, data)
            result = fn(payload) or {}
            db.session.commit()
            break
        except EDPError as exc:
            db.session.rollback()
            g.pop("after_commit", None)
            return _error(exc.code, exc.message, **getattr(exc, "extra", {}))
        except (IntegrityError, OperationalError) as exc:
            # The retry sees what the concurrent transaction committed (e.g. the proposal with
            # the same client id, which it then returns instead of a duplicate).
            db.session.rollback()
            g.pop("after_commit", None)
            if rules.is_busy(exc):
                if locked.again():
                    continue
                log.warning("event %s: the database stayed locked; answered busy", name)
                return _error("busy", rules.MESSAGES["busy"])
            if attempt >= ATTEMPTS:
                log.exception("event %s failed %d times", name, ATTEMPTS)
                return _error("internal", rules.MESSAGES["internal"])
            socketio.sleep(0.005 * attempt)
            attempt += 1
        except Exception:
            db.session.rollback()
            g.pop("after_commit", None)
            log.exception("event %s failed", name)
            return _error("internal", rules.MESSAGES["internal"])
    for callback in g.pop("after_commit", []):
        try:
            callback()
        except Exception:  # a failed broadcast must not turn a saved action into an error
            log.exception("broadcast after %s failed", name)
    return {"ok": True, **result}


class BusyWait:
    """Another process holds SQLite's lock: wait for it without blocking the other greenlets
    (SQLite's own busy wait would), a little longer each time, up to DB_BUSY_TIMEOUT."""

    def __init__(self):
        self.until: float | None = None
        self.waits = 0

    def again(self) -> bool:
        """Wait, then True to try again; False once DB_BUSY_TIMEOUT has passed."""
        now = time.monotonic()
        if self.until is None:
            self.until = now + float(current_app.config.get("DB_BUSY_TIMEOUT", 5))
        if now >= self.until:
            return False
        self.waits += 1
        socketio.sleep(min(0.2, 0.01 * self.waits, max(0.0, self.until - now)))
        return True


def _last_resort(name: str) -> dict[str, Any]:
    """The ack when even the error path failed: the contract's shape, in English."""
    log.exception("event %s failed outside its transaction", name)
    with suppress(Exception):
        db.session.rollback()
    with suppress(Exception):
        return _error("internal", rules.MESSAGES["internal"])
    return {"ok": False, "error": {"code": "internal",
                                   "message": "Something went wrong; your last action was not saved."}}


# Every event's allow-list, by name (the fuzz tests draw payloads from these).
SCHEMAS: dict[str, dict[str, Field]] = {}


def event(name: str, schema: dict[str, Field]):
    SCHEMAS[name] = schema

    def decorate(fn):
        @wraps(fn)
        def handler(data=None, *_extra):
            # Extra positional arguments from a client are ignored: a handler that raised a
            # TypeError here would drop the event without an ack.
            started = time.perf_counter()
            try:
                ack = _run(name, schema, fn, data)
            except Exception:  # noqa: BLE001  (logged there; the client still gets its ack)
                ack = _last_resort(name)
            _log_event(name, data, ack, started)
            return ack

        socketio.on_event(name, handler)
        return handler

    return decorate


def _log_event(name: str, data: Any, ack: dict[str, Any], started: float) -> None:
    """One line per event handled (EDP_LOG_FORMAT=json): which workshop, which event, the ack's
    outcome ("ok" or its error code) and the handler's time. Built only when it is logged."""
    if not logs.EVENTS.isEnabledFor(logging.INFO):
        return
    latency_ms = round((time.perf_counter() - started) * 1000, 3)
    outcome = "ok" if ack.get("ok") else str(ack.get("error", {}).get("code", "internal"))
    # The workshop the event names (facilitator events), else the one this connection joined
    # or watches; after a successful join, the one it just joined.
    workshop = data.get("workshop_id") if isinstance(data, dict) else None
    if not isinstance(workshop, int) or isinstance(workshop, bool):
        workshop = session.get("workshop_id") or session.get("screen_workshop_id")
    logs.EVENTS.info("%s %s in %.1f ms", name, outcome, latency_ms, extra={
        "workshop": workshop, "event": name, "outcome": outcome, "latency_ms": latency_ms})


def on_unknown(name: Any = None, *args):
    """Any other event name, and frames that could not be read (`validation.MALFORMED_EVENT`):
    answered with bad_payload rather than left without an ack (still rate limited)."""
    started = time.perf_counter()
    try:
        _rate_limit()
        raise fail("bad_payload")
    except EDPError as exc:
        ack = _error(exc.code, exc.message, **getattr(exc, "extra", {}))
    except Exception:  # noqa: BLE001  (logged there; the client still gets its ack)
        ack = _last_resort(str(name)[:40])
    _log_event(str(name)[:40], args[0] if args else None, ack, started)
    return ack


socketio.on_event("*", on_unknown)


def current_participant() -> Participant:
    pid = session.get("participant_id")
    p = db.session.get(Participant, pid) if pid else None
    if p is None:
        raise fail("not_joined")
    return p


def current_facilitator_workshop(workshop_id: int):
    user = current_user if current_user.is_authenticated else None
    return rules.owned_workshop(workshop_id, user)


# ---------------------------------------------------------------- broadcasts


def end_read() -> None:
    """End the read transaction before emitting: sending may yield to other greenlets, and on
    SQLite an open transaction would hold the database lock while they wait for it."""
    db.session.rollback()


def broadcast_state(workshop_id: int) -> None:
    rules.forget_state(workshop_id)
    ws = rules.workshop_by_id(workshop_id)
    # The room's copy without the comments' text, which grows with the discussion (every
    # client has them: join ack, then `comment` events); the facilitator's is whole.
    public = rules.public_state(ws, comments=False)
    full = rules.public_state(ws, facilitator=True)
    end_read()
    socketio.emit("state", public, to=room(workshop_id))
    socketio.emit("state", full, to=facilitator_room(workshop_id))


# ---------------------------------------------------------------- cross-process resync
#
# A broadcast made while the Redis message queue is down never reaches the other processes'
# clients, and nothing would repeat it until the next change. So each process checks, every
# RESYNC_INTERVAL seconds, the newest facilitator event (phase, reveal, moderation, ...) of each
# workshop that has clients here, and sends the state again, to its own clients only, when it
# differs from what it last saw. In normal operation that repeats each such change once per
# process a few seconds later (clients apply a state as a whole, so a repeat is harmless).


def state_version(workshop_id: int) -> int:
    """The newest facilitator event of the workshop (0: none)."""
    import sqlalchemy as sa

    from .models import Event

    return int(db.session.scalar(
        sa.select(sa.func.max(Event.id)).where(Event.workshop_id == workshop_id,
                                               Event.actor_role == "facilitator")) or 0)


def local_workshops() -> set[int]:
    """Workshops with at least one client connected to this process (its room members)."""
    rooms = socketio.server.manager.rooms.get("/", {}) if socketio.server else {}
    found = set()
    for name in list(rooms):
        if isinstance(name, str) and name[:1] in "wfs" and name[1:].isdigit() and rooms.get(name):
            found.add(int(name[1:]))
    return found


def resync_once() -> list[int]:
    """One check (see above); returns the workshops whose state was sent again."""
    seen = hub().resync_seen
    active = local_workshops()
    for gone in set(seen) - active:
        del seen[gone]
    sent = []
    for wid in sorted(active):
        version = state_version(wid)
        before = seen.get(wid)
        seen[wid] = version
        if before is None or before == version:
            end_read()
            continue
        rules.forget_state(wid)
        ws = rules.workshop_by_id(wid)
        public = rules.public_state(ws, comments=False)
        full = rules.public_state(ws, facilitator=True)
        end_read()
        socketio.emit("state", public, to=room(wid), ignore_queue=True)
        socketio.emit("state", full, to=facilitator_room(wid), ignore_queue=True)
        sent.append(wid)
    return sent


def _resync_loop(app) -> None:
    while True:
        socketio.sleep(float(app.config.get("RESYNC_INTERVAL") or 3))
        with app.app_context():
            try:
                sent = resync_once()
                if sent:
                    log.info("state sent again to this process's clients: workshops %s", sent)
            except Exception:
                log.exception("state resync failed")
            finally:
                db.session.remove()


def ensure_resync(workshop_id: int) -> None:
    """Start this process's resync loop with its first client (several processes only), and
    note the version a workshop's first client here started from."""
    app = current_app._get_current_object()
    if (not app.config.get("MESSAGE_QUEUE") or app.testing
            or float(app.config.get("RESYNC_INTERVAL") or 0) <= 0):
        return
    state = hub(app)
    if workshop_id not in state.resync_seen:
        state.resync_seen[workshop_id] = state_version(workshop_id)
    if not state.resync_started:
        state.resync_started = True
        socketio.start_background_task(_resync_loop, app)


def participant_room(participant_id: int) -> str:
    return f"p{participant_id}"


def screen_room(workshop_id: int) -> str:
    """Projectors (`watch`): the full `results` at the console's cadence."""
    return f"s{workshop_id}"


def phone_room(workshop_id: int, participant_id: int) -> str:
    """One of the workshop's phone groups, which receive `results` one after another."""
    shards = max(1, int(current_app.config.get("PHONE_SHARDS", 1)))
    return f"w{workshop_id}.{participant_id % shards}"


def send_ballots(participant_ids: set[int]) -> None:
    """Tell participants their own ballot changed (points returned from a hidden domain)."""
    payloads = []
    for pid in participant_ids:
        p = db.session.get(Participant, pid)
        if p is not None:
            payloads.append((pid, rules.my_ballot(p, rules.workshop_by_id(p.workshop_id))))
    end_read()
    for pid, ballot in payloads:
        socketio.emit("me", ballot, to=participant_room(pid))


def broadcast_counts(workshop_id: int) -> None:
    from .invitations import summary

    ws = rules.workshop_by_id(workshop_id)
    payload = rules.counts_payload(ws)
    invited = summary(ws)  # the facilitator's: invitees joined and walk-ins apart
    end_read()
    socketio.emit("counts", payload, to=room(workshop_id))
    socketio.emit("counts", {**payload, "invited": invited}, to=facilitator_room(workshop_id))


def broadcast_progress(workshop_id: int) -> None:
    """`counts` with who has voted, to the projector and the console only ("N of M have
    voted" during the vote); the phones get counts when people join."""
    ws = rules.workshop_by_id(workshop_id)
    payload = rules.counts_payload(ws)
    end_read()
    socketio.emit("counts", payload, to=screen_room(workshop_id))
    socketio.emit("counts", payload, to=facilitator_room(workshop_id))


def run_in_background(app, fn: Callable[[int], None], workshop_id: int) -> None:
    """A broadcast run by a background greenlet: its own app context and session, and a
    failure logged, never raised into the loop that scheduled it."""
    with app.app_context():
        try:
            fn(workshop_id)
        except Exception:
            log.exception("%s broadcast failed", getattr(fn, "__name__", fn))
        finally:
            db.session.remove()


class Throttle:
    """At most one run of `fn(workshop_id)` per workshop every `config[setting]` seconds.

    The first call after a quiet spell runs at once (in a background greenlet, so the ack that
    triggered it is not held up); calls during the interval schedule one trailing run, which
    reads the latest data, so the last change is always sent. With an interval of 0 the call
    runs synchronously (tests driving the in-process test client rely on that).

    With `max_share`, a run that took long stretches the interval after it, so that this
    broadcast takes at most that share of the process's time, the interval never more than
    MAX_STRETCH seconds: the score method's results read every ballot (130 ms a time at
    1,000 phones each scoring 12 domains), and five of those a second would leave the
    phones' acks waiting behind them."""

    MAX_STRETCH = 2.0

    def __init__(self, setting: str, fn: Callable[[int], None], max_share: float | None = None):
        self.setting, self.fn, self.max_share = setting, fn, max_share
        self.pending: set[int] = set()
        self.last: dict[int, float] = {}
        self.cost: dict[int, float] = {}  # seconds the last run took, per workshop

    def gap(self, workshop_id: int, interval: float) -> float:
        """Seconds from the start of one run to the next."""
        if not self.max_share:
            return interval
        stretched = self.cost.get(workshop_id, 0.0) / self.max_share
        return max(interval, min(stretched, self.MAX_STRETCH))

    def __call__(self, workshop_id: int) -> None:
        interval = float(current_app.config.get(self.setting) or 0)
        if interval <= 0:
            self.fn(workshop_id)
            return
        if workshop_id in self.pending:
            return
        self.pending.add(workshop_id)
        gap = self.gap(workshop_id, interval)
        wait = self.last.get(workshop_id, -gap) + gap - time.monotonic()
        app = current_app._get_current_object()

        def later():
            if wait > 0:
                socketio.sleep(wait)
            # Cleared before reading: a change committed from here on schedules another run.
            self.pending.discard(workshop_id)
            started = self.last[workshop_id] = time.monotonic()
            run_in_background(app, self.fn, workshop_id)
            self.cost[workshop_id] = time.monotonic() - started

        socketio.start_background_task(later)


class SharedPublisher:
    """With several processes (a Redis message queue), one process at a time runs a
    workshop's coalesced broadcast (`results`, `counts`, `state`): the holder of a short Redis
    lease. The others only mark the workshop dirty; the holder runs `fn` again while it is
    dirty, every `config[setting]` seconds, and lets the lease go after a quiet interval.
    Without this, every process that receives votes computes the same results and publishes
    them to every phone (N processes, N times the messages)."""

    LEASE_MS = 3000

    def __init__(self, url: str, channel: str, name: str, setting: str,
                 fn: Callable[[int], None]):
        import redis

        self.redis = redis.Redis.from_url(url, socket_timeout=5)
        self.prefix = f"{channel}:{name}"
        self.setting, self.fn = setting, fn
        self.running: set[int] = set()
        self.watching: set[int] = set()

    def __call__(self, workshop_id: int) -> None:
        dirty = self._dirty(workshop_id)
        self.redis.set(dirty, 1, px=60_000)
        if workshop_id in self.running:
            return  # our own loop sees the mark
        lease = self._lease(workshop_id)
        app = current_app._get_current_object()
        if lease.acquire(blocking=False):
            self.running.add(workshop_id)
            socketio.start_background_task(self._publish, app, workshop_id, lease)
        elif workshop_id not in self.watching:
            # Another process holds the lease. If it died holding it, nobody would publish this
            # change: look again once the lease has run out, and publish what is still marked.
            self.watching.add(workshop_id)
            socketio.start_background_task(self._look_again, app, workshop_id)

    def _look_again(self, app, workshop_id: int) -> None:
        socketio.sleep(self.LEASE_MS / 1000 + 0.1)
        self.watching.discard(workshop_id)
        try:
            if self.redis.exists(self._dirty(workshop_id)):
                with app.app_context():
                    self(workshop_id)
        except Exception:
            log.exception("%s publisher could not look again", self.setting)

    def _dirty(self, workshop_id: int) -> str:
        return f"{self.prefix}:{workshop_id}:dirty"

    def _lease(self, workshop_id: int):
        """redis-py's Lock: a token of its own, taken with SET NX PX, extended and released by
        scripts that first check the token, so a lease that expired and went to another
        process is never released or extended by this one."""
        return self.redis.lock(f"{self.prefix}:{workshop_id}:lease", timeout=self.LEASE_MS / 1000,
                               blocking=False, thread_local=False)

    def _publish(self, app, workshop_id: int, lease) -> None:
        from redis.exceptions import LockError

        dirty = self._dirty(workshop_id)
        interval = float(app.config.get(self.setting) or 0.2)
        try:
            while True:
                if self.redis.getdel(dirty):
                    lease.reacquire()  # another LEASE_MS from now; LockError if it was lost
                    run_in_background(app, self.fn, workshop_id)
                    socketio.sleep(interval)
                    continue
                # Quiet: let the lease go, unless a change marked the workshop meanwhile and
                # nobody else has taken the lease since.
                lease.release()
                if not (self.redis.exists(dirty) and lease.acquire(blocking=False)):
                    return
        except LockError:
            log.info("%s lease for workshop %s expired; another process publishes",
                     self.setting, workshop_id)
        except Exception:
            log.exception("%s publisher stopped", self.setting)
        finally:
            self.running.discard(workshop_id)


class Coalesced:
    """A broadcast coalesced per workshop: throttled in this process, or shared across
    processes when a Redis message queue joins several (see `SharedPublisher`)."""

    def __init__(self, name: str, setting: str, fn: Callable[[int], None],
                 max_share: float | None = None):
        self.name, self.setting, self.fn = name, setting, fn
        self.local = Throttle(setting, fn, max_share)
        self.shared: dict[str, SharedPublisher] = {}

    def __call__(self, workshop_id: int) -> None:
        url = current_app.config.get("MESSAGE_QUEUE") or ""
        if not url.startswith(("redis://", "rediss://", "unix://")) or \
                float(current_app.config.get(self.setting) or 0) <= 0:
            self.local(workshop_id)
            return
        publisher = self.shared.get(url)
        if publisher is None:
            publisher = self.shared[url] = SharedPublisher(
                url, current_app.config["MESSAGE_QUEUE_CHANNEL"], self.name, self.setting,
                self.fn)
        try:
            publisher(workshop_id)
        except Exception:  # Redis unreachable: this process broadcasts alone, still correct
            log.exception("shared %s publisher unavailable", self.name)
            self.local(workshop_id)


def schedule_counts(workshop_id: int) -> None:
    hub().counts(workshop_id)


def schedule_progress(workshop_id: int) -> None:
    hub().progress(workshop_id)


def schedule_state(workshop_id: int) -> None:
    hub().state(workshop_id)


def comment_added(workshop_id: int, item: dict[str, Any]) -> None:
    """A new comment goes to the room as itself (about 0.3 KB), not as a new full `state`,
    which carries every comment and would grow with the discussion (200 comments: 71 KB, to
    each of 3,000 phones, for every comment)."""
    rules.forget_state(workshop_id)

    def send() -> None:
        socketio.emit("comment", item, to=room(workshop_id))
        socketio.emit("comment", item, to=facilitator_room(workshop_id))

    # Queueing the event for thousands of phones takes a while: not before the ack.
    if current_app.testing:
        send()  # the in-process test client sees it at once
    else:
        socketio.start_background_task(send)


def comment_moderated(workshop_id: int, item: dict[str, Any], hidden: bool) -> None:
    """A hidden comment leaves every phone and projector at once (`comment_hidden`); a restored
    one comes back as a new `comment`. The facilitator gets a fresh state with both."""
    if hidden:
        socketio.emit("comment_hidden", {"comment_id": item["comment_id"],
                                         "domain_id": item["domain_id"]}, to=room(workshop_id))
    else:
        socketio.emit("comment", item, to=room(workshop_id))
    broadcast_state(workshop_id)


def broadcast_vision(workshop_id: int) -> None:
    """The statements and their reactions (`vision`): the room's copy with totals and
    agreement only, the facilitator's with every helix (coalesced like the results)."""
    ws = rules.workshop_by_id(workshop_id)
    public = {"workshop_id": workshop_id, "statements": method.vision_summary(ws)}
    full = {"workshop_id": workshop_id,
            "statements": method.vision_summary(ws, facilitator=True)}
    end_read()
    socketio.emit("vision", public, to=room(workshop_id))
    socketio.emit("vision", full, to=facilitator_room(workshop_id))


def schedule_vision(workshop_id: int) -> None:
    rules.forget_state(workshop_id)
    hub().vision(workshop_id)


def swot_added(workshop_id: int, item: dict[str, Any]) -> None:
    """A new SWOT item goes to the room as itself (like a comment), not as a new state."""
    rules.forget_state(workshop_id)
    socketio.emit("swot", item, to=room(workshop_id))
    socketio.emit("swot", item, to=facilitator_room(workshop_id))


def state_changed(workshop_id: int) -> None:
    """After a proposal or a comment: new joiners see it at once, the room within
    STATE_INTERVAL (a lively discussion must not send the whole state for every comment)."""
    rules.forget_state(workshop_id)
    schedule_state(workshop_id)


def phone_results(results: dict[str, Any]) -> dict[str, Any]:
    """What a phone shows: the contract's keys (the ranking with titles and the split by helix,
    participation and, for rank, Schulze) without the facilitator's measures and warnings,
    about half the size of the full payload."""
    payload = {
        "method": results["method"],
        "ranking": [{k: e[k] for k in ("domain_id", "title", "score", "balanced_score",
                                       "by_helix", "voters")} for e in results["ranking"]],
        "participation": results["participation"],
        "totals": results.get("totals"),
    }
    if "schulze" in results:
        payload["schulze"] = results["schulze"]
    return payload


def send_phone_results(workshop_id: int, spread: bool = True) -> None:
    """The latest results to every phone group in turn, spread over PHONE_RESULTS_SPREAD."""
    latest = hub().latest_results
    results = latest.get(workshop_id)
    if results is None:
        return
    # Another process may have hidden the results since they were computed here.
    shown = rules.workshop_by_id(workshop_id).results_shown
    end_read()
    if not shown:
        latest.pop(workshop_id, None)
        return
    payload = phone_results(results)
    shards = max(1, int(current_app.config.get("PHONE_SHARDS", 1)))
    gap = float(current_app.config.get("PHONE_RESULTS_SPREAD") or 0) / shards if spread else 0
    for k in range(shards):
        if k and gap > 0:
            socketio.sleep(gap)
        socketio.emit("results", payload, to=f"w{workshop_id}.{k}")


def schedule_phone_results(workshop_id: int) -> None:
    hub().phone_results(workshop_id)


def emit_results(workshop_id: int, everyone_now: bool = False) -> None:
    """Compute the results once; the console and the projector get them in full, the phones a
    lighter copy at their own slower pace (or at once with `everyone_now`: the results phase
    and `reveal` show them to everyone together)."""
    ws = rules.workshop_by_id(workshop_id)
    results = rules.compute_results(ws)
    shown = ws.results_shown
    # Small helices pooled or left out (contract, "Privacy"); the console keeps every helix.
    public = rules.public_results(ws, results) if shown else None
    end_read()
    socketio.emit("results", results, to=facilitator_room(workshop_id))
    latest = hub().latest_results
    if not shown:
        latest.pop(workshop_id, None)
        return
    socketio.emit("results", public, to=screen_room(workshop_id))
    latest[workshop_id] = public
    if everyone_now:
        send_phone_results(workshop_id, spread=False)
    else:
        schedule_phone_results(workshop_id)


def schedule_results(workshop_id: int) -> None:
    hub().results(workshop_id)


class Hub:
    """This process's broadcast state for one app: the coalesced broadcasts' timers and Redis
    publishers, the latest public results per workshop (for the phones' slower pace), and the
    cross-process resync's last seen versions. Bound to the app (`app.extensions`), so two apps
    in one process (tests) never share timers or results."""

    def __init__(self) -> None:
        self.counts = Coalesced("counts", "COUNTS_INTERVAL", broadcast_counts)
        self.progress = Coalesced("progress", "COUNTS_INTERVAL", broadcast_progress)
        self.state = Coalesced("state", "STATE_INTERVAL", broadcast_state)
        # Results at most a quarter of the process's time: their cost grows with the ballots.
        self.results = Coalesced("results", "RESULTS_INTERVAL", emit_results, max_share=0.25)
        self.vision = Coalesced("vision", "STATE_INTERVAL", broadcast_vision)
        self.phone_results = Throttle("PHONE_RESULTS_INTERVAL", send_phone_results)
        self.latest_results: dict[int, dict[str, Any]] = {}
        self.resync_seen: dict[int, int] = {}
        self.resync_started = False


def hub(app=None) -> Hub:
    """The app's `Hub` (made on first use)."""
    return bound("edp_sockets", lambda _app: Hub(), app)


def freeze_garbage() -> None:
    """Move every object alive now out of the collector's generations (`gc.freeze`)."""
    if current_app.config.get("GC_FREEZE"):
        gc.freeze()


# ---------------------------------------------------------------- participant events

HELIX = Field(str, max_len=40)
LANG = Field(str, required=False, max_len=5)


@event("join", {
    "code": Field(str, max_len=16),
    "helix": Field(str, required=False, max_len=40),
    "name": Field(str, required=False, max_len=120),
    "organisation": Field(str, required=False, max_len=200),
    "token": Field(str, required=False, max_len=64),
    # A personal invitation's token (edp/invitations.py): its helix, not `helix`, counts.
    "invite": Field(str, required=False, max_len=64),
    "language": LANG,
    "client_id": CLIENT_ID,
})
def on_join(d):
    # Join codes must not be guessable by trying them: wrong codes drain a bucket per
    # connection and per address; once one is empty only a rejoin with a valid token gets in,
    # and everything else is rate_limited (whatever the code, so the refusal reveals nothing).
    guard, sid, address = join_guard(), request.sid, client_address()
    limited = not guard.allowed(sid, address)
    if d.get("language") in rules.LANGUAGES and not session.get("participant_id"):
        session["lang"] = d["language"]  # a refusal before joining speaks the phone's language
    # One connection creates one participant: a later join without a token returns the one it
    # has, and joins sent at once (each runs in its own greenlet) cannot mint a second.
    current = db.session.get(Participant, session["participant_id"]) \
        if session.get("participant_id") else None
    nonce = g.setdefault("join_nonce", os.urandom(8).hex())  # the same across retries

    def admit(ws) -> None:
        if session.get("minted") not in (None, nonce):
            raise fail("already_joined")
        rate_limit("JOIN_RATE", f"w{ws.id}", rules.JOIN_BUSY)
        session["minted"] = nonce

    try:
        p, created = rules.join(
            d["code"], None if limited else d.get("helix"), d.get("name", ""),
            d.get("organisation", ""), d.get("token"), d.get("language", ""),
            d.get("client_id"), current=current, admit=admit,
            invite=None if limited else d.get("invite"),
        )
    except EDPError as exc:
        if limited:
            raise fail("rate_limited") from None
        # A wrong invitation counts as a wrong code: tokens must not be guessable either.
        if exc.code == "unknown_workshop" or (exc.code == "invite_required" and d.get("invite")):
            guard.wrong_code(sid, address)
        raise
    pid, wid = p.id, p.workshop_id
    lang = p.language or rules.workshop_by_id(wid).language

    def enter() -> None:
        # Only once committed: a join that failed must not leave an id in the session.
        before_pid, before_wid = session.get("participant_id"), session.get("workshop_id")
        if before_pid and before_pid != pid:
            leave_room(participant_room(before_pid))
        if before_wid and before_wid != wid:
            leave_room(room(before_wid))
        session["participant_id"], session["workshop_id"], session["lang"] = pid, wid, lang
        if before_pid and before_pid != pid and before_wid:
            leave_room(phone_room(before_wid, before_pid))
        join_room(room(wid))
        join_room(participant_room(pid))
        join_room(phone_room(wid, pid))
        ensure_resync(wid)

    after_commit(enter)
    if created:
        after_commit(lambda: schedule_counts(wid))
        # Who is present changes the under-representation warnings the facilitator watches.
        after_commit(lambda: schedule_results(wid))
    return {"token": p.token, "participant_id": pid,
            "state": rules.participant_state(p, new=created)}


# Sector codes of the workshop's diagnosis data (edp/evidence.py checks they exist).
SECTORS = Field(list, required=False, max_items=20, item=Field(str, max_len=40))


@event("propose", {
    "title": Field(str, max_len=TITLE),
    "description": Field(str, required=False, max_len=TEXT),
    "rationale": Field(str, required=False, max_len=TEXT),
    "sdgs": Field(list, required=False, max_items=17, item=Field(int, min=1, max=17)),
    "sectors": SECTORS,
    "client_id": CLIENT_ID,
})
def on_propose(d):
    p = current_participant()
    wid = p.workshop_id
    dom = rules.propose(p, d["title"], d.get("description", ""), d.get("rationale", ""),
                        d.get("sdgs", []), client_id=d.get("client_id"),
                        admit=lambda: rate_limit("PROPOSAL_RATE", f"p{p.id}"),
                        sectors=d.get("sectors", []))
    if not rules.replayed(dom):  # a retry changed nothing: nothing to broadcast
        after_commit(lambda: state_changed(wid))
    return {"domain_id": dom.id, "status": dom.status}


@event("comment", {
    "domain_id": ID,
    "stance": Field(str, choices=tuple(rules.STANCES)),
    "text": Field(str, max_len=TEXT),
    "client_id": CLIENT_ID,
})
def on_comment(d):
    p = current_participant()
    wid = p.workshop_id
    c = rules.comment(p, d["domain_id"], d["stance"], d["text"], client_id=d.get("client_id"),
                      admit=lambda: rate_limit("COMMENT_RATE", f"p{p.id}"))
    if not rules.replayed(c):
        item = rules.comment_dict(c, p.helix)
        after_commit(lambda: comment_added(wid, item))
    return {"comment_id": c.id}


@event("comments", {
    "workshop_id": Field(int, required=False, min=1, max=2**31 - 1),
    "domain_id": ID,
    "before": Field(int, required=False, min=1, max=2**31 - 1),
})
def on_comments(d):
    """One page of a domain's comments, newest first by page (each page oldest first): the
    join ack and the states carry only the newest few. The facilitator (with `workshop_id`)
    sees hidden ones too, marked; a participant or a projector sees what the room sees."""
    facilitator = False
    if "workshop_id" in d and current_user.is_authenticated:
        ws = current_facilitator_workshop(d["workshop_id"])
        facilitator = True
    elif session.get("participant_id"):
        ws = rules.workshop_by_id(current_participant().workshop_id)
    elif session.get("screen_workshop_id"):
        ws = rules.workshop_by_id(session["screen_workshop_id"])
    else:
        raise fail("not_joined")
    if "workshop_id" in d and d["workshop_id"] != ws.id:
        raise fail("forbidden")
    if facilitator:
        dom = db.session.get(Domain, d["domain_id"])
        if dom is None or dom.workshop_id != ws.id:
            raise fail("not_found")
    else:
        rules.votable_domain(ws, d["domain_id"])
    items, more = rules.comments_page(
        ws, facilitator, domain_id=d["domain_id"], before=d.get("before"),
        limit=int(current_app.config.get("COMMENTS_PAGE", 50)))
    end_read()
    return {"domain_id": d["domain_id"], "comments": items, "more": more}


# Votes, scores and rankings set a value, so a retry is harmless without any id; the client id
# is accepted (and checked) for a uniform protocol.
class _Slot:
    """One event waiting in a group commit: its item, then its outcome."""

    __slots__ = ("item", "workshop_id", "outcome", "done", "wake")

    def __init__(self, item: tuple, workshop_id: int | None):
        self.item, self.workshop_id = item, workshop_id
        self.outcome: Any = None
        self.done = False
        self.wake = threading.Event()


class GroupCommit:
    """Group commit for the ballot's hottest event: the votes that arrive while a transaction
    is being written wait for the next one, and one transaction (a fixed handful of
    statements, `rules.vote_batch`) then carries them all; each is acked only after the
    transaction that holds it has committed, with its Event row. A room voting at once costs
    one commit per batch instead of one per tap.

    No extra greenlet: the first waiting handler leads. It writes one batch (its own item
    among them), hands the lead to the oldest item still waiting, and returns its own ack;
    so no handler works for the others longer than one batch. A batch that fails for any
    other reason than a locked database is written again item by item, so one bad item never
    refuses its neighbours."""

    MAX_BATCH = 500

    def __init__(self, batch: Callable[[list], list], single: Callable[[tuple], Any],
                 wait: float = 0.0):
        self.batch, self.single, self.wait = batch, single, max(0.0, wait)
        self.pending: list[_Slot] = []
        self.leader: _Slot | None = None
        self.lock = threading.Lock()
        self.batches = self.items = 0  # for bench/ and the tests: how well it groups

    def submit(self, item: tuple, workshop_id: int | None) -> Any:
        slot = _Slot(item, workshop_id)
        with self.lock:
            self.pending.append(slot)
            lead = self.leader is None
            if lead:
                self.leader = slot
        try:
            if lead:
                # The votes already read (and those arriving within GROUP_COMMIT_WAIT) join.
                socketio.sleep(self.wait)
            else:
                slot.wake.wait()
        finally:
            # Leading (first, or handed the lead): write the oldest waiting items, this one
            # among them; even when interrupted, so that the others never wait for nobody.
            if not slot.done and (lead or slot.wake.is_set()):
                self._lead()
        if isinstance(slot.outcome, EDPError):
            raise slot.outcome
        return slot.outcome

    def _lead(self) -> None:
        with self.lock:
            batch = self.pending[:self.MAX_BATCH]
            del self.pending[:self.MAX_BATCH]
        try:
            outcomes = self._write([s.item for s in batch])
        except BaseException:
            outcomes = [fail("internal")] * len(batch)
            raise
        finally:
            for slot, outcome in zip(batch, outcomes, strict=True):
                slot.outcome, slot.done = outcome, True
            with self.lock:
                self.batches += 1
                self.items += len(batch)
                self.leader = self.pending[0] if self.pending else None
                if self.leader is not None:
                    self.leader.wake.set()  # the next batch's leader
            for slot in batch:
                slot.wake.set()
        for wid in {s.workshop_id for s in batch if not isinstance(s.outcome, EDPError)}:
            if wid is not None:
                try:
                    schedule_results(wid)
                    schedule_progress(wid)
                except Exception:  # a failed broadcast must not turn a saved vote into an error
                    log.exception("broadcast after a group commit failed")

    def _write(self, items: list[tuple]) -> list[Any]:
        locked = BusyWait()
        while True:
            try:
                outcomes = self.batch(items)
                db.session.commit()
                return outcomes
            except OperationalError as exc:
                db.session.rollback()
                if not rules.is_busy(exc):
                    break
                if not locked.again():
                    log.warning("a group commit of %d: the database stayed locked", len(items))
                    return [fail("busy")] * len(items)
            except Exception:
                db.session.rollback()
                break
        log.warning("a group commit of %d failed; writing its items one by one", len(items),
                    exc_info=True)
        outcomes = []
        for item in items:
            try:
                outcome = self.single(item)
                db.session.commit()
            except EDPError as exc:
                db.session.rollback()
                outcome = exc
            except Exception:
                db.session.rollback()
                log.exception("a vote failed on its own too")
                outcome = fail("internal")
            outcomes.append(outcome)
        return outcomes


def _vote_one(item: tuple[int, int, int]) -> int:
    pid, domain_id, points = item
    p = db.session.get(Participant, pid)
    if p is None:
        raise fail("not_joined")
    return rules.vote(p, domain_id, points)


def vote_commits() -> GroupCommit:
    """This app's group commit for `vote`."""
    return bound("edp_vote_commits", lambda app: GroupCommit(
        rules.vote_batch, _vote_one, app.config.get("GROUP_COMMIT_WAIT", 0.0)))


@event("vote", {"domain_id": ID, "points": Field(int, min=0, max=10_000), "client_id": CLIENT_ID})
def on_vote(d):
    pid = session.get("participant_id")
    if not pid:
        raise fail("not_joined")
    remaining = vote_commits().submit((pid, d["domain_id"], d["points"]),
                                      session.get("workshop_id"))
    return {"remaining": remaining, "domain_id": d["domain_id"], "points": d["points"]}


@event("score", {
    "domain_id": ID,
    "criterion": Field(str, required=False, max_len=40),
    "value": Field(int, required=False, min=1, max=5),
    # Or a whole card at once: {criterion: value, ...} for this domain (one event, one
    # transaction, instead of one per criterion).
    "scores": Field(dict, required=False),
    "client_id": CLIENT_ID,
})
def on_score(d):
    p = current_participant()
    wid = p.workshop_id
    if "scores" in d:
        if "criterion" in d or "value" in d or len(d["scores"]) > 50:
            raise fail("bad_payload")
        values = d["scores"]
    elif "criterion" in d and "value" in d:
        values = {d["criterion"]: d["value"]}
    else:
        raise fail("bad_payload")
    rules.score_many(p, d["domain_id"], values)
    after_commit(lambda: schedule_results(wid))
    after_commit(lambda: schedule_progress(wid))
    return {}


@event("rank", {"order": Field(list, max_items=500, item=ID), "client_id": CLIENT_ID})
def on_rank(d):
    p = current_participant()
    wid = p.workshop_id
    rules.rank(p, d["order"])
    after_commit(lambda: schedule_results(wid))
    after_commit(lambda: schedule_progress(wid))
    return {}


@event("watch", {"code": Field(str, max_len=16)})
def on_watch(d):
    """The projector: aggregates only, never who voted what."""
    ws = rules.workshop_by_code(d["code"])
    session["lang"] = ws.language
    session["screen_workshop_id"] = ws.id  # may page through comments (`comments`)
    join_room(room(ws.id))
    join_room(screen_room(ws.id))
    ensure_resync(ws.id)
    return {"state": rules.public_state(ws)}


# ---------------------------------------------------------------- facilitator events

WID = {"workshop_id": ID}


@event("facilitate", WID)
def on_facilitate(d):
    ws = current_facilitator_workshop(d["workshop_id"])
    join_room(facilitator_room(ws.id))
    ensure_resync(ws.id)
    session["lang"] = ws.language
    return {"state": rules.public_state(ws, facilitator=True)}


@event("phase", {**WID, "phase": Field(str, max_len=10),
                 "seconds": Field(int, required=False, min=0, max=24 * 3600)})
def on_phase(d):
    ws = current_facilitator_workshop(d["workshop_id"])
    rules.set_phase(ws, d["phase"], d.get("seconds"))
    wid = ws.id
    after_commit(lambda: broadcast_state(wid))
    after_commit(lambda: emit_results(wid, everyone_now=True))
    # Everyone who has joined so far stays for the rest of the workshop: their connections
    # need not be scanned by every full collection again (shorter pauses for everyone).
    after_commit(freeze_garbage)
    return {"phase": ws.phase}


@event("configure", {**WID, "method": Field(str, required=False, max_len=8),
                     "joining": Field(str, required=False, choices=rules.JOINING)})
def on_configure(d):
    """The voting method and/or whether new participants may join (`joining`)."""
    if "method" not in d and "joining" not in d:
        raise fail("bad_payload")
    ws = current_facilitator_workshop(d["workshop_id"])
    if "method" in d:
        rules.set_method(ws, d["method"])
    if "joining" in d:
        rules.set_joining(ws, d["joining"])
    wid = ws.id
    after_commit(lambda: broadcast_state(wid))
    return {"method": ws.method, "joining": ws.joining}


@event("moderate", {
    **WID,
    "domain_id": Field(int, required=False, min=1, max=2**31 - 1),
    "comment_id": Field(int, required=False, min=1, max=2**31 - 1),
    "action": Field(str, choices=tuple(dict.fromkeys(
        rules.MODERATION_ACTIONS + rules.COMMENT_ACTIONS + [rules.LINK_ACTION]))),
    "into": Field(int, required=False, min=1, max=2**31 - 1),
    "sectors": SECTORS,
})
def on_moderate(d):
    """A domain (approve, hide, merge) or, with `comment_id`, a comment (hide, restore)."""
    if ("comment_id" in d) == ("domain_id" in d):
        raise fail("bad_payload")  # exactly one of the two
    ws = current_facilitator_workshop(d["workshop_id"])
    wid = ws.id
    if "comment_id" in d:
        c = rules.moderate_comment(ws, d["comment_id"], d["action"])
        helix = db.session.get(Participant, c.participant_id).helix
        item, hidden = rules.comment_dict(c, helix), c.hidden
        after_commit(lambda: comment_moderated(wid, item, hidden))
        return {"comment_id": c.id, "domain_id": c.domain_id, "hidden": hidden}
    if d["action"] == rules.LINK_ACTION:
        if "sectors" not in d:
            raise fail("bad_payload")
        dom = rules.link(ws, d["domain_id"], d["sectors"])
        after_commit(lambda: broadcast_state(wid))
        return {"domain_id": dom.id, "sectors": list(dom.sectors)}
    if d["action"] not in rules.MODERATION_ACTIONS:
        raise fail("bad_payload")
    dom, touched = rules.moderate(ws, d["domain_id"], d["action"], d.get("into"))
    if dom.participant_id:
        touched = touched | {dom.participant_id}  # the proposer learns what became of it
    after_commit(lambda: broadcast_state(wid))
    after_commit(lambda: schedule_results(wid))
    if touched:
        after_commit(lambda: send_ballots(touched))
    return {"domain_id": dom.id, "status": dom.status}


# A monitoring indicator: a plain string (backward compatible) or this object.
DECIDE_INDICATOR = {
    "name": Field(str, max_len=500),
    "baseline": Field((str, int, float), required=False, max_len=200),
    "target": Field((str, int, float), required=False, max_len=200),
}


@event("decide", {
    **WID,
    "domain_id": ID,
    "rank": Field(int, min=1, max=1000),
    "rationale": Field(str, max_len=TEXT),
    "indicators": Field(list, required=False, max_items=20,
                        item=Field((str, dict), max_len=500)),
    "funders": Field(list, required=False, max_items=20, item=Field(str, max_len=200)),
})
def on_decide(d):
    indicators = d.get("indicators")
    if indicators is not None:
        # Objects go through the same allow-list (unknown keys dropped); booleans and
        # non-finite numbers are not values (`decide` refuses them as well).
        indicators = [validate(DECIDE_INDICATOR, i) if isinstance(i, dict) else i
                      for i in indicators]
        for item in indicators:
            if isinstance(item, dict) and any(isinstance(v, bool) for v in item.values()):
                raise fail("bad_payload")
    ws = current_facilitator_workshop(d["workshop_id"])
    pr = rules.decide(ws, d["domain_id"], d["rank"], d["rationale"], indicators,
                      d.get("funders"))
    wid = ws.id
    after_commit(lambda: broadcast_state(wid))
    return {"domain_id": pr.domain_id, "rank": pr.rank, "indicators": pr.indicators,
            "funders": pr.funders}


@event("undecide", {**WID, "domain_id": ID})
def on_undecide(d):
    ws = current_facilitator_workshop(d["workshop_id"])
    rules.undecide(ws, d["domain_id"])
    wid = ws.id
    after_commit(lambda: broadcast_state(wid))
    return {}


@event("reveal", {**WID, "shown": Field(bool)})
def on_reveal(d):
    ws = current_facilitator_workshop(d["workshop_id"])
    rules.reveal(ws, d["shown"])
    wid = ws.id
    after_commit(lambda: broadcast_state(wid))
    after_commit(lambda: emit_results(wid, everyone_now=True))
    return {"shown": ws.results_shown}


# ---------------------------------------------------------------- the method (edp/method.py)


@event("statement", {"text": Field(str, max_len=STATEMENT), "client_id": CLIENT_ID})
def on_statement(d):
    p = current_participant()
    wid = p.workshop_id
    s = method.statement(p, d["text"], client_id=d.get("client_id"),
                         admit=lambda: rate_limit("STATEMENT_RATE", f"p{p.id}"))
    if not rules.replayed(s):
        after_commit(lambda: schedule_vision(wid))
    return {"statement_id": s.id}


@event("react", {"statement_id": ID, "reaction": Field(str, choices=method.REACTIONS),
                 "client_id": CLIENT_ID})
def on_react(d):
    p = current_participant()
    wid = p.workshop_id
    r = method.react(p, d["statement_id"], d["reaction"])
    after_commit(lambda: schedule_vision(wid))
    return {"statement_id": r.statement_id, "reaction": r.reaction}


@event("adopt", {**WID, "statement_id": ID, "adopted": Field(bool)})
def on_adopt(d):
    ws = current_facilitator_workshop(d["workshop_id"])
    s = method.adopt(ws, d["statement_id"], d["adopted"])
    wid = ws.id
    after_commit(lambda: schedule_vision(wid))
    return {"statement_id": s.id, "adopted": s.adopted}


@event("vision_moderate", {**WID, "statement_id": Field(int, required=False, min=1,
                                                         max=2**31 - 1),
                           "text": Field(str, required=False, max_len=STATEMENT),
                           "action": Field(str, choices=("add", "hide", "restore"))})
def on_vision_moderate(d):
    """The facilitator adds a statement (`text`) or hides / restores one (`statement_id`)."""
    ws = current_facilitator_workshop(d["workshop_id"])
    if d["action"] == "add":
        if "text" not in d:
            raise fail("bad_payload")
        s = method.facilitator_statement(ws, d["text"])
    else:
        if "statement_id" not in d:
            raise fail("bad_payload")
        s = method.hide_statement(ws, d["statement_id"], d["action"] == "hide")
    wid = ws.id
    after_commit(lambda: schedule_vision(wid))
    return {"statement_id": s.id, "hidden": s.hidden, "adopted": s.adopted}


@event("swot", {"domain_id": ID, "quadrant": Field(str, choices=method.QUADRANTS),
                "text": Field(str, max_len=SWOT_TEXT), "client_id": CLIENT_ID})
def on_swot(d):
    p = current_participant()
    wid = p.workshop_id
    item = method.swot(p, d["domain_id"], d["quadrant"], d["text"],
                       client_id=d.get("client_id"),
                       admit=lambda: rate_limit("SWOT_RATE", f"p{p.id}"))
    if not rules.replayed(item):
        payload = method.swot_dict(item)
        after_commit(lambda: swot_added(wid, payload))
    return {"item_id": item.id}


@event("swot_moderate", {**WID, "item_id": ID, "action": Field(str, choices=("hide", "restore"))})
def on_swot_moderate(d):
    ws = current_facilitator_workshop(d["workshop_id"])
    item = method.hide_swot(ws, d["item_id"], d["action"] == "hide")
    wid = ws.id
    after_commit(lambda: broadcast_state(wid))
    return {"item_id": item.id, "hidden": item.hidden}


@event("fund", {"domain_id": ID, "signal": Field(str, choices=method.SIGNALS),
                "instrument": Field(str, required=False, max_len=200),
                "client_id": CLIENT_ID})
def on_fund(d):
    p = current_participant()
    wid = p.workshop_id
    row = method.fund(p, d["domain_id"], d["signal"], d.get("instrument"))
    after_commit(lambda: state_changed(wid))
    after_commit(lambda: schedule_results(wid))
    return {"domain_id": row.domain_id, "signal": row.signal, "instrument": row.instrument}
