"""The `edp` command line, run as a user runs it: subprocesses of .venv/bin/edp.

(Importing edp.cli in the test process would monkey-patch it with gevent.)
"""
from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
import sqlalchemy as sa
from conftest import (
    AGRI_TEMPLATE,
    BIN,
    POSTGRES_URL,
    ROOT,
    TEMPLATE,
    missing,
    postgres_available,
    reset_postgres,
)
from werkzeug.security import check_password_hash

from edp.workshop import CODE_ALPHABET

PUBLIC = "http://edp.example:8080"


def run(env: dict, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "edp"), *args], env=env, capture_output=True, text=True,
                          timeout=120, input=stdin if stdin is not None else "", check=False)


def run_many(env: dict, *commands: tuple[str, ...]) -> list[subprocess.CompletedProcess]:
    """Independent commands at once (each start-up takes a second or two)."""
    procs = [subprocess.Popen([str(BIN / "edp"), *args], env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for args in commands]
    outs = []
    for args, proc in zip(commands, procs):
        stdout, stderr = proc.communicate(timeout=120)
        outs.append(subprocess.CompletedProcess(args, proc.returncode, stdout, stderr))
    return outs


def environment(db_url: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDP_")}
    env.update({"EDP_DATABASE_URL": db_url, "EDP_SECRET_KEY": "cli-test",
                "EDP_PUBLIC_URL": PUBLIC, **extra})
    return env


def query(url: str, sql: str, **params):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql), params).all()
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def cli_db(tmp_path_factory):
    """A database made by `edp init-db`, with one facilitator added by the command line."""
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'cli.sqlite3'}"
    env = environment(url)
    first = run(env, "init-db")
    assert first.returncode == 0, first.stderr
    added = run({**env, "EDP_PASSWORD": "s3cret-pass"}, "facilitator", "add", "Ana@Example.org")
    assert added.returncode == 0, added.stderr
    return {"url": url, "env": env, "first": first, "added": added}


def assert_clean_error(out: subprocess.CompletedProcess, *needles: str) -> None:
    assert out.returncode != 0
    assert "Traceback" not in out.stderr + out.stdout, out.stderr
    for needle in needles:
        assert needle in out.stderr, out.stderr
    assert out.stdout.strip() == ""


def test_init_db_is_idempotent_and_keeps_data(cli_db):
    assert "database ready" in cli_db["first"].stdout
    again = run(cli_db["env"], "init-db")
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    tables = {r[0] for r in query(cli_db["url"],
                                  "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"facilitator", "workshop", "participant", "domain", "comment", "vote", "score",
            "ranking", "priority", "event", "alembic_version"} <= tables
    assert query(cli_db["url"], "SELECT email FROM facilitator") == [("ana@example.org",)]


def test_facilitator_add_takes_the_password_from_the_environment(cli_db):
    line = cli_db["added"].stdout.strip()
    assert json.loads(line)["email"] == "ana@example.org"
    (stored,) = query(cli_db["url"], "SELECT password_hash FROM facilitator")[0]
    assert stored != "s3cret-pass"
    assert check_password_hash(stored, "s3cret-pass")
    assert not check_password_hash(stored, "wrong")


def test_facilitator_add_without_a_password_does_not_create_one(cli_db):
    out = run(cli_db["env"], "facilitator", "add", "nopass@example.org", stdin="")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert query(cli_db["url"], "SELECT email FROM facilitator WHERE email = :e",
                 e="nopass@example.org") == []


def test_workshop_create_prints_one_line_of_json(cli_db):
    out = run(cli_db["env"], "workshop", "create", "--template", str(TEMPLATE),
              "--facilitator", "ana@example.org")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 1, out.stdout
    info = json.loads(lines[0])
    assert set(info) == {"id", "code", "join_url", "screen_url"}
    assert isinstance(info["id"], int) and isinstance(info["code"], str)
    assert len(info["code"]) == 6 and set(info["code"]) <= set(CODE_ALPHABET)
    assert info["join_url"] == f"{PUBLIC}/w/{info['code']}"
    assert info["screen_url"] == f"{PUBLIC}/screen/{info['code']}"
    row = query(cli_db["url"], "SELECT code, title, method, budget FROM workshop WHERE id = :i",
                i=info["id"])
    assert [tuple(r) for r in row] == [
        (info["code"], "Smart Specialisation priority-setting workshop", "dot", 10)]
    seeds = query(cli_db["url"], "SELECT count(*) FROM domain WHERE workshop_id = :i",
                  i=info["id"])[0][0]
    assert seeds == 3


def test_workshop_create_with_title_and_method(cli_db):
    out = run(cli_db["env"], "workshop", "create", "--template", str(AGRI_TEMPLATE),
              "--facilitator", "ANA@example.org", "--title", "Ronda 2: agua",
              "--method", "rank")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 1, out.stdout
    info = json.loads(lines[0])
    row = query(cli_db["url"], "SELECT title, method, language FROM workshop WHERE id = :i",
                i=info["id"])
    assert [tuple(r) for r in row] == [("Ronda 2: agua", "rank", "es")]


def test_workshop_create_errors_are_clear(cli_db, tmp_path):
    env = cli_db["env"]
    before = query(cli_db["url"], "SELECT count(*) FROM workshop")[0][0]
    bad = tmp_path / "bad.toml"
    bad.write_text('title = "Bad"\nhelices = ["business", "academia"]\n', encoding="utf-8")
    create = ("workshop", "create", "--template")
    unknown, malformed, absent, method = run_many(
        env,
        (*create, str(TEMPLATE), "--facilitator", "nobody@example.org"),
        (*create, str(bad), "--facilitator", "ana@example.org"),
        (*create, str(tmp_path / "missing.toml"), "--facilitator", "ana@example.org"),
        (*create, str(TEMPLATE), "--facilitator", "ana@example.org", "--method", "approval"),
    )
    assert_clean_error(unknown, "no facilitator", "nobody@example.org")
    assert_clean_error(malformed, "helices", str(bad))
    assert_clean_error(absent, "missing.toml")
    assert_clean_error(method, "approval")
    assert query(cli_db["url"], "SELECT count(*) FROM workshop")[0][0] == before


@pytest.mark.postgres
def test_init_db_twice_on_postgresql():
    if not postgres_available():
        missing("PostgreSQL", f"start it at {POSTGRES_URL}")
    reset_postgres(POSTGRES_URL)
    env = environment(POSTGRES_URL)
    for _ in range(2):
        out = run(env, "init-db")
        assert out.returncode == 0, out.stderr
    tables = {r[0] for r in query(POSTGRES_URL, "SELECT tablename FROM pg_tables "
                                                "WHERE schemaname = 'public'")}
    assert {"workshop", "event", "vote", "alembic_version"} <= tables


def test_migrations_match_the_models_and_downgrade_cleanly(tmp_path):
    """A model change without its migration would leave real databases behind."""
    migrations = str(ROOT / "migrations")
    env = environment(f"sqlite:///{tmp_path / 'migrations.sqlite3'}")
    assert run(env, "init-db").returncode == 0
    check = run(env, "db", "check", "-d", migrations)
    assert check.returncode == 0, check.stdout + check.stderr
    down = run(env, "db", "downgrade", "-d", migrations, "base")
    assert down.returncode == 0, down.stderr
    up = run(env, "init-db")
    assert up.returncode == 0, up.stderr


def test_demo_seeds_a_workshop_with_votes(tmp_path):
    """`make demo` runs `edp demo`: it must seed without errors on a fresh database."""
    env = environment(f"sqlite:///{tmp_path / 'demo.sqlite3'}", EDP_PASSWORD="demo-pass")
    out = run(env, "demo", "--no-serve", "--participants", "30")
    assert out.returncode == 0, out.stderr
    assert "demo@example.org" in out.stdout
    code = re.search(r"/w/([A-Z0-9]{6})", out.stdout).group(1)
    votes = query(env["EDP_DATABASE_URL"], "SELECT count(*) FROM vote")[0][0]
    assert votes > 0
    shown = query(env["EDP_DATABASE_URL"],
                  "SELECT results_shown, phase FROM workshop WHERE code = :c", c=code)
    assert shown == [(1, "vote")]
    # The method shows too: a vision with reactions and one statement adopted, SWOT items on
    # several domains, funders' signals; the record carries it and verifies.
    out = run(env, "workshop", "export", code, "--format", "json", "--output",
              str(tmp_path / "demo.json"))
    assert out.returncode == 0, out.stderr
    record = json.loads((tmp_path / "demo.json").read_text("utf-8"))
    vision = record["vision"]
    assert len(vision) >= 3 and [s["adopted"] for s in vision].count(True) == 1
    assert all(s["agree"] + s["disagree"] + s["pass"] == 30 for s in vision)
    assert sum(1 for d in record["domains"] if d["swot"]) >= 3
    assert {i["quadrant"] for d in record["domains"] for i in d["swot"]} == {
        "strength", "weakness", "opportunity", "threat"}
    assert sum(sum(e["funding"].values()) for e in record["results"]["ranking"]) > 0
    assert any(d["funding"]["instruments"] for d in record["domains"])
    verified = run(env, "workshop", "verify", code)
    assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.server
def test_demo_serves_what_it_seeded(tmp_path):
    """The demo's own database session must not hold SQLite's lock while it serves."""
    import time
    import urllib.request

    from conftest import free_port

    port = free_port()
    env = environment(f"sqlite:///{tmp_path / 'demo.sqlite3'}", EDP_PASSWORD="demo-pass")
    log = open(tmp_path / "demo.log", "w+")
    proc = subprocess.Popen([str(BIN / "edp"), "demo", "--port", str(port), "--participants", "12"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        base, health, deadline = f"http://127.0.0.1:{port}", None, time.monotonic() + 60
        while time.monotonic() < deadline and health is None:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                    health = json.load(r)
            except OSError:
                time.sleep(0.2)
        assert health == {"ok": True}
        log.seek(0)
        code = re.search(r"/screen/([A-Z0-9]{6})", log.read()).group(1)
        for path in (f"/w/{code}", f"/screen/{code}", f"/api/workshops/{code}"):
            with urllib.request.urlopen(base + path, timeout=5) as r:
                assert r.status == 200, path
    finally:
        proc.terminate()
        proc.wait(10)
        log.close()
