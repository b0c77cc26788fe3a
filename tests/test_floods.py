"""Floods (issue #14, items 2 and 3) against a real server with real Socket.IO clients: a
comment flood is mostly refused and leaves join acks small, caps answer too_many, one
connection cannot mint participants, joins per workshop are throttled, and the facilitator can
close joining without locking out those who already joined."""
from __future__ import annotations

import json
import threading
import time

import pytest
import sqlalchemy as sa
from conftest import LiveServer, login_cookie
from test_server import Opener, ok, wait_for

pytestmark = pytest.mark.server

HELICES = ["government", "business", "academia", "civil_society", "environment", "funders"]
LONG = "Evidence from the regional survey. " * 142  # ~5,000 characters, as in the issue


@pytest.fixture
def socks():
    opener = Opener()
    yield opener
    opener.close_all()


def serve(tmp_path, **env) -> tuple[LiveServer, dict]:
    """A fresh SQLite-backed server with these EDP_* settings, a facilitator and a workshop."""
    srv = LiveServer(f"sqlite:///{tmp_path / 'flood.sqlite3'}", log_dir=tmp_path)
    srv.env.update({f"EDP_{k}": str(v) for k, v in env.items()})
    info = srv.seed()
    srv.start()
    return srv, info


@pytest.fixture
def servers():
    started: list[LiveServer] = []
    yield started
    for srv in started:
        srv.stop()


def console(srv: LiveServer, info: dict, socks, phase: str | None = None):
    fac = socks.open(srv.url, cookie=login_cookie(srv.url))
    state = ok(fac.call("facilitate", {"workshop_id": info["id"]}))["state"]
    if phase:
        ok(fac.call("phase", {"workshop_id": info["id"], "phase": phase}))
    return fac, [d["domain_id"] for d in state["domains"]]


def refused(ack: dict, code: str) -> dict:
    assert isinstance(ack, dict) and ack.get("ok") is False, ack
    assert ack["error"]["code"] == code, ack
    assert ack["error"]["message"], ack
    return ack["error"]


def count(srv: LiveServer, table: str, workshop_id: int, where: str = "") -> int:
    engine = sa.create_engine(srv.db_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(
                f"SELECT COUNT(*) FROM {table} WHERE workshop_id = :w {where}"),
                {"w": workshop_id}).scalar())
    finally:
        engine.dispose()


def size(payload) -> int:
    return len(json.dumps(payload))


def flood(phones, domains, per_phone: int) -> list[dict]:
    """Each phone sends `per_phone` ~5,000-character comments as fast as its acks come back."""
    acks: list[dict] = []
    lock = threading.Lock()

    def run(i, phone):
        for k in range(per_phone):
            ack = phone.call("comment", {"domain_id": domains[(i + k) % len(domains)],
                                         "stance": "evidence", "text": f"{k} {LONG}"})
            with lock:
                acks.append(ack)

    threads = [threading.Thread(target=run, args=(i, p)) for i, p in enumerate(phones)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return acks


# ---------------------------------------------------------------- item 2: comment floods


def test_a_comment_flood_is_mostly_refused_and_join_acks_stay_small(tmp_path, socks, servers):
    srv, info = serve(tmp_path)  # the shipped defaults
    servers.append(srv)
    _fac, seeds = console(srv, info, socks, "discuss")
    phones = [socks.open(srv.url) for _ in range(5)]
    for i, phone in enumerate(phones):
        ok(phone.call("join", {"code": info["code"], "helix": HELICES[i]}))
    acks = flood(phones, seeds, per_phone=40)
    accepted = [a for a in acks if a.get("ok")]
    errors = [a["error"] for a in acks if not a.get("ok")]
    assert len(accepted) + len(errors) == 200
    assert len(errors) >= 150, f"only {len(errors)} of 200 flood comments refused"
    assert {e["code"] for e in errors} <= {"rate_limited", "too_many"}
    # The comment rate says when to try again (the per-event limit, as before, does not).
    hinted = [e for e in errors if "retry_after" in e]
    assert hinted and all(e["code"] == "rate_limited" and e["retry_after"] >= 1 for e in hinted)
    assert count(srv, "comment", info["id"]) == len(accepted)

    # 20 phones joining after the flood get small acks.
    joiners = [socks.open(srv.url) for _ in range(20)]
    sizes = [size(ok(p.call("join", {"code": info["code"], "helix": HELICES[i % 6]})))
             for i, p in enumerate(joiners)]
    assert max(sizes) < 500_000, sizes
    projector = socks.open(srv.url)
    assert size(ok(projector.call("watch", {"code": info["code"]}))) < 500_000
    # A phone still comments normally once the flood is over.
    ok(joiners[0].call("comment", {"domain_id": seeds[0], "stance": "support", "text": "Yes"}))


def test_states_stay_small_and_comments_load_page_by_page(tmp_path, socks, servers):
    """Even with the caps and rates lifted, 200 long comments leave the join ack, `watch` and
    `facilitate` small; `comments` pages through a domain's comments, hidden ones for the
    facilitator only."""
    srv, info = serve(tmp_path, COMMENT_RATE="", RATE_PER_SECOND=10_000,
                      COMMENTS_PER_PARTICIPANT=0, COMMENTS_PER_WORKSHOP=0)
    servers.append(srv)
    fac, seeds = console(srv, info, socks, "discuss")
    phones = [socks.open(srv.url) for _ in range(5)]
    for i, phone in enumerate(phones):
        ok(phone.call("join", {"code": info["code"], "helix": HELICES[i]}))
    acks = flood(phones, [seeds[0], seeds[0], seeds[0], seeds[1]], per_phone=40)
    assert all(a["ok"] for a in acks), [a for a in acks if not a["ok"]][:3]
    on_first = count(srv, "comment", info["id"], f"AND domain_id = {seeds[0]}")
    assert on_first >= 140  # ~5,000 characters each: 0.7 MB of text on one domain

    late = socks.open(srv.url)
    joined = ok(late.call("join", {"code": info["code"], "helix": "academia"}))
    watched = ok(socks.open(srv.url).call("watch", {"code": info["code"]}))
    facilitated = ok(fac.call("facilitate", {"workshop_id": info["id"]}))
    for ack in (joined, watched, facilitated):
        assert size(ack) < 500_000, size(ack)
        state = ack["state"]
        assert 0 < len(state["comments"]) <= 50 and state["comments_more"] is True
        counts = {d["domain_id"]: d["comments"] for d in state["domains"]}
        assert counts[seeds[0]] == on_first and sum(counts.values()) == 200

    # The facilitator hides one comment: the room's pages leave it out, the console's mark it.
    stored = sorted(_ids(srv, seeds[0]))
    hidden_id = stored[len(stored) // 2]
    ok(fac.call("moderate", {"workshop_id": info["id"], "comment_id": hidden_id,
                             "action": "hide"}))

    def all_pages(client, **extra) -> list[dict]:
        got, before = [], None
        for _ in range(20):
            payload = {"domain_id": seeds[0], **extra, **({"before": before} if before else {})}
            page = ok(client.call("comments", payload))
            assert 0 < len(page["comments"]) <= 50 or not page["more"]
            assert size(page) < 500_000
            got = page["comments"] + got
            if not page["more"]:
                return got
            before = page["comments"][0]["comment_id"]
        raise AssertionError("more than 20 pages")

    room_view = all_pages(late)
    ids = [c["comment_id"] for c in room_view]
    assert ids == [i for i in stored if i != hidden_id]
    assert {c["domain_id"] for c in room_view} == {seeds[0]}
    assert room_view[0]["text"].endswith(LONG.strip()[-20:])
    assert all("hidden" not in c for c in room_view)
    screen = socks.open(srv.url)
    ok(screen.call("watch", {"code": info["code"]}))
    assert [c["comment_id"] for c in all_pages(screen)] == ids
    console_view = all_pages(fac, workshop_id=info["id"])
    assert len(console_view) == on_first
    assert [c["comment_id"] for c in console_view] == stored
    assert [c["comment_id"] for c in console_view if c["hidden"]] == [hidden_id]

    # Nobody else pages through them; a phone cannot ask for another workshop's console view.
    refused(socks.open(srv.url).call("comments", {"domain_id": seeds[0]}), "not_joined")
    refused(late.call("comments", {"domain_id": 10**6}), "not_found")
    assert late.call("comments", {"workshop_id": info["id"] + 1, "domain_id": seeds[0]})[
        "ok"] is False


def _ids(srv: LiveServer, domain_id: int) -> set[int]:
    engine = sa.create_engine(srv.db_url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(sa.text(
                "SELECT id FROM comment WHERE domain_id = :d"), {"d": domain_id}).scalars())
    finally:
        engine.dispose()


def test_caps_per_participant_and_per_workshop_answer_too_many(tmp_path, socks, servers):
    srv, info = serve(tmp_path, COMMENTS_PER_PARTICIPANT=3, COMMENTS_PER_WORKSHOP=5,
                      PROPOSALS_PER_PARTICIPANT=2)
    servers.append(srv)
    _fac, seeds = console(srv, info, socks, "discuss")
    first, second = socks.open(srv.url), socks.open(srv.url)
    ok(first.call("join", {"code": info["code"], "helix": "business"}))
    ok(second.call("join", {"code": info["code"], "helix": "academia"}))

    def say(phone, text):
        return phone.call("comment", {"domain_id": seeds[0], "stance": "support", "text": text})

    for k in range(3):
        ok(say(first, f"mine {k}"))
    own_cap = refused(say(first, "one too many"), "too_many")["message"]
    ok(say(second, "theirs 1"))
    ok(say(second, "theirs 2"))
    workshop_cap = refused(say(second, "the workshop is full"), "too_many")["message"]
    assert own_cap != workshop_cap
    assert count(srv, "comment", info["id"]) == 5

    for k in range(2):
        ok(first.call("propose", {"title": f"Proposal {k}"}))
    refused(first.call("propose", {"title": "A third proposal"}), "too_many")
    ok(second.call("propose", {"title": "Someone else's proposal"}))


# ---------------------------------------------------------------- item 3: participants


def test_a_connection_cannot_mint_participants(tmp_path, socks, servers):
    srv, info = serve(tmp_path)
    servers.append(srv)
    sock = socks.open(srv.url)
    first = ok(sock.call("join", {"code": info["code"], "helix": "business"}))
    acks = [sock.call("join", {"code": info["code"], "helix": HELICES[k % 6]}) for k in range(15)]
    assert all(not a["ok"] or a["participant_id"] == first["participant_id"] for a in acks)

    # Joins sent all at once (each runs in its own greenlet) cannot mint a second either.
    burst = socks.open(srv.url)
    answers: list[dict] = []
    for k in range(10):
        burst.sio.emit("join", {"code": info["code"], "helix": HELICES[k % 6]},
                       callback=lambda *a: answers.append(a[0]))
    wait_for(lambda: len(answers) == 10, what="ten join acks")
    assert len({a["participant_id"] for a in answers if a["ok"]}) == 1
    assert {a["error"]["code"] for a in answers if not a["ok"]} <= {"already_joined",
                                                                     "rate_limited"}
    assert count(srv, "participant", info["id"]) == 2
    # The token still rejoins anywhere, and another connection still joins afresh.
    again = socks.open(srv.url)
    assert ok(again.call("join", {"code": info["code"], "token": first["token"]}))[
        "participant_id"] == first["participant_id"]
    ok(socks.open(srv.url).call("join", {"code": info["code"], "helix": "academia"}))
    assert count(srv, "participant", info["id"]) == 3


def test_new_participants_per_workshop_are_throttled_and_capped(tmp_path, socks, servers):
    srv, info = serve(tmp_path, JOIN_RATE="8 per 4 seconds", PARTICIPANTS_PER_WORKSHOP=12)
    servers.append(srv)
    member = ok(socks.open(srv.url).call("join", {"code": info["code"], "helix": "business"}))
    phones = [socks.open(srv.url) for _ in range(14)]
    acks = [p.call("join", {"code": info["code"], "helix": "academia"}) for p in phones]
    admitted = [a for a in acks if a["ok"]]
    waiting = [(p, refused(a, "rate_limited")) for p, a in zip(phones, acks) if not a["ok"]]
    assert 5 <= len(admitted) <= 8 and waiting
    assert all(1 <= e["retry_after"] <= 5 for _p, e in waiting)
    # A rejoin is never throttled.
    ok(socks.open(srv.url).call("join", {"code": info["code"], "token": member["token"]}))
    # Those told to wait get in when they try again, up to the cap of 12 participants.
    codes = []
    for phone, error in waiting:
        deadline = time.monotonic() + 15
        while True:
            ack = phone.call("join", {"code": info["code"], "helix": "academia"})
            if ack["ok"] or ack["error"]["code"] != "rate_limited" or time.monotonic() > deadline:
                break
            time.sleep(ack["error"]["retry_after"])
        codes.append("ok" if ack["ok"] else ack["error"]["code"])
    assert count(srv, "participant", info["id"]) == 12
    assert "too_many" in codes and "rate_limited" not in codes


def test_closed_joining_refuses_new_phones_but_not_rejoins(tmp_path, socks, servers):
    srv, info = serve(tmp_path)
    servers.append(srv)
    fac, _seeds = console(srv, info, socks, "propose")
    member = ok(socks.open(srv.url).call("join", {"code": info["code"], "helix": "business"}))
    projector = socks.open(srv.url)
    assert ok(projector.call("watch", {"code": info["code"]}))["state"]["workshop"][
        "joining"] == "open"

    ack = ok(fac.call("configure", {"workshop_id": info["id"], "joining": "closed"}))
    assert ack["joining"] == "closed"
    wait_for(lambda: any(s["workshop"]["joining"] == "closed" for s in projector.got("state")),
             what="the closed switch in the room's state")
    error = refused(socks.open(srv.url).call(
        "join", {"code": info["code"], "helix": "academia", "language": "es"}), "joining_closed")
    assert error["message"]
    rejoin = ok(socks.open(srv.url).call("join", {"code": info["code"], "token": member["token"]}))
    assert rejoin["participant_id"] == member["participant_id"]
    assert rejoin["state"]["workshop"]["joining"] == "closed"
    assert count(srv, "participant", info["id"]) == 1
    assert count(srv, "event", info["id"], "AND kind = 'joining'") == 1
    refused(fac.call("configure", {"workshop_id": info["id"], "joining": "maybe"}),
            "bad_payload")
    refused(fac.call("configure", {"workshop_id": info["id"]}), "bad_payload")
    # Only the facilitator holds the switch.
    refused(socks.open(srv.url).call("configure", {"workshop_id": info["id"],
                                                   "joining": "open"}), "forbidden")

    ok(fac.call("configure", {"workshop_id": info["id"], "joining": "open"}))
    ok(socks.open(srv.url).call("join", {"code": info["code"], "helix": "academia"}))
    assert count(srv, "participant", info["id"]) == 2
    assert count(srv, "event", info["id"], "AND kind = 'joining'") == 2


def test_a_template_may_lower_the_caps(world, app):
    """[limits] in a template lowers the server's caps (it never raises them)."""
    from test_sockets import err

    world.facilitator()
    ws = world.workshop(limits={"comments_per_participant": 1, "participants": 100_000})
    from edp import workshop as rules
    from edp.extensions import db
    from edp.models import Workshop

    with app.app_context():
        w = db.session.get(Workshop, ws["id"])
        assert rules.cap(w, "comments_per_participant") == 1
        assert rules.cap(w, "participants") == app.config["PARTICIPANTS_PER_WORKSHOP"]
    console = world.console(ws["id"])
    ok(console.act("phase", phase="discuss"))
    seeds = [d["domain_id"] for d in console.act("facilitate")["state"]["domains"]]
    phone = world.phone(ws["code"])
    ok(phone.emit("comment", {"domain_id": seeds[0], "stance": "support", "text": "One"}))
    err(phone.emit("comment", {"domain_id": seeds[0], "stance": "support", "text": "Two"}),
        "too_many")
