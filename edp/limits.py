"""Rate limits, on the `limits` library: sliding-window counters in Redis when EDP_MESSAGE_QUEUE
is a redis:// URL (every process behind the balancer counts in the same place, so N processes
do not make a limit N times looser), else in this process's memory. If Redis stops answering,
counting goes on in the process (a warning is logged) and Redis is tried again after a pause.

Join-code guessing: a wrong code counts against a window per connection and one per client
address; when either is full, joins without a valid token are refused (rate_limited, HTTP 429)
until it empties, whatever the code, so a refusal never tells a right code from a wrong one.
Only wrong codes count: a venue full of phones behind one address joins freely.

Floods: events per participant (per connection before joining), comments and proposals per
participant, new participants per workshop; all keyed by participant, connection or workshop,
never by address (a whole venue shares one).
"""
from __future__ import annotations

import logging
import math
import time

from flask import Flask, current_app, request
from limits import RateLimitItem, RateLimitItemPerSecond, parse
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from .extensions import bound

log = logging.getLogger(__name__)


def shared_store_uri(config) -> str | None:
    """The `limits` storage URI for the message queue's Redis, or None (memory)."""
    queue = str(config.get("MESSAGE_QUEUE") or "")
    if queue.startswith(("redis://", "rediss://")):
        return queue
    if queue.startswith("unix://"):
        return queue.replace("unix://", "redis+unix://", 1)
    return None


def window(burst: float, rate: float) -> RateLimitItem:
    """A token bucket's settings (`burst`, refilled at `rate` a second) as a window: `burst`
    hits per burst/rate seconds (the same sustained rate and the same burst)."""
    seconds = math.ceil(burst / rate) if rate > 0 else 10**9
    return RateLimitItemPerSecond(max(1, int(burst)), max(1, seconds))


class Counters(MemoryStorage):
    """The `limits` memory storage without its expiry thread after start-up.

    MemoryStorage starts a timer thread after a hit whenever none is running. Under gevent,
    starting a thread yields to other greenlets, and a handler that counts a hit inside its
    transaction (a comment, a join) would hold SQLite's write lock (BEGIN IMMEDIATE) meanwhile:
    under a flood every other write then found the database locked. Counts are read lazily
    (an expired counter reads 0), so the sweep only frees memory: done here in line, at most
    every SWEEP seconds (about 0.4 ms per 3,000 keys)."""

    SWEEP = 5.0

    def __init__(self):
        super().__init__()
        self._swept = time.monotonic()

    def _MemoryStorage__schedule_expiry(self) -> None:  # the base class's private hook
        now = time.monotonic()
        if now - self._swept >= self.SWEEP:
            self._swept = now
            self._MemoryStorage__expire_events()


class Limits:
    """One app's counters: a sliding-window-counter limiter (O(1) per key) over Redis when
    `uri` is given, else over this process's memory (whose expiry sweep stays cheap at
    thousands of keys). The memory limiter is also the fallback while Redis is unreachable."""

    RETRY_SHARED = 5.0  # seconds counting locally after a Redis failure before trying again

    def __init__(self, uri: str | None = None, prefix: str = "edp-live"):
        self.storage = Counters()
        self.local = SlidingWindowCounterRateLimiter(self.storage)
        self.shared = None
        if uri:
            self.shared = SlidingWindowCounterRateLimiter(storage_from_string(
                uri, key_prefix=f"{prefix}:limits", socket_timeout=1, socket_connect_timeout=1))
        self._shared_after = 0.0
        self._items: dict[str, RateLimitItem] = {}

    @property
    def limiter(self) -> SlidingWindowCounterRateLimiter:
        """Where counts go now: Redis, unless it failed in the last RETRY_SHARED seconds."""
        if self.shared is not None and time.monotonic() >= self._shared_after:
            return self.shared
        return self.local

    def _run(self, method: str, *args):
        limiter = self.limiter
        try:
            return getattr(limiter, method)(*args)
        except Exception as exc:  # noqa: BLE001  (Redis unreachable: count in the process)
            if limiter is self.local:
                raise
            self._shared_after = time.monotonic() + self.RETRY_SHARED
            log.warning("rate limits: Redis unreachable (%s); counting in this process for "
                        "%.0f s", exc, self.RETRY_SHARED)
            return getattr(self.local, method)(*args)

    def item(self, spec: str | RateLimitItem) -> RateLimitItem:
        if not isinstance(spec, str):
            return spec
        found = self._items.get(spec)
        if found is None:
            found = self._items[spec] = parse(spec)
        return found

    def test(self, spec: str | RateLimitItem, *keys: str) -> bool:
        return self._run("test", self.item(spec), *keys)

    def hit(self, spec: str | RateLimitItem, *keys: str) -> bool:
        return self._run("hit", self.item(spec), *keys)

    def retry_after(self, spec: str | RateLimitItem, *keys: str) -> int:
        """Whole seconds until `keys` may hit again (at least 1)."""
        stats = self._run("get_window_stats", self.item(spec), *keys)
        return max(1, math.ceil(stats.reset_time - time.time()))


def app_limits(app: Flask | None = None) -> Limits:
    def make(app: Flask) -> Limits:
        return Limits(shared_store_uri(app.config),
                      str(app.config.get("MESSAGE_QUEUE_CHANNEL") or "edp-live"))

    return bound("edp_limits", make, app)


def rate_ok(setting: str, *keys: str) -> tuple[bool, int]:
    """Count one hit of `config[setting]` (a rate such as "5 per 10 seconds"; empty = no
    limit) for `keys`; returns (allowed, seconds to wait when not)."""
    spec = current_app.config.get(setting)
    if not spec:
        return True, 0
    lim = app_limits()
    if lim.hit(spec, setting, *keys):
        return True, 0
    return False, lim.retry_after(spec, setting, *keys)


class Buckets:
    """Named limits of `burst` hits refilled at `rate` a second, forgetting idle ones."""

    def __init__(self, burst: float, rate: float, max_keys: int = 50_000,
                 limits: Limits | None = None, name: str = ""):
        self.burst, self.rate = float(burst), float(rate)
        self.limits, self.name = limits or Limits(), name or f"b{id(self)}"
        self.item = window(burst, rate)

    def has(self, key: str) -> bool:
        """Room for one more (nothing is counted)."""
        return self.burst <= 0 or self.limits.test(self.item, self.name, key)

    def take(self, key: str) -> None:
        if self.burst > 0:
            self.limits.hit(self.item, self.name, key)


class JoinGuard:
    """Per connection and per address buckets for wrong join codes."""

    def __init__(self, app: Flask):
        c, shared = app.config, app_limits(app)
        self.connections = Buckets(c["JOIN_GUESS_BURST"], c["JOIN_GUESS_PER_SECOND"],
                                   limits=shared, name="guess-connection")
        self.addresses = Buckets(c["JOIN_GUESS_ADDRESS_BURST"], c["JOIN_GUESS_ADDRESS_PER_SECOND"],
                                 limits=shared, name="guess-address")

    def allowed(self, connection: str | None, address: str | None) -> bool:
        return ((connection is None or self.connections.has(connection))
                and (address is None or self.addresses.has(address)))

    def wrong_code(self, connection: str | None, address: str | None) -> None:
        if connection is not None:
            self.connections.take(connection)
        if address is not None:
            self.addresses.take(address)


def join_guard() -> JoinGuard:
    return bound("edp_join_guard", JoinGuard)


def client_address() -> str:
    """The peer address (behind a proxy: the proxy's, so the address bucket is shared)."""
    return request.remote_addr or "unknown"
