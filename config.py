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
    SESSION_COOKIE_SECURE = os.environ.get("EDP_SECURE_COOKIES", "") == "1"
    WTF_CSRF_TIME_LIMIT = None
    # Results broadcasts are coalesced: at most one per workshop in this many seconds.
    RESULTS_INTERVAL = float(os.environ.get("EDP_RESULTS_INTERVAL", "0.2"))
    # Per-participant rate limit for Socket.IO events: RATE_BURST events, refilled at RATE_PER_SECOND.
    RATE_BURST = int(os.environ.get("EDP_RATE_BURST", "30"))
    RATE_PER_SECOND = float(os.environ.get("EDP_RATE_PER_SECOND", "10"))
    MAX_MESSAGE_BYTES = 1_000_000
