"""Two server processes sharing PostgreSQL and a Redis message queue: what happens on one
reaches the clients of the other."""
from __future__ import annotations

import time

import pytest
from conftest import (
    POSTGRES_URL,
    REDIS_URL,
    LiveServer,
    login_cookie,
    missing,
    postgres_available,
    redis_available,
    reset_postgres,
)
from test_server import Opener, ok, scores, wait_for

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.redis]

QUEUE = REDIS_URL.rsplit("/", 1)[0] + "/5"


@pytest.fixture
def socks():
    opener = Opener()
    yield opener
    opener.close_all()


@pytest.fixture
def two_servers(tmp_path):
    if not postgres_available():
        missing("PostgreSQL", f"start it at {POSTGRES_URL}")
    if not redis_available():
        missing("Redis", f"start it at {REDIS_URL}")
    reset_postgres(POSTGRES_URL)
    a = LiveServer(POSTGRES_URL, message_queue=QUEUE, log_dir=tmp_path)
    info = a.seed()
    b = LiveServer(POSTGRES_URL, message_queue=QUEUE, log_dir=tmp_path)
    try:
        a.start()
        b.start()
        yield a, b, info
    finally:
        a.stop()
        b.stop()


def test_a_vote_on_one_process_reaches_a_projector_on_the_other(two_servers, socks):
    a, b, info = two_servers
    wid = info["id"]
    fac = socks.open(a.url, cookie=login_cookie(a.url))
    seeds = [d["domain_id"] for d in ok(fac.call("facilitate", {"workshop_id": wid}))
             ["state"]["domains"]]
    projector = socks.open(b.url)
    ok(projector.call("watch", {"code": info["code"]}))

    # A phase change on A reaches B's projector.
    ok(fac.call("phase", {"workshop_id": wid, "phase": "vote"}))
    wait_for(lambda: any(s["workshop"]["phase"] == "vote" for s in projector.got("state")),
             what="the phase change on process B")

    phone_a = socks.open(a.url)
    ok(phone_a.call("join", {"code": info["code"], "helix": "business"}))
    ok(phone_a.call("vote", {"domain_id": seeds[0], "points": 4}))
    for _ in range(2):  # business needs three voters to be shown on its own (privacy)
        extra = socks.open(a.url)
        ok(extra.call("join", {"code": info["code"], "helix": "business"}))
        ok(extra.call("vote", {"domain_id": seeds[2], "points": 1}))
    time.sleep(0.6)
    assert projector.got("results") == []  # not revealed yet, on either process

    ok(fac.call("reveal", {"workshop_id": wid, "shown": True}))
    wait_for(lambda: projector.got("results")
             and scores(projector.got("results")[-1]).get(seeds[0]) == 4,
             what="results on process B after the reveal on A")
    ok(phone_a.call("vote", {"domain_id": seeds[1], "points": 3}))
    wait_for(lambda: scores(projector.got("results")[-1]).get(seeds[1]) == 3,
             what="a later vote on A reaching B")

    # And the other way round: a phone on B, the facilitator's console on A.
    phone_b = socks.open(b.url)
    ok(phone_b.call("join", {"code": info["code"], "helix": "business"}))
    ok(phone_b.call("vote", {"domain_id": seeds[0], "points": 2}))
    wait_for(lambda: fac.got("results") and scores(fac.got("results")[-1]).get(seeds[0]) == 6,
             what="results of a vote on B at the console on A")
    wait_for(lambda: scores(projector.got("results")[-1]).get(seeds[0]) == 6,
             what="the projector on B seeing the vote on B")
    final = projector.got("results")[-1]
    assert final["participation"]["business"] == 4
    assert fac.got("results")[-1]["participation"]["business"] == 4


def test_votes_on_both_processes_give_one_stream_of_results(two_servers, socks):
    """Both processes receive votes at once: one of them at a time computes and publishes the
    results (a Redis lease), so the projector is not sent every tally twice, and the last
    results it gets equal what is stored."""
    import threading

    from test_server import stored_totals

    a, b, info = two_servers
    wid = info["id"]
    fac = socks.open(a.url, cookie=login_cookie(a.url))
    seeds = [d["domain_id"] for d in ok(fac.call("facilitate", {"workshop_id": wid}))
             ["state"]["domains"]]
    ok(fac.call("phase", {"workshop_id": wid, "phase": "vote"}))
    ok(fac.call("reveal", {"workshop_id": wid, "shown": True}))
    projector = socks.open(b.url)
    ok(projector.call("watch", {"code": info["code"]}))
    phones = [socks.open(a.url if i % 2 else b.url) for i in range(12)]
    for i, phone in enumerate(phones):
        ok(phone.call("join", {"code": info["code"], "helix": ["business", "academia"][i % 2]}))
    time.sleep(0.5)
    projector.clear()
    start = time.monotonic()

    def cast(i, phone):
        for k in range(8):
            ok(phone.call("vote", {"domain_id": seeds[(i + k) % 3], "points": 1 + (k % 3)}))
            time.sleep(0.05)

    threads = [threading.Thread(target=cast, args=(i, p)) for i, p in enumerate(phones)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    expected = stored_totals(a.db_url, wid)
    wait_for(lambda: projector.got("results")
             and scores(projector.got("results")[-1]) == expected,
             what="the final results on the projector")
    elapsed = time.monotonic() - start
    time.sleep(0.5)
    n = len(projector.got("results"))
    # One stream at most 5 a second; two independent publishers would send about twice that.
    assert n <= elapsed / 0.2 + 3, f"{n} results in {elapsed:.1f} s"
    assert scores(projector.got("results")[-1]) == expected


def test_rate_limits_are_shared_by_the_processes(tmp_path, socks):
    """With Redis, a limit holds across processes: a workshop's join rate of 4 a minute lets 4
    new phones in over both processes together, not 4 on each."""
    if not postgres_available():
        missing("PostgreSQL", f"start it at {POSTGRES_URL}")
    if not redis_available():
        missing("Redis", f"start it at {REDIS_URL}")
    reset_postgres(POSTGRES_URL)
    servers = []
    for _ in range(2):
        srv = LiveServer(POSTGRES_URL, message_queue=QUEUE, log_dir=tmp_path)
        srv.env["EDP_JOIN_RATE"] = "4 per 60 seconds"
        srv.env["EDP_MESSAGE_QUEUE_CHANNEL"] = f"edp-limits-{time.time_ns()}"
        servers.append(srv)
    servers[1].env["EDP_MESSAGE_QUEUE_CHANNEL"] = servers[0].env["EDP_MESSAGE_QUEUE_CHANNEL"]
    info = servers[0].seed()
    try:
        for srv in servers:
            srv.start()
        acks = []
        for i in range(6):
            phone = socks.open(servers[i % 2].url)
            acks.append(phone.call("join", {"code": info["code"], "helix": "business"}))
        assert [a.get("ok") is True for a in acks] == [True] * 4 + [False] * 2, acks
        assert all(a["error"]["code"] == "rate_limited" for a in acks[4:])
        assert {a["error"]["retry_after"] > 0 for a in acks[4:]} == {True}
    finally:
        for srv in servers:
            srv.stop()


def test_rate_limits_count_in_the_process_while_redis_is_unreachable():
    from edp.limits import Limits

    lim = Limits("redis://127.0.0.1:1/0", "edp-test")
    spec = "2 per 60 seconds"
    assert lim.hit(spec, "k") and lim.hit(spec, "k")
    assert not lim.hit(spec, "k")  # counted in memory: the limit still holds
    assert lim.limiter is lim.local  # Redis is left alone for a while after the failure
