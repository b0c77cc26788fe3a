"""Facilitator accounts: the password policy, log-in throttling and ending sessions.

Throttling counts failed log-ins only, in moving windows (the `limits` library): per client
address over every e-mail (guessing many accounts from one place), and per e-mail from one
client address (guessing one account). A guesser elsewhere never locks the account for its
owner. Counts live in the process, or in Redis when EDP_MESSAGE_QUEUE is a redis:// URL so that
every process behind the balancer shares them.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from contextlib import suppress

import limits
import limits.storage
import limits.strategies
import sqlalchemy as sa
from flask import Flask, current_app
from flask_babel import gettext as _

from .extensions import bound, db, socketio
from .limits import shared_store_uri
from .models import Facilitator, Workshop

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- password policy


def password_problem(password: str, email: str = "") -> str | None:
    """Why this password is refused (a translated sentence), or None when it is acceptable."""
    least = int(current_app.config.get("PASSWORD_MIN_LENGTH", 10))
    if len(password) < least:
        return _("The password must have at least %(count)d characters.", count=least)
    if len(password) > 200:
        return _("The password must have at most %(count)d characters.", count=200)
    if email and password.strip().lower() == email.strip().lower():
        return _("The password must not be the e-mail address.")
    if len(set(password)) == 1:
        return _("The password must not repeat one character.")
    return None


def end_sessions(user: Facilitator) -> Callable[[], None]:
    """Every session of this facilitator stops working, the caller's included. The caller
    commits, then calls what this returns: their open consoles get `session_ended` and leave
    the facilitator's rooms (no more broadcasts); events from them are refused with
    `forbidden` anyway, since sockets check the session on every event."""
    user.end_sessions()
    ids = db.session.scalars(sa.select(Workshop.id).where(Workshop.facilitator_id == user.id))
    rooms = [f"f{wid}" for wid in ids]

    def close() -> None:
        for room in rooms:
            with suppress(Exception):  # best effort: the per-event check is the guarantee
                socketio.emit("session_ended", {}, to=room)
                socketio.close_room(room)

    # Called after the commit that makes the new token count. A command line without a
    # message queue reaches no server process: there the per-event check alone applies.
    return close


# ---------------------------------------------------------------- log-in throttling


class LoginGuard:
    def __init__(self, app: Flask):
        c = app.config
        uri = shared_store_uri(c)
        self.prefix = f"{c.get('MESSAGE_QUEUE_CHANNEL', 'edp-live')}:login"
        self.memory = limits.strategies.MovingWindowRateLimiter(limits.storage.MemoryStorage())
        self.shared = (None if uri is None else limits.strategies.MovingWindowRateLimiter(
            limits.storage.storage_from_string(uri, socket_timeout=2, socket_connect_timeout=2)))
        self.per_client = limits.parse(c["LOGIN_CLIENT_LIMIT"])
        self.per_account = limits.parse(c["LOGIN_ACCOUNT_LIMIT"])

    def _keys(self, email: str, client: str):
        account = hashlib.sha256(email.encode()).hexdigest()[:32]
        return ((self.per_client, (self.prefix, "client", client)),
                (self.per_account, (self.prefix, "account", account, client)))

    def _run(self, method: str, *args):
        """On the shared store when there is one; if Redis is down, on this process's."""
        if self.shared is not None:
            try:
                return getattr(self.shared, method)(*args)
            except Exception as exc:  # noqa: BLE001  (Redis unreachable: count locally)
                log.warning("log-in limits: Redis unreachable (%s); counting in this process", exc)
        return getattr(self.memory, method)(*args)

    def allowed(self, email: str, client: str) -> bool:
        return all(self._run("test", item, *key) for item, key in self._keys(email, client))

    def failed(self, email: str, client: str) -> None:
        for item, key in self._keys(email, client):
            self._run("hit", item, *key)

    def succeeded(self, email: str, client: str) -> None:
        """The owner got in: their typos from this client are forgotten (not the client's
        count over every e-mail)."""
        item, key = self._keys(email, client)[1]
        self._run("clear", item, *key)


def login_guard() -> LoginGuard:
    return bound("edp_login_guard", LoginGuard)
