"""The application factory."""
from __future__ import annotations

import hmac
import logging
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, g, request, session
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Config

from . import assets, logs
from .extensions import babel, csrf, db, login_manager, migrate, socketio
from .i18n import DEFAULT_LANGUAGE, LANGUAGES
from .validation import WirePacket

ROOT = Path(__file__).resolve().parent.parent


def select_locale() -> str:
    """Participant's chosen language, then the page's workshop language, then the browser."""
    chosen = getattr(g, "locale", None) or request.args.get("lang") or session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def create_app(test_config: dict | None = None) -> Flask:
    app = assets.VersionedStaticFlask(
        __name__,
        template_folder=str(ROOT / "templates"),
        # STATIC_FOLDER: tests serve a copy of static/ to see its version change.
        static_folder=str((test_config or {}).get("STATIC_FOLDER") or ROOT / "static"),
        instance_path=str((test_config or {}).get("INSTANCE_PATH") or Config.INSTANCE_PATH),
    )
    app.config.from_object(Config)
    if test_config:
        app.config.update(test_config)
    logs.configure(app)
    assets.register(app)
    if not app.config.get("SECRET_KEY") or app.config["SECRET_KEY"] == RETIRED_SECRET:
        # Never a key written in the source code: anyone could sign a facilitator's cookie.
        app.config["SECRET_KEY"] = instance_secret(Path(app.instance_path))
    if not str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        # SQLite's driver never yields to gevent, so its default pool never runs dry.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            **app.config.get("DB_POOL", {}), **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})}

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"

    from . import models  # registers the tables

    @login_manager.user_loader
    def load_user(user_id: str):
        """`<id>:<session token>`: a session whose token is no longer the facilitator's
        (logged out, password changed) or that has none (forged, or from before) is nobody's."""
        fid, _sep, token = str(user_id).partition(":")
        user = db.session.get(models.Facilitator, int(fid)) if fid.isdigit() else None
        if user is None or not token or not user.session_token:
            return None
        return user if hmac.compare_digest(user.session_token, token) else None

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _tune_sqlite(app.config.get("SQLITE_SYNCHRONOUS", "NORMAL"))

    from .views import register

    register(app)

    from . import sockets  # noqa: F401  (registers the handlers)
    from .rooms import client_manager

    # The extension object outlives an app and would keep the previous app's message queue:
    # each app gets the queue its own config names (none, or EDP_MESSAGE_QUEUE's).
    for stale in ("client_manager", "message_queue", "channel"):
        socketio.server_options.pop(stale, None)
    # A manager that knows each client's rooms (edp/rooms.py): a disconnect leaves them
    # without walking every phone's room. Other queue URLs: Flask-SocketIO's own choice.
    manager = client_manager(app.config.get("MESSAGE_QUEUE"), app.config["MESSAGE_QUEUE_CHANNEL"])
    queue = {"client_manager": manager} if manager is not None else {
        "message_queue": app.config.get("MESSAGE_QUEUE"),
        "channel": app.config["MESSAGE_QUEUE_CHANNEL"]}
    socketio.init_app(
        app,
        **queue,
        max_http_buffer_size=app.config["MAX_MESSAGE_BYTES"],
        cors_allowed_origins=origin_check(app),
        # Frames that are not readable JSON become a bad_payload ack, never a transport error.
        serializer=WirePacket,
        logger=False,
        engineio_logger=False,
        ping_interval=20,
        ping_timeout=25,
    )
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops > 0:
        # Outermost, so that Engine.IO (origin check, Socket.IO's request.remote_addr) and
        # Flask both see the address and scheme the browser used.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    return app


# The key earlier versions used when EDP_SECRET_KEY was unset: public, so never used again.
RETIRED_SECRET = "dev-only-change-me"


def instance_secret(folder: Path) -> str:
    """The key kept in `<instance>/secret_key`, generated (mode 0600) on first use. Processes
    that start at once agree: the file appears whole (written aside, then hard-linked), and
    the first link wins."""
    path = folder / "secret_key"
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = ""
    if key:
        return key
    try:
        folder.mkdir(parents=True, exist_ok=True)
        aside = folder / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, (secrets.token_urlsafe(48) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(aside, path)
        except FileExistsError:
            pass  # another process was first: use its key
        finally:
            aside.unlink()
        key = path.read_text().strip()
    except OSError as exc:
        raise RuntimeError(
            f"EDP_SECRET_KEY is not set and no key could be kept in {path} ({exc}). "
            "Set EDP_SECRET_KEY to a long random string, or make the instance folder "
            "(EDP_INSTANCE_PATH) writable.") from exc
    if not key:
        raise RuntimeError(f"{path} is empty: delete it, or set EDP_SECRET_KEY")
    logging.getLogger(__name__).info("using the secret key kept in %s", path)
    return key


_sqlite_tuned = False
_sqlite_synchronous = "NORMAL"
# SQLite's own busy wait (ms). It blocks the whole process, every greenlet included, so the
# server (`serve_sqlite_busy`) keeps it short and retries cooperatively instead (sockets._run);
# command-line tools, which have nothing else to run, wait up to 10 s.
_sqlite_busy_ms = 10_000


# A worker process building an export (edp/jobs.py) only reads: its transactions begin
# deferred, so in WAL mode they never hold the write lock that the phones' votes need.
_sqlite_deferred = False


def sqlite_deferred(on: bool) -> None:
    global _sqlite_deferred
    _sqlite_deferred = bool(on)


def serve_sqlite_busy(ms: int) -> None:
    """The busy wait for connections opened from now on (`edp run` sets SQLITE_BUSY_MS)."""
    global _sqlite_busy_ms
    _sqlite_busy_ms = max(0, int(ms))


def _tune_sqlite(synchronous: str = "NORMAL") -> None:
    """WAL, a busy timeout and immediate transactions: concurrent writers wait, never fail."""
    global _sqlite_tuned, _sqlite_synchronous
    if synchronous in ("NORMAL", "FULL", "EXTRA"):
        _sqlite_synchronous = synchronous
    if _sqlite_tuned:
        return
    _sqlite_tuned = True

    @sa_event.listens_for(Engine, "connect")
    def _on_connect(dbapi_connection, connection_record):  # pragma: no cover - wiring
        if type(dbapi_connection).__module__.startswith("sqlite3"):
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={_sqlite_synchronous}")
            cur.execute(f"PRAGMA busy_timeout={int(_sqlite_busy_ms)}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    @sa_event.listens_for(Engine, "begin")
    def _on_begin(conn):  # pragma: no cover - wiring
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN" if _sqlite_deferred else "BEGIN IMMEDIATE")


# ---------------------------------------------------------------- Socket.IO origin check


def normal_origin(url: str | None) -> str | None:
    """`scheme://host[:port]` as browsers send it in Origin (lower case, default port left out)."""
    try:
        parts = urlsplit((url or "").strip())
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError:
        return None
    if scheme not in ("http", "https") or not host:
        return None
    host = f"[{host}]" if ":" in host else host
    if port is None or port == {"http": 80, "https": 443}[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def origin_check(app: Flask) -> Callable[[str | None, dict], bool]:
    """Which browser origins may open a Socket.IO connection (cross-site WebSocket hijacking
    would otherwise act with the facilitator's cookie). Clients that send no Origin header
    (command-line tools) are not browsers and are let through by Engine.IO.

    Accepted: EDP_PUBLIC_URL's origin and EDP_ALLOWED_ORIGINS; the request's own origin when no
    public URL is set; and always the server's own names on the port it serves: its network
    addresses and host name, and localhost / 127.0.0.1 / [::1] for browsers on this machine
    (a page opened on the laptop as http://localhost:5000 works whatever EDP_PUBLIC_URL says)."""
    listed = {normal_origin(x) for x in re.split(r"[\s,]+", app.config.get("ALLOWED_ORIGINS", ""))}
    public = normal_origin(app.config.get("PUBLIC_URL"))
    listed.add(public)
    listed.discard(None)
    fixed = frozenset(listed)

    def allowed(origin: str | None, environ: dict | None = None) -> bool:
        got = normal_origin(origin)
        if got is None:
            return False
        if got in fixed:
            return True
        environ = environ or {}
        if public is None and got in _same_origins(environ):
            return True
        return got in _own_origins(app, environ)

    return allowed


def _same_origins(environ: dict) -> set[str | None]:
    host = environ.get("HTTP_HOST", "")
    scheme = environ.get("wsgi.url_scheme", "http")
    same = {normal_origin(f"{scheme}://{host}")}
    if "HTTP_X_FORWARDED_HOST" in environ or "HTTP_X_FORWARDED_PROTO" in environ:
        # Behind a proxy that says which address the browser used.
        f_scheme = environ.get("HTTP_X_FORWARDED_PROTO", scheme).split(",")[0].strip()
        f_host = environ.get("HTTP_X_FORWARDED_HOST", host).split(",")[0].strip()
        same.add(normal_origin(f"{f_scheme}://{f_host}"))
    return same


def _own_origins(app: Flask, environ: dict) -> set[str | None]:
    """The origins of pages this very server serves: its names and addresses on its port.
    Loopback names only for a browser on this machine (another machine's localhost is not us)."""
    from . import network

    listen = app.config.get("LISTEN") or {}
    port = listen.get("port") or environ.get("SERVER_PORT")
    if not port:
        return set()
    scheme = environ.get("wsgi.url_scheme", "http")
    names = set(network.host_names())
    names.update(network.url_host(a) for a in network.network_addresses())
    host = str(listen.get("host") or "")
    if host and not network.is_wildcard(host) and not network.is_loopback(host):
        names.add(network.url_host(host.strip("[]")).lower())
    if network.is_loopback(environ.get("REMOTE_ADDR")):
        names.update({"localhost", "127.0.0.1", "[::1]"})
    return {normal_origin(f"{scheme}://{name}:{port}") for name in names}
