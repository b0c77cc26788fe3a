"""Token buckets that slow down join-code guessing (Socket.IO `join` and the code pages).

A wrong code drains a bucket per connection and one per client address; when either is empty,
joins without a valid token are refused (rate_limited, HTTP 429) until it refills, whatever the
code, so a refusal never tells a right code from a wrong one. Only wrong codes cost anything:
a venue full of phones behind one address joins freely. The state lives in the process (one
`edp run`); with several processes each keeps its own buckets (see docs/operations.md).
"""
from __future__ import annotations

import time

from flask import Flask, current_app, request


class Buckets:
    """Named token buckets (`burst` tokens, refilled at `rate` a second), forgetting idle ones."""

    def __init__(self, burst: float, rate: float, max_keys: int = 50_000):
        self.burst, self.rate, self.max_keys = float(burst), float(rate), max_keys
        self._state: dict[str, tuple[float, float]] = {}

    def _level(self, key: str, now: float) -> float:
        tokens, at = self._state.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - at) * self.rate)

    def has(self, key: str) -> bool:
        """At least one token left (nothing is taken)."""
        return self.burst <= 0 or self._level(key, time.monotonic()) >= 1

    def take(self, key: str) -> None:
        if self.burst <= 0:
            return
        now = time.monotonic()
        if key not in self._state and len(self._state) >= self.max_keys:
            self._forget(now)
        self._state[key] = (max(0.0, self._level(key, now) - 1), now)

    def _forget(self, now: float) -> None:
        full = self.burst / self.rate if self.rate > 0 else float("inf")
        for key in [k for k, (_t, at) in self._state.items() if now - at > full]:
            del self._state[key]
        if len(self._state) >= self.max_keys:  # still full: drop the oldest half
            for key in sorted(self._state, key=lambda k: self._state[k][1])[: self.max_keys // 2]:
                del self._state[key]


class JoinGuard:
    """Per connection and per address buckets for wrong join codes."""

    def __init__(self, app: Flask):
        c = app.config
        self.connections = Buckets(c["JOIN_GUESS_BURST"], c["JOIN_GUESS_PER_SECOND"])
        self.addresses = Buckets(c["JOIN_GUESS_ADDRESS_BURST"], c["JOIN_GUESS_ADDRESS_PER_SECOND"])

    def allowed(self, connection: str | None, address: str | None) -> bool:
        return ((connection is None or self.connections.has(connection))
                and (address is None or self.addresses.has(address)))

    def wrong_code(self, connection: str | None, address: str | None) -> None:
        if connection is not None:
            self.connections.take(connection)
        if address is not None:
            self.addresses.take(address)


def join_guard() -> JoinGuard:
    app = current_app._get_current_object()
    guard = app.extensions.get("edp_join_guard")
    if guard is None:
        guard = app.extensions["edp_join_guard"] = JoinGuard(app)
    return guard


def client_address() -> str:
    """The peer address (behind a proxy: the proxy's, so the address bucket is shared)."""
    return request.remote_addr or "unknown"
