"""Settings read from the environment (the names are part of the outside contract)."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def _default_db() -> str:
    instance = ROOT / "instance"
    instance.mkdir(exist_ok=True)
    return f"sqlite:///{instance / 'edp.sqlite3'}"


class Config:
    SECRET_KEY = os.environ.get("EDP_SECRET_KEY", "dev-only-change-me")
    SQLALCHEMY_DATABASE_URI = os.environ.get("EDP_DATABASE_URL") or _default_db()
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    MESSAGE_QUEUE = os.environ.get("EDP_MESSAGE_QUEUE") or None
    # Pub/sub ignores Redis database numbers: deployments sharing one Redis need their own channel.
    MESSAGE_QUEUE_CHANNEL = os.environ.get("EDP_MESSAGE_QUEUE_CHANNEL", "edp-live")
    BABEL_DEFAULT_LOCALE = "en"
    LANGUAGES = ["en", "es", "pt"]
    # Public address printed in join links and QR codes; empty = taken from the request.
    PUBLIC_URL = os.environ.get("EDP_PUBLIC_URL", "")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    # Behind HTTPS set EDP_SECURE_COOKIES=1: the session and remember-me cookies then travel
    # over HTTPS only (and Flask builds https:// URLs).
    SESSION_COOKIE_SECURE = os.environ.get("EDP_SECURE_COOKIES", "") == "1"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    PREFERRED_URL_SCHEME = "https" if SESSION_COOKIE_SECURE else "http"
    # Socket.IO connections from a browser must come from these origins (the Origin header);
    # empty = EDP_PUBLIC_URL's origin when set, else the same origin as the request's Host.
    # Extra origins (e.g. a second host name) are separated by spaces or commas.
    ALLOWED_ORIGINS = os.environ.get("EDP_ALLOWED_ORIGINS", "")
    # Behind a reverse proxy: how many proxies to trust for X-Forwarded-For/-Proto/-Host
    # (0 = none). Client addresses (join-code guessing limits) then come from the header.
    PROXY_HOPS = int(os.environ.get("EDP_PROXY_HOPS", "0"))
    WTF_CSRF_TIME_LIMIT = None
    # Results broadcasts are coalesced: at most one per workshop in this many seconds.
    RESULTS_INTERVAL = float(os.environ.get("EDP_RESULTS_INTERVAL", "0.2"))
    # Per-participant rate limit for Socket.IO events: RATE_BURST events, refilled at RATE_PER_SECOND.
    RATE_BURST = int(os.environ.get("EDP_RATE_BURST", "30"))
    RATE_PER_SECOND = float(os.environ.get("EDP_RATE_PER_SECOND", "10"))
    MAX_MESSAGE_BYTES = 1_000_000
    # Join-code guessing: wrong codes (Socket.IO `join`, and 404s of /w/, /screen/ and
    # /api/workshops/) drain a bucket per connection and one per client address; an empty bucket
    # refuses joins with rate_limited (HTTP: 429). Rejoining with a token is never limited.
    JOIN_GUESS_BURST = int(os.environ.get("EDP_JOIN_GUESS_BURST", "10"))
    JOIN_GUESS_PER_SECOND = float(os.environ.get("EDP_JOIN_GUESS_PER_SECOND", "0.2"))
    JOIN_GUESS_ADDRESS_BURST = int(os.environ.get("EDP_JOIN_GUESS_ADDRESS_BURST", "60"))
    JOIN_GUESS_ADDRESS_PER_SECOND = float(
        os.environ.get("EDP_JOIN_GUESS_ADDRESS_PER_SECOND", "1"))
    # SQLite's `synchronous` in WAL mode: NORMAL survives a killed process (kill -9, a crash of
    # the app); FULL also survives a power cut or an OS crash, at one fsync per commit (measured
    # 0.02 ms vs 0.4 ms a commit here; far more on slow disks, and gevent waits meanwhile).
    SQLITE_SYNCHRONOUS = os.environ.get("EDP_SQLITE_SYNCHRONOUS", "NORMAL").upper()
