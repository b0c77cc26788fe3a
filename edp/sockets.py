"""Socket.IO handlers: parse, validate, authorise, call the rule, commit, ack, broadcast.

The `event` decorator does the shared part so each handler is a few lines. Rooms:
`w<id>` gets what participants and the projector may see; `f<id>` the facilitator's view.
"""
from __future__ import annotations

import logging
import time
from functools import wraps
from typing import Any, Callable

from flask import current_app, g, request, session
from flask_babel import force_locale
from flask_login import current_user
from flask_socketio import join_room
from sqlalchemy.exc import IntegrityError, OperationalError

from . import workshop as rules
from .extensions import db, socketio
from .models import Participant
from .validation import ID, Field, validate
from .workshop import EDPError, fail

log = logging.getLogger(__name__)

TITLE = 200
TEXT = 5000


def room(workshop_id: int) -> str:
    return f"w{workshop_id}"


def facilitator_room(workshop_id: int) -> str:
    return f"f{workshop_id}"


# ---------------------------------------------------------------- shared handler wiring


def after_commit(fn: Callable[[], None]) -> None:
    """Run `fn` once the handler's transaction has committed (broadcasts go here)."""
    g.setdefault("after_commit", []).append(fn)


class _Bucket:
    __slots__ = ("tokens", "at")

    def __init__(self, tokens: float):
        self.tokens, self.at = tokens, time.monotonic()


_buckets: dict[str, _Bucket] = {}


def _rate_limit() -> None:
    """Token bucket per participant (per connection before joining), never per IP."""
    burst = current_app.config["RATE_BURST"]
    rate = current_app.config["RATE_PER_SECOND"]
    key = f"p{session['participant_id']}" if session.get("participant_id") else request.sid
    bucket = _buckets.get(key)
    now = time.monotonic()
    if bucket is None and len(_buckets) > 20_000:
        # Forget buckets idle long enough to be full again (closed connections, gone phones).
        for stale in [k for k, b in _buckets.items() if now - b.at > burst / rate + 1]:
            del _buckets[stale]
    if bucket is None:
        bucket = _buckets[key] = _Bucket(burst)
    bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * rate)
    bucket.at = now
    if bucket.tokens < 1:
        raise fail("rate_limited")
    bucket.tokens -= 1


def _error(code: str, message) -> dict[str, Any]:
    with force_locale(session.get("lang") or "en"):
        return {"ok": False, "error": {"code": code, "message": str(message)}}


def event(name: str, schema: dict[str, Field]):
    def decorate(fn):
        @wraps(fn)
        def handler(data=None, *_extra):
            # Extra positional arguments from a client are ignored: a handler that raised a
            # TypeError here would drop the event without an ack.
            for attempt in (1, 2):
                try:
                    _rate_limit() if attempt == 1 else None
                    payload = validate(schema, data)
                    result = fn(payload) or {}
                    db.session.commit()
                    break
                except EDPError as exc:
                    db.session.rollback()
                    return _error(exc.code, exc.message)
                except (IntegrityError, OperationalError):
                    # A concurrent duplicate (unique constraint) or a busy database: retry once.
                    db.session.rollback()
                    g.pop("after_commit", None)
                    if attempt == 2:
                        log.exception("event %s failed twice", name)
                        return _error("internal", rules.MESSAGES["internal"])
                except Exception:
                    db.session.rollback()
                    log.exception("event %s failed", name)
                    return _error("internal", rules.MESSAGES["internal"])
            for callback in g.pop("after_commit", []):
                try:
                    callback()
                except Exception:  # a failed broadcast must not turn a saved action into an error
                    log.exception("broadcast after %s failed", name)
            return {"ok": True, **result}

        socketio.on_event(name, handler)
        return handler

    return decorate


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
    ws = rules.workshop_by_id(workshop_id)
    public, full = rules.public_state(ws), rules.public_state(ws, facilitator=True)
    end_read()
    socketio.emit("state", public, to=room(workshop_id))
    socketio.emit("state", full, to=facilitator_room(workshop_id))


def participant_room(participant_id: int) -> str:
    return f"p{participant_id}"


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
    ws = rules.workshop_by_id(workshop_id)
    counts = rules.helix_counts(ws)
    payload = {"counts": counts, "total": sum(counts.values())}
    end_read()
    socketio.emit("counts", payload, to=room(workshop_id))
    socketio.emit("counts", payload, to=facilitator_room(workshop_id))


_pending_results: set[int] = set()


def emit_results(workshop_id: int) -> None:
    ws = rules.workshop_by_id(workshop_id)
    results = rules.compute_results(ws)
    shown = ws.results_shown
    end_read()
    socketio.emit("results", results, to=facilitator_room(workshop_id))
    if shown:
        socketio.emit("results", results, to=room(workshop_id))


def schedule_results(workshop_id: int) -> None:
    """Coalesce: many votes within the interval give one `results` broadcast."""
    interval = current_app.config["RESULTS_INTERVAL"]
    if interval <= 0:
        emit_results(workshop_id)
        return
    if workshop_id in _pending_results:
        return
    _pending_results.add(workshop_id)
    app = current_app._get_current_object()

    def later():
        socketio.sleep(interval)
        _pending_results.discard(workshop_id)
        with app.app_context():
            try:
                emit_results(workshop_id)
            except Exception:
                log.exception("results broadcast failed")
            finally:
                db.session.remove()

    socketio.start_background_task(later)


# ---------------------------------------------------------------- participant events

HELIX = Field(str, max_len=40)
LANG = Field(str, required=False, max_len=5)


@event("join", {
    "code": Field(str, max_len=16),
    "helix": Field(str, required=False, max_len=40),
    "name": Field(str, required=False, max_len=120),
    "organisation": Field(str, required=False, max_len=200),
    "token": Field(str, required=False, max_len=64),
    "language": LANG,
})
def on_join(d):
    p, created = rules.join(
        d["code"], d.get("helix"), d.get("name", ""), d.get("organisation", ""),
        d.get("token"), d.get("language", ""),
    )
    session["participant_id"] = p.id
    session["workshop_id"] = p.workshop_id
    session["lang"] = p.language or rules.workshop_by_id(p.workshop_id).language
    join_room(room(p.workshop_id))
    join_room(participant_room(p.id))
    if created:
        wid = p.workshop_id
        after_commit(lambda: broadcast_counts(wid))
    return {"token": p.token, "participant_id": p.id, "state": rules.participant_state(p)}


@event("propose", {
    "title": Field(str, max_len=TITLE),
    "description": Field(str, required=False, max_len=TEXT),
    "rationale": Field(str, required=False, max_len=TEXT),
    "sdgs": Field(list, required=False, max_items=17, item=Field(int, min=1, max=17)),
})
def on_propose(d):
    p = current_participant()
    wid = p.workshop_id
    dom = rules.propose(p, d["title"], d.get("description", ""), d.get("rationale", ""),
                        d.get("sdgs", []))
    after_commit(lambda: broadcast_state(wid))
    return {"domain_id": dom.id, "status": dom.status}


@event("comment", {
    "domain_id": ID,
    "stance": Field(str, choices=tuple(rules.STANCES)),
    "text": Field(str, max_len=TEXT),
})
def on_comment(d):
    p = current_participant()
    wid = p.workshop_id
    c = rules.comment(p, d["domain_id"], d["stance"], d["text"])
    after_commit(lambda: broadcast_state(wid))
    return {"comment_id": c.id}


@event("vote", {"domain_id": ID, "points": Field(int, min=0, max=10_000)})
def on_vote(d):
    p = current_participant()
    wid = p.workshop_id
    remaining = rules.vote(p, d["domain_id"], d["points"])
    after_commit(lambda: schedule_results(wid))
    return {"remaining": remaining, "domain_id": d["domain_id"], "points": d["points"]}


@event("score", {
    "domain_id": ID,
    "criterion": Field(str, max_len=40),
    "value": Field(int, min=1, max=5),
})
def on_score(d):
    p = current_participant()
    wid = p.workshop_id
    rules.score(p, d["domain_id"], d["criterion"], d["value"])
    after_commit(lambda: schedule_results(wid))
    return {}


@event("rank", {"order": Field(list, max_items=500, item=ID)})
def on_rank(d):
    p = current_participant()
    wid = p.workshop_id
    rules.rank(p, d["order"])
    after_commit(lambda: schedule_results(wid))
    return {}


@event("watch", {"code": Field(str, max_len=16)})
def on_watch(d):
    """The projector: aggregates only, never who voted what."""
    ws = rules.workshop_by_code(d["code"])
    session["lang"] = ws.language
    join_room(room(ws.id))
    return {"state": rules.public_state(ws)}


# ---------------------------------------------------------------- facilitator events

WID = {"workshop_id": ID}


@event("facilitate", WID)
def on_facilitate(d):
    ws = current_facilitator_workshop(d["workshop_id"])
    join_room(facilitator_room(ws.id))
    session["lang"] = ws.language
    return {"state": rules.public_state(ws, facilitator=True)}


@event("phase", {**WID, "phase": Field(str, max_len=10),
                 "seconds": Field(int, required=False, min=0, max=24 * 3600)})
def on_phase(d):
    ws = current_facilitator_workshop(d["workshop_id"])
    rules.set_phase(ws, d["phase"], d.get("seconds"))
    wid = ws.id
    after_commit(lambda: broadcast_state(wid))
    after_commit(lambda: emit_results(wid))
    return {"phase": ws.phase}


@event("configure", {**WID, "method": Field(str, max_len=8)})
def on_configure(d):
    ws = current_facilitator_workshop(d["workshop_id"])
    rules.set_method(ws, d["method"])
    wid = ws.id
    after_commit(lambda: broadcast_state(wid))
    return {"method": ws.method}


@event("moderate", {
    **WID,
    "domain_id": ID,
    "action": Field(str, choices=tuple(rules.MODERATION_ACTIONS)),
    "into": Field(int, required=False, min=1, max=2**31 - 1),
})
def on_moderate(d):
    ws = current_facilitator_workshop(d["workshop_id"])
    dom, touched = rules.moderate(ws, d["domain_id"], d["action"], d.get("into"))
    wid = ws.id
    after_commit(lambda: broadcast_state(wid))
    after_commit(lambda: schedule_results(wid))
    if touched:
        after_commit(lambda: send_ballots(touched))
    return {"domain_id": dom.id, "status": dom.status}


@event("decide", {
    **WID,
    "domain_id": ID,
    "rank": Field(int, min=1, max=1000),
    "rationale": Field(str, max_len=TEXT),
    "indicators": Field(list, required=False, max_items=20, item=Field(str, max_len=500)),
})
def on_decide(d):
    ws = current_facilitator_workshop(d["workshop_id"])
    pr = rules.decide(ws, d["domain_id"], d["rank"], d["rationale"], d.get("indicators"))
    wid = ws.id
    after_commit(lambda: broadcast_state(wid))
    return {"domain_id": pr.domain_id, "rank": pr.rank}


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
    after_commit(lambda: emit_results(wid))
    return {"shown": ws.results_shown}
