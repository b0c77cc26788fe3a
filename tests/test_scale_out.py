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
    ok(phone_b.call("join", {"code": info["code"], "helix": "academia"}))
    ok(phone_b.call("vote", {"domain_id": seeds[0], "points": 2}))
    wait_for(lambda: fac.got("results") and scores(fac.got("results")[-1]).get(seeds[0]) == 6,
             what="results of a vote on B at the console on A")
    wait_for(lambda: scores(projector.got("results")[-1]).get(seeds[0]) == 6,
             what="the projector on B seeing the vote on B")
    final = projector.got("results")[-1]
    assert final["participation"]["business"] == 1 and final["participation"]["academia"] == 1
