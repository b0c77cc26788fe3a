"""Faults against a real `edp run`: concurrent duplicates, concurrent ballots of one participant,
phones that sleep and wake, a reconnect storm and messages above the transport's limit.

Each test runs on SQLite and on PostgreSQL where the database matters. Clients are
python-socketio over real websockets, each in its own thread, released together by a barrier so
that the server really sees the requests at the same time.
"""
from __future__ import annotations

import json
import re
import socket as pysocket
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import socketio
import sqlalchemy as sa
from conftest import (
    POSTGRES_URL,
    LiveServer,
    login_cookie,
    missing,
    postgres_available,
    reset_postgres,
)
from test_server import Opener, Sock, new_workshop, ok, wait_for

pytestmark = pytest.mark.server

HELICES = ["government", "business", "academia", "civil_society", "environment", "funders"]
BUDGET = 10


@pytest.fixture
def socks():
    opener = Opener()
    yield opener
    opener.close_all()


def database(kind: str, tmp_path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'faults.sqlite3'}"
    if not postgres_available():
        missing("PostgreSQL", f"start it at {POSTGRES_URL}")
    reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


def start(kind: str, tmp) -> LiveServer:
    """A server whose rate limit does not get in the way of the concurrency under test."""
    srv = LiveServer(database(kind, tmp), log_dir=tmp)
    srv.env.update({"EDP_RATE_BURST": "10000", "EDP_RATE_PER_SECOND": "10000",
                    "EDP_JOIN_RATE": "", "EDP_COMMENT_RATE": "", "EDP_PROPOSAL_RATE": "",
                    "EDP_PROPOSALS_PER_PARTICIPANT": "0"})
    srv.seed()
    return srv.start()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def engine_server(request, tmp_path_factory):
    srv = start(request.param, tmp_path_factory.mktemp(request.param))
    yield srv
    srv.stop()
    assert_no_tracebacks(srv)


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory):
    srv = start("sqlite", tmp_path_factory.mktemp("sqlite"))
    yield srv
    srv.stop()
    assert_no_tracebacks(srv)


def fresh(srv: LiveServer) -> LiveServer:
    """The server with a new workshop of its own in `info` (tests share one server)."""
    srv.info = new_workshop(srv)
    return srv


@pytest.fixture
def live(engine_server):
    return fresh(engine_server)


@pytest.fixture
def one(sqlite_server):
    return fresh(sqlite_server)


def assert_no_tracebacks(srv: LiveServer) -> None:
    log = srv.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]


def query(url: str, sql: str, **params) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params).all()]
    finally:
        engine.dispose()


def healthy(url: str) -> bool:
    with urllib.request.urlopen(url + "/healthz", timeout=10) as r:
        return r.status == 200 and json.load(r) == {"ok": True}


def console(srv: LiveServer, socks) -> tuple[Sock, list[int]]:
    fac = socks.open(srv.url, cookie=login_cookie(srv.url))
    state = ok(fac.call("facilitate", {"workshop_id": srv.info["id"]}))["state"]
    return fac, [d["domain_id"] for d in state["domains"]]


def phase(fac: Sock, srv: LiveServer, name: str) -> None:
    ok(fac.call("phase", {"workshop_id": srv.info["id"], "phase": name}))


def together(n: int, action, *, timeout: float = 60) -> list:
    """Run `action(i)` in n threads released at once; returns the results (or exceptions)."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        barrier.wait(timeout)
        try:
            results[i] = action(i)
        except Exception as exc:  # noqa: BLE001  (recorded; the test decides)
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not any(t.is_alive() for t in threads), "a client hung"
    return results


def same_participant(srv: LiveServer, socks, token: str, n: int) -> list[Sock]:
    """n connections of one participant (a phone with a flaky network opens several)."""
    conns = [socks.open(srv.url) for _ in range(n)]
    for c in conns:
        ok(c.call("join", {"code": srv.info["code"], "token": token}))
    return conns


# ---------------------------------------------------------------- idempotency under concurrency


def test_twenty_identical_proposals_make_one_domain(live, socks):
    fac, _ = console(live, socks)
    phase(fac, live, "propose")
    first = socks.open(live.url)
    me = ok(first.call("join", {"code": live.info["code"], "helix": "academia"}))
    conns = same_participant(live, socks, me["token"], 20)
    payload = {"title": "Offshore wind supply chain", "client_id": "prop-7f3a9c1e2b4d4e8f"}
    acks = together(20, lambda i: conns[i].call("propose", dict(payload)))
    assert all(isinstance(a, dict) and a.get("ok") for a in acks), acks
    assert len({a["domain_id"] for a in acks}) == 1, acks
    rows = query(live.db_url, "SELECT id FROM domain WHERE participant_id = :p",
                 p=me["participant_id"])
    assert rows == [(acks[0]["domain_id"],)]
    events = query(live.db_url, "SELECT count(*) FROM event WHERE kind = 'propose' AND "
                   "participant_id = :p", p=me["participant_id"])
    assert events == [(1,)]
    # Later, in another phase, the same retry still gets the original answer and changes nothing.
    phase(fac, live, "vote")
    again = ok(conns[0].call("propose", dict(payload)))
    assert again["domain_id"] == acks[0]["domain_id"]
    assert query(live.db_url, "SELECT count(*) FROM domain WHERE participant_id = :p",
                 p=me["participant_id"]) == [(1,)]


def test_twenty_identical_comments_make_one_comment(live, socks):
    fac, seeds = console(live, socks)
    phase(fac, live, "discuss")
    first = socks.open(live.url)
    me = ok(first.call("join", {"code": live.info["code"], "helix": "funders"}))
    conns = same_participant(live, socks, me["token"], 20)
    payload = {"domain_id": seeds[0], "stance": "evidence", "text": "Two labs already work on it.",
               "client_id": "c-0123456789abcdef"}
    acks = together(20, lambda i: conns[i].call("comment", dict(payload)))
    assert all(isinstance(a, dict) and a.get("ok") for a in acks), acks
    assert len({a["comment_id"] for a in acks}) == 1
    assert query(live.db_url, "SELECT count(*) FROM comment WHERE participant_id = :p",
                 p=me["participant_id"]) == [(1,)]
    assert query(live.db_url, "SELECT count(*) FROM event WHERE kind = 'comment' AND "
                 "workshop_id = :w", w=live.info["id"]) == [(1,)]
    # A different client id is a different comment.
    ok(conns[1].call("comment", {**payload, "client_id": "c-fedcba9876543210"}))
    assert query(live.db_url, "SELECT count(*) FROM comment WHERE workshop_id = :w",
                 w=live.info["id"]) == [(2,)]


def test_twenty_identical_first_joins_make_one_participant(live, socks):
    conns = [socks.open(live.url) for _ in range(20)]
    payload = {"code": live.info["code"], "helix": "environment",
               "client_id": "join-5a1d2c3b4e5f6071"}
    acks = together(20, lambda i: conns[i].call("join", dict(payload)))
    assert all(isinstance(a, dict) and a.get("ok") for a in acks), acks
    assert len({a["participant_id"] for a in acks}) == 1
    assert len({a["token"] for a in acks}) == 1
    w = live.info["id"]
    assert query(live.db_url, "SELECT count(*) FROM participant WHERE workshop_id = :w",
                 w=w) == [(1,)]
    assert query(live.db_url, "SELECT count(*) FROM event WHERE kind = 'join' AND "
                 "workshop_id = :w", w=w) == [(1,)]


def test_fifty_concurrent_votes_of_one_participant_never_exceed_the_budget(live, socks):
    fac, seeds = console(live, socks)
    phase(fac, live, "propose")
    proposer = socks.open(live.url)
    ok(proposer.call("join", {"code": live.info["code"], "helix": "business"}))
    domains = list(seeds)
    while len(domains) < 50:
        domains.append(ok(proposer.call("propose", {"title": f"Domain {len(domains)}"}))
                       ["domain_id"])
    phase(fac, live, "vote")
    voter = socks.open(live.url)
    me = ok(voter.call("join", {"code": live.info["code"], "helix": "government"}))
    conns = same_participant(live, socks, me["token"], 50)

    acks = together(50, lambda i: conns[i].call("vote", {"domain_id": domains[i], "points": 1}))
    assert all(isinstance(a, dict) for a in acks), acks
    accepted = [a for a in acks if a["ok"]]
    refused = [a for a in acks if not a["ok"]]
    assert len(accepted) == BUDGET, acks
    assert {a["error"]["code"] for a in refused} == {"over_budget"}
    # Each accepted vote saw the ones before it: remaining counts down without repeats.
    assert sorted(a["remaining"] for a in accepted) == list(range(BUDGET))
    stored = query(live.db_url, "SELECT sum(points), count(*) FROM vote WHERE participant_id = :p",
                   p=me["participant_id"])
    assert stored == [(BUDGET, BUDGET)]

    # A second wave that moves points around (3 each on other domains) still stays in budget.
    acks = together(50, lambda i: conns[i].call("vote", {"domain_id": domains[-1 - i],
                                                         "points": 3}))
    total = query(live.db_url, "SELECT coalesce(sum(points), 0) FROM vote WHERE "
                  "participant_id = :p", p=me["participant_id"])[0][0]
    assert total <= BUDGET
    assert all(a["ok"] or a["error"]["code"] in ("over_budget",) for a in acks), acks
    # The stored ballot is what the participant sees on a rejoin.
    rejoin = ok(socks.open(live.url).call("join", {"code": live.info["code"],
                                                    "token": me["token"]}))
    assert sum(rejoin["state"]["me"]["votes"].values()) == total
    assert rejoin["state"]["me"]["remaining"] == BUDGET - total


# ---------------------------------------------------------------- sleeping phones, storms


def cut(sock: Sock) -> None:
    """The phone's network goes away: the TCP connection dies without a goodbye."""
    ws = sock.sio.eio.ws
    raw = getattr(ws, "sock", None)
    if raw is not None:
        raw.shutdown(pysocket.SHUT_RDWR)


def test_a_sleeping_phone_rejoins_with_its_token_and_gets_a_fresh_state(one, socks):
    srv = one
    fac, seeds = console(srv, socks)
    phase(fac, srv, "vote")
    phone = socks.open(srv.url)
    me = ok(phone.call("join", {"code": srv.info["code"], "helix": "academia"}))
    ok(phone.call("vote", {"domain_id": seeds[0], "points": 4}))
    cut(phone)  # the screen goes off; the socket dies silently
    # Meanwhile the room moves on: results are shown and the phase changes.
    ok(fac.call("reveal", {"workshop_id": srv.info["id"], "shown": True}))
    phase(fac, srv, "results")
    other = socks.open(srv.url)
    ok(other.call("join", {"code": srv.info["code"], "helix": "business"}))

    # It wakes up on another network: a new connection, the stored token.
    woke = socks.open(srv.url)
    ack = ok(woke.call("join", {"code": srv.info["code"], "token": me["token"],
                                "helix": "government"}))
    state = ack["state"]
    assert ack["participant_id"] == me["participant_id"]
    assert state["workshop"]["phase"] == "results"
    assert state["me"]["helix"] == "academia"  # the stored helix stands
    assert state["me"]["votes"] == {str(seeds[0]): 4}
    assert state["total"] == 2 and state["results"] is not None
    assert query(srv.db_url, "SELECT count(*) FROM participant WHERE workshop_id = :w",
                 w=srv.info["id"]) == [(2,)]
    # And it is back in the room: the next broadcast reaches it.
    phase(fac, srv, "decide")
    wait_for(lambda: any(s["workshop"]["phase"] == "decide" for s in woke.got("state")),
             what="the next state broadcast on the woken phone")
    assert healthy(srv.url)


def test_reconnect_storm_of_200_phones(one, socks):
    """200 phones lose the venue's Wi-Fi at once and all come back together."""
    srv, n = one, 200
    fac, seeds = console(srv, socks)
    phase(fac, srv, "vote")
    code = srv.info["code"]

    def first_visit(i: int) -> tuple[Sock, dict]:
        s = Sock(srv.url)
        me = ok(s.call("join", {"code": code, "helix": HELICES[i % 6]}))
        ok(s.call("vote", {"domain_id": seeds[i % 3], "points": 1 + i % 4}))
        return s, me

    with ThreadPoolExecutor(32) as pool:
        phones = list(pool.map(first_visit, range(n)))
    socks.opened.extend(s for s, _ in phones)
    for s, _ in phones:
        cut(s)

    started = time.monotonic()

    def come_back(i: int) -> dict:
        s = Sock(srv.url)
        socks.opened.append(s)
        return s.sio.call("join", {"code": code, "token": phones[i][1]["token"]}, timeout=60)

    acks = together(n, come_back, timeout=120)
    took = time.monotonic() - started
    print(f"\n{n} phones reconnected and rejoined in {took:.2f} s")
    failures = [a for a in acks if not (isinstance(a, dict) and a.get("ok"))]
    assert not failures, failures[:5]
    for i, ack in enumerate(acks):
        assert ack["participant_id"] == phones[i][1]["participant_id"]
        assert ack["state"]["me"]["votes"] == {str(seeds[i % 3]): 1 + i % 4}
        assert ack["state"]["total"] == n
    assert query(srv.db_url, "SELECT count(*) FROM participant WHERE workshop_id = :w",
                 w=srv.info["id"]) == [(n,)]
    assert healthy(srv.url)
    # The server still works normally afterwards.
    late = socks.open(srv.url)
    ok(late.call("join", {"code": code, "helix": "funders"}))
    assert ok(late.call("vote", {"domain_id": seeds[0], "points": 2}))["remaining"] == 8


# ---------------------------------------------------------------- the transport's size limit


def test_a_message_above_one_megabyte_is_refused_and_the_server_stays_up(one, socks):
    srv = one
    fac, _ = console(srv, socks)
    phase(fac, srv, "propose")
    bystander = socks.open(srv.url)
    ok(bystander.call("join", {"code": srv.info["code"], "helix": "business"}))
    big = socks.open(srv.url)
    me = ok(big.call("join", {"code": srv.info["code"], "helix": "academia"}))
    # Just under 1 MB: accepted by the transport, refused by the schema.
    ack = big.call("propose", {"title": "t", "description": "x" * 990_000})
    assert ack["ok"] is False and ack["error"]["code"] == "bad_payload"
    # Above 1 MB: the transport closes that connection; nothing is stored.
    with pytest.raises(socketio.exceptions.SocketIOError):
        big.sio.call("propose", {"title": "t", "description": "x" * 1_500_000}, timeout=2)
    wait_for(lambda: not big.sio.connected, what="the oversized connection to close")
    assert query(srv.db_url, "SELECT count(*) FROM domain WHERE participant_id = :p",
                 p=me["participant_id"]) == [(0,)]
    # Everyone else carries on, and the sender can come back.
    assert ok(bystander.call("propose", {"title": "Still here"}))["domain_id"]
    again = socks.open(srv.url)
    ok(again.call("join", {"code": srv.info["code"], "token": me["token"]}))
    assert healthy(srv.url)


# ---------------------------------------------------------------- the page's own retries


@pytest.mark.browser
def test_a_proposal_made_while_the_server_is_down_is_saved_once_when_it_is_back(tmp_path):
    """static/js/socket.js: the action waits, is sent after the page reconnects and rejoins,
    carries a client_id, and is stored exactly once."""
    from conftest import chromium_path

    executable = chromium_path()
    if executable is None:
        missing("Chromium", "apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    db_url = f"sqlite:///{tmp_path / 'page.sqlite3'}"
    first = LiveServer(db_url, log_dir=tmp_path)
    first.info = first.seed()
    first.start()
    second = None
    code, wid = first.info["code"], first.info["id"]
    fac = Sock(first.url, cookie=login_cookie(first.url))
    ok(fac.call("facilitate", {"workshop_id": wid}))
    ok(fac.call("phase", {"workshop_id": wid, "phase": "propose"}))
    fac.close()
    ready = "() => window.edpReady === true && window.edpSocket && window.edpSocket.connected"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=executable,
                                         args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_context(base_url=first.url).new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"/w/{code}")
            page.wait_for_function(ready)
            page.locator('input[name="helix"][value="academia"]').check()
            page.locator("#join-form button[type=submit]").click()
            page.wait_for_selector("#view-propose:not([hidden])")

            first.kill()  # the venue's server dies
            page.wait_for_function("() => window.edpReady === false", timeout=15000)
            page.fill("#propose-title", "Sent while offline")
            page.locator("#propose-form button[type=submit]").click()
            page.wait_for_timeout(500)
            assert query(db_url, "SELECT count(*) FROM domain WHERE title = 'Sent while offline'"
                         ) == [(0,)]

            # It comes back on the same address; the page reconnects, rejoins, then sends.
            second = LiveServer(db_url, log_dir=tmp_path)
            second.port, second.url = first.port, first.url
            second.env["EDP_PUBLIC_URL"] = first.url
            second.start()
            page.wait_for_function(
                "() => document.getElementById('propose-status').dataset.kind === 'ok'",
                timeout=30000)
            rows = query(db_url, "SELECT participant_id, client_id FROM domain "
                         "WHERE title = 'Sent while offline'")
            assert len(rows) == 1, rows
            assert rows[0][0] is not None and re.fullmatch(r"[0-9a-f]{32}", rows[0][1]), rows
            assert query(db_url, "SELECT count(*) FROM participant") == [(1,)]
            assert not errors, errors
            browser.close()
    finally:
        first.stop()
        if second is not None:
            second.stop()
