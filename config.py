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
    # Public address printed in join links and QR codes; empty = one of the machine's network
    # addresses when the server listens on the network, else the request's (docs/venue.md).
    PUBLIC_URL = os.environ.get("EDP_PUBLIC_URL", "")
    # Where `edp run` listens ({"host", "port"}): set by the command itself, not the environment.
    # The join link and the Socket.IO origin check follow it (edp/network.py); None under other
    # servers (gunicorn), where the request's address is used.
    LISTEN = None
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
    # Results broadcasts are coalesced: at most one per workshop in this many seconds to the
    # console and the projector (throttled: a lone vote shows at once, a stream 5 times a second).
    RESULTS_INTERVAL = float(os.environ.get("EDP_RESULTS_INTERVAL", "0.2"))
    # Phones get the same results at most once in this many seconds: they show a ranking, not a
    # ticker, and at 3,000 phones each round of results is 3,000 messages.
    PHONE_RESULTS_INTERVAL = float(os.environ.get("EDP_PHONE_RESULTS_INTERVAL", "1.0"))
    # Phones are split into this many groups whose results go out one after another, spread
    # over PHONE_RESULTS_SPREAD seconds, so no single burst of messages holds up the acks.
    PHONE_SHARDS = int(os.environ.get("EDP_PHONE_SHARDS", "10"))
    PHONE_RESULTS_SPREAD = float(os.environ.get("EDP_PHONE_RESULTS_SPREAD", "0.3"))
    # `counts` (who joined, by helix) and `state` after a proposal or a comment: at most one
    # broadcast per workshop in this many seconds (the first at once, the last always sent).
    COUNTS_INTERVAL = float(os.environ.get("EDP_COUNTS_INTERVAL", "1.0"))
    STATE_INTERVAL = float(os.environ.get("EDP_STATE_INTERVAL", "0.5"))
    # Database connection pool per process. Under gevent a greenlet waiting on PostgreSQL holds
    # its connection, so a busy process needs more than SQLAlchemy's default 5 + 10 (30 s
    # timeout); keep PostgreSQL's max_connections above (size + overflow) x processes.
    # Freeze the objects alive at start-up and at each phase change out of the garbage
    # collector's reach (`gc.freeze`): at 3,000 phones full collections otherwise stop every
    # connection for 0.3 s every few seconds. EDP_GC_FREEZE=0 turns it off.
    GC_FREEZE = os.environ.get("EDP_GC_FREEZE", "1") != "0"
    DB_POOL = {
        "pool_size": int(os.environ.get("EDP_DB_POOL_SIZE", "10")),
        "max_overflow": int(os.environ.get("EDP_DB_POOL_OVERFLOW", "20")),
        "pool_timeout": float(os.environ.get("EDP_DB_POOL_TIMEOUT", "30")),
        "pool_pre_ping": True,
    }
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
