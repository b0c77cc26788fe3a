"""The scaled-out stack as an operator starts it: `make stack` (nginx in front of two gunicorn
processes on PostgreSQL and Redis), real Socket.IO clients through nginx only, a process
killed and its phones carrying on through the other, `make stack-stop`."""
from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import psutil
import pytest
import socketio
import sqlalchemy as sa
from conftest import (
    PASSWORD,
    POSTGRES_URL,
    REDIS_URL,
    ROOT,
    TEMPLATE,
    edp_cli,
    free_port,
    login_cookie,
    missing,
    postgres_available,
    redis_available,
)
from test_server import ok, scores, wait_for

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.redis]

NGINX = Path("/usr/sbin/nginx")


class Phone:
    """A python-socketio client with the browser's transports (long-polling, then the
    WebSocket upgrade) and reconnection on, as the phone page's client."""

    def __init__(self, url: str, cookie: str | None = None):
        self.received: list[tuple[str, object]] = []
        self.sio = socketio.Client(reconnection=True, reconnection_delay=0.2,
                                   reconnection_delay_max=1, randomization_factor=0)
        self.sio.on("*", lambda event, *a: self.received.append((event, a[0] if a else None)))
        headers = {"Cookie": cookie} if cookie else {}
        self.sio.connect(url, headers=headers, wait_timeout=10)

    def call(self, event: str, data) -> dict:
        return self.sio.call(event, data, timeout=10)

    def got(self, name: str) -> list:
        return [d for e, d in list(self.received) if e == name]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.sio.disconnect()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not NGINX.exists():
        missing("nginx", "apt-get install -y nginx-light")
    if not postgres_available():
        missing("PostgreSQL", f"start it at {POSTGRES_URL}")
    if not redis_available():
        missing("Redis", f"start it at {REDIS_URL}")
    tmp = tmp_path_factory.mktemp("stack")
    db = POSTGRES_URL.rsplit("/", 1)[0] + f"/edp_stack_{os.getpid()}"
    port = free_port()
    env = {
        **os.environ,
        "EDP_STACK_PORT": str(port),
        "EDP_STACK_DIR": str(tmp / "run"),
        "EDP_DATABASE_URL": db,
        "EDP_MESSAGE_QUEUE": REDIS_URL.rsplit("/", 1)[0] + "/6",
        "EDP_MESSAGE_QUEUE_CHANNEL": f"edp-stack-{uuid.uuid4().hex[:8]}",
        "EDP_SECRET_KEY": "stack-test",
        "EDP_PASSWORD": PASSWORD,
        "EDP_LOG_FORMAT": "json",
    }
    url = f"http://127.0.0.1:{port}"
    started = subprocess.run(["make", "-s", "stack"], cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=180)
    try:
        assert started.returncode == 0, started.stdout + started.stderr
        assert url in started.stdout
        state = json.loads((tmp / "run" / "stack.json").read_text())
        edp_cli("facilitator", "add", "fac@example.org", env=env)
        info = json.loads(edp_cli("workshop", "create", "--template", str(TEMPLATE),
                                  "--facilitator", "fac@example.org",
                                  env=env).strip().splitlines()[-1])
        yield {"url": url, "env": env, "state": state, "info": info, "db": db, "dir": tmp}
    finally:
        stopped = subprocess.run(["make", "-s", "stack-stop"], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=60)
        print(stopped.stdout, stopped.stderr)
        engine = sa.create_engine(db.rsplit("/", 1)[0] + "/postgres",
                                  isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db.rsplit("/", 1)[1]}" '
                                 "WITH (FORCE)"))
        engine.dispose()


@pytest.fixture
def phones():
    opened: list[Phone] = []

    def open_(url, cookie=None):
        p = Phone(url, cookie)
        opened.append(p)
        return p

    yield open_
    for p in opened:
        p.close()


def worker_connections(app: dict) -> int:
    """Established TCP connections the app process's gunicorn worker holds on its port."""
    master = psutil.Process(app["pid"])
    total = 0
    for proc in [master, *master.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += sum(1 for c in proc.net_connections("tcp")
                         if c.status == psutil.CONN_ESTABLISHED and c.laddr.port == app["port"])
    return total


def test_the_stack_answers_through_nginx_compressed_and_versioned(stack):
    url = stack["url"]
    with urllib.request.urlopen(url + "/healthz", timeout=5) as r:
        health = json.load(r)
    assert health["ok"] is True
    req = urllib.request.Request(url + "/", headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.headers["Content-Encoding"] == "gzip"
        assert r.headers["Server"] == "nginx"
        assert "edp_route=" in r.headers.get("Set-Cookie", "")
        page = gzip.decompress(r.read()).decode()
    assert "<html" in page
    # Scripts and styles come from nginx under a content-hashed path, cached for a year.
    code = stack["info"]["code"]
    with urllib.request.urlopen(f"{url}/w/{code}", timeout=5) as r:
        phone_page = r.read().decode()
    import re

    script = re.search(r'src="(/static/v/[0-9a-f]{12}/js/participant\.js)"', phone_page)
    assert script, "the phone page's script URL carries no content hash"
    req = urllib.request.Request(url + script.group(1), headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req, timeout=5) as r:
        assert "immutable" in r.headers["Cache-Control"]
        assert r.headers["Content-Encoding"] == "gzip"
        body = gzip.decompress(r.read())
    assert body == (ROOT / "static" / "js" / "participant.js").read_bytes()


def test_join_vote_projector_and_a_process_killed(stack, phones):
    url, info, apps = stack["url"], stack["info"], stack["state"]["apps"]
    wid, code = info["id"], info["code"]
    fac = phones(url, cookie=login_cookie(url))
    seeds = [d["domain_id"] for d in ok(fac.call("facilitate", {"workshop_id": wid}))
             ["state"]["domains"]]
    projector = phones(url)
    ok(projector.call("watch", {"code": code}))

    ok(fac.call("phase", {"workshop_id": wid, "phase": "vote"}))
    wait_for(lambda: any(s["workshop"]["phase"] == "vote" for s in projector.got("state")),
             what="the phase change on the projector")
    ok(fac.call("reveal", {"workshop_id": wid, "shown": True}))

    crowd = [phones(url) for _ in range(16)]
    tokens = []
    for i, phone in enumerate(crowd):
        joined = ok(phone.call("join", {"code": code, "helix": ["business", "academia"][i % 2]}))
        tokens.append(joined["token"])
        ok(phone.call("vote", {"domain_id": seeds[i % 3], "points": 2}))
    # Sticky on the route cookie, not the address: phones from one address spread over both.
    assert all(worker_connections(app) > 0 for app in apps), \
        [worker_connections(app) for app in apps]
    expected = {seeds[0]: 12, seeds[1]: 10, seeds[2]: 10}
    wait_for(lambda: projector.got("results")
             and scores(projector.got("results")[-1]) == expected, timeout=15,
             what="every phone's vote on the projector, whichever process took it")

    # One process dies (kill -9 of gunicorn and its worker); its phones reconnect through
    # nginx to the other, rejoin with their token and keep their ballot.
    victim = apps[0]
    os.killpg(victim["pid"], signal.SIGKILL)
    survivor = apps[1]
    before = {id(p): p.sio.get_sid() for p in crowd}
    time.sleep(1.0)
    wait_for(lambda: all(p.sio.connected for p in [*crowd, projector, fac]), timeout=30,
             what="every client reconnected")
    moved = [p for p in crowd if p.sio.get_sid() != before[id(p)]]
    assert moved, "no phone was on the killed process"
    ok(projector.call("watch", {"code": code}))
    for phone, token in zip(crowd, tokens, strict=True):
        me = ok(phone.call("join", {"code": code, "token": token}))["state"]["me"]
        assert sum(me["votes"].values()) == 2, me
    ok(crowd[0].call("vote", {"domain_id": seeds[1], "points": 3}))
    expected[seeds[1]] += 3
    wait_for(lambda: projector.got("results")
             and scores(projector.got("results")[-1]) == expected, timeout=15,
             what="a vote after the failover on the projector")
    assert worker_connections(survivor) >= len(crowd)
    with urllib.request.urlopen(url + "/healthz", timeout=5) as r:
        assert json.load(r)["ok"] is True

    # The app's JSON log names each event with its workshop, outcome and latency.
    lines = [json.loads(line) for line in Path(survivor["log"]).read_text().splitlines()
             if line.startswith("{")]
    votes = [x for x in lines if x.get("event") == "vote"]
    assert votes and votes[-1]["workshop"] == wid and votes[-1]["outcome"] == "ok"
    assert isinstance(votes[-1]["latency_ms"], (int, float))


def test_stack_stop_stops_everything(tmp_path):
    """`make stack-stop` without a running stack says so and succeeds; the stack module's own
    stop is exercised by the fixture above."""
    env = {**os.environ, "EDP_STACK_DIR": str(tmp_path / "none")}
    done = subprocess.run(["make", "-s", "stack-stop"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0
    assert "not running" in done.stdout


# ---------------------------------------------------------------- containers (compose.yaml)


def compose_command() -> list[str]:
    """`docker compose`, or Debian's docker-compose where the plugin is missing (no container
    engine runs here: `config` only reads and checks the file)."""
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
    if probe.returncode == 0:
        return ["docker", "compose"]
    import shutil

    if shutil.which("docker-compose"):
        return ["docker-compose"]
    missing("docker compose", "apt-get install -y docker-compose")
    return []


def test_compose_file_validates_with_the_whole_topology():
    cmd = compose_command() + ["-f", str(ROOT / "compose.yaml")]
    env = {**os.environ, "EDP_SECRET_KEY": "x" * 64}
    done = subprocess.run(cmd + ["config", "--services"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert set(done.stdout.split()) == {"db", "redis", "migrate", "app1", "app2", "web"}
    resolved = subprocess.run(cmd + ["config"], cwd=ROOT, env=env, capture_output=True,
                              text=True).stdout
    assert "service_completed_successfully" in resolved  # the schema before the apps
    assert resolved.count("condition: service_healthy") >= 6
    # Without a secret key the file refuses to start and says what to set.
    env.pop("EDP_SECRET_KEY")
    refused = subprocess.run(cmd + ["config"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert refused.returncode != 0 and "EDP_SECRET_KEY" in refused.stderr


def test_compose_nginx_conf_is_the_stack_template():
    """The containers' nginx and `make stack`'s come from one template; the committed copy for
    compose.yaml never drifts from it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("stack", ROOT / "deploy" / "stack.py")
    stack_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stack_module)
    assert (ROOT / "deploy" / "nginx.compose.conf").read_text() == stack_module.compose_conf(), \
        "run `python deploy/stack.py compose-conf` after changing deploy/nginx.conf.in"


def test_image_runs_unprivileged_from_the_lock():
    text = (ROOT / "Dockerfile").read_text()
    app_stage = text.split("AS app", 1)[1].split("FROM ", 1)[0]
    assert "\nUSER edp" in app_stage
    assert "--require-hashes" in text and "requirements/main.txt" in text
    assert "dev.txt" not in text and "[dev]" not in text
