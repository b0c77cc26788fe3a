"""Slow or stuck things around a real server: clients dripping headers (slow-loris), a SQLite
lock held by another process, and a Redis outage between two processes."""
from __future__ import annotations

import shutil
import socket
import sqlite3
import subprocess
import time
import urllib.request

import pytest
from conftest import (
    POSTGRES_URL,
    LiveServer,
    free_port,
    login_cookie,
    missing,
    postgres_available,
    reset_postgres,
)
from test_server import Opener, ok, wait_for

pytestmark = pytest.mark.server


@pytest.fixture
def socks():
    opener = Opener()
    yield opener
    opener.close_all()


def _healthz(url: str) -> int:
    with urllib.request.urlopen(url + "/healthz", timeout=3) as r:
        return r.status


# ---------------------------------------------------------------- slow-loris


def _closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed the connection (EOF or reset)."""
    sock.setblocking(False)
    try:
        return sock.recv(1024) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.setblocking(True)


def test_clients_dripping_headers_are_disconnected_while_healthz_answers(tmp_path):
    srv = LiveServer(f"sqlite:///{tmp_path / 'loris.sqlite3'}", log_dir=tmp_path)
    srv.env["EDP_HEADER_TIMEOUT"] = "1"
    srv.cli("init-db")
    srv.start()
    lorises = []
    try:
        for _ in range(30):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            lorises.append(s)
        idle = socket.create_connection(("127.0.0.1", srv.port), timeout=5)  # sends nothing
        lorises.append(idle)
        closed: set[int] = set()
        deadline = time.monotonic() + 6  # the deadline is 1 s; generous for a busy machine
        k = 0
        while time.monotonic() < deadline and len(closed) < len(lorises):
            k += 1
            for i, s in enumerate(lorises):
                if i in closed:
                    continue
                if _closed_by_server(s):
                    closed.add(i)
                    continue
                if s is not idle:
                    try:
                        s.sendall(f"X-Drip-{k}: {k}\r\n".encode())  # never the blank line
                    except OSError:
                        closed.add(i)
            assert _healthz(srv.url) == 200  # the server keeps answering meanwhile
            time.sleep(0.25)
        assert len(closed) == len(lorises), f"{len(lorises) - len(closed)} still open"
        # A normal request on a fresh connection is untouched by the deadline.
        assert _healthz(srv.url) == 200
        log = srv.log_path.read_text()
        assert "Open files limit:" in log
    finally:
        for s in lorises:
            s.close()
        srv.stop()


# ---------------------------------------------------------------- a locked SQLite database


def test_a_vote_while_another_process_holds_the_sqlite_lock_gets_busy_then_succeeds(
        tmp_path, socks):
    path = tmp_path / "locked.sqlite3"
    srv = LiveServer(f"sqlite:///{path}", log_dir=tmp_path)
    srv.env["EDP_DB_BUSY_TIMEOUT"] = "1"
    info = srv.seed()
    srv.start()
    try:
        fac = socks.open(srv.url, cookie=login_cookie(srv.url))
        seeds = [d["domain_id"] for d in ok(fac.call("facilitate", {"workshop_id": info["id"]}))
                 ["state"]["domains"]]
        ok(fac.call("phase", {"workshop_id": info["id"], "phase": "vote"}))
        phone = socks.open(srv.url)
        ok(phone.call("join", {"code": info["code"], "helix": "business", "language": "es"}))

        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process takes the write lock and keeps it
        try:
            ack = phone.call("vote", {"domain_id": seeds[0], "points": 2})
            assert ack["ok"] is False and ack["error"]["code"] == "busy", ack
            assert ack["error"]["message"]  # translated (Spanish once the catalogue has it)
            # Pages answer at once with 503 and a page saying to try again, never hang.
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(f"{srv.url}/w/{info['code']}", timeout=5)
            assert err.value.code == 503
            assert err.value.headers.get("Retry-After")
            # And the process is not frozen: what needs no database still answers.
            with urllib.request.urlopen(srv.url + "/static/css/app.css", timeout=3) as r:
                assert r.status == 200
        finally:
            other.rollback()
            other.close()
        # The lock is gone: the same vote again is saved.
        ack = ok(phone.call("vote", {"domain_id": seeds[0], "points": 2}))
        assert ack["remaining"] == 8
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT points FROM vote WHERE domain_id = ?",
                              (seeds[0],)).fetchall() == [(2,)]
    finally:
        srv.stop()


# ---------------------------------------------------------------- a Redis outage


class Redis:
    """A private redis-server on a free port, so stopping it disturbs nobody else."""

    def __init__(self, tmp_path):
        self.port = free_port()
        self.dir = tmp_path
        self.proc = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        wait_for(lambda: self._ping(redis), what="redis-server to start")

    def _ping(self, redis) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except (redis.RedisError, OSError):
            return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def test_a_phase_change_during_a_redis_outage_reaches_the_other_process(tmp_path, socks):
    if not postgres_available():
        missing("PostgreSQL", f"start it at {POSTGRES_URL}")
    if not shutil.which("redis-server"):
        missing("redis-server", "apt-get install redis-server")
    reset_postgres(POSTGRES_URL)
    redis = Redis(tmp_path)
    redis.start()
    queue = f"redis://127.0.0.1:{redis.port}/0"
    a = LiveServer(POSTGRES_URL, message_queue=queue, log_dir=tmp_path)
    b = LiveServer(POSTGRES_URL, message_queue=queue, log_dir=tmp_path)
    for srv in (a, b):
        srv.env["EDP_RESYNC_INTERVAL"] = "1"
    info = a.seed()
    try:
        a.start()
        b.start()
        wid = info["id"]
        fac = socks.open(a.url, cookie=login_cookie(a.url))
        ok(fac.call("facilitate", {"workshop_id": wid}))
        projector = socks.open(b.url)
        ok(projector.call("watch", {"code": info["code"]}))
        phone = socks.open(b.url)
        ok(phone.call("join", {"code": info["code"], "helix": "business"}))
        ok(fac.call("phase", {"workshop_id": wid, "phase": "propose"}))
        wait_for(lambda: any(s["workshop"]["phase"] == "propose" for s in projector.got("state")),
                 what="a phase change through Redis")
        time.sleep(1.5)  # B's resync has seen the workshop

        redis.stop()
        time.sleep(0.5)
        ok(fac.call("phase", {"workshop_id": wid, "phase": "vote"}))  # saved; not published
        time.sleep(0.5)
        redis.start()
        # No other change: B's clients still learn the phase from B itself.
        for client in (projector, phone):
            wait_for(lambda c=client: any(s["workshop"]["phase"] == "vote" for s in c.got("state")),
                     timeout=15, what="the phase changed during the outage, on process B")
        assert fac.got("state") and fac.got("state")[-1]["workshop"]["phase"] == "vote"
    finally:
        a.stop()
        b.stop()
        redis.stop()
