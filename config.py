"""Settings read from the environment (the names are part of the outside contract)."""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent


# The instance folder: the default SQLite database and the generated secret key live here.
INSTANCE_PATH = os.environ.get("EDP_INSTANCE_PATH") or str(ROOT / "instance")


def _default_db() -> str:
    instance = Path(INSTANCE_PATH)
    instance.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{instance / 'edp.sqlite3'}"


class Config:
    # Unset: a random key generated once and kept in the instance folder (`secret_key`, mode
    # 0600), shared by every process using that folder (edp/app.py `instance_secret`).
    SECRET_KEY = os.environ.get("EDP_SECRET_KEY") or None
    INSTANCE_PATH = INSTANCE_PATH
    # Log-in throttling (failed attempts only, moving windows in the `limits` notation): per
    # client address over all e-mails, and per e-mail from one client address (so guessing from
    # one place never locks the account for everyone else). Counts live in the process, or in
    # Redis when EDP_MESSAGE_QUEUE is a redis:// URL, so that several processes share them.
    LOGIN_CLIENT_LIMIT = os.environ.get("EDP_LOGIN_CLIENT_LIMIT", "20 per 10 minutes")
    LOGIN_ACCOUNT_LIMIT = os.environ.get("EDP_LOGIN_ACCOUNT_LIMIT", "5 per 5 minutes")
    PASSWORD_MIN_LENGTH = int(os.environ.get("EDP_PASSWORD_MIN_LENGTH", "10"))
    SQLALCHEMY_DATABASE_URI = os.environ.get("EDP_DATABASE_URL") or _default_db()
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    MESSAGE_QUEUE = os.environ.get("EDP_MESSAGE_QUEUE") or None
    # Pub/sub ignores Redis database numbers: deployments sharing one Redis need their own channel.
    MESSAGE_QUEUE_CHANNEL = os.environ.get("EDP_MESSAGE_QUEUE_CHANNEL", "edp-live")
    BABEL_DEFAULT_LOCALE = "en"
    # "text" (the default): warnings and errors as plain lines on stderr. "json": one JSON
    # object a line on stderr for log collectors, with a line per Socket.IO event (workshop,
    # event, outcome, latency_ms); see docs/operations.md, "Logs".
    LOG_FORMAT = os.environ.get("EDP_LOG_FORMAT", "text").strip().lower()
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
    # Group commit of votes: the first vote of a batch waits this many seconds for others to
    # join its transaction (0: only those already read). Each is still acked after the commit:
    # 10 ms cost a lone vote nothing visible; a burst needs a quarter of the transactions.
    GROUP_COMMIT_WAIT = float(os.environ.get("EDP_GROUP_COMMIT_WAIT", "0.01"))
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
    # Floods (docs/operations.md, "Limits on comments, proposals and joins"). Caps per
    # participant and per workshop (a template may lower them under [limits]); refused with
    # too_many. Rates are moving windows ("N per S seconds", the `limits` library's notation)
    # keyed by participant id, never by address; refused with rate_limited and retry_after.
    COMMENTS_PER_PARTICIPANT = int(os.environ.get("EDP_COMMENTS_PER_PARTICIPANT", "30"))
    COMMENTS_PER_WORKSHOP = int(os.environ.get("EDP_COMMENTS_PER_WORKSHOP", "3000"))
    PROPOSALS_PER_PARTICIPANT = int(os.environ.get("EDP_PROPOSALS_PER_PARTICIPANT", "10"))
    PROPOSALS_PER_WORKSHOP = int(os.environ.get("EDP_PROPOSALS_PER_WORKSHOP", "300"))
    STATEMENTS_PER_PARTICIPANT = int(os.environ.get("EDP_STATEMENTS_PER_PARTICIPANT", "5"))
    STATEMENTS_PER_WORKSHOP = int(os.environ.get("EDP_STATEMENTS_PER_WORKSHOP", "300"))
    SWOT_PER_PARTICIPANT = int(os.environ.get("EDP_SWOT_PER_PARTICIPANT", "40"))
    SWOT_PER_WORKSHOP = int(os.environ.get("EDP_SWOT_PER_WORKSHOP", "3000"))
    # A burst of 5 comments, then one every 2 s; proposals: 3, then one every 10 s.
    COMMENT_RATE = os.environ.get("EDP_COMMENT_RATE", "5 per 10 seconds")
    PROPOSAL_RATE = os.environ.get("EDP_PROPOSAL_RATE", "3 per 30 seconds")
    STATEMENT_RATE = os.environ.get("EDP_STATEMENT_RATE", "3 per 30 seconds")
    SWOT_RATE = os.environ.get("EDP_SWOT_RATE", "5 per 10 seconds")
    # New participants per workshop (rejoins with a token are never counted) and the cap on a
    # workshop's participants; each connection creates at most one participant.
    JOIN_RATE = os.environ.get("EDP_JOIN_RATE", "60 per 10 seconds")
    PARTICIPANTS_PER_WORKSHOP = int(os.environ.get("EDP_PARTICIPANTS_PER_WORKSHOP", "5000"))
    # Join acks, the projector's `watch` and the console's `facilitate` carry only the newest
    # this many comments (plus per-domain counts); `comments` pages through the rest.
    STATE_COMMENTS = int(os.environ.get("EDP_STATE_COMMENTS", "50"))
    # ...and at most this many characters of comment text (10 long comments), so a join ack
    # stays near 60 KB even when every comment is 5,000 characters; 0 = no bound.
    STATE_COMMENTS_CHARS = int(os.environ.get("EDP_STATE_COMMENTS_CHARS", "50000"))
    COMMENTS_PAGE = int(os.environ.get("EDP_COMMENTS_PAGE", "50"))
    # SQLite's `synchronous` in WAL mode: NORMAL survives a killed process (kill -9, a crash of
    # the app); FULL also survives a power cut or an OS crash, at one fsync per commit (measured
    # 0.02 ms vs 0.4 ms a commit here; far more on slow disks, and gevent waits meanwhile).
    SQLITE_SYNCHRONOUS = os.environ.get("EDP_SQLITE_SYNCHRONOUS", "NORMAL").upper()
    # A database locked by another process (a backup, a stray `sqlite3` shell): while serving,
    # SQLite's own wait (which stalls every connection of the process) lasts SQLITE_BUSY_MS;
    # a Socket.IO action then retries without stalling anyone for up to DB_BUSY_TIMEOUT
    # seconds and answers `busy`; a page answers 503 at once.
    SQLITE_BUSY_MS = int(os.environ.get("EDP_SQLITE_BUSY_MS", "50"))
    DB_BUSY_TIMEOUT = float(os.environ.get("EDP_DB_BUSY_TIMEOUT", "5"))
    # Slow-loris: a connection must send its request line and headers within this many seconds
    # (also how long an idle keep-alive connection is kept); 0 turns it off. `edp run` only;
    # behind nginx, client_header_timeout does the same (docs/deployment.md).
    HEADER_TIMEOUT = float(os.environ.get("EDP_HEADER_TIMEOUT", "10"))
    # WebSocket compression (permessage-deflate), which every browser offers. Off unless
    # EDP_WS_COMPRESSION=1: the server then keeps a compressor per phone and compresses every
    # message for each phone separately; at a 2,000-phone vote burst that tripled the CPU per
    # vote and doubled the memory (docs/performance.md, issue 19). Turn it on where the venue's
    # bandwidth, not the server, is the limit (messages shrink to about a quarter).
    WS_COMPRESSION = os.environ.get("EDP_WS_COMPRESSION", "") == "1"
    # Seconds between the checks that re-send a workshop's state to this process's clients when
    # a change made on another process did not reach them (a Redis outage); 0 = off.
    RESYNC_INTERVAL = float(os.environ.get("EDP_RESYNC_INTERVAL", "3"))
    # Heavy work (exports, record imports, pairing comparisons) runs in worker processes, off
    # the event loop that serves the phones (edp/jobs.py, docs/operations.md "Heavy work"):
    # at most HEAVY_WORKERS at once per server process (0 = in the request itself); a request
    # finding them all busy waits HEAVY_WAIT seconds, then gets 503 "busy, try again"; a job
    # is stopped after HEAVY_TIMEOUT seconds.
    HEAVY_WORKERS = int(os.environ.get("EDP_HEAVY_WORKERS", "2"))
    HEAVY_WAIT = float(os.environ.get("EDP_HEAVY_WAIT", "10"))
    HEAVY_TIMEOUT = float(os.environ.get("EDP_HEAVY_TIMEOUT", "600"))
    # Uploaded records (the partner-region import): at most this many MB, and at most so many
    # events, participants, domains and comments (413 naming the limit).
    RECORD_MAX_MB = int(os.environ.get("EDP_RECORD_MAX_MB", "50"))
    RECORD_MAX_EVENTS = int(os.environ.get("EDP_RECORD_MAX_EVENTS", "300000"))
    RECORD_MAX_PARTICIPANTS = int(os.environ.get("EDP_RECORD_MAX_PARTICIPANTS", "10000"))
    RECORD_MAX_DOMAINS = int(os.environ.get("EDP_RECORD_MAX_DOMAINS", "5000"))
    RECORD_MAX_COMMENTS = int(os.environ.get("EDP_RECORD_MAX_COMMENTS", "100000"))
    # Any request body (forms, uploads): the largest record plus its form. Socket.IO messages
    # have their own bound (MAX_MESSAGE_BYTES).
    MAX_CONTENT_LENGTH = (RECORD_MAX_MB + 1) * 1024 * 1024
