"""Facilitator sessions and log-in, attacked through a real server (issue #14, items 1, 7, 8, 10).

No forgeable session without EDP_SECRET_KEY, sessions that end on log-out and password change
(open sockets included), log-in throttling per client and per account, the same hashing work
for unknown e-mails, a password policy, and a /healthz that proves the database takes writes.
"""
from __future__ import annotations

import stat
import subprocess
import time
from pathlib import Path

import pytest
import requests
from conftest import (
    BIN,
    PASSWORD,
    POSTGRES_URL,
    REDIS_URL,
    LiveServer,
    World,
    csrf_token,
    login_cookie,
    make_app,
    missing,
    postgres_available,
    redis_available,
    reset_postgres,
)
from test_server import Sock

pytestmark = pytest.mark.server

OLD_BUILT_IN_KEY = "dev-only-change-me"
NEW_PASSWORD = "a new and longer passphrase"


def forged_cookie(key: str, data: dict) -> str:
    """A Flask session cookie signed with `key`, as an attacker who knows the key makes it."""
    from flask import Flask
    from flask.sessions import SecureCookieSessionInterface

    forge = Flask("forge")
    forge.secret_key = key
    return SecureCookieSessionInterface().get_signing_serializer(forge).dumps(data)


def browser(url: str, email: str = "fac@example.org", password: str = PASSWORD,
            forwarded: str | None = None, language: str = "en") -> tuple[requests.Session, int]:
    """A requests session that tried to log in; returns it and the log-in's status."""
    http = requests.Session()
    http.headers["Accept-Language"] = language
    if forwarded:
        http.headers["X-Forwarded-For"] = forwarded
    token = csrf_token(http.get(url + "/login").text)
    http.csrf = token
    r = http.post(url + "/login", data={"email": email, "password": password,
                                        "csrf_token": token}, allow_redirects=False)
    return http, r.status_code


def opens(http: requests.Session | None, url: str, ws_id: int, cookies: dict | None = None):
    """Whether the console and the JSON export open with these cookies."""
    getter = http or requests
    console = getter.get(f"{url}/f/w/{ws_id}", cookies=cookies, allow_redirects=False)
    export = getter.get(f"{url}/f/w/{ws_id}/export.json", cookies=cookies, allow_redirects=False)
    return console.status_code == 200, export.status_code == 200


@pytest.fixture
def server(tmp_path):
    made: list[LiveServer] = []

    def start(**env) -> LiveServer:
        s = LiveServer(f"sqlite:///{tmp_path / 'live.sqlite3'}", log_dir=tmp_path)
        s.env.update({k: v for k, v in env.items() if v is not None})
        for k in [k for k, v in env.items() if v is None]:
            s.env.pop(k, None)
        made.append(s)
        return s

    yield start
    for s in made:
        s.stop()


# ---------------------------------------------------------------- 1. the secret key


def test_without_a_secret_key_no_session_can_be_forged_and_the_key_is_kept(server, tmp_path):
    instance = tmp_path / "instance"
    s = server(EDP_SECRET_KEY=None, EDP_INSTANCE_PATH=str(instance))
    ws = s.seed()
    s.start()
    key_file = instance / "secret_key"
    assert key_file.exists(), "no key was kept in the instance folder"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert len(key) >= 48 and key != OLD_BUILT_IN_KEY

    # The attack of issue #14: a cookie naming facilitator 1, signed with the old built-in key.
    for forged in ({"_user_id": "1", "_fresh": True}, {"_user_id": f"{ws['id']}"}):
        jar = {"session": forged_cookie(OLD_BUILT_IN_KEY, forged)}
        assert opens(None, s.url, ws["id"], jar) == (False, False)
        sock = Sock(s.url, cookie=f"session={jar['session']}")
        try:
            ack = sock.call("facilitate", {"workshop_id": ws["id"]})
            assert not ack["ok"] and ack["error"]["code"] == "forbidden"
        finally:
            sock.close()

    # The real facilitator logs in; the session outlives a restart (the key is reused).
    http, status = browser(s.url)
    assert status == 302
    assert opens(http, s.url, ws["id"]) == (True, True)
    s.stop()
    s.start()
    assert key_file.read_text().strip() == key
    assert opens(http, s.url, ws["id"]) == (True, True)


def test_the_secret_key_setting_still_wins(server, tmp_path):
    instance = tmp_path / "instance"
    s = server(EDP_SECRET_KEY="set-by-the-operator-" + "x" * 40, EDP_INSTANCE_PATH=str(instance))
    ws = s.seed()
    s.start()
    assert not (instance / "secret_key").exists()
    jar = {"session": forged_cookie(OLD_BUILT_IN_KEY, {"_user_id": "1"})}
    assert opens(None, s.url, ws["id"], jar) == (False, False)


# ---------------------------------------------------------------- 2. sessions end


def test_logging_out_ends_the_facilitators_other_sessions(server):
    s = server()
    ws = s.seed()
    s.start()
    laptop, _ = browser(s.url)
    tablet, _ = browser(s.url)
    saved = dict(tablet.cookies)  # a copy of the cookie taken before the log-out
    assert opens(laptop, s.url, ws["id"]) == (True, True)
    assert opens(tablet, s.url, ws["id"]) == (True, True)

    page = tablet.get(s.url + "/f/").text
    r = tablet.post(s.url + "/logout", data={"csrf_token": csrf_token(page)},
                    allow_redirects=False)
    assert r.status_code == 302

    assert opens(laptop, s.url, ws["id"]) == (False, False)
    assert opens(None, s.url, ws["id"], saved) == (False, False)
    again, status = browser(s.url)
    assert status == 302 and opens(again, s.url, ws["id"]) == (True, True)


def test_a_password_change_on_the_command_line_ends_open_sockets_and_cookies(server):
    s = server()
    ws = s.seed()
    s.start()
    cookie = login_cookie(s.url)
    console = Sock(s.url, cookie=cookie)
    try:
        assert console.call("facilitate", {"workshop_id": ws["id"]})["ok"]
        assert console.call("phase", {"workshop_id": ws["id"], "phase": "propose"})["ok"]

        out = subprocess.run([str(BIN / "edp"), "facilitator", "password", "fac@example.org"],
                             env={**s.env, "EDP_PASSWORD": NEW_PASSWORD}, check=False,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr

        ack = console.call("phase", {"workshop_id": ws["id"], "phase": "discuss"})
        assert not ack["ok"] and ack["error"]["code"] == "forbidden"
        assert not console.call("facilitate", {"workshop_id": ws["id"]})["ok"]
    finally:
        console.close()
    jar = dict(c.split("=", 1) for c in cookie.split("; "))
    assert opens(None, s.url, ws["id"], jar) == (False, False)
    assert browser(s.url)[1] == 401  # the old password
    http, status = browser(s.url, password=NEW_PASSWORD)
    assert status == 302 and opens(http, s.url, ws["id"]) == (True, True)
    state = requests.get(f"{s.url}/api/workshops/{ws['code']}").json()
    assert state["phase"] == "propose"  # the refused phase change changed nothing


def test_a_password_change_in_the_browser_ends_the_other_sessions_only(server):
    s = server()
    ws = s.seed()
    s.start()
    other = Sock(s.url, cookie=login_cookie(s.url))
    try:
        assert other.call("facilitate", {"workshop_id": ws["id"]})["ok"]
        me, _ = browser(s.url)
        form = me.get(s.url + "/f/password")
        assert form.status_code == 200
        token = csrf_token(form.text)

        # The policy, said on the form.
        weak = me.post(s.url + "/f/password", data={
            "current": PASSWORD, "new": "corta", "again": "corta", "csrf_token": token})
        assert weak.status_code == 400
        assert "at least 10 characters" in weak.text
        assert other.call("phase", {"workshop_id": ws["id"], "phase": "vote"})["ok"]

        wrong = me.post(s.url + "/f/password", data={
            "current": "not my password", "new": NEW_PASSWORD, "again": NEW_PASSWORD,
            "csrf_token": token})
        assert wrong.status_code == 401

        done = me.post(s.url + "/f/password", data={
            "current": PASSWORD, "new": NEW_PASSWORD, "again": NEW_PASSWORD,
            "csrf_token": token}, allow_redirects=False)
        assert done.status_code == 302
        assert opens(me, s.url, ws["id"]) == (True, True)  # this browser goes on

        ack = other.call("phase", {"workshop_id": ws["id"], "phase": "results"})
        assert not ack["ok"] and ack["error"]["code"] == "forbidden"
        deadline = time.monotonic() + 5
        while not other.got("session_ended") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert other.got("session_ended"), "the other console was not told its session ended"
        # Out of the facilitator's room: the console view no longer reaches it.
        other.clear()
        me_socket = Sock(s.url, cookie="; ".join(f"{k}={v}" for k, v in me.cookies.items()))
        try:
            assert me_socket.call("facilitate", {"workshop_id": ws["id"]})["ok"]
            assert me_socket.call("phase", {"workshop_id": ws["id"], "phase": "decide"})["ok"]
            time.sleep(0.5)
            assert not other.got("state")
        finally:
            me_socket.close()
    finally:
        other.close()


# ---------------------------------------------------------------- 3. throttling


def test_guessing_many_accounts_from_one_client_is_throttled(server):
    s = server(EDP_PROXY_HOPS="1")
    ws = s.seed()
    s.start()
    guesser = requests.Session()
    guesser.headers.update({"X-Forwarded-For": "203.0.113.7", "Accept-Language": "es"})
    token = csrf_token(guesser.get(s.url + "/login").text)
    emails = [f"user{i}@example.org" for i in range(49)] + ["fac@example.org"]
    statuses, page = [], ""
    for n in range(200):
        r = guesser.post(s.url + "/login", data={
            "email": emails[n % 50], "password": f"guess-{n}", "csrf_token": token})
        statuses.append(r.status_code)
        if r.status_code == 429:
            page = r.text
    assert 429 in statuses, "200 guesses over 50 e-mails were never throttled"
    first = statuses.index(429)
    assert first <= 25 and set(statuses[first:]) == {429}, statuses
    assert "Demasiados intentos fallidos" in page  # a page in the guesser's language
    # The owner, elsewhere, still gets in.
    http, status = browser(s.url, forwarded="198.51.100.20")
    assert status == 302 and opens(http, s.url, ws["id"]) == (True, True)


def test_wrong_passwords_from_one_client_never_lock_the_owner_out(server):
    s = server(EDP_PROXY_HOPS="1")
    ws = s.seed()
    s.start()
    for _ in range(5):
        assert browser(s.url, password="guess-guess", forwarded="203.0.113.8")[1] == 401
    assert browser(s.url, forwarded="203.0.113.8")[1] == 429  # this client waits...
    owner, status = browser(s.url, forwarded="198.51.100.21")  # ...the owner does not
    assert status == 302 and opens(owner, s.url, ws["id"]) == (True, True)


def test_an_unknown_email_costs_the_same_password_hashing(sqlite_url, monkeypatch):
    """Counted, not timed (bench/login_timing.py prints the times)."""
    from edp import models

    app = make_app(sqlite_url)
    World(app).facilitator()
    checks = []
    real = models.check_password_hash

    def counting(hashed, password):
        checks.append(hashed.split("$", 1)[0])
        return real(hashed, password)

    monkeypatch.setattr(models, "check_password_hash", counting)
    http = app.test_client()
    for email in ("fac@example.org", "nobody@example.org"):
        token = csrf_token(http.get("/login").text)
        r = http.post("/login", data={"email": email, "password": "wrong password",
                                      "csrf_token": token})
        assert r.status_code == 401
    assert len(checks) == 2, "an unknown e-mail skipped the password hashing"
    assert checks[0] == checks[1], "the dummy hash uses another method than real ones"


def test_processes_sharing_redis_share_the_log_in_counts():
    """With EDP_MESSAGE_QUEUE on Redis a guesser gains nothing by reaching another process."""
    import uuid

    from flask import Flask

    from config import Config
    from edp.accounts import LoginGuard

    if not redis_available():
        missing("Redis", f"start it at {REDIS_URL}")
    app = Flask("guards")
    app.config.from_object(Config)
    app.config.update(MESSAGE_QUEUE=REDIS_URL, MESSAGE_QUEUE_CHANNEL=f"t-{uuid.uuid4().hex}")
    first, second = LoginGuard(app), LoginGuard(app)  # as two server processes
    for _ in range(5):
        first.failed("fac@example.org", "203.0.113.9")
    assert not second.allowed("fac@example.org", "203.0.113.9")
    assert second.allowed("fac@example.org", "198.51.100.9")
    second.succeeded("fac@example.org", "203.0.113.9")  # the owner got in from there
    assert first.allowed("fac@example.org", "203.0.113.9")


# ---------------------------------------------------------------- 4. password policy


@pytest.mark.parametrize("password, why", [
    ("short1", "at least 10 characters"),
    ("ana@example.org", "must not be the e-mail"),
    ("zzzzzzzzzzzz", "must not repeat one character"),
])
def test_the_command_line_refuses_weak_passwords(server, password, why):
    s = server()
    s.cli("init-db")
    for command in ("add", "password"):
        if command == "password":
            s.cli("facilitator", "add", "ana@example.org")  # PASSWORD, a good one
        out = subprocess.run([str(BIN / "edp"), "facilitator", command, "ana@example.org"],
                             env={**s.env, "EDP_PASSWORD": password}, check=False,
                             capture_output=True, text=True, timeout=120)
        assert out.returncode != 0 and why in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
    s.start()
    assert browser(s.url, email="ana@example.org")[1] == 302  # the good password stands


# ---------------------------------------------------------------- 5. /healthz writes


def _health(url: str, proc: subprocess.Popen, log: Path):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {log.read_text()[-2000:]}")
        try:
            return requests.get(url + "/healthz", timeout=15)
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError("no answer from /healthz")


def _serve_read_only(s: LiveServer, read_only_url: str):
    with open(s.log_path, "ab") as log:
        proc = subprocess.Popen(
            [str(BIN / "edp"), "run", "--host", "127.0.0.1", "--port", str(s.port)],
            env={**s.env, "EDP_DATABASE_URL": read_only_url}, stdout=log,
            stderr=subprocess.STDOUT)
        try:
            return _health(s.url, proc, s.log_path)
        finally:
            proc.terminate()
            proc.wait(10)


def test_healthz_is_503_when_the_sqlite_database_takes_no_writes(server, tmp_path):
    s = server()
    s.seed()
    s.start()
    assert requests.get(s.url + "/healthz").json() == {"ok": True}
    s.stop()
    path = tmp_path / "live.sqlite3"
    r = _serve_read_only(s, f"sqlite:///file:{path}?mode=ro&uri=true")
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["ok"] is False and body["reason"] == "database_not_writable"
    assert str(tmp_path) not in r.text  # no file names to the public


def test_healthz_is_503_when_postgresql_takes_no_writes(tmp_path):
    if not postgres_available():
        missing("PostgreSQL", f"start it at {POSTGRES_URL}")
    reset_postgres(POSTGRES_URL)
    s = LiveServer(POSTGRES_URL, log_dir=tmp_path)
    s.seed()
    read_only = POSTGRES_URL + "?options=-c%20default_transaction_read_only%3Don"
    r = _serve_read_only(s, read_only)
    assert r.status_code == 503, r.text
    assert r.json()["reason"] == "database_not_writable"
    s.start()
    try:
        assert requests.get(s.url + "/healthz").json() == {"ok": True}
    finally:
        s.stop()


def test_the_migration_gives_every_facilitator_a_session_token(server):
    s = server()
    s.seed()
    import sqlalchemy as sa

    engine = sa.create_engine(s.db_url)
    with engine.connect() as conn:
        tokens = conn.execute(sa.text("SELECT session_token FROM facilitator")).scalars().all()
        health = conn.execute(sa.text("SELECT count(*) FROM health")).scalar()
    engine.dispose()
    assert tokens and all(t and len(t) >= 24 for t in tokens)
    assert health == 1
