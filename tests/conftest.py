"""Shared fixtures: an app on a real database, Socket.IO test clients per role, a live server.

Under CI=true a missing real component (PostgreSQL, Redis, Chromium) fails the test that needs
it; on a person's machine those tests skip with a reason.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings as hypothesis_settings

# CI draws the same examples every run (a stop must not fail on a new random draw); a run on a
# person's machine keeps exploring new ones.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI") == "true":
    hypothesis_settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Each pytest session gets its own PostgreSQL database, so that runs at once never collide.
_PG_ADMIN_URL = os.environ.get(
    "EDP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
_PG_DB = f"edp_test_{os.getpid()}"
POSTGRES_URL = _PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + _PG_DB
_pg_created: bool | None = None
REDIS_URL = os.environ.get("EDP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
TEMPLATE = ROOT / "workshops" / "01-s3-priority-setting.toml"
AGRI_TEMPLATE = ROOT / "workshops" / "02-agrifood-focus-group.toml"
PASSWORD = "correct horse battery"


def missing(what: str, how: str):
    """Fail under CI (nothing real may skip there), skip elsewhere."""
    message = f"{what} is not available: {how}"
    if CI:
        pytest.fail(message)
    pytest.skip(reason=message)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def postgres_available() -> bool:
    """Creates this session's database on first use (and drops ones left by dead sessions)."""
    global _pg_created
    if _pg_created is None:
        try:
            engine = sa.create_engine(_PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                names = conn.execute(
                    sa.text("SELECT datname FROM pg_database WHERE datname LIKE 'edp_test_%'")
                ).scalars()
                for name in list(names):
                    pid = name.rsplit("_", 1)[-1]
                    if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
                        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{_PG_DB}" WITH (FORCE)'))
                conn.execute(sa.text(f'CREATE DATABASE "{_PG_DB}"'))
            engine.dispose()
            _pg_created = True
        except Exception:
            _pg_created = False
    return _pg_created


def pytest_sessionfinish(session, exitstatus):
    if _pg_created:
        try:
            engine = sa.create_engine(_PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with engine.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{_PG_DB}" WITH (FORCE)'))
            engine.dispose()
        except Exception:
            pass


def reset_postgres(url: str) -> None:
    """A fresh schema per test: drop everything in `public`."""
    postgres_available()
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def redis_available() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except Exception:
        return False


def chromium_path() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium") or ""):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


# ---------------------------------------------------------------- in-process app


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    if not postgres_available():
        missing("PostgreSQL", f"start it at {POSTGRES_URL}")
    reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'test.sqlite3'}"


def make_app(url: str, **extra):
    from edp import create_app
    from edp.extensions import db

    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "test",
            # In-process tests see every broadcast at once; the throttles are exercised
            # against real servers (test_server.py).
            "RESULTS_INTERVAL": 0,
            "PHONE_RESULTS_INTERVAL": 0,
            "COUNTS_INTERVAL": 0,
            "STATE_INTERVAL": 0,
            "GC_FREEZE": False,
            "RATE_BURST": 100_000,
            # The flood limits (per-workshop joins, comment and proposal rates) are exercised
            # against real servers (test_floods.py); "" = no limit.
            "JOIN_RATE": "",
            "COMMENT_RATE": "",
            "PROPOSAL_RATE": "",
            "STATEMENT_RATE": "",
            "SWOT_RATE": "",
            "PUBLIC_URL": "http://edp.test",
            "SERVER_NAME": None,
            **extra,
        }
    )
    with app.app_context():
        db.create_all()
    return app


@pytest.fixture
def app(db_url):
    from edp.extensions import db

    app = make_app(db_url)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "the form has no CSRF token"
    return match.group(1)


class World:
    """Creates facilitators, workshops, phones and projectors against one app."""

    def __init__(self, app):
        self.app = app

    def facilitator(self, email: str = "fac@example.org"):
        from edp.extensions import db
        from edp.models import Facilitator

        with self.app.app_context():
            user = Facilitator(email=email)
            user.set_password(PASSWORD)
            db.session.add(user)
            db.session.commit()
        return email

    def workshop(self, email: str = "fac@example.org", template: Path = TEMPLATE, **kw):
        """Returns {"id", "code"}; template keys can be overridden with keyword arguments."""
        from edp import workshop as rules
        from edp.extensions import db
        from edp.models import Facilitator

        with self.app.app_context():
            user = db.session.scalar(sa.select(Facilitator).where(Facilitator.email == email))
            data = rules.load_template(template)
            method = kw.pop("method", None)
            data.update(kw)
            ws = rules.create_workshop(data, user, method=method)
            db.session.commit()
            return {"id": ws.id, "code": ws.code}

    def login(self, email: str = "fac@example.org"):
        """A Flask test client holding the facilitator's session cookie."""
        http = self.app.test_client()
        page = http.get("/login")
        response = http.post(
            "/login",
            data={"email": email, "password": PASSWORD, "csrf_token": csrf_token(page.text)},
        )
        assert response.status_code == 302, response.text
        return http

    def console(self, workshop_id: int, email: str = "fac@example.org"):
        """A facilitator's Socket.IO client, subscribed to the workshop."""
        from edp.extensions import socketio

        http = self.login(email)
        sio = socketio.test_client(self.app, flask_test_client=http)
        ack = sio.emit("facilitate", {"workshop_id": workshop_id}, callback=True)
        assert ack["ok"], ack
        return Client(sio, workshop_id=workshop_id)

    def phone(self, code: str | None = None, helix: str = "business", **kw):
        """A participant's Socket.IO client; joined when a code is given."""
        from edp.extensions import socketio

        sio = socketio.test_client(self.app)
        client = Client(sio)
        if code:
            ack = client.emit("join", {"code": code, "helix": helix, **kw})
            assert ack["ok"], ack
            client.token = ack["token"]
            client.participant_id = ack["participant_id"]
            client.joined = ack
        return client

    def projector(self, code: str):
        from edp.extensions import socketio

        sio = socketio.test_client(self.app)
        client = Client(sio)
        ack = client.emit("watch", {"code": code})
        assert ack["ok"], ack
        return client


class Client:
    def __init__(self, sio, workshop_id: int | None = None):
        self.sio = sio
        self.workshop_id = workshop_id
        self.token = None
        self.participant_id = None

    def emit(self, event: str, payload=None):
        return self.sio.emit(event, payload, callback=True)

    def act(self, event: str, **payload):
        """A facilitator event on this client's workshop."""
        return self.emit(event, {"workshop_id": self.workshop_id, **payload})

    def received(self, name: str | None = None) -> list:
        """Events received since the last call (optionally only those named)."""
        got = self.sio.get_received()
        return [m["args"][0] for m in got if name is None or m["name"] == name]


@pytest.fixture
def world(app):
    return World(app)


# ---------------------------------------------------------------- a real server process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def edp_cli(*args: str, env: dict) -> str:
    out = subprocess.run(
        [str(BIN / "edp"), *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


class LiveServer:
    """`edp run` in a subprocess on a free loopback port, with its own database."""

    def __init__(self, db_url: str, message_queue: str | None = None, log_dir: Path | None = None):
        self.db_url = db_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "EDP_DATABASE_URL": db_url,
            "EDP_SECRET_KEY": "live-test",
            "EDP_PASSWORD": PASSWORD,
            "EDP_PUBLIC_URL": self.url,
        }
        if message_queue:
            self.env["EDP_MESSAGE_QUEUE"] = message_queue
            self.env["EDP_MESSAGE_QUEUE_CHANNEL"] = os.environ.get(
                "EDP_TEST_CHANNEL", f"edp-test-{os.getpid()}"
            )
        self.log_path = (log_dir or Path("/tmp")) / f"edp-server-{self.port}-{uuid.uuid4().hex[:6]}.log"
        self.proc = None

    def start(self) -> LiveServer:
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(BIN / "edp"), "run", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if json.load(r)["ok"]:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not answer /healthz in 30 s")

    def kill(self) -> None:
        """kill -9: no chance to flush anything."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if getattr(self, "log", None):
            self.log.close()

    def cli(self, *args: str) -> str:
        return edp_cli(*args, env=self.env)

    def seed(self, template: Path = TEMPLATE, method: str | None = None,
             email: str = "fac@example.org") -> dict:
        """A facilitator and a workshop created through the command line."""
        self.cli("init-db")
        self.cli("facilitator", "add", email)
        args = ["workshop", "create", "--template", str(template), "--facilitator", email]
        if method:
            args += ["--method", method]
        return json.loads(self.cli(*args).strip().splitlines()[-1])


@pytest.fixture
def live_server(tmp_path):
    server = LiveServer(f"sqlite:///{tmp_path / 'live.sqlite3'}", log_dir=tmp_path)
    server.cli("init-db")
    yield server
    server.stop()


def login_cookie(base_url: str, email: str = "fac@example.org") -> str:
    """Log in over real HTTP; returns the Cookie header value for Socket.IO clients."""
    import http.cookiejar

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base_url + "/login").read().decode()
    data = urllib.parse.urlencode(
        {"email": email, "password": PASSWORD, "csrf_token": csrf_token(page)}
    ).encode()
    opener.open(base_url + "/login", data=data)
    cookies = "; ".join(f"{c.name}={c.value}" for c in jar)
    assert "session=" in cookies, "log-in did not set the session cookie"
    return cookies


import urllib.parse  # noqa: E402  (used by login_cookie)
