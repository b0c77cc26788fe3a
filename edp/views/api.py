"""Public JSON for join pages, and the health check."""
import logging

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import IntegrityError

from .. import workshop as rules
from ..extensions import bound, csrf, db
from ..models import Health, utcnow

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__)


@bp.get("/api/workshops/<code>")
@csrf.exempt
def workshop_info(code: str):
    try:
        ws = rules.workshop_by_code(code)
    except rules.EDPError as exc:
        return jsonify({"error": {"code": exc.code, "message": str(exc.message)}}), 404
    return jsonify(
        {
            "code": ws.code,
            "title": ws.title,
            "region": ws.region,
            "phase": ws.phase,
            "method": ws.method,
            "language": ws.language,
            "budget": ws.budget,
            "helices": [{"key": h["key"], "label": h["label"]} for h in ws.helices],
            "criteria": [
                {"key": c["key"], "label": c["label"], "weight": c["weight"]} for c in ws.criteria
            ],
        }
    )


@bp.get("/healthz")
def healthz():
    """200 when the database answers AND takes a write (one row updated and committed: a full
    disk or a read-only database fails here, as every vote would) AND, with a Redis message
    queue, Redis answers a ping; 503 with the reason else."""
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001  (any failure is the answer)
        db.session.rollback()
        return _unhealthy("database_unreachable", exc)
    try:
        now = utcnow()
        done = db.session.execute(sa.update(Health).where(Health.id == 1).values(checked_at=now))
        if not done.rowcount:  # a schema made without the migration (create_all)
            db.session.add(Health(id=1, checked_at=now))
        db.session.commit()
    except IntegrityError:  # another process inserted the row first: it was writable
        db.session.rollback()
    except Exception as exc:  # noqa: BLE001
        db.session.rollback()
        return _unhealthy("database_not_writable", exc)
    queue = _redis_queue()
    if queue is None:
        return jsonify({"ok": True})
    try:
        queue.ping()
    except Exception as exc:  # noqa: BLE001  (any failure is the answer)
        return _unhealthy("message_queue_unreachable", exc)
    return jsonify({"ok": True, "database": "ok", "message_queue": "ok"})


def _redis_queue():
    """The Redis client for EDP_MESSAGE_QUEUE when it is a redis:// URL, else None. Broadcasts
    between processes go through it: a process that cannot reach it serves phones that miss
    what the others' phones do. One attempt, 1 s at most, so the check itself stays fast."""
    url = current_app.config.get("MESSAGE_QUEUE") or ""
    if not url.startswith(("redis://", "rediss://")):
        return None

    def make(_app):  # one client (and its connection pool) per app, reused by every check
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1,
                                    retry=Retry(NoBackoff(), 0))

    return bound("edp_health_redis", make)


def _unhealthy(reason: str, exc: Exception):
    log.warning("/healthz: %s: %s", reason, exc)
    # The kind of error, not its text (which may name files and hosts).
    return jsonify({"ok": False, "reason": reason, "error": type(exc).__name__}), 503
