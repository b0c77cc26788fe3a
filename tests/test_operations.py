"""What an operator's tools see: JSON log lines (EDP_LOG_FORMAT=json) with one line per Socket.IO
event, and a /healthz that also answers for the Redis message queue."""
from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
import requests
from conftest import BIN, REDIS_URL, LiveServer, make_app, missing, redis_available
from test_server import Opener, ok

# A port nothing listens on: connections are refused at once.
NO_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def socks():
    opener = Opener()
    yield opener
    opener.close_all()


def serve(server: LiveServer, tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    """`edp run` with stderr in a file of its own (stdout, the address banner, elsewhere)."""
    stderr = tmp_path / "stderr.log"
    with open(tmp_path / "stdout.log", "ab") as out, open(stderr, "ab") as err:
        proc = subprocess.Popen(
            [str(BIN / "edp"), "run", "--host", "127.0.0.1", "--port", str(server.port)],
            env=server.env, stdout=out, stderr=err)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"server exited: {stderr.read_text()[-2000:]}"
        try:
            with urllib.request.urlopen(server.url + "/healthz", timeout=1):
                return proc, stderr
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not answer /healthz in 30 s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


# ---------------------------------------------------------------- logs


@pytest.mark.server
def test_json_logs_have_a_line_per_socket_event_with_its_outcome(tmp_path, socks):
    server = LiveServer(f"sqlite:///{tmp_path / 'live.sqlite3'}", log_dir=tmp_path)
    info = server.seed()
    wid, code = info["id"], info["code"]
    # A small event budget, so that one connection runs out of it within the test.
    server.env.update(EDP_LOG_FORMAT="json", EDP_RATE_BURST="8", EDP_RATE_PER_SECOND="0.01")
    proc, stderr = serve(server, tmp_path)
    try:
        projector = socks.open(server.url)
        ok(projector.call("watch", {"code": code}))
        phone = socks.open(server.url)
        ok(phone.call("join", {"code": code, "helix": "business"}))
        assert phone.call("vote", {"domain_id": 1, "points": 1})["error"]["code"] == "wrong_phase"
        assert phone.call("no_such_event", {})["error"]["code"] == "bad_payload"
        stranger = socks.open(server.url)
        stranger.call("join", {"code": "NOPE99"})
        stranger.call("facilitate", {"workshop_id": wid})
        refusals = [stranger.call("vote", {"domain_id": 1, "points": 1})["error"]["code"]
                    for _ in range(8)]
        assert refusals == ["not_joined"] * 6 + ["rate_limited"] * 2
    finally:
        socks.close_all()
        stop(proc)

    lines = [line for line in stderr.read_text().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    events = [r for r in records if "event" in r and "outcome" in r]
    assert [(e["event"], e["outcome"], e["workshop"]) for e in events] == [
        ("watch", "ok", wid),
        ("join", "ok", wid),
        ("vote", "wrong_phase", wid),
        ("no_such_event", "bad_payload", wid),
        ("join", "unknown_workshop", None),
        ("facilitate", "forbidden", wid),  # the workshop the facilitator event names
        *[("vote", "not_joined", None)] * 6,
        *[("vote", "rate_limited", None)] * 2,
    ]
    for e in events:
        assert e["level"] == "INFO"
        assert datetime.fromisoformat(e["timestamp"]).tzinfo is not None
        assert isinstance(e["latency_ms"], float) and e["latency_ms"] >= 0


def test_text_logs_have_no_line_per_event(world, caplog):
    """The default format keeps the logs as they were: warnings and errors only."""
    world.facilitator()
    ws = world.workshop()
    phone = world.phone(ws["code"])
    phone.emit("vote", {"domain_id": 1, "points": 1})
    world.projector(ws["code"])
    assert [r for r in caplog.records if r.name == "edp.events"] == []


def test_an_unknown_log_format_stops_the_start(sqlite_url):
    with pytest.raises(RuntimeError, match="EDP_LOG_FORMAT"):
        make_app(sqlite_url, LOG_FORMAT="xml")


# ---------------------------------------------------------------- health check


def need_redis() -> None:
    if not redis_available():
        missing("Redis", f"start it at {REDIS_URL}")


def test_healthz_says_the_message_queue_answers(sqlite_url):
    need_redis()
    http = make_app(sqlite_url, MESSAGE_QUEUE=REDIS_URL).test_client()
    for _ in range(2):  # the same client again
        r = http.get("/healthz")
        assert r.status_code == 200
        assert r.get_json() == {"ok": True, "database": "ok", "message_queue": "ok"}


def test_healthz_is_503_when_redis_does_not_answer(sqlite_url, caplog):
    http = make_app(sqlite_url, MESSAGE_QUEUE=NO_REDIS).test_client()
    for _ in range(2):
        r = http.get("/healthz")
        assert r.status_code == 503
        body = r.get_json()
        assert body["ok"] is False and body["reason"] == "message_queue_unreachable"
        assert "127.0.0.1" not in r.text  # no hosts to the public
    assert any("message_queue_unreachable" in m for m in caplog.messages)  # the operator's log


def test_healthz_without_a_message_queue_checks_the_database_only(sqlite_url):
    r = make_app(sqlite_url).test_client().get("/healthz")
    assert r.status_code == 200 and r.get_json() == {"ok": True}


@pytest.mark.server
@pytest.mark.redis
def test_a_server_on_a_redis_queue_reports_it_in_healthz(tmp_path):
    need_redis()
    server = LiveServer(f"sqlite:///{tmp_path / 'live.sqlite3'}", message_queue=REDIS_URL,
                        log_dir=tmp_path)
    server.cli("init-db")
    server.start()
    try:
        r = requests.get(server.url + "/healthz", timeout=5)
        assert r.status_code == 200
        assert r.json() == {"ok": True, "database": "ok", "message_queue": "ok"}
    finally:
        server.stop()

    server.env["EDP_MESSAGE_QUEUE"] = NO_REDIS
    proc = subprocess.Popen(
        [str(BIN / "edp"), "run", "--host", "127.0.0.1", "--port", str(server.port)],
        env=server.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, status = time.monotonic() + 30, None
        while status is None and time.monotonic() < deadline:
            try:
                urllib.request.urlopen(server.url + "/healthz", timeout=5)
                status = 200
            except urllib.error.HTTPError as exc:
                status, body = exc.code, json.load(exc)
            except OSError:
                time.sleep(0.1)
        assert status == 503 and body["reason"] == "message_queue_unreachable"
    finally:
        stop(proc)
