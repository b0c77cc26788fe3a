"""The application factory."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, g, request, session
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine

from config import Config

from .extensions import babel, csrf, db, login_manager, migrate, socketio

ROOT = Path(__file__).resolve().parent.parent


def select_locale() -> str:
    """Participant's chosen language, then the page's workshop language, then the browser."""
    languages = ["en", "es", "pt"]
    chosen = getattr(g, "locale", None) or request.args.get("lang") or session.get("lang")
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or "en"


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.config.from_object(Config)
    if test_config:
        app.config.update(test_config)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"

    from . import models  # noqa: F401  (registers the tables)

    @login_manager.user_loader
    def load_user(user_id: str):
        return db.session.get(models.Facilitator, int(user_id))

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _tune_sqlite()

    from .views import register

    register(app)

    from . import sockets  # noqa: F401  (registers the handlers)

    socketio.init_app(
        app,
        message_queue=app.config.get("MESSAGE_QUEUE"),
        channel=app.config["MESSAGE_QUEUE_CHANNEL"],
        max_http_buffer_size=app.config["MAX_MESSAGE_BYTES"],
        cors_allowed_origins=app.config.get("CORS_ORIGINS"),
        logger=False,
        engineio_logger=False,
        ping_interval=20,
        ping_timeout=25,
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    return app


_sqlite_tuned = False


def _tune_sqlite() -> None:
    """WAL, a busy timeout and immediate transactions: concurrent writers wait, never fail."""
    global _sqlite_tuned
    if _sqlite_tuned:
        return
    _sqlite_tuned = True

    @sa_event.listens_for(Engine, "connect")
    def _on_connect(dbapi_connection, connection_record):  # pragma: no cover - wiring
        if type(dbapi_connection).__module__.startswith("sqlite3"):
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

    @sa_event.listens_for(Engine, "begin")
    def _on_begin(conn):  # pragma: no cover - wiring
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
