"""The Socket.IO protocol, in process, on SQLite and PostgreSQL (the `app` fixture runs both).

Every event of the contract: its ok ack, its error acks, the phase rules, who may do what, what
each role receives, the results arithmetic (worked out by hand in the comments), that accepted
changes are recorded as `Event` rows and that refused ones leave the stored data as it was.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import AGRI_TEMPLATE, Client, World, make_app

from edp import models
from edp.extensions import db, socketio

PHASES = ["lobby", "propose", "discuss", "vote", "results", "decide", "closed"]
BUDGET = 10  # the first template: budget 10, cap 5, max_priorities 5, six helices
CAP = 5
TRANSLATIONS = Path(__file__).resolve().parent.parent / "edp" / "translations"


# ---------------------------------------------------------------- helpers


def ok(ack: dict) -> dict:
    assert isinstance(ack, dict) and ack.get("ok") is True, ack
    return ack


def err(ack: dict, code: str) -> dict:
    """An error ack with exactly the contract's shape and a message a person can read."""
    assert isinstance(ack, dict), ack
    assert set(ack) == {"ok", "error"}, ack
    assert ack["ok"] is False, ack
    assert set(ack["error"]) == {"code", "message"}, ack
    assert ack["error"]["code"] == code, ack
    message = ack["error"]["message"]
    assert isinstance(message, str) and message.strip(), ack
    return ack


def snapshot(app) -> dict:
    """Every stored row (timestamps aside): compared before/after a refused action."""
    tables = (models.Facilitator, models.Workshop, models.Participant, models.Domain,
              models.Comment, models.Vote, models.Score, models.Ranking, models.Priority,
              models.Event)
    out = {}
    with app.app_context():
        for model in tables:
            cols = [c for c in model.__table__.columns if not isinstance(c.type, sa.DateTime)]
            rows = db.session.execute(sa.select(*cols).order_by(model.__table__.c.id)).all()
            out[model.__tablename__] = [tuple(r) for r in rows]
        db.session.remove()
    return out


def events(app, workshop_id: int) -> list[tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(
            sa.select(models.Event.kind, models.Event.actor_role)
            .where(models.Event.workshop_id == workshop_id).order_by(models.Event.id)
        ).all()
        db.session.remove()
    return [tuple(r) for r in rows]


def count(app, model, **where) -> int:
    with app.app_context():
        q = sa.select(sa.func.count()).select_from(model)
        for k, v in where.items():
            q = q.where(getattr(model, k) == v)
        n = db.session.scalar(q)
        db.session.remove()
    return n


def last(client: Client, name: str):
    got = client.received(name)
    return got[-1] if got else None


class Room:
    """A workshop with its facilitator console; phones and projectors join it."""

    def __init__(self, world: World, phase: str | None = None, email="fac@example.org", **kw):
        self.world, self.app = world, world.app
        info = world.workshop(email=email, **kw)
        self.id, self.code = info["id"], info["code"]
        self.console = world.console(self.id, email=email)
        with self.app.app_context():
            self.seeds = list(db.session.scalars(
                sa.select(models.Domain.id).where(models.Domain.workshop_id == self.id)
                .order_by(models.Domain.id)))
            db.session.remove()
        if phase:
            self.phase(phase)

    def phase(self, phase: str) -> dict:
        return ok(self.console.act("phase", phase=phase))

    def phone(self, helix="business", **kw) -> Client:
        return self.world.phone(self.code, helix, **kw)

    def projector(self) -> Client:
        return self.world.projector(self.code)


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    """Facilitators log in often here; a cheap hash keeps the suite quick (the check is real)."""
    from werkzeug.security import generate_password_hash

    monkeypatch.setattr(models, "generate_password_hash",
                        lambda pw: generate_password_hash(pw, method="pbkdf2:sha256:1000"))


@pytest.fixture
def room(world):
    world.facilitator()
    return lambda phase=None, **kw: Room(world, phase, **kw)


def anonymous(app) -> Client:
    return Client(socketio.test_client(app))


# ---------------------------------------------------------------- join


def test_join_acks_token_id_and_the_contract_state(app, room):
    r = room()
    projector = r.projector()
    phone = anonymous(app)
    ack = ok(phone.emit("join", {"code": r.code.lower(), "helix": "academia", "name": " Ana ",
                                 "organisation": "Uni"}))
    assert isinstance(ack["token"], str) and len(ack["token"]) >= 16
    assert isinstance(ack["participant_id"], int)
    state = ack["state"]
    ws = state["workshop"]
    for key in ("id", "code", "title", "phase", "method", "budget", "max_priorities", "helices",
                "criteria"):
        assert key in ws, key
    assert (ws["id"], ws["code"], ws["phase"], ws["method"]) == (r.id, r.code, "lobby", "dot")
    assert ws["budget"] == BUDGET and ws["max_priorities"] == 5
    assert [h["key"] for h in ws["helices"]][:3] == ["government", "business", "academia"]
    assert {c["key"] for c in ws["criteria"]} >= {"assets", "innovation"}
    assert [(d["domain_id"], d["status"]) for d in state["domains"]] == [
        (i, "approved") for i in r.seeds]
    assert all(d["title"] for d in state["domains"])
    assert state["me"]["helix"] == "academia" and state["me"]["remaining"] == BUDGET
    assert state["results"] is None  # not shown yet
    assert events(app, r.id)[-1] == ("join", "participant")
    with app.app_context():
        p = db.session.get(models.Participant, ack["participant_id"])
        assert (p.helix, p.name, p.organisation) == ("academia", "Ana", "Uni")
    # The projector sees the head count by helix move.
    counts = last(projector, "counts")
    assert counts["counts"]["academia"] == 1 and counts["total"] == 1


def test_rejoin_with_token_keeps_participant_helix_and_votes(app, room):
    r = room("vote")
    phone = r.phone("government")
    ok(phone.emit("vote", {"domain_id": r.seeds[0], "points": 3}))
    ok(phone.emit("vote", {"domain_id": r.seeds[1], "points": 2}))
    n_participants, n_events = count(app, models.Participant), len(events(app, r.id))

    again = anonymous(app)  # a new connection: the phone reloaded the page
    ack = ok(again.emit("join", {"code": r.code, "helix": "business", "token": phone.token}))
    assert ack["participant_id"] == phone.participant_id
    assert ack["token"] == phone.token
    me = ack["state"]["me"]
    assert me["helix"] == "government"  # the stored helix stands
    assert me["votes"] == {str(r.seeds[0]): 3, str(r.seeds[1]): 2}
    assert me["remaining"] == BUDGET - 5
    assert count(app, models.Participant) == n_participants
    assert len(events(app, r.id)) == n_events  # a rejoin changes nothing
    # The rejoined connection acts as the same participant.
    assert ok(again.emit("vote", {"domain_id": r.seeds[0], "points": 1}))["remaining"] == BUDGET - 3


def test_rejoin_works_when_closed_but_new_joins_do_not(app, room):
    r = room()
    phone = r.phone()
    r.phase("closed")
    ack = ok(anonymous(app).emit("join", {"code": r.code, "token": phone.token}))
    assert ack["participant_id"] == phone.participant_id
    before = snapshot(app)
    err(anonymous(app).emit("join", {"code": r.code, "helix": "business"}), "wrong_phase")
    assert snapshot(app) == before


def test_token_of_another_workshop_does_not_rejoin_there(app, room):
    a, b = room(), room()
    phone = a.phone("academia")
    ack = ok(anonymous(app).emit("join", {"code": b.code, "helix": "business",
                                          "token": phone.token}))
    assert ack["participant_id"] != phone.participant_id
    assert ack["state"]["workshop"]["id"] == b.id and ack["state"]["me"]["helix"] == "business"


JOIN_REFUSALS = [
    ({"helix": "aliens"}, "bad_helix"),
    ({"helix": ""}, "bad_helix"),
    ({}, "bad_helix"),
    ({"code": "ZZZZZZ", "helix": "business"}, "unknown_workshop"),
    ({"code": "", "helix": "business"}, "unknown_workshop"),
    ({"code": 123456, "helix": "business"}, "bad_payload"),
    ({"helix": ["business"]}, "bad_payload"),
    ({"helix": "business", "name": "x" * 300}, "bad_payload"),
    ({"helix": "business", "organisation": "x" * 201}, "bad_payload"),
    ({"helix": "business", "token": 42}, "bad_payload"),
    ({"helix": "business", "name": "nul\x00byte"}, "bad_payload"),
    ({"helix": "business", "name": "lone \ud800 surrogate"}, "bad_payload"),
    ({"helix": "business", "name": {"$gt": ""}}, "bad_payload"),
] + [(payload, "bad_payload") for payload in (None, "ABC123", 42, [1, 2], True, 1.5)]


def test_join_refusals(app, room):
    r = room("propose")
    before = snapshot(app)
    for payload, code in JOIN_REFUSALS:
        if isinstance(payload, dict) and "code" not in payload:
            payload = {"code": r.code, **payload}
        sock = anonymous(app)
        err(sock.emit("join", payload), code)
        err(sock.emit("propose", {"title": "x"}), "not_joined")  # a refused join joins nobody
    assert snapshot(app) == before


def test_extra_positional_arguments_still_get_an_ack(app, room):
    r = room("vote")
    phone = r.phone()
    ack = phone.sio.emit("vote", {"domain_id": r.seeds[0], "points": 2}, "extra", callback=True)
    assert ok(ack)["remaining"] == BUDGET - 2


# ---------------------------------------------------------------- propose


def test_propose_is_accepted_in_propose_and_discuss_and_broadcast(app, room):
    r = room()
    phone, other, projector = r.phone(), r.phone("academia"), r.projector()
    for phase in ("propose", "discuss"):
        r.phase(phase)
        n = len(events(app, r.id))
        ack = ok(phone.emit("propose", {"title": f"  Green hydrogen {phase} ", "description": "H2",
                                        "rationale": "wind", "sdgs": [13, 7, 7]}))
        assert ack["status"] == "approved"
        assert events(app, r.id)[n:] == [("propose", "participant")]
        for client in (other, projector, r.console):
            state = last(client, "state")
            mine = [d for d in state["domains"] if d["domain_id"] == ack["domain_id"]]
            assert mine and mine[0]["title"] == f"Green hydrogen {phase}", (client, phase)
            assert mine[0]["sdgs"] == [7, 13] and mine[0]["status"] == "approved"
            assert mine[0]["description"] == "H2" and mine[0]["rationale"] == "wind"


def test_propose_outside_its_phases_is_wrong_phase(app, room):
    r = room()
    phone = r.phone()  # joined in the lobby: nobody new may join a closed workshop
    for phase in ("lobby", "vote", "results", "decide", "closed"):
        r.phase(phase)
        before = snapshot(app)
        err(phone.emit("propose", {"title": "Late idea"}), "wrong_phase")
        assert snapshot(app) == before, phase


def test_propose_needs_a_participant(app, room):
    r = room("propose")
    err(anonymous(app).emit("propose", {"title": "Who am I"}), "not_joined")
    err(r.projector().emit("propose", {"title": "Projector idea"}), "not_joined")
    err(r.console.emit("propose", {"title": "Facilitator idea"}), "not_joined")
    assert count(app, models.Domain) == len(r.seeds)


def test_pre_moderated_proposals_wait_for_approval(app, room):
    r = room("propose", moderation="pre")
    phone, other = r.phone(), r.phone("academia")
    ack = ok(phone.emit("propose", {"title": "Pending idea"}))
    assert ack["status"] == "pending"
    assert ack["domain_id"] not in [d["domain_id"] for d in last(other, "state")["domains"]]
    fac = {d["domain_id"]: d["status"] for d in last(r.console, "state")["domains"]}
    assert fac[ack["domain_id"]] == "pending"
    err(other.emit("comment", {"domain_id": ack["domain_id"], "stance": "support",
                               "text": "yes"}), "not_found")
    ok(r.console.act("moderate", domain_id=ack["domain_id"], action="approve"))
    assert ack["domain_id"] in [d["domain_id"] for d in last(other, "state")["domains"]]


# ---------------------------------------------------------------- comment


def test_comment_every_stance_in_propose_discuss_and_vote(app, room):
    r = room()
    phone, projector = r.phone("environment"), r.projector()
    stances = ("support", "concern", "question", "evidence")
    for k, phase in enumerate(("propose", "discuss", "vote")):
        r.phase(phase)
        projector.received()  # what came before the comments
        n = len(events(app, r.id))
        ids = []
        for stance in stances:
            ack = ok(phone.emit("comment", {"domain_id": r.seeds[k], "stance": stance,
                                            "text": f"A {stance}"}))
            ids.append(ack["comment_id"])
        assert len(set(ids)) == 4
        assert events(app, r.id)[n:] == [("comment", "participant")] * 4
        # The room gets each comment as itself (not a new full state), without its author.
        got = projector.received()
        assert not any(isinstance(m, dict) and "comments" in m for m in got), phase
        sent = [c for c in got if isinstance(c, dict) and c.get("domain_id") == r.seeds[k]]
        assert [(c["stance"], c["helix"], c["text"]) for c in sent] == [
            (s, "environment", f"A {s}") for s in stances], phase
        assert all(set(c) == {"comment_id", "domain_id", "stance", "text", "helix", "at"}
                   for c in sent)
        assert [c["comment_id"] for c in sent] == ids
        # Whoever joins next gets them all in the state, counted on the domain.
        state = r.phone("business").joined["state"]
        mine = [(c["stance"], c["helix"], c["text"]) for c in state["comments"]
                if c["domain_id"] == r.seeds[k]]
        assert mine == [(s, "environment", f"A {s}") for s in stances], phase
        assert {d["domain_id"]: d["comments"] for d in state["domains"]}[r.seeds[k]] == 4


def test_room_state_broadcasts_leave_the_comments_text_out(app, room):
    """Every client has the comments (join ack, then one `comment` event each), so a `state`
    broadcast to the room carries only their counts and the newest id it counts; the join ack
    and the facilitator's state carry them all."""
    r = room("discuss")
    phone, projector = r.phone("academia"), r.projector()
    ids = [ok(phone.emit("comment", {"domain_id": r.seeds[0], "stance": "evidence",
                                     "text": f"fact {i}"}))["comment_id"] for i in range(3)]
    projector.received()
    r.console.received()
    r.phase("vote")  # a full state to everyone
    state = last(projector, "state")
    assert "comments" not in state and state["comments_upto"] == max(ids)
    assert {d["domain_id"]: d["comments"] for d in state["domains"]}[r.seeds[0]] == 3
    assert [c["comment_id"] for c in last(r.console, "state")["comments"]] == ids
    joined = r.phone("business").joined["state"]
    assert [c["text"] for c in joined["comments"]] == ["fact 0", "fact 1", "fact 2"]


def test_comment_outside_its_phases_is_wrong_phase(app, room):
    r = room()
    phone = r.phone()
    for phase in ("lobby", "results", "decide", "closed"):
        r.phase(phase)
        before = snapshot(app)
        err(phone.emit("comment", {"domain_id": r.seeds[0], "stance": "support", "text": "hi"}),
            "wrong_phase")
        assert snapshot(app) == before, phase


def test_comment_on_unknown_hidden_or_foreign_domain_is_not_found(app, room):
    r, other = room("discuss"), room()
    phone = r.phone()
    ok(r.console.act("moderate", domain_id=r.seeds[1], action="hide"))
    before = snapshot(app)
    for domain_id in (999_999, r.seeds[1], other.seeds[0]):
        err(phone.emit("comment", {"domain_id": domain_id, "stance": "concern", "text": "no"}),
            "not_found")
    assert snapshot(app) == before


def test_comment_needs_join(app, room):
    r = room("discuss")
    err(anonymous(app).emit("comment", {"domain_id": r.seeds[0], "stance": "support",
                                        "text": "x"}), "not_joined")


# ---------------------------------------------------------------- vote (dot)


def test_vote_sets_points_rather_than_adding(app, room):
    r = room("vote")
    phone = r.phone()
    d = r.seeds[0]
    n = len(events(app, r.id))
    assert ok(phone.emit("vote", {"domain_id": d, "points": 3}))["remaining"] == BUDGET - 3
    assert ok(phone.emit("vote", {"domain_id": d, "points": 3}))["remaining"] == BUDGET - 3
    assert len(events(app, r.id)) == n + 1  # the retry changed nothing
    assert ok(phone.emit("vote", {"domain_id": d, "points": 1}))["remaining"] == BUDGET - 1
    assert ok(phone.emit("vote", {"domain_id": r.seeds[1], "points": 4}))["remaining"] == 5
    assert len(events(app, r.id)) == n + 3
    with app.app_context():
        rows = db.session.execute(sa.select(models.Vote.domain_id, models.Vote.points)
                                  .order_by(models.Vote.domain_id)).all()
    assert [tuple(x) for x in rows] == [(d, 1), (r.seeds[1], 4)]
    results = last(r.console, "results")
    assert {e["domain_id"]: e["score"] for e in results["ranking"]}[d] == 1


def test_vote_budget_cap_and_zero(app, room):
    r = room("vote")
    phone = r.phone()
    a, b, c = r.seeds
    assert ok(phone.emit("vote", {"domain_id": a, "points": CAP}))["remaining"] == BUDGET - CAP
    before = snapshot(app)
    err(phone.emit("vote", {"domain_id": b, "points": CAP + 1}), "over_cap")
    assert snapshot(app) == before
    assert ok(phone.emit("vote", {"domain_id": b, "points": CAP}))["remaining"] == 0
    before = snapshot(app)
    err(phone.emit("vote", {"domain_id": c, "points": 1}), "over_budget")
    assert snapshot(app) == before
    # Moving points: lowering one domain frees them for another.
    assert ok(phone.emit("vote", {"domain_id": a, "points": 0}))["remaining"] == CAP
    assert ok(phone.emit("vote", {"domain_id": c, "points": 2}))["remaining"] == CAP - 2
    assert count(app, models.Vote, domain_id=a) == 0  # points 0 removes the vote
    results = last(r.console, "results")
    by_id = {e["domain_id"]: e for e in results["ranking"]}
    assert (by_id[a]["score"], by_id[a]["voters"]) == (0, 0)
    assert (by_id[b]["score"], by_id[c]["score"]) == (CAP, 2)
    # Rejoining shows what is left.
    me = ok(anonymous(app).emit("join", {"code": r.code, "token": phone.token}))["state"]["me"]
    assert me["votes"] == {str(b): CAP, str(c): 2} and me["remaining"] == CAP - 2


def test_over_budget_without_a_cap(app, room):
    r = room("vote", cap=None, budget=3)
    phone = r.phone()
    err(phone.emit("vote", {"domain_id": r.seeds[0], "points": 4}), "over_budget")
    assert ok(phone.emit("vote", {"domain_id": r.seeds[0], "points": 3}))["remaining"] == 0


def test_vote_outside_vote_phase_is_wrong_phase(app, room):
    r = room()
    phone = r.phone()
    for phase in ("lobby", "propose", "discuss", "results", "decide", "closed"):
        r.phase(phase)
        before = snapshot(app)
        err(phone.emit("vote", {"domain_id": r.seeds[0], "points": 1}), "wrong_phase")
        assert snapshot(app) == before, phase


def test_vote_wrong_method_not_found_and_not_joined(app, room):
    scored = room("vote", method="score")
    err(scored.phone().emit("vote", {"domain_id": scored.seeds[0], "points": 1}), "wrong_method")
    r, other = room("vote"), room()
    phone = r.phone()
    ok(r.console.act("moderate", domain_id=r.seeds[2], action="hide"))
    before = snapshot(app)
    for domain_id in (999_999, r.seeds[2], other.seeds[0]):
        err(phone.emit("vote", {"domain_id": domain_id, "points": 1}), "not_found")
    err(anonymous(app).emit("vote", {"domain_id": r.seeds[0], "points": 1}), "not_joined")
    assert snapshot(app) == before


def test_vote_for_own_proposal_where_the_template_forbids_it(app, room):
    r = room("propose", vote_own=False)
    phone = r.phone()
    mine = ok(phone.emit("propose", {"title": "My idea"}))["domain_id"]
    r.phase("vote")
    err(phone.emit("vote", {"domain_id": mine, "points": 1}), "own_proposal")
    ok(r.phone("academia").emit("vote", {"domain_id": mine, "points": 1}))


# ---------------------------------------------------------------- score and rank


def test_score_sets_values_and_refuses_bad_ones(app, room):
    r = room("vote", method="score")
    phone = r.phone()
    d = r.seeds[0]
    n = len(events(app, r.id))
    for value in (1, 2, 3, 4, 5):
        ok(phone.emit("score", {"domain_id": d, "criterion": "assets", "value": value}))
    ok(phone.emit("score", {"domain_id": d, "criterion": "assets", "value": 5}))
    assert len(events(app, r.id)) == n + 5
    assert count(app, models.Score) == 1
    before = snapshot(app)
    for value in (0, 6, -1, 2.5, "3", True):
        err(phone.emit("score", {"domain_id": d, "criterion": "assets", "value": value}),
            "bad_payload")
    err(phone.emit("score", {"domain_id": d, "criterion": "beauty", "value": 3}), "bad_payload")
    err(phone.emit("score", {"domain_id": 999_999, "criterion": "assets", "value": 3}),
        "not_found")
    assert snapshot(app) == before
    me = ok(anonymous(app).emit("join", {"code": r.code, "token": phone.token}))["state"]["me"]
    assert me["scores"] == {str(d): {"assets": 5}}


def test_a_whole_card_of_scores_in_one_event(app, room):
    """A phone may send one domain's values on every criterion in one `score` event: the same
    stored values, results and event log as one event per criterion, all or nothing."""
    r = room("vote", method="score")
    d = r.seeds[0]
    card = {"assets": 5, "innovation": 3, "market": 4, "sustainability": 2, "fundability": 1}
    one_by_one, at_once = r.phone("business"), r.phone("business")
    for criterion, value in card.items():
        ok(one_by_one.emit("score", {"domain_id": d, "criterion": criterion, "value": value}))
    n = len(events(app, r.id))
    ok(at_once.emit("score", {"domain_id": d, "scores": card}))
    assert len(events(app, r.id)) == n + 5  # one event per value, as if sent one by one
    got = _by_id(last(r.console, "results"))[d]
    assert got["voters"] == 2
    assert got["score"] == pytest.approx(5 * .25 + 3 * .2 + 4 * .2 + 2 * .2 + 1 * .15)
    me = ok(anonymous(app).emit("join", {"code": r.code, "token": at_once.token}))["state"]["me"]
    assert me["scores"] == {str(d): card}
    # Changing two values sends two events; an unchanged card records nothing.
    ok(at_once.emit("score", {"domain_id": d, "scores": {**card, "assets": 1, "market": 1}}))
    ok(at_once.emit("score", {"domain_id": d, "scores": {**card, "assets": 1, "market": 1}}))
    assert len(events(app, r.id)) == n + 7
    before = snapshot(app)
    for bad in ({}, {"assets": 3, "beauty": 3}, {"assets": 6}, {"assets": "3"},
                {"assets": True}, {"assets": 2.5}):
        err(at_once.emit("score", {"domain_id": d, "scores": bad}), "bad_payload")
    err(at_once.emit("score", {"domain_id": d, "scores": card, "criterion": "assets",
                               "value": 2}), "bad_payload")
    err(at_once.emit("score", {"domain_id": d}), "bad_payload")
    err(at_once.emit("score", {"domain_id": d, "scores": [5, 3]}), "bad_payload")
    assert snapshot(app) == before  # nothing half-stored


def test_score_and_rank_in_a_dot_workshop_are_wrong_method(app, room):
    r = room("vote")
    phone = r.phone()
    before = snapshot(app)
    err(phone.emit("score", {"domain_id": r.seeds[0], "criterion": "assets", "value": 3}),
        "wrong_method")
    err(phone.emit("rank", {"order": r.seeds}), "wrong_method")
    assert snapshot(app) == before


def test_score_and_rank_outside_vote_phase(app, room):
    s = room("discuss", method="score")
    err(s.phone().emit("score", {"domain_id": s.seeds[0], "criterion": "assets", "value": 3}),
        "wrong_phase")
    k = room("results", method="rank")
    err(k.phone().emit("rank", {"order": k.seeds}), "wrong_phase")


def test_rank_replaces_the_ballot(app, room):
    r = room("vote", method="rank")
    phone = r.phone()
    a, b, c = r.seeds
    ok(phone.emit("rank", {"order": [a, b, c]}))
    ok(phone.emit("rank", {"order": [c]}))
    assert count(app, models.Ranking) == 1
    scores = {e["domain_id"]: e["score"] for e in last(r.console, "results")["ranking"]}
    assert scores == {a: 0, b: 0, c: 2}  # m = 3: first place earns 2, unranked 0
    before = snapshot(app)
    err(phone.emit("rank", {"order": [a, b, a]}), "bad_payload")
    err(phone.emit("rank", {"order": [a, 999_999]}), "not_found")
    err(phone.emit("rank", {"order": "1,2,3"}), "bad_payload")
    err(phone.emit("rank", {"order": [str(a)]}), "bad_payload")
    assert snapshot(app) == before
    me = ok(anonymous(app).emit("join", {"code": r.code, "token": phone.token}))["state"]["me"]
    assert me["ranking"] == [c]


# ---------------------------------------------------------------- bad payloads for every event


def _bad_payloads(seed: int) -> list[tuple[str, object]]:
    return [
        ("propose", None),
        ("propose", "Green hydrogen"),
        ("propose", {}),
        ("propose", {"title": 5}),
        ("propose", {"title": "   "}),
        ("propose", {"title": "x" * 201}),
        ("propose", {"title": "x" * 900_000}),
        ("propose", {"title": "ok", "description": "x" * 5001}),
        ("propose", {"title": "ok", "sdgs": [0]}),
        ("propose", {"title": "ok", "sdgs": [18]}),
        ("propose", {"title": "ok", "sdgs": "7"}),
        ("propose", {"title": "ok", "sdgs": [True]}),
        ("comment", {"domain_id": str(seed), "stance": "support", "text": "x"}),
        ("comment", {"domain_id": seed, "stance": "like", "text": "x"}),
        ("comment", {"domain_id": seed, "stance": "support", "text": "   "}),
        ("comment", {"domain_id": seed, "stance": "support", "text": "x" * 5001}),
        ("comment", {"domain_id": seed, "stance": "support"}),
        ("vote", {"domain_id": seed, "points": -1}),
        ("vote", {"domain_id": seed, "points": 1.5}),
        ("vote", {"domain_id": seed, "points": "3"}),
        ("vote", {"domain_id": seed, "points": True}),
        ("vote", {"domain_id": 0, "points": 1}),
        ("vote", {"domain_id": 2**40, "points": 1}),
        ("vote", {"points": 1}),
        ("vote", [seed, 1]),
        ("rank", {"order": {"0": seed}}),
        ("watch", {"code": 5}),
        ("watch", None),
    ]


def test_every_participant_event_refuses_bad_payloads_without_changes(app, room):
    r = room("propose")
    phone = r.phone()
    before = snapshot(app)
    for event, payload in _bad_payloads(r.seeds[0]):
        err(phone.emit(event, payload), "bad_payload")
    assert snapshot(app) == before
    r.phase("vote")
    before = snapshot(app)
    for event, payload in _bad_payloads(r.seeds[0]):
        if event in ("vote", "rank", "watch"):
            err(phone.emit(event, payload), "bad_payload")
    assert snapshot(app) == before


FACILITATOR_BAD_PAYLOADS = [
    ("facilitate", {"workshop_id": "1"}),
    ("facilitate", None),
    ("phase", {"phase": "voting"}),
    ("phase", {"phase": 3}),
    ("phase", {}),
    ("moderate", {"domain_id": 1, "action": "delete"}),
    ("moderate", {"domain_id": 1, "action": "merge", "into": "2"}),
    ("decide", {"domain_id": 1, "rank": 0, "rationale": "r"}),
    ("decide", {"domain_id": 1, "rank": 1, "rationale": "r", "indicators": "jobs"}),
    ("decide", {"domain_id": 1, "rank": 1}),
    ("reveal", {"shown": "yes"}),
    ("reveal", {"shown": 1}),
    ("configure", {"method": "approval"}),
    ("undecide", {"domain_id": "1"}),
]


def test_facilitator_events_refuse_bad_payloads(app, room):
    r = room()
    before = snapshot(app)
    for event, payload in FACILITATOR_BAD_PAYLOADS:
        if isinstance(payload, dict) and event != "facilitate":
            payload = {"workshop_id": r.id, **payload}
        err(r.console.emit(event, payload), "bad_payload")
    assert snapshot(app) == before


# ---------------------------------------------------------------- watch and facilitate


def test_watch_gets_public_state_and_broadcasts(app, room):
    r = room("propose")
    projector = anonymous(app)
    state = ok(projector.emit("watch", {"code": r.code}))["state"]
    assert state["workshop"]["code"] == r.code and state["results"] is None
    assert "me" not in state and "facilitator" not in state
    err(anonymous(app).emit("watch", {"code": "NOPE42"}), "unknown_workshop")
    r.phone().emit("propose", {"title": "Seen on the wall"})
    assert "Seen on the wall" in [d["title"] for d in last(projector, "state")["domains"]]


def test_facilitate_is_for_the_owner_only(app, world, room):
    r = room()
    world.facilitator("other@example.org")
    own_other = Room(world, email="other@example.org")
    intruder = Client(socketio.test_client(app, flask_test_client=world.login("other@example.org")),
                      workshop_id=r.id)
    phone = r.phone()
    before = snapshot(app)
    for client in (intruder, phone, anonymous(app), r.projector()):
        err(client.emit("facilitate", {"workshop_id": r.id}), "forbidden")
        err(client.emit("phase", {"workshop_id": r.id, "phase": "vote"}), "forbidden")
        err(client.emit("moderate", {"workshop_id": r.id, "domain_id": r.seeds[0],
                                     "action": "hide"}), "forbidden")
        err(client.emit("reveal", {"workshop_id": r.id, "shown": True}), "forbidden")
        err(client.emit("configure", {"workshop_id": r.id, "method": "rank"}), "forbidden")
        err(client.emit("decide", {"workshop_id": r.id, "domain_id": r.seeds[0], "rank": 1,
                                   "rationale": "mine"}), "forbidden")
        err(client.emit("undecide", {"workshop_id": r.id, "domain_id": r.seeds[0]}), "forbidden")
    assert snapshot(app) == before
    # The intruder never joined the owner's facilitator room either.
    r.phase("propose")
    assert intruder.received("state") == []
    # The other facilitator's own workshop still works; an unknown one is unknown.
    ok(own_other.console.act("facilitate"))
    err(r.console.emit("facilitate", {"workshop_id": 999_999}), "unknown_workshop")
    # The owner's ack carries the facilitator's state.
    state = ok(r.console.act("facilitate"))["state"]
    assert state["facilitator"] is True and state["workshop"]["id"] == r.id


# ---------------------------------------------------------------- phase


def test_every_phase_is_broadcast_and_recorded(app, room):
    r = room()
    phone, projector = r.phone(), r.projector()
    phone.received(), projector.received()
    sequence = PHASES[1:] + ["lobby", "vote", "closed", "propose"]  # going back included
    current = "lobby"
    for phase in sequence:
        n = len(events(app, r.id))
        assert ok(r.console.act("phase", phase=phase))["phase"] == phase
        kinds = [k for k, _ in events(app, r.id)[n:]]
        assert kinds[0] == "phase" and kinds.count("phase") == 1, kinds
        for client in (phone, projector, r.console):
            assert last(client, "state")["workshop"]["phase"] == phase, (client, phase)
        current = phase
    assert current == "propose"
    with app.app_context():
        assert db.session.get(models.Workshop, r.id).phase == "propose"


def test_setting_the_same_phase_again_records_nothing(app, room):
    r = room("vote")
    n = len(events(app, r.id))
    ok(r.console.act("phase", phase="vote"))
    assert len(events(app, r.id)) == n


def test_entering_results_broadcasts_results_to_everyone(app, room):
    r = room("vote")
    phone, projector = r.phone(), r.projector()
    for _ in range(2):  # three business voters: enough to be shown (privacy)
        ok(r.phone().emit("vote", {"domain_id": r.seeds[2], "points": 1}))
    ok(phone.emit("vote", {"domain_id": r.seeds[1], "points": 4}))
    assert phone.received("results") == [] and projector.received("results") == []
    n = len(events(app, r.id))
    r.phase("results")
    assert [k for k, _ in events(app, r.id)[n:]] == ["phase", "reveal"]
    for client in (phone, projector, r.console):
        got = client.sio.get_received()
        results = [m["args"][0] for m in got if m["name"] == "results"]
        assert results, client
        assert results[-1]["ranking"][0]["domain_id"] == r.seeds[1]
        assert results[-1]["ranking"][0]["score"] == 4
        state = [m["args"][0] for m in got if m["name"] == "state"][-1]
        assert state["workshop"]["results_shown"] is True
    # Going back to vote keeps them shown: a changed vote reaches the projector at once.
    r.phase("vote")
    projector.received()
    ok(phone.emit("vote", {"domain_id": r.seeds[1], "points": 2}))
    assert last(projector, "results")["ranking"][0]["score"] == 2


# ---------------------------------------------------------------- moderate


def test_moderate_hide_approve_merge(app, room):
    r = room("propose")
    phone, projector = r.phone(), r.projector()
    a, b, c = r.seeds
    dup = ok(phone.emit("propose", {"title": "Solar parts (duplicate)"}))["domain_id"]
    n = len(events(app, r.id))

    assert ok(r.console.act("moderate", domain_id=b, action="hide"))["status"] == "hidden"
    for client in (phone, projector):
        assert b not in [d["domain_id"] for d in last(client, "state")["domains"]]
    fac = {d["domain_id"]: d["status"] for d in last(r.console, "state")["domains"]}
    assert fac[b] == "hidden"

    assert ok(r.console.act("moderate", domain_id=b, action="approve"))["status"] == "approved"
    assert b in [d["domain_id"] for d in last(phone, "state")["domains"]]

    ack = ok(r.console.act("moderate", domain_id=dup, action="merge", into=a))
    assert ack["status"] == "merged"
    assert dup not in [d["domain_id"] for d in last(projector, "state")["domains"]]
    merged = {d["domain_id"]: d for d in last(r.console, "state")["domains"]}[dup]
    assert merged["status"] == "merged" and merged["merged_into"] == a
    assert events(app, r.id)[n:] == [("moderate", "facilitator")] * 3

    before = snapshot(app)
    err(r.console.act("moderate", domain_id=999_999, action="hide"), "not_found")
    err(r.console.act("moderate", domain_id=c, action="merge", into=999_999), "not_found")
    err(r.console.act("moderate", domain_id=c, action="merge"), "not_found")
    err(r.console.act("moderate", domain_id=c, action="merge", into=c), "not_found")
    err(r.console.act("moderate", domain_id=c, action="merge", into=dup), "not_found")
    assert snapshot(app) == before


def test_hidden_domain_leaves_the_results(app, room):
    r = room("vote")
    phone = r.phone()
    ok(phone.emit("vote", {"domain_id": r.seeds[0], "points": 5}))
    ok(r.console.act("moderate", domain_id=r.seeds[0], action="hide"))
    ranking = last(r.console, "results")["ranking"]
    assert r.seeds[0] not in [e["domain_id"] for e in ranking]


# ---------------------------------------------------------------- decide


def test_decide_only_in_decide_phase_capped_and_visible(app, room):
    r = room("vote", max_priorities=2)
    phone, projector = r.phone(), r.projector()
    a, b, c = r.seeds
    before = snapshot(app)
    err(r.console.act("decide", domain_id=a, rank=1, rationale="Strong assets"), "wrong_phase")
    assert snapshot(app) == before
    r.phase("decide")
    n = len(events(app, r.id))
    ok(r.console.act("decide", domain_id=a, rank=1, rationale="Strong assets",
                     indicators=["Patents per year", "Jobs"]))
    ok(r.console.act("decide", domain_id=b, rank=2, rationale="Funders committed"))
    assert events(app, r.id)[n:] == [("decide", "facilitator")] * 2
    before = snapshot(app)
    err(r.console.act("decide", domain_id=c, rank=3, rationale="One too many"),
        "too_many_priorities")
    err(r.console.act("decide", domain_id=999_999, rank=1, rationale="x"), "not_found")
    err(r.console.act("decide", domain_id=c, rank=1, rationale="   "), "bad_payload")
    assert snapshot(app) == before
    # Deciding the same domain again updates it; it does not count against the cap.
    ok(r.console.act("decide", domain_id=b, rank=2, rationale="Funders and universities"))
    for client in (phone, projector, r.console):
        priorities = last(client, "state")["priorities"]
        assert [(p["domain_id"], p["rank"], p["rationale"]) for p in priorities] == [
            (a, 1, "Strong assets"), (b, 2, "Funders and universities")]
        assert priorities[0]["indicators"] == ["Patents per year", "Jobs"]
        assert priorities[0]["title"]
    # Removing one frees a place on the short list.
    ok(r.console.act("undecide", domain_id=b))
    ok(r.console.act("decide", domain_id=c, rank=2, rationale="Now it fits"))
    err(r.console.act("undecide", domain_id=b), "not_found")


def test_decide_refuses_hidden_domain_and_rank_above_cap(app, room):
    r = room("decide", max_priorities=2)
    ok(r.console.act("moderate", domain_id=r.seeds[0], action="hide"))
    before = snapshot(app)
    err(r.console.act("decide", domain_id=r.seeds[0], rank=1, rationale="x"), "not_found")
    err(r.console.act("decide", domain_id=r.seeds[1], rank=3, rationale="x"),
        "too_many_priorities")
    assert snapshot(app) == before


# ---------------------------------------------------------------- reveal


def test_reveal_controls_who_gets_results(app, room):
    r = room("vote")
    phone, other, projector = r.phone(), r.phone(), r.projector()
    for _ in range(2):  # with these, business has enough voters to be shown (privacy)
        ok(r.phone().emit("vote", {"domain_id": r.seeds[1], "points": 1}))
    for c in (phone, other, projector, r.console):
        c.received()
    ok(phone.emit("vote", {"domain_id": r.seeds[0], "points": 2}))
    assert phone.received("results") == [] and other.received("results") == []
    assert projector.received("results") == []
    assert last(r.console, "results")["ranking"][0]["score"] == 2
    assert last(projector, "state") is None or last(projector, "state")["results"] is None

    n = len(events(app, r.id))
    assert ok(r.console.act("reveal", shown=True))["shown"] is True
    assert events(app, r.id)[n:] == [("reveal", "facilitator")]
    for client in (phone, other, projector):
        assert last(client, "results")["ranking"][0]["score"] == 2, client
    ok(other.emit("vote", {"domain_id": r.seeds[0], "points": 3}))
    for client in (phone, other, projector, r.console):
        assert last(client, "results")["ranking"][0]["score"] == 5, client

    ok(r.console.act("reveal", shown=False))
    for client in (phone, other, projector, r.console):
        client.received()
    ok(phone.emit("vote", {"domain_id": r.seeds[0], "points": 1}))
    assert phone.received("results") == [] and projector.received("results") == []
    assert last(r.console, "results")["ranking"][0]["score"] == 4
    state = ok(r.projector().emit("watch", {"code": r.code}))["state"]
    assert state["results"] is None


# ---------------------------------------------------------------- configure


def test_configure_switches_method_before_the_vote_only(app, room):
    r = room("discuss")
    phone = r.phone()
    n = len(events(app, r.id))
    assert ok(r.console.act("configure", method="rank"))["method"] == "rank"
    assert events(app, r.id)[n:] == [("method", "facilitator")]
    assert last(phone, "state")["workshop"]["method"] == "rank"
    r.phase("vote")
    err(phone.emit("vote", {"domain_id": r.seeds[0], "points": 1}), "wrong_method")
    ok(phone.emit("rank", {"order": r.seeds}))
    before = snapshot(app)
    err(r.console.act("configure", method="dot"), "wrong_phase")
    assert snapshot(app) == before
    assert last(r.console, "results")["method"] == "rank"


def test_configure_score_needs_criteria(app, room):
    r = room(criteria=[])
    err(r.console.act("configure", method="score"), "wrong_method")


# ---------------------------------------------------------------- messages in the language


def _catalogue_text(lang: str, english: str) -> str:
    from babel.support import Translations

    return Translations.load(str(TRANSLATIONS), [lang]).gettext(english)


def test_error_messages_follow_the_participants_language(app, room):
    from flask_babel import force_locale

    from edp.workshop import MESSAGES

    r = room()
    es = r.phone(language="es")
    en = r.phone("academia", language="en")
    with app.test_request_context(), force_locale("en"):
        english = str(MESSAGES["wrong_phase"])
    message_en = err(en.emit("vote", {"domain_id": r.seeds[0], "points": 1}),
                     "wrong_phase")["error"]["message"]
    message_es = err(es.emit("vote", {"domain_id": r.seeds[0], "points": 1}),
                     "wrong_phase")["error"]["message"]
    assert message_en == english
    # Whatever the Spanish catalogue holds (the English text while untranslated) is used.
    assert message_es == _catalogue_text("es", english)
    # A Spanish workshop's participants get Spanish by default.
    world = r.world
    agri = Room(world, template=AGRI_TEMPLATE)
    phone = agri.phone("academia")
    message = err(phone.emit("propose", {"title": "x"}), "wrong_phase")["error"]["message"]
    assert message == _catalogue_text("es", english)


# ---------------------------------------------------------------- results arithmetic


def _by_id(results: dict) -> dict:
    return {e["domain_id"]: e for e in results["ranking"]}


def _assert_sorted(results: dict) -> None:
    keys = [(-e["score"], e["domain_id"]) for e in results["ranking"]]
    assert keys == sorted(keys)


CONTRACT_ENTRY = {"domain_id", "title", "score", "balanced_score", "by_helix", "voters"}


def phone_copy(phone_results: dict, full: dict) -> dict:
    """Phones get the contract's part of the console's results (no measures or warnings),
    with helices of fewer than 3 voters pooled or left out (privacy, tests/test_privacy.py):
    check that, and return the full payload for the arithmetic."""
    assert "warnings" not in phone_results and "consensus" not in phone_results["ranking"][0]
    assert [set(e) for e in phone_results["ranking"]] == [CONTRACT_ENTRY] * len(full["ranking"])
    assert all(n == 0 or n >= 3 for n in phone_results["participation"].values())
    if any(0 < n < 3 for n in full["participation"].values()):
        return full
    assert phone_results["participation"] == full["participation"]
    assert phone_results.get("schulze") == full.get("schulze")
    assert phone_results["ranking"] == [{k: e[k] for k in CONTRACT_ENTRY}
                                        for e in full["ranking"]]
    return full


def _participation(results: dict) -> dict:
    return {h: n for h, n in results["participation"].items() if n}


def test_dot_results_arithmetic(app, room):
    r = room("propose")
    a, b, c = r.seeds
    voters = [r.phone("business"), r.phone("business"), r.phone("academia")]
    talker = r.phone("funders")  # proposes and comments only: not a voter
    ok(talker.emit("propose", {"title": "Nobody votes for this"}))
    r.phase("vote")
    ok(talker.emit("comment", {"domain_id": a, "stance": "support", "text": "good"}))
    for phone, votes in zip(voters, [{a: 5, b: 3}, {a: 2}, {b: 4, c: 1}]):
        for d, points in votes.items():
            ok(phone.emit("vote", {"domain_id": d, "points": points}))
    r.phase("results")
    shown = last(voters[0], "results")
    results = phone_copy(shown, last(r.console, "results"))
    newcomer = r.phone("government")  # joining later: the results come with the state
    later = newcomer.joined["state"]["results"]
    # The same public results as the phones got (business 2 + academia 1 pooled: privacy).
    assert later["participation"] == shown["participation"] == {
        **{h: 0 for h in results["participation"] if h not in ("business", "academia")},
        "_other": 3}
    assert [{k: e[k] for k in CONTRACT_ENTRY} for e in later["ranking"]] == shown["ranking"]
    assert results["method"] == "dot"
    # voters: business 2, academia 1.  a: 5+2 = 7; b: 3+4 = 7; c: 1.
    # by_helix a: business 7/2 = 3.5, academia 0  -> balanced 1.75
    #          b: business 3/2 = 1.5, academia 4  -> balanced 2.75
    #          c: business 0,         academia 1  -> balanced 0.5
    assert _participation(results) == {"business": 2, "academia": 1}
    assert set(results["participation"]) >= {"government", "business", "academia", "funders"}
    got = _by_id(results)
    assert [e["domain_id"] for e in results["ranking"]][:3] == [a, b, c]
    expected = {a: (7, 1.75, {"business": 3.5, "academia": 0}, 2),
                b: (7, 2.75, {"business": 1.5, "academia": 4}, 2),
                c: (1, 0.5, {"business": 0, "academia": 1}, 1)}
    for d, (score, balanced, by_helix, n) in expected.items():
        e = got[d]
        assert e["score"] == pytest.approx(score)
        assert e["balanced_score"] == pytest.approx(balanced)
        assert e["by_helix"] == pytest.approx(by_helix)
        assert e["voters"] == n and e["title"]
    assert len(results["ranking"]) == 4  # every approved domain, the unvoted one with 0
    assert results["ranking"][-1]["score"] == 0 and "schulze" not in results
    _assert_sorted(results)


def test_score_results_arithmetic(app, room):
    r = room("vote", method="score")
    a, b, c = r.seeds
    p1, p2, p3 = r.phone("business"), r.phone("academia"), r.phone("business")
    # Weights: assets .25, innovation .20, market .20, sustainability .20, fundability .15.
    ok(p1.emit("score", {"domain_id": a, "criterion": "assets", "value": 5}))
    ok(p1.emit("score", {"domain_id": a, "criterion": "innovation", "value": 3}))
    for criterion in ("assets", "innovation", "market", "sustainability", "fundability"):
        ok(p2.emit("score", {"domain_id": a, "criterion": criterion, "value": 2}))
    ok(p3.emit("score", {"domain_id": b, "criterion": "market", "value": 4}))
    results = last(r.console, "results")
    assert results["method"] == "score"
    # p1 on a: (5*.25 + 3*.20) / (.25 + .20) = 1.85 / .45 = 4.1111 (partly scored)
    # p2 on a: 2.  a: score (4.1111 + 2) / 2; by_helix business 4.1111, academia 2.
    # p3 on b: 4.  b: score 4; by_helix business 4, academia 0 -> balanced 2.
    p1a = 1.85 / 0.45
    got = _by_id(results)
    assert got[a]["score"] == pytest.approx((p1a + 2) / 2)
    assert got[a]["by_helix"] == pytest.approx({"business": p1a, "academia": 2})
    assert got[a]["balanced_score"] == pytest.approx((p1a + 2) / 2)
    assert got[a]["voters"] == 2
    assert got[b]["score"] == pytest.approx(4)
    assert got[b]["by_helix"] == pytest.approx({"business": 4, "academia": 0})
    assert got[b]["balanced_score"] == pytest.approx(2)
    assert (got[c]["score"], got[c]["voters"]) == (0, 0)
    assert _participation(results) == {"business": 2, "academia": 1}
    assert [e["domain_id"] for e in results["ranking"]] == [b, a, c]
    _assert_sorted(results)


def test_rank_results_borda_and_schulze(app, room):
    r = room("propose", method="rank")
    a, b, c = r.seeds
    proposer = r.phone("civil_society")
    d = ok(proposer.emit("propose", {"title": "Approved but never ranked"}))["domain_id"]
    e = ok(proposer.emit("propose", {"title": "Hidden: not counted in m"}))["domain_id"]
    ok(r.console.act("moderate", domain_id=e, action="hide"))
    r.phase("vote")
    x, y, z = r.phone("business"), r.phone("business"), r.phone("academia")
    ok(x.emit("rank", {"order": [c, a, b]}))
    ok(y.emit("rank", {"order": [c, a, b]}))
    ok(z.emit("rank", {"order": [a, b, c]}))
    err(z.emit("rank", {"order": [a, e]}), "not_found")
    r.phase("results")
    results = phone_copy(last(z, "results"), last(r.console, "results"))
    assert results["method"] == "rank"
    # m = 4 approved domains (a, b, c, d; e is hidden): positions earn 3, 2, 1; unranked 0.
    # a: 2 + 2 + 3 = 7; b: 1 + 1 + 2 = 4; c: 3 + 3 + 1 = 7; d: 0.
    # by_helix (business has 2 voters, academia 1):
    #   a: 4/2 = 2, 3 -> 2.5;  b: 2/2 = 1, 2 -> 1.5;  c: 6/2 = 3, 1 -> 2;  d: 0, 0 -> 0
    expected = {a: (7, 2.5, {"business": 2, "academia": 3}, 3),
                b: (4, 1.5, {"business": 1, "academia": 2}, 3),
                c: (7, 2.0, {"business": 3, "academia": 1}, 3),
                d: (0, 0.0, {"business": 0, "academia": 0}, 0)}
    got = _by_id(results)
    assert set(got) == {a, b, c, d}
    for dom, (score, balanced, by_helix, n) in expected.items():
        assert got[dom]["score"] == pytest.approx(score), dom
        assert got[dom]["balanced_score"] == pytest.approx(balanced), dom
        assert got[dom]["by_helix"] == pytest.approx(by_helix), dom
        assert got[dom]["voters"] == n, dom
    assert [e_["domain_id"] for e_ in results["ranking"]] == [a, c, b, d]  # Borda tie by id
    # Schulze: c beats a 2:1 and b 2:1; a beats b 3:0; everything beats the unranked d.
    assert results["schulze"] == [c, a, b, d]
    assert _participation(results) == {"business": 2, "academia": 1}


# ---------------------------------------------------------------- aggregates only


def _keys(obj) -> set:
    if isinstance(obj, dict):
        return set(obj) | set().union(*(_keys(v) for v in obj.values()))
    if isinstance(obj, list):
        return set().union(*(_keys(v) for v in obj)) if obj else set()
    return set()


def test_participants_and_projector_see_aggregates_only(app, room):
    r = room("propose")
    people = [r.phone(h, name=f"Secretname{i}q", organisation=f"Secretorg{i}q")
              for i, h in enumerate(["business", "academia", "government"])]
    projector = r.projector()
    ok(people[0].emit("propose", {"title": "An idea"}))
    ok(people[1].emit("comment", {"domain_id": r.seeds[0], "stance": "concern", "text": "hm"}))
    r.phase("vote")
    for i, p in enumerate(people):
        ok(p.emit("vote", {"domain_id": r.seeds[i], "points": 2 + i}))
    r.phase("results")
    r.phase("decide")
    ok(r.console.act("decide", domain_id=r.seeds[0], rank=1, rationale="Agreed"))
    secrets = [p.token for p in people] + [f"Secretname{i}q" for i in range(3)] + [
        f"Secretorg{i}q" for i in range(3)]
    for viewer in people + [projector]:
        got = viewer.sio.get_received()
        broadcasts = [m["args"][0] for m in got if m["name"] in ("state", "results", "counts")]
        assert any(m["name"] == "results" for m in got)
        text = json.dumps(broadcasts)
        for secret in secrets:
            assert secret not in text, secret
        keys = _keys(broadcasts)
        assert not keys & {"participant_id", "token", "name", "organisation", "me"}, keys


# ---------------------------------------------------------------- the event record


def test_every_accepted_change_writes_an_event(app, room):
    r = room()
    steps = []

    def step(kinds, fn):
        n = len(events(app, r.id))
        fn()
        steps.append(([k for k, _ in events(app, r.id)[n:]], kinds))

    phone = None

    def join():
        nonlocal phone
        phone = r.phone()
    step(["join"], join)
    step(["phase"], lambda: r.phase("propose"))
    box = {}
    step(["propose"], lambda: box.update(
        d=ok(phone.emit("propose", {"title": "Record me"}))["domain_id"]))
    step(["comment"], lambda: ok(phone.emit("comment", {"domain_id": box["d"],
                                                          "stance": "evidence", "text": "data"})))
    step(["moderate"], lambda: ok(r.console.act("moderate", domain_id=box["d"], action="hide")))
    step(["moderate"], lambda: ok(r.console.act("moderate", domain_id=box["d"],
                                                action="approve")))
    step(["method"], lambda: ok(r.console.act("configure", method="score")))
    step(["method"], lambda: ok(r.console.act("configure", method="dot")))
    step(["phase"], lambda: r.phase("vote"))
    step(["vote"], lambda: ok(phone.emit("vote", {"domain_id": box["d"], "points": 2})))
    step(["vote"], lambda: ok(phone.emit("vote", {"domain_id": box["d"], "points": 0})))
    step(["reveal"], lambda: ok(r.console.act("reveal", shown=True)))
    step(["reveal"], lambda: ok(r.console.act("reveal", shown=False)))
    step(["phase", "reveal"], lambda: r.phase("results"))
    step(["phase"], lambda: r.phase("decide"))
    step(["decide"], lambda: ok(r.console.act("decide", domain_id=box["d"], rank=1,
                                              rationale="Because")))
    step(["undecide"], lambda: ok(r.console.act("undecide", domain_id=box["d"])))
    step(["phase"], lambda: r.phase("closed"))
    for got, want in steps:
        assert got == want
    with app.app_context():
        ev = db.session.scalars(sa.select(models.Event).where(models.Event.kind == "vote")).all()
        assert [e.payload["points"] for e in ev] == [2, 0]
        assert all(e.helix == "business" and e.participant_id for e in ev)


# ---------------------------------------------------------------- rate limit


@pytest.fixture
def limited_app(sqlite_url):
    # Each app keeps its own counters (edp/limits.py): nothing to reset between tests.
    app = make_app(sqlite_url, RATE_BURST=5, RATE_PER_SECOND=0.001)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_rate_limit_is_per_participant(limited_app):
    world = World(limited_app)
    world.facilitator()
    r = Room(world, "vote")
    phone = r.phone()
    for _ in range(5):
        ok(phone.emit("vote", {"domain_id": r.seeds[0], "points": 1}))
    before = snapshot(limited_app)
    err(phone.emit("vote", {"domain_id": r.seeds[0], "points": 2}), "rate_limited")
    assert snapshot(limited_app) == before
    # Another phone is not slowed down by the first.
    other = r.phone("academia")
    ok(other.emit("vote", {"domain_id": r.seeds[0], "points": 2}))
    # Reconnecting does not reset the limit: it belongs to the participant, not the socket.
    again = Client(socketio.test_client(limited_app))
    ok(again.emit("join", {"code": r.code, "token": phone.token}))
    err(again.emit("vote", {"domain_id": r.seeds[0], "points": 2}), "rate_limited")


# ---------------------------------------------------------------- points on domains that leave


def test_configure_refused_once_ballots_exist_even_after_going_back(app, room):
    r = room("vote")
    phone = r.phone()
    ok(phone.emit("vote", {"domain_id": r.seeds[0], "points": 2}))
    r.phase("discuss")
    before = snapshot(app)
    err(r.console.act("configure", method="rank"), "ballots_exist")
    assert snapshot(app) == before


def test_hiding_a_domain_returns_its_points_to_the_voters(app, room):
    r = room("vote", cap=None)
    alice, bob = r.phone("business"), r.phone("academia")
    a, b = r.seeds[0], r.seeds[1]
    ok(alice.emit("vote", {"domain_id": a, "points": 4}))
    ok(alice.emit("vote", {"domain_id": b, "points": 1}))
    ok(bob.emit("vote", {"domain_id": b, "points": 2}))
    alice.received(), bob.received()
    ok(r.console.act("moderate", domain_id=a, action="hide"))
    # Alice is told her own ballot changed; Bob, who had nothing there, is not.
    mine = last(alice, "me")
    assert mine["votes"] == {str(b): 1} and mine["remaining"] == BUDGET - 1
    assert bob.received("me") == []
    # The points are really back: she can spend the whole rest of her budget elsewhere.
    assert ok(alice.emit("vote", {"domain_id": b, "points": BUDGET}))["remaining"] == 0
    results = last(r.console, "results")
    assert a not in [e["domain_id"] for e in results["ranking"]]
    kinds = [k for k, role in events(app, r.id) if role == "system"]
    assert kinds.count("vote") == 1  # the refund is on the record


def test_merging_moves_points_to_the_surviving_domain(app, room):
    r = room("vote", cap=None)
    phone = r.phone("business")
    a, b = r.seeds[0], r.seeds[1]
    ok(phone.emit("vote", {"domain_id": a, "points": 3}))
    ok(phone.emit("vote", {"domain_id": b, "points": 2}))
    ok(r.console.act("moderate", domain_id=a, action="merge", into=b))
    mine = last(phone, "me")
    assert mine["votes"] == {str(b): 5} and mine["remaining"] == BUDGET - 5
    ranking = {e["domain_id"]: e["score"] for e in last(r.console, "results")["ranking"]}
    assert a not in ranking and ranking[b] == 5


def test_deciding_a_taken_rank_moves_the_others_down(app, room):
    r = room("decide")
    a, b, c = r.seeds[:3]
    ok(r.console.act("decide", domain_id=a, rank=1, rationale="first"))
    ok(r.console.act("decide", domain_id=b, rank=2, rationale="second"))
    ok(r.console.act("decide", domain_id=c, rank=1, rationale="now first"))
    priorities = last(r.console, "state")["priorities"]
    assert [(p["domain_id"], p["rank"]) for p in priorities] == [(c, 1), (a, 2), (b, 3)]
    ok(r.console.act("undecide", domain_id=a))
    priorities = last(r.console, "state")["priorities"]
    assert [(p["domain_id"], p["rank"]) for p in priorities] == [(c, 1), (b, 2)]


def test_phase_countdown_is_broadcast_and_cleared_by_the_next_phase(app, room):
    from datetime import datetime, timedelta

    r = room()
    phone = r.phone()
    ok(r.console.act("phase", phase="propose", seconds=300))
    ws = last(phone, "state")["workshop"]
    ends = datetime.fromisoformat(ws["phase_ends_at"].rstrip("Z"))
    now = datetime.fromisoformat(ws["server_time"].rstrip("Z"))
    assert timedelta(seconds=295) <= ends - now <= timedelta(seconds=300)
    assert events(app, r.id)[-2:] == [("timer", "facilitator"), ("phase", "facilitator")]
    ok(r.console.act("phase", phase="discuss"))
    assert last(phone, "state")["workshop"]["phase_ends_at"] is None
    err(r.console.act("phase", phase="vote", seconds=-5), "bad_payload")
