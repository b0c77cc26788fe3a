"""The rules in edp/workshop.py, called directly: templates, join codes, phases, budgets, caps."""
from __future__ import annotations

import itertools
import tomllib
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import AGRI_TEMPLATE, TEMPLATE, make_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edp import workshop as rules
from edp.extensions import db
from edp.models import Domain, Event, Facilitator, Participant, Priority, Vote, Workshop

# The contract's phases, with the method's optional `vision` between lobby and propose.
CONTRACT_PHASES = ["lobby", "vision", "propose", "discuss", "vote", "results", "decide", "closed"]
# The contract's phase rules, written out independently of PHASE_RULES.
ALLOWED = {
    "propose": {"propose", "discuss"},
    "comment": {"propose", "discuss", "vote"},
    "vote": {"vote"},
    "score": {"vote"},
    "rank": {"vote"},
    "decide": {"decide"},
    "statement": {"vision"},
    "react": {"vision"},
    "swot": {"propose", "discuss", "vote"},
    "fund": {"discuss", "vote", "results", "decide"},
}


@pytest.fixture(scope="module")
def mod_app(tmp_path_factory):
    app = make_app(f"sqlite:///{tmp_path_factory.mktemp('rules') / 'rules.sqlite3'}")
    with app.app_context():
        user = Facilitator(email="rules@example.org", password_hash="x")
        db.session.add(user)
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ctx(mod_app):
    """An app context whose changes are thrown away afterwards."""
    with mod_app.app_context():
        yield
        db.session.rollback()
        db.session.remove()


def facilitator() -> Facilitator:
    return db.session.scalar(sa.select(Facilitator))


def new_workshop(**overrides) -> Workshop:
    data = rules.load_template(TEMPLATE)
    method = overrides.pop("method", None)
    data.update(overrides)
    return rules.create_workshop(data, facilitator(), method=method)


def code_of(exc_info) -> str:
    return exc_info.value.code


# ---------------------------------------------------------------- templates


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.toml"
    path.write_text(text, encoding="utf-8")
    return path


GOOD = '''
title = "T"
[[helices]]
key = "business"
label = "Business"
'''


def test_shipped_templates_load_and_the_first_fits_the_contract():
    templates = sorted((TEMPLATE.parent).glob("*.toml"))
    assert templates[0] == TEMPLATE
    for path in templates:
        data = rules.load_template(path)
        assert data["title"]
    first = rules.load_template(templates[0])
    assert len(first["helices"]) >= 5 and first["budget"] >= 3
    agri = rules.load_template(AGRI_TEMPLATE)
    assert agri["language"] == "es" and agri["method"] == "score"


def test_minimal_template_gets_defaults(tmp_path, ctx):
    data = rules.load_template(write(tmp_path, GOOD))
    ws = rules.create_workshop(data, facilitator())
    assert (ws.language, ws.method, ws.budget, ws.max_priorities, ws.cap) == (
        "en", "dot", 10, 5, None)
    assert ws.helix_keys() == ["business"] and ws.criteria == []


@pytest.mark.parametrize("text, problem", [
    ('[[helices]]\nkey = "b"\nlabel = "B"\n', "title is missing"),
    ('language = "fr"\n' + GOOD, "language"),
    ('method = "approval"\n' + GOOD, "method"),
    ('title = "T"\n', "helices"),
    ('title = "T"\n[[helices]]\nkey = "b"\n', "helices"),
    ('title = "T"\nhelices = ["business", "academia"]\n', "helices"),
    (GOOD + '[[criteria]]\nkey = "c"\nlabel = "C"\nweight = 0\n', "positive weight"),
    (GOOD + '[[criteria]]\nkey = "c"\nlabel = "C"\nweight = -1\n', "positive weight"),
    (GOOD + '[[criteria]]\nlabel = "C"\n', "criteria"),
    ('budget = 0\n' + GOOD, "budget"),
    ('max_priorities = 0\n' + GOOD, "max_priorities"),
    (GOOD + '[[domains]]\ndescription = "no title"\n', "domains"),
    ('domains = ["Tourism"]\n' + GOOD, "domains"),
    ('criteria = ["assets"]\n' + GOOD, "criteria"),
    ('title = "T"\n[[helices]\n', ""),  # not TOML at all
])
def test_bad_templates_raise_value_error_naming_the_problem(tmp_path, text, problem):
    path = write(tmp_path, text)
    with pytest.raises(ValueError) as info:
        rules.load_template(path)
    assert problem in str(info.value)
    if not isinstance(info.value, tomllib.TOMLDecodeError):
        assert str(path) in str(info.value)


def test_create_workshop_rules(ctx):
    data = rules.load_template(TEMPLATE)
    with pytest.raises(ValueError, match="method"):
        rules.create_workshop(data, facilitator(), method="approval")
    with pytest.raises(ValueError, match="criteria"):
        rules.create_workshop({**data, "criteria": []}, facilitator(), method="score")
    ws = rules.create_workshop(data, facilitator(), title="Custom", method="rank")
    assert (ws.title, ws.method, ws.budget, ws.cap, ws.max_priorities) == (
        "Custom", "rank", 10, 5, 5)
    seeds = rules.domains_of(ws)
    assert [d.title for d in seeds] == [d["title"] for d in data["domains"]]
    assert all(d.status == "approved" and d.seed for d in seeds)
    kinds = db.session.scalars(sa.select(Event.kind).where(Event.workshop_id == ws.id)
                               .order_by(Event.id)).all()
    assert kinds == ["workshop_created"] + ["propose"] * len(seeds)
    assert sum(c["weight"] for c in ws.criteria) == pytest.approx(1.0)


# ---------------------------------------------------------------- join codes


def test_join_codes_avoid_look_alikes_and_are_unique(ctx):
    assert len(set(rules.CODE_ALPHABET)) == len(rules.CODE_ALPHABET)
    assert not set("01OIL") & set(rules.CODE_ALPHABET)
    codes = [new_workshop().code for _ in range(30)]
    assert len(set(codes)) == len(codes)
    for code in codes:
        assert len(code) == rules.CODE_LENGTH == 6
        assert set(code) <= set(rules.CODE_ALPHABET)


def test_new_code_skips_a_code_already_taken(ctx, monkeypatch):
    taken = new_workshop()
    db.session.flush()
    letters = itertools.chain(taken.code, "BBBBBB")
    monkeypatch.setattr(rules.secrets, "choice", lambda alphabet: next(letters))
    assert rules.new_code() == "BBBBBB"


def test_codes_are_found_whatever_the_case_and_spaces(ctx):
    ws = new_workshop()
    assert rules.workshop_by_code(f"  {ws.code.lower()} ").id == ws.id
    with pytest.raises(rules.EDPError) as info:
        rules.workshop_by_code("NOPE99")
    assert code_of(info) == "unknown_workshop"


# ---------------------------------------------------------------- phases


def test_phase_rules_table_matches_the_contract(ctx):
    assert rules.PHASES == CONTRACT_PHASES
    ws = new_workshop()
    for action, allowed in ALLOWED.items():
        for phase in CONTRACT_PHASES:
            ws.phase = phase
            if phase in allowed:
                rules.require_phase(ws, action)
            else:
                with pytest.raises(rules.EDPError) as info:
                    rules.require_phase(ws, action)
                assert code_of(info) == "wrong_phase", (action, phase)


def test_any_phase_from_any_phase(ctx):
    ws = new_workshop()
    for before, after in itertools.permutations(CONTRACT_PHASES, 2):
        ws.phase, ws.results_shown = before, False
        assert rules.set_phase(ws, after) is True
        assert ws.phase == after
        assert ws.results_shown is (after == "results")
    assert rules.set_phase(ws, ws.phase) is False
    with pytest.raises(rules.EDPError) as info:
        rules.set_phase(ws, "voting")
    assert code_of(info) == "bad_payload"


def test_set_method_only_before_the_vote(ctx):
    ws = new_workshop()
    for phase in ("lobby", "propose", "discuss"):
        ws.phase = phase
        rules.set_method(ws, "rank")
        assert ws.method == "rank"
        rules.set_method(ws, "dot")
    for phase in ("vote", "results", "decide", "closed"):
        ws.phase = phase
        with pytest.raises(rules.EDPError) as info:
            rules.set_method(ws, "rank")
        assert code_of(info) == "wrong_phase"
        assert ws.method == "dot"
    ws.phase = "lobby"
    bare = new_workshop(criteria=[])
    with pytest.raises(rules.EDPError) as info:
        rules.set_method(bare, "score")
    assert code_of(info) == "wrong_method"


# ---------------------------------------------------------------- joining


def test_join_rejoin_and_closed(ctx):
    ws = new_workshop()
    p, created = rules.join(ws.code, "academia", " Ana ", " Uni ", language="es")
    assert created and (p.helix, p.name, p.organisation, p.language) == (
        "academia", "Ana", "Uni", "es")
    again, created = rules.join(ws.code, "business", token=p.token, language="pt")
    assert again.id == p.id and not created
    assert again.helix == "academia" and again.language == "pt"
    ws.phase = "closed"
    assert rules.join(ws.code, None, token=p.token)[0].id == p.id
    with pytest.raises(rules.EDPError) as info:
        rules.join(ws.code, "academia")
    assert code_of(info) == "wrong_phase"
    ws.phase = "lobby"
    for helix in (None, "", "ACADEMIA", "aliens"):
        with pytest.raises(rules.EDPError) as info:
            rules.join(ws.code, helix)
        assert code_of(info) == "bad_helix"
    # An unknown token is a new participant, not an error (the phone's storage was stale).
    fresh, created = rules.join(ws.code, "business", token="no-such-token")
    assert created and fresh.id != p.id and fresh.token != "no-such-token"


# ---------------------------------------------------------------- budgets


def voting(budget=10, cap=None, **kw):
    ws = new_workshop(budget=budget, cap=cap, **kw)
    ws.phase = "vote"
    p = rules.join(ws.code, "business")[0]
    return ws, p, [d.id for d in rules.domains_of(ws)]


def refused(code, fn, *args):
    with pytest.raises(rules.EDPError) as info:
        fn(*args)
    assert code_of(info) == code


def test_budget_edges(ctx):
    _ws, p, (a, b, _c) = voting(budget=3)
    assert rules.vote(p, a, 3) == 0  # the whole budget on one domain
    refused("over_budget", rules.vote, p, b, 1)
    assert rules.vote(p, a, 3) == 0  # the same again: sets, does not add
    assert rules.vote(p, a, 2) == 1
    assert rules.vote(p, b, 1) == 0
    refused("over_budget", rules.vote, p, a, 3)
    assert rules.vote(p, a, 0) == 2
    assert db.session.scalar(sa.select(Vote).where(Vote.domain_id == a)) is None
    assert rules.vote(p, a, 0) == 2  # removing nothing is fine
    assert rules.spent_points(p) == 1
    refused("bad_payload", rules.vote, p, a, -1)


def test_cap_edges(ctx):
    _ws, p, (a, b, c) = voting(budget=10, cap=4)
    assert rules.vote(p, a, 4) == 6
    refused("over_cap", rules.vote, p, b, 5)
    assert rules.vote(p, b, 4) == 2
    refused("over_budget", rules.vote, p, c, 3)  # within the cap but over the budget
    assert rules.vote(p, c, 2) == 0


def test_budget_one_participant_does_not_spend_anothers(ctx):
    ws, p, (a, _b, _c) = voting(budget=2)
    q = rules.join(ws.code, "academia")[0]
    assert rules.vote(p, a, 2) == 0
    assert rules.vote(q, a, 2) == 0


def test_votes_only_on_approved_domains_of_the_same_workshop(ctx):
    ws, p, (a, b, _c) = voting()
    other = new_workshop()
    rules.moderate(ws, b, "hide")
    refused("not_found", rules.vote, p, b, 1)
    refused("not_found", rules.vote, p, rules.domains_of(other)[0].id, 1)
    refused("not_found", rules.vote, p, 10**6, 1)
    ws.method = "score"
    refused("wrong_method", rules.vote, p, a, 1)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(budget=st.integers(1, 12), cap=st.one_of(st.none(), st.integers(1, 12)),
       moves=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 14)), max_size=25))
def test_budget_and_cap_are_never_exceeded(mod_app, budget, cap, moves):
    with mod_app.app_context():
        try:
            _ws, p, domains = voting(budget=budget, cap=cap)
            model = {}
            for k, points in moves:
                d = domains[k]
                others = sum(v for dd, v in model.items() if dd != d)
                try:
                    remaining = rules.vote(p, d, points)
                except rules.EDPError as exc:
                    expect = "over_cap" if cap and points > cap else "over_budget"
                    assert exc.code == expect
                    assert others + points > budget or expect == "over_cap"
                    continue
                assert not (cap and points > cap) and others + points <= budget
                model[d] = points
                assert remaining == budget - sum(model.values())
                stored = dict(db.session.execute(
                    sa.select(Vote.domain_id, Vote.points).where(Vote.participant_id == p.id)
                ).all())
                assert stored == {dd: v for dd, v in model.items() if v}
                assert sum(stored.values()) <= budget
        finally:
            db.session.rollback()
            db.session.remove()


# ---------------------------------------------------------------- moderation and decisions


def test_merge_and_approve(ctx):
    ws = new_workshop()
    a, b, c = rules.domains_of(ws)
    rules.moderate(ws, b.id, "merge", into=a.id)
    assert (b.status, b.merged_into_id) == ("merged", a.id)
    refused("not_found", rules.moderate, ws, c.id, "merge", b.id)  # into a merged one
    refused("not_found", rules.moderate, ws, c.id, "merge", c.id)
    refused("not_found", rules.moderate, ws, c.id, "merge", None)
    rules.moderate(ws, b.id, "approve")
    assert (b.status, b.merged_into_id) == ("approved", None)
    other = new_workshop()
    refused("not_found", rules.moderate, other, a.id, "hide")


def test_decide_cap(ctx):
    ws = new_workshop(max_priorities=2)
    a, b, c = (d.id for d in rules.domains_of(ws))
    refused("wrong_phase", rules.decide, ws, a, 1, "why")
    ws.phase = "decide"
    rules.decide(ws, a, 1, "  Strong assets  ", ["patents"])
    rules.decide(ws, b, 2, "Funders ready")
    db.session.flush()
    refused("too_many_priorities", rules.decide, ws, c, 2, "one more")
    rules.decide(ws, a, 2, "Updated: does not count twice")
    db.session.flush()
    rows = db.session.scalars(sa.select(Priority).where(Priority.workshop_id == ws.id)
                              .order_by(Priority.domain_id)).all()
    assert [(r.domain_id, r.rank, r.rationale) for r in rows] == [
        (a, 2, "Updated: does not count twice"), (b, 1, "Funders ready")]
    refused("bad_payload", rules.decide, ws, c, 1, "   ")
    refused("not_found", rules.decide, ws, 10**6, 1, "x")
    rules.undecide(ws, b)
    db.session.flush()
    savepoint = db.session.begin_nested()
    refused("too_many_priorities", rules.decide, ws, c, 3, "rank above the cap")
    savepoint.rollback()
    rules.decide(ws, c, 1, "fits now")
    db.session.flush()
    assert db.session.scalar(sa.select(sa.func.count(Priority.id))
                             .where(Priority.workshop_id == ws.id)) == 2


def test_decide_only_approved_domains(ctx):
    ws = new_workshop()
    ws.phase = "decide"
    a = rules.domains_of(ws)[0]
    rules.moderate(ws, a.id, "hide")
    refused("not_found", rules.decide, ws, a.id, 1, "hidden")


def test_ownership(ctx):
    ws = new_workshop()
    other = Facilitator(email="other-rules@example.org", password_hash="x")
    db.session.add(other)
    db.session.flush()
    assert rules.owned_workshop(ws.id, facilitator()).id == ws.id
    refused("forbidden", rules.owned_workshop, ws.id, other)
    refused("forbidden", rules.owned_workshop, ws.id, None)
    refused("unknown_workshop", rules.owned_workshop, 10**6, facilitator())


def test_public_state_hides_who_did_what(ctx):
    ws = new_workshop()
    ws.phase = "propose"
    p = rules.join(ws.code, "business", name="Secretname")[0]
    d = rules.propose(p, "Idea")
    rules.comment(p, d.id, "support", "Good")
    db.session.flush()
    text = repr(rules.public_state(ws))
    assert "Secretname" not in text and p.token not in text and "participant_id" not in text
    assert rules.participant_state(p)["me"]["proposed"] == [d.id]
    assert db.session.get(Domain, d.id).participant_id == p.id
    assert db.session.get(Participant, p.id).name == "Secretname"


def test_live_dot_results_summed_by_the_database_equal_the_full_computation(app):
    """The live dot results come from SQL sums (fast at thousands of participants); they must
    equal the ballot-by-ballot computation on either database, hidden domains, withdrawn dots
    and a helix nobody joined included."""
    import random

    import pandas as pd

    from edp import analysis

    rng = random.Random(5)
    with app.app_context():
        user = Facilitator(email="sums@example.org", password_hash="x")
        db.session.add(user)
        db.session.flush()
        ws = rules.create_workshop(rules.load_template(TEMPLATE), user)
        rules.set_phase(ws, "propose")
        helices = ["government", "business", "business", "academia", "environment"]
        people = [rules.join(ws.code, helices[i % 5])[0] for i in range(23)]
        extra = rules.propose(people[0], "Ocean energy")
        rules.set_phase(ws, "vote")
        ids = [d.id for d in rules.domains_of(ws, rules.VOTABLE)]
        for p in people[:-2]:  # two participants never vote
            for d in rng.sample(ids, 3):
                rules.vote(p, d, rng.randint(0, 3))
        rules.vote(people[1], ids[0], 0)  # a withdrawn dot
        rules.moderate(ws, extra.id, "hide")  # its points go back
        db.session.commit()

        live = rules.compute_results(ws)
        frames = rules.ballot_frames(ws)
        votable = rules.domains_of(ws, rules.VOTABLE)
        full = analysis.results(
            "dot", pd.DataFrame([(d.id, d.title) for d in votable],
                                columns=["domain_id", "title"]),
            frames["votes"], frames["scores"], frames["rankings"], ws.helix_keys(),
            {c["key"]: c["weight"] for c in ws.criteria}, present=rules.helix_counts(ws))
        # The live results add each domain's funders' signal (none here) beside support.
        assert all(e.pop("funding") == {"yes": 0, "maybe": 0, "no": 0} for e in live["ranking"])
        assert live == full
        assert extra.id not in {e["domain_id"] for e in live["ranking"]}
        assert live["participation"]["civil_society"] == 0
        assert sum(e["score"] for e in live["ranking"]) == sum(
            v.points for v in db.session.scalars(sa.select(Vote).where(
                Vote.workshop_id == ws.id)))


# ---------------------------------------------------------------- group commit (vote_batch)


def _ballot_and_record(ws) -> tuple[dict, list]:
    votes = dict(((pid, did), n) for pid, did, n in db.session.execute(
        sa.select(Vote.participant_id, Vote.domain_id, Vote.points).where(
            Vote.workshop_id == ws.id)))
    events = [(e.participant_id, e.helix, e.payload) for e in db.session.scalars(
        sa.select(Event).where(Event.workshop_id == ws.id, Event.kind == "vote")
        .order_by(Event.id))]
    return votes, events


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(budget=st.integers(1, 8), cap=st.one_of(st.none(), st.integers(1, 5)),
       vote_own=st.booleans(), phase=st.sampled_from(["vote", "vote", "vote", "discuss"]),
       items=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 5), st.integers(0, 6)),
                      max_size=30))
def test_a_batch_of_votes_decides_and_records_exactly_as_one_by_one(
        mod_app, budget, cap, vote_own, phase, items):
    """`vote_batch` (the group commit) against `vote` called once per item in the same order:
    the same answers (points left, or the same refusal), the same ballots, the same events in
    the same order. Participant 3 does not exist; domain 3 is hidden, 4 is in another workshop,
    5 does not exist; participant 0 proposed domain 0."""
    with mod_app.app_context():
        try:
            ws, p0, seeded = voting(budget=budget, cap=cap)
            ws.settings = {**ws.settings, "vote_own": vote_own}
            people = [p0, rules.join(ws.code, "academia")[0], rules.join(ws.code, "government")[0]]
            domains = db.session.scalars(sa.select(Domain).where(Domain.id.in_(seeded))).all()
            domains[0].participant_id = p0.id
            ws.phase = "propose"
            hidden = rules.propose(people[1], "Hidden one", "")
            rules.moderate(ws, hidden.id, "hide")
            elsewhere = rules.domains_of(new_workshop())[0].id
            dids = [*seeded, hidden.id, elsewhere, 10**7]
            pids = [p.id for p in people] + [10**7]
            ws.phase = phase
            db.session.flush()
            batch = [(pids[a], dids[b], n) for a, b, n in items]

            one = db.session.begin_nested()
            expected = []
            for pid, did, n in batch:
                p = db.session.get(Participant, pid)
                try:
                    if p is None:
                        raise rules.fail("not_joined")
                    expected.append(rules.vote(p, did, n))
                except rules.EDPError as exc:
                    expected.append(exc.code)
                db.session.flush()
            after_one = _ballot_and_record(ws)
            one.rollback()

            many = db.session.begin_nested()
            got = [x.code if isinstance(x, rules.EDPError) else x
                   for x in rules.vote_batch(batch)]
            after_many = _ballot_and_record(ws)
            many.rollback()
            assert got == expected
            assert after_many == after_one
        finally:
            db.session.rollback()
