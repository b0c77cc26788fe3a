"""A real `edp run` process driven by python-socketio clients over real websockets.

Phones join, propose and vote; the projector gets results only once revealed; results
broadcasts are coalesced; acked votes survive kill -9; the same flow runs on PostgreSQL.
"""
from __future__ import annotations

import contextlib
import json
import threading
import time

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

pytestmark = pytest.mark.server


# ---------------------------------------------------------------- clients


class Sock:
    """A python-socketio client that records every event it receives."""

    def __init__(self, url: str, cookie: str | None = None):
        self.received: list[tuple[str, object]] = []
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._record)
        headers = {"Cookie": cookie} if cookie else {}
        self.sio.connect(url, headers=headers, transports=["websocket"], wait_timeout=10)

    def _record(self, event, *args):
        self.received.append((event, args[0] if args else None))

    def call(self, event: str, data) -> dict:
        return self.sio.call(event, data, timeout=5)

    def got(self, name: str) -> list:
        return [data for event, data in list(self.received) if event == name]

    def clear(self) -> None:
        self.received.clear()

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the server may be gone (kill -9)
            self.sio.disconnect()


class Opener:
    """Opens clients and closes them all at the end of a test."""

    def __init__(self):
        self.opened: list[Sock] = []

    def open(self, url: str, cookie: str | None = None) -> Sock:
        s = Sock(url, cookie)
        self.opened.append(s)
        return s

    def close_all(self) -> None:
        for s in self.opened:
            s.close()


@pytest.fixture
def socks():
    opener = Opener()
    yield opener
    opener.close_all()


def ok(ack: dict) -> dict:
    assert isinstance(ack, dict) and ack.get("ok") is True, ack
    return ack


def wait_for(predicate, timeout: float = 10.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def scores(results: dict) -> dict[int, float]:
    return {e["domain_id"]: e["score"] for e in results["ranking"]}


def stored_totals(db_url: str, workshop_id: int) -> dict[int, int]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT domain_id, SUM(points) FROM vote WHERE workshop_id = :w "
                "GROUP BY domain_id"), {"w": workshop_id}).all()
    finally:
        engine.dispose()
    return {int(d): int(n) for d, n in rows}


# ---------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One SQLite-backed server for the tests that do not kill it."""
    tmp = tmp_path_factory.mktemp("server")
    srv = LiveServer(f"sqlite:///{tmp / 'live.sqlite3'}", log_dir=tmp)
    info = srv.seed()
    srv.start()
    srv.info = info
    yield srv
    srv.stop()


def new_workshop(srv: LiveServer, **args) -> dict:
    from conftest import TEMPLATE

    cmd = ["workshop", "create", "--template", str(TEMPLATE), "--facilitator", "fac@example.org"]
    for k, v in args.items():
        cmd += [f"--{k}", v]
    return json.loads(srv.cli(*cmd).strip().splitlines()[-1])


def basic_flow(srv: LiveServer, info: dict, socks) -> None:
    url, wid = srv.url, info["id"]
    fac = socks.open(url, cookie=login_cookie(url))
    state = ok(fac.call("facilitate", {"workshop_id": wid}))["state"]
    seeds = [d["domain_id"] for d in state["domains"]]
    ok(fac.call("phase", {"workshop_id": wid, "phase": "propose"}))
    projector = socks.open(url)
    assert ok(projector.call("watch", {"code": info["code"]}))["state"]["results"] is None
    phones = [socks.open(url) for _ in range(3)]
    for phone, helix in zip(phones, ["business", "academia", "government"]):
        ack = ok(phone.call("join", {"code": info["code"], "helix": helix}))
        assert ack["state"]["workshop"]["phase"] == "propose"
    dom = ok(phones[0].call("propose", {"title": "Green hydrogen valleys"}))["domain_id"]
    wait_for(lambda: any(dom in [d["domain_id"] for d in s["domains"]]
                         for s in projector.got("state")), what="the proposal on the projector")
    # A ~900 KB field crosses the real transport and is refused cleanly; the socket lives on.
    big = phones[1].call("propose", {"title": "x" * 900_000})
    assert big["ok"] is False and big["error"]["code"] == "bad_payload"
    ok(phones[1].call("comment", {"domain_id": dom, "stance": "support", "text": "Yes"}))

    ok(fac.call("phase", {"workshop_id": wid, "phase": "vote"}))
    projector.clear()
    for phone, votes in zip(phones, [{dom: 4, seeds[0]: 2}, {dom: 3}, {seeds[1]: 5}]):
        for domain_id, points in votes.items():
            ok(phone.call("vote", {"domain_id": domain_id, "points": points}))
    expected = {dom: 7, seeds[0]: 2, seeds[1]: 5}

    def matches(client):
        got = client.got("results")
        return got and all(scores(got[-1]).get(d) == n for d, n in expected.items())

    wait_for(lambda: matches(fac), what="results at the facilitator")
    time.sleep(0.6)  # three coalescing intervals: anything meant for the room has gone out
    assert projector.got("results") == [] and phones[0].got("results") == []

    ok(fac.call("reveal", {"workshop_id": wid, "shown": True}))
    wait_for(lambda: matches(projector), what="results at the projector after reveal")
    wait_for(lambda: matches(phones[2]), what="results on a phone after reveal")
    final = projector.got("results")[-1]
    # One voter per helix: pooled on public screens (privacy), each on its own at the console.
    assert final["participation"]["_other"] == 3 and not final["participation"].get("business")
    assert fac.got("results")[-1]["participation"]["business"] == 1
    assert {k: v for k, v in scores(final).items() if v} == expected
    assert stored_totals(srv.db_url, wid) == expected


def test_phones_vote_and_the_projector_sees_results_after_reveal(server, socks):
    basic_flow(server, server.info, socks)


def test_results_broadcasts_are_coalesced(server, socks):
    info = new_workshop(server)
    url, wid = server.url, info["id"]
    fac = socks.open(url, cookie=login_cookie(url))
    seeds = [d["domain_id"] for d in ok(fac.call("facilitate", {"workshop_id": wid}))
             ["state"]["domains"]]
    ok(fac.call("phase", {"workshop_id": wid, "phase": "vote"}))
    ok(fac.call("reveal", {"workshop_id": wid, "shown": True}))
    projector = socks.open(url)
    ok(projector.call("watch", {"code": info["code"]}))
    helices = ["government", "business", "academia", "civil_society", "environment", "funders"]
    phones = [socks.open(url) for _ in range(10)]
    for i, phone in enumerate(phones):
        ok(phone.call("join", {"code": info["code"], "helix": helices[i % 6]}))
    time.sleep(0.5)
    projector.clear()

    plan = [[(seeds[0], 1 + i % 3), (seeds[1], 2), (seeds[2], 1 + i % 2)] for i in range(10)]
    failures = []

    def cast(phone, votes):
        for domain_id, points in votes:
            ack = phone.call("vote", {"domain_id": domain_id, "points": points})
            if not ack.get("ok"):
                failures.append(ack)

    threads = [threading.Thread(target=cast, args=(p, v)) for p, v in zip(phones, plan)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not failures, failures
    expected = {seeds[0]: sum(1 + i % 3 for i in range(10)), seeds[1]: 20,
                seeds[2]: sum(1 + i % 2 for i in range(10))}
    assert stored_totals(server.db_url, wid) == expected
    wait_for(lambda: projector.got("results")
             and scores(projector.got("results")[-1]) == expected,
             what="the final results at the projector")
    time.sleep(0.5)  # nothing more should come
    n = len(projector.got("results"))
    assert 1 <= n <= 10, f"{n} results broadcasts for 30 votes: not coalesced"
    assert scores(projector.got("results")[-1]) == expected


def test_acked_votes_survive_kill_9_and_rejoin_restores_them(tmp_path, socks):
    db_url = f"sqlite:///{tmp_path / 'durable.sqlite3'}"
    first = LiveServer(db_url, log_dir=tmp_path)
    info = first.seed()
    first.start()
    try:
        url, wid = first.url, info["id"]
        fac = socks.open(url, cookie=login_cookie(url))
        seeds = [d["domain_id"] for d in ok(fac.call("facilitate", {"workshop_id": wid}))
                 ["state"]["domains"]]
        ok(fac.call("phase", {"workshop_id": wid, "phase": "vote"}))
        phones = [socks.open(url) for _ in range(6)]
        tokens = [ok(p.call("join", {"code": info["code"], "helix": "business"}))["token"]
                  for p in phones]
        acked: list[dict[int, int]] = [{} for _ in phones]

        def burst(k: int) -> None:
            # Changes of mind: the last acked value per domain is what must survive.
            for step in range(6):
                domain_id = seeds[step % 3]
                points = (k + step) % 4 + 1
                ack = phones[k].call("vote", {"domain_id": domain_id, "points": points})
                if ack.get("ok"):
                    acked[k][domain_id] = points

        threads = [threading.Thread(target=burst, args=(k,)) for k in range(len(phones))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        first.kill()  # kill -9 right after the last ack
    assert all(acked), acked
    expected: dict[int, int] = {}
    for votes in acked:
        for d, n in votes.items():
            expected[d] = expected.get(d, 0) + n

    second = LiveServer(db_url, log_dir=tmp_path).start()
    try:
        url = second.url
        fac = socks.open(url, cookie=login_cookie(url))
        state = ok(fac.call("facilitate", {"workshop_id": wid}))["state"]
        assert {k: v for k, v in scores(state["results"]).items() if v} == expected
        for token, votes in zip(tokens, acked):
            phone = socks.open(url)
            me = ok(phone.call("join", {"code": info["code"], "token": token}))["state"]["me"]
            assert me["votes"] == {str(d): n for d, n in votes.items()}
            assert me["remaining"] == 10 - sum(votes.values())
    finally:
        second.stop()


@pytest.mark.postgres
def test_the_same_flow_on_postgresql(tmp_path, socks):
    if not postgres_available():
        missing("PostgreSQL", f"start it at {POSTGRES_URL}")
    reset_postgres(POSTGRES_URL)
    srv = LiveServer(POSTGRES_URL, log_dir=tmp_path)
    info = srv.seed()
    srv.start()
    try:
        basic_flow(srv, info, socks)
    finally:
        srv.stop()


def _engine_url(engine: str, tmp_path) -> str:
    if engine == "sqlite":
        return f"sqlite:///{tmp_path / 'burst.sqlite3'}"
    if not postgres_available():
        missing("PostgreSQL", f"start it at {POSTGRES_URL}")
    reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


def _stored_votes(db_url: str, workshop_id: int) -> dict[tuple[int, int], int]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT participant_id, domain_id, points FROM vote WHERE workshop_id = :w"),
                {"w": workshop_id}).all()
    finally:
        engine.dispose()
    return {(int(p), int(d)): int(n) for p, d, n in rows}


def _last_vote_events(db_url: str, workshop_id: int) -> dict[tuple[int, int], int]:
    """The points of the latest `vote` event per participant and domain (the record)."""
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT participant_id, payload FROM event WHERE workshop_id = :w AND "
                "kind = 'vote' ORDER BY id"), {"w": workshop_id}).all()
    finally:
        engine.dispose()
    last = {}
    for pid, payload in rows:
        payload = json.loads(payload) if isinstance(payload, str) else payload
        last[(int(pid), int(payload["domain_id"]))] = int(payload["points"])
    return last


@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_kill_9_during_a_vote_burst_loses_no_acked_vote(engine, tmp_path, socks):
    """The server is killed while phones are still sending. Afterwards every (phone, domain)
    holds its last acked value, or the value of the one send still in flight at the kill
    (acked ⊆ stored, stored ⊆ sent); the record agrees; the restarted server serves it."""
    db_url = _engine_url(engine, tmp_path)
    first = LiveServer(db_url, log_dir=tmp_path)
    first.env.update({"EDP_RATE_BURST": "100000", "EDP_RATE_PER_SECOND": "100000"})
    info = first.seed()
    first.start()
    url, wid = first.url, info["id"]
    fac = socks.open(url, cookie=login_cookie(url))
    seeds = [d["domain_id"] for d in ok(fac.call("facilitate", {"workshop_id": wid}))
             ["state"]["domains"]][:3]
    ok(fac.call("phase", {"workshop_id": wid, "phase": "vote"}))
    helices = ["government", "business", "academia", "civil_society", "environment", "funders"]
    phones = [socks.open(url) for _ in range(8)]
    joined = [ok(p.call("join", {"code": info["code"], "helix": helices[k % 6]}))
              for k, p in enumerate(phones)]
    # Per phone, in order: [domain_id, points, "sent" | "acked" | "refused" | "lost"].
    sent: list[list[list]] = [[] for _ in phones]
    acked = [0]
    lock = threading.Lock()

    def burst(k: int) -> None:
        # At most 3 points on each of 3 domains: never over the budget of 10, so every vote
        # the server reads is accepted and every refusal would be a bug.
        for step in range(10_000):
            entry = [seeds[step % 3], (k + step) % 3 + 1, "sent"]
            sent[k].append(entry)
            try:
                ack = phones[k].sio.call("vote", {"domain_id": entry[0], "points": entry[1]},
                                         timeout=5)
            except Exception:  # noqa: BLE001  (the server is gone: this send may or may not count)
                entry[2] = "lost"
                return
            entry[2] = "acked" if ack.get("ok") else "refused"
            with lock:
                acked[0] += 1

    threads = [threading.Thread(target=burst, args=(k,)) for k in range(len(phones))]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: acked[0] >= 300, timeout=60, what="a few hundred acked votes")
    finally:
        first.kill()  # kill -9 in the middle of the burst
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads)
    first.stop()
    entries = [e for log in sent for e in log]
    assert not [e for e in entries if e[2] == "refused"]
    assert sum(e[2] == "lost" for e in entries) >= 1, "the kill came after the burst"

    stored = _stored_votes(db_url, wid)
    expected: dict[tuple[int, int], int] = {}
    for k, log in enumerate(sent):
        pid = joined[k]["participant_id"]
        for d in seeds:
            mine = [e for e in log if e[0] == d]
            done = [i for i, e in enumerate(mine) if e[2] == "acked"]
            if done:
                allowed = {mine[done[-1]][1]} | {e[1] for e in mine[done[-1] + 1:]}
            else:
                allowed = {0} | {e[1] for e in mine}
            got = stored.get((pid, d), 0)
            assert got in allowed, (k, d, got, mine[-3:])
            if got:
                expected[(pid, d)] = got
    assert stored == expected  # and nothing stored that no phone sent
    # Each stored ballot was committed with its event: the record ends on the same value.
    record = _last_vote_events(db_url, wid)
    assert {key: n for key, n in record.items() if n} == stored

    second = LiveServer(db_url, log_dir=tmp_path).start()
    try:
        url = second.url
        fac = socks.open(url, cookie=login_cookie(url))
        state = ok(fac.call("facilitate", {"workshop_id": wid}))["state"]
        totals: dict[int, int] = {}
        for (_pid, d), n in stored.items():
            totals[d] = totals.get(d, 0) + n
        assert {k: v for k, v in scores(state["results"]).items() if v} == totals
        for k, me in enumerate(joined):
            phone = socks.open(url)
            back = ok(phone.call("join", {"code": info["code"], "token": me["token"]}))
            mine = {str(d): n for (pid, d), n in stored.items() if pid == me["participant_id"]}
            assert back["state"]["me"]["votes"] == mine
    finally:
        second.stop()
    log = second.log_path.read_text(errors="replace") + first.log_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


def test_a_crowd_gets_fewer_broadcasts_that_still_end_on_the_truth(server, socks):
    """Joins, comments and votes in bursts: the room gets `counts` and `results` throttled
    and each comment as itself (what makes 3,000 phones possible), ending on the truth.
    Phones get the contract's part of the results; the projector gets everything."""
    info = new_workshop(server)
    url, wid = server.url, info["id"]
    fac = socks.open(url, cookie=login_cookie(url))
    seeds = [d["domain_id"] for d in ok(fac.call("facilitate", {"workshop_id": wid}))
             ["state"]["domains"]]
    projector = socks.open(url)
    ok(projector.call("watch", {"code": info["code"]}))
    first = socks.open(url)
    ok(first.call("join", {"code": info["code"], "helix": "business"}))
    helices = ["government", "business", "academia", "civil_society", "environment", "funders"]
    phones = [socks.open(url) for _ in range(30)]

    def join(i, phone):
        ok(phone.call("join", {"code": info["code"], "helix": helices[i % 6]}))

    threads = [threading.Thread(target=join, args=(i, p)) for i, p in enumerate(phones)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    wait_for(lambda: first.got("counts") and first.got("counts")[-1]["total"] == 31,
             what="the final head count on the first phone")
    assert len(first.got("counts")) < 15, "a counts broadcast for (nearly) every join"
    # The same broadcast reaches the projector's own connection, not necessarily first.
    wait_for(lambda: projector.got("counts")
             and projector.got("counts")[-1]["counts"]["business"] == 6,
             what="the final head count on the projector")

    ok(fac.call("phase", {"workshop_id": wid, "phase": "discuss"}))
    first.clear()
    for i, phone in enumerate(phones[:20]):
        ok(phone.call("comment", {"domain_id": seeds[i % 3], "stance": "support",
                                  "text": f"comment {i}"}))
    wait_for(lambda: len(first.got("comment")) == 20, what="all 20 comments on a phone")
    assert sorted(c["text"] for c in first.got("comment")) == sorted(
        f"comment {i}" for i in range(20))
    # Each comment travels as itself; the full state (every comment's text) is not resent.
    assert first.got("state") == [], "a full state broadcast for comments"

    ok(fac.call("phase", {"workshop_id": wid, "phase": "vote"}))
    ok(fac.call("reveal", {"workshop_id": wid, "shown": True}))
    time.sleep(0.5)
    first.clear()
    projector.clear()
    start = time.monotonic()

    def cast(i, phone):
        for k in range(3):
            ok(phone.call("vote", {"domain_id": seeds[(i + k) % 3], "points": 1 + k}))

    threads = [threading.Thread(target=cast, args=(i, p)) for i, p in enumerate(phones)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    expected = stored_totals(server.db_url, wid)
    assert sum(expected.values()) == 30 * 6
    wait_for(lambda: first.got("results") and scores(first.got("results")[-1]) == expected,
             what="the final results on a phone")
    wait_for(lambda: projector.got("results")
             and scores(projector.got("results")[-1]) == expected,
             what="the final results on the projector")
    elapsed = time.monotonic() - start
    # At most one phone round a second (and the one at once after a quiet spell).
    assert len(first.got("results")) <= elapsed / 1.0 + 2
    phone_view, screen_view = first.got("results")[-1], projector.got("results")[-1]
    assert "warnings" in screen_view and "consensus" in screen_view["ranking"][0]
    assert "warnings" not in phone_view and "consensus" not in phone_view["ranking"][0]
    assert phone_view["participation"] == screen_view["participation"]
    for mine, full in zip(phone_view["ranking"], screen_view["ranking"]):
        assert mine == {k: full[k] for k in mine}
        assert {"title", "by_helix", "balanced_score", "voters"} <= set(mine)


def _handshake_extensions(url: str) -> str | None:
    """Open a WebSocket as a browser does (offering permessage-deflate); the extensions the
    server accepted, or None."""
    import base64
    import os
    import socket
    import urllib.parse

    u = urllib.parse.urlsplit(url)
    with socket.create_connection((u.hostname, u.port), timeout=5) as s:
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {u.netloc}\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
                   "\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
    lines = head.split(b"\r\n\r\n")[0].decode().split("\r\n")
    assert lines[0].startswith("HTTP/1.1 101"), lines[0]
    found = [v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
             if k.lower() == "sec-websocket-extensions"]
    return found[0] if found else None


def test_websockets_are_not_compressed_unless_asked(server, tmp_path):
    """Browsers offer permessage-deflate; by default the server declines it (a compressor per
    phone cost three times the CPU per vote at a burst), and EDP_WS_COMPRESSION=1 accepts it."""
    assert _handshake_extensions(server.url) is None
    other = LiveServer(f"sqlite:///{tmp_path / 'deflate.sqlite3'}", log_dir=tmp_path)
    other.env["EDP_WS_COMPRESSION"] = "1"
    other.cli("init-db")
    other.start()
    try:
        assert "permessage-deflate" in (_handshake_extensions(other.url) or "")
    finally:
        other.stop()
