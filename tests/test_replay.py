"""Results recomputed from the append-only event log equal the live results.

The pure folds are tested on hand-made events (and with Hypothesis for the set-not-add vote
semantics); then real workshops run through the rules in edp/workshop.py on SQLite and
PostgreSQL, with votes changed several times and domains hidden, merged and re-approved after
the votes, and `results_from_events` must give the same payload as `compute_results`.
"""
from __future__ import annotations

import json
import random

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edp import analysis
from edp.replay import (
    KNOWN_KINDS,
    ballots_from_events,
    domains_from_events,
    funding_from_events,
    present_from_events,
    results_from_events,
    swot_from_events,
    unknown_kinds,
    vision_from_events,
)

WS = {
    "method": "dot",
    "helices": [{"key": "government", "label": "G"}, {"key": "business", "label": "B"},
                {"key": "academia", "label": "A"}],
    "criteria": [{"key": "impact", "label": "I", "weight": 2.0},
                 {"key": "feasibility", "label": "F", "weight": 1.0}],
}


class Log:
    """Builds plain event dicts with increasing ids."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def add(self, kind, actor_role="participant", pid=None, helix=None, **payload) -> None:
        self.events.append({"id": len(self.events) + 1, "at": None, "kind": kind,
                            "actor_role": actor_role, "helix": helix, "participant_id": pid,
                            "payload": payload})

    def seed(self, did, title):
        self.add("propose", "system", domain_id=did, title=title, seed=True)

    def propose(self, pid, helix, did, title, status="approved"):
        self.add("propose", pid=pid, helix=helix, domain_id=did, title=title, status=status)

    def moderate(self, did, action, into=None):
        self.add("moderate", "facilitator", domain_id=did, action=action, into=into)

    def join(self, pid, helix):
        self.add("join", pid=pid, helix=helix)

    def vote(self, pid, helix, did, points):
        self.add("vote", pid=pid, helix=helix, domain_id=did, points=points, before=None)

    def score(self, pid, helix, did, criterion, value):
        self.add("score", pid=pid, helix=helix, domain_id=did, criterion=criterion, value=value)

    def rank(self, pid, helix, order):
        self.add("rank", pid=pid, helix=helix, order=order)


# --------------------------------------------------------------------------- pure folds


def test_domains_fold_propose_and_moderation():
    log = Log()
    log.seed(1, "Seed one")
    log.propose(7, "business", 2, "Pending idea", status="pending")
    log.propose(7, "business", 3, "Open idea")
    log.propose(8, "academia", 4, "Duplicate")
    log.moderate(2, "approve")
    log.moderate(3, "hide")
    log.moderate(4, "merge", into=1)
    log.moderate(99, "hide")  # unknown domain: ignored
    got = domains_from_events(log.events)
    assert got == {
        1: {"title": "Seed one", "status": "approved", "merged_into": None, "seed": True},
        2: {"title": "Pending idea", "status": "approved", "merged_into": None, "seed": False},
        3: {"title": "Open idea", "status": "hidden", "merged_into": None, "seed": False},
        4: {"title": "Duplicate", "status": "merged", "merged_into": 1, "seed": False},
    }
    log.moderate(4, "approve")
    assert domains_from_events(log.events)[4]["merged_into"] is None


def test_ballots_fold_sets_replaces_and_removes():
    log = Log()
    log.vote(1, "government", 10, 3)
    log.vote(1, "government", 10, 5)  # sets, not adds
    log.vote(1, "government", 11, 2)
    log.vote(1, "government", 11, 0)  # removed
    log.vote(2, "business", 11, 1)
    log.score(3, "academia", 10, "impact", 2)
    log.score(3, "academia", 10, "impact", 4)
    log.score(3, "academia", 10, "feasibility", 1)
    log.rank(4, "business", [10, 11])
    log.rank(4, "business", [11])  # replaces the whole ballot
    f = ballots_from_events(log.events)
    assert sorted(map(tuple, f["votes"].itertuples(index=False))) == [
        (1, "government", 10, 5), (2, "business", 11, 1)]
    assert sorted(map(tuple, f["scores"].itertuples(index=False))) == [
        (3, "academia", 10, "feasibility", 1), (3, "academia", 10, "impact", 4)]
    assert list(map(tuple, f["rankings"].itertuples(index=False))) == [(4, "business", 11, 1)]
    assert list(f["votes"].columns) == analysis.VOTE_COLUMNS


def test_present_counts_join_events_per_helix():
    log = Log()
    log.join(1, "government")
    log.join(2, "government")
    log.join(3, "media")  # not configured: still counted
    log.join(1, "government")  # the same participant again: counted once
    assert present_from_events(log.events, ["government", "business"]) == {
        "government": 2, "business": 0, "media": 1}


def test_results_from_events_hand_example():
    log = Log()
    log.seed(1, "One")
    log.seed(2, "Two")
    log.propose(5, "business", 3, "Three")
    for pid, helix in ((5, "business"), (6, "government"), (7, "business")):
        log.join(pid, helix)
    log.vote(5, "business", 1, 4)
    log.vote(5, "business", 3, 2)
    log.vote(6, "government", 1, 1)
    log.vote(6, "government", 1, 3)  # government: D1 3
    log.vote(7, "business", 2, 6)  # business: D1 4/2, D2 6/2, D3 2/2
    log.moderate(3, "hide")  # after the votes: D3 leaves the results
    res = results_from_events(log.events, WS)
    by_id = {e["domain_id"]: e for e in res["ranking"]}
    assert [e["domain_id"] for e in res["ranking"]] == [1, 2]
    assert by_id[1]["score"] == 7.0 and by_id[1]["by_helix"] == {"government": 3.0,
                                                                  "business": 2.0}
    assert by_id[2]["score"] == 6.0 and by_id[2]["by_helix"] == {"government": 0.0,
                                                                  "business": 3.0}
    assert res["participation"] == {"government": 1, "business": 2, "academia": 0}
    assert res["warnings"] == [
        {"code": "under_represented", "helix": "academia", "present": 0, "voters": 0},
        {"code": "one_helix", "domain_id": 2, "helix": "business"},
    ]
    log.moderate(3, "approve")  # approved again: its ballots count again
    res = results_from_events(log.events, WS)
    assert {e["domain_id"]: e["score"] for e in res["ranking"]} == {1: 7.0, 2: 6.0, 3: 2.0}


def test_results_from_events_accepts_export_references_and_any_order():
    log = Log()
    log.seed(1, "One")
    log.seed(2, "Two")
    log.rank(1, "academia", [2, 1])
    log.rank(2, "government", [1, 2])
    log.rank(1, "academia", [1, 2])
    events = [{**{k: v for k, v in e.items() if k != "participant_id"},
               "participant": None if e["participant_id"] is None else f"p{e['participant_id']}"}
              for e in log.events]
    expected = results_from_events(log.events, {**WS, "method": "rank"})
    assert results_from_events(list(reversed(events)), {**WS, "method": "rank"}) == expected
    assert expected["schulze"] == [1, 2]
    assert expected["ranking"][0]["score"] == 2.0


def test_funders_signals_fold_set_not_add_and_stand_beside_support():
    log = Log()
    log.seed(1, "One")
    log.seed(2, "Two")
    log.vote(5, "business", 1, 3)
    log.add("fund", pid=8, helix="funders", domain_id=1, signal="yes", instrument="ERDF")
    log.add("fund", pid=9, helix="funders", domain_id=1, signal="maybe", instrument="")
    log.add("fund", pid=8, helix="funders", domain_id=1, signal="no", instrument=None)  # kept
    log.add("fund", pid=8, helix="funders", domain_id=2, signal="perhaps")  # not a signal
    assert funding_from_events(log.events) == {
        (8, 1): {"signal": "no", "instrument": "ERDF"},
        (9, 1): {"signal": "maybe", "instrument": ""}}
    res = results_from_events(log.events, WS)
    by_id = {e["domain_id"]: e for e in res["ranking"]}
    assert by_id[1]["funding"] == {"yes": 0, "maybe": 1, "no": 1}
    assert by_id[2]["funding"] == {"yes": 0, "maybe": 0, "no": 0}
    # Its own axis: a funder's "no" moves no score, and funders who only signal are no voters.
    assert by_id[1]["score"] == 3.0 and res["participation"] == {
        "government": 0, "business": 1, "academia": 0}


def test_vision_and_swot_fold_from_their_events():
    log = Log()
    log.add("statement", pid=1, helix="business", statement_id=10, text="Clean energy.")
    log.add("statement", "facilitator", statement_id=11, text="Young people stay.")
    log.add("statement", "system", statement_id=12, text="Carried.", adopted=True,
            carried_from=3)
    log.add("react", pid=1, helix="business", statement_id=10, reaction="agree")
    log.add("react", pid=2, helix="academia", statement_id=10, reaction="agree")
    log.add("react", pid=1, helix="business", statement_id=10, reaction="pass")  # changed
    log.add("adopt", "facilitator", statement_id=11, adopted=True)
    log.add("adopt", "facilitator", statement_id=10, adopted=True)
    log.add("statement_hidden", "facilitator", statement_id=10)  # takes the adoption back
    log.add("statement_restored", "facilitator", statement_id=10)
    statements, reactions = vision_from_events(log.events)
    assert statements == {
        10: {"text": "Clean energy.", "adopted": False, "hidden": False},
        11: {"text": "Young people stay.", "adopted": True, "hidden": False},
        12: {"text": "Carried.", "adopted": True, "hidden": False}}
    assert reactions == {(1, 10): "pass", (2, 10): "agree"}

    log.add("swot", pid=2, helix="academia", item_id=7, domain_id=1, quadrant="strength",
            text="Two labs.")
    log.add("swot", pid=1, helix="business", item_id=8, domain_id=1, quadrant="threat",
            text="Spam.")
    log.add("swot_hidden", "facilitator", item_id=8, domain_id=1)
    assert swot_from_events(log.events) == {
        7: {"domain_id": 1, "quadrant": "strength", "text": "Two labs.", "helix": "academia",
            "hidden": False},
        8: {"domain_id": 1, "quadrant": "threat", "text": "Spam.", "helix": "business",
            "hidden": True}}
    # None of these moves the results, and none is an unknown kind.
    assert unknown_kinds(log.events) == {}
    assert results_from_events(log.events, WS)["ranking"] == []


def test_every_kind_the_app_records_is_known_to_the_replay():
    """Kinds found in the code (`record(ws, "kind", ...)`, and the hide/restore pairs written
    as conditionals) are replayed or known as the story's; only other kinds are unknown."""
    import re
    from pathlib import Path

    code = "\n".join(p.read_text(encoding="utf-8")
                     for p in (Path(__file__).resolve().parent.parent / "edp").rglob("*.py"))
    kinds = set(re.findall(r'record\(\s*\w+,\s*"([a-z_]+)"', code))
    for pair in re.findall(r'record\(\s*\w+,\s*"([a-z_]+)" if \w+ else "([a-z_]+)"', code):
        kinds |= set(pair)
    assert {"statement", "fund", "swot", "statement_restored", "swot_restored"} <= kinds
    assert kinds <= KNOWN_KINDS, sorted(kinds - KNOWN_KINDS)
    assert unknown_kinds([{"kind": "hologram"}, {"kind": "vote"}]) == {"hologram": 1}


@st.composite
def vote_histories(draw):
    """Per participant a sequence of set-votes; then one random interleaving of them all."""
    n = draw(st.integers(1, 6))
    helices = ["government", "business", "academia"]
    per: dict[int, list[tuple[int, int]]] = {}
    helix = {}
    for pid in range(1, n + 1):
        helix[pid] = draw(st.sampled_from(helices))
        per[pid] = draw(st.lists(st.tuples(st.integers(1, 4), st.integers(0, 5)), max_size=12))
    seed = draw(st.integers(0, 2**32 - 1))
    queues = {pid: list(seq) for pid, seq in per.items()}
    order = [pid for pid, seq in per.items() for _ in seq]
    random.Random(seed).shuffle(order)  # which participant acts next; each keeps its own order
    sequence = [(pid, helix[pid], *queues[pid].pop(0)) for pid in order]
    return per, helix, sequence


@settings(max_examples=200, deadline=None)
@given(vote_histories())
def test_dot_tally_is_the_last_value_per_participant_and_domain(history):
    per, helix, sequence = history
    log = Log()
    for did in range(1, 5):
        log.seed(did, f"D{did}")
    for pid, hx, did, points in sequence:
        log.vote(pid, hx, did, points)
    last: dict[tuple[int, int], int] = {}
    for pid, seq in per.items():
        for did, points in seq:
            last[pid, did] = points
    res = results_from_events(log.events, WS)
    tally = {e["domain_id"]: e["score"] for e in res["ranking"]}
    for did in range(1, 5):
        assert tally[did] == sum(p for (_, d), p in last.items() if d == did)
    voters = {pid for (pid, _), p in last.items() if p > 0}
    assert res["totals"]["voters"] == len(voters)
    # The same as analysis on the final ballots written out directly.
    rows = [(pid, helix[pid], did, p) for (pid, did), p in last.items() if p > 0]
    direct = analysis.results(
        "dot",
        pd.DataFrame({"domain_id": [1, 2, 3, 4], "title": ["D1", "D2", "D3", "D4"]}),
        pd.DataFrame(rows, columns=analysis.VOTE_COLUMNS) if rows
        else analysis.empty_frames()["votes"],
        analysis.empty_frames()["scores"],
        analysis.empty_frames()["rankings"],
        [h["key"] for h in WS["helices"]],
        {c["key"]: c["weight"] for c in WS["criteria"]},
        present={h["key"]: 0 for h in WS["helices"]},
    )
    for entry in direct["ranking"]:  # no funder spoke: the funders' signal is all zeros
        entry["funding"] = {"yes": 0, "maybe": 0, "no": 0}
    assert res == direct


# --------------------------------------------------------------------------- real workshops


def approx_tree(x):
    """Floats compared with pytest.approx anywhere inside a payload."""
    if type(x) is float:
        return pytest.approx(x, rel=1e-12, abs=1e-12)
    if isinstance(x, dict):
        return {k: approx_tree(v) for k, v in x.items()}
    if isinstance(x, list):
        return [approx_tree(v) for v in x]
    return x


def check_replay(ws) -> dict:
    """Replay the workshop's events and compare with its live results; returns the replay."""
    from edp import workshop as rules
    from edp.extensions import db
    from edp.replay import events_from_db, workshop_dict_for_replay

    db.session.commit()
    events = events_from_db(ws)
    replayed = results_from_events(events, workshop_dict_for_replay(ws))
    live = rules.compute_results(ws)
    json.dumps(replayed)
    # The replay always knows who joined; its under-representation warnings must match the
    # tables' head counts.
    under = [w for w in replayed["warnings"] if w["code"] == "under_represented"]
    assert under == analysis.representation(rules.helix_counts(ws), live["participation"])
    if not any(w["code"] == "under_represented" for w in live["warnings"]):
        # compute_results does not pass present= (yet): compare everything else.
        replayed = {**replayed,
                    "warnings": [w for w in replayed["warnings"] if w not in under]}
    assert replayed == approx_tree(live)
    return replayed


def try_(action, *args, **kw):
    """Run a rule; a refused action (EDPError) leaves nothing behind."""
    from edp import workshop as rules
    from edp.extensions import db

    try:
        out = action(*args, **kw)
    except rules.EDPError as err:
        db.session.rollback()
        return err.code
    db.session.commit()
    return out


HELIX_CROWD = (["government"] * 3 + ["business"] * 5 + ["academia"] * 2 + ["civil_society"]
               + ["funders"])  # nobody from environment: under-represented


def open_workshop(world, method: str, moderation: str = "post"):
    """A workshop created as dot and switched to `method` by the facilitator, with people,
    proposals (pending ones approved in a pre-moderated workshop, one left pending) and the
    vote open. Returns (ws, participants, votable domain ids, pending id or None)."""
    from edp import workshop as rules
    from edp.extensions import db

    world.facilitator()
    w = world.workshop(method="dot", moderation=moderation)
    ws = rules.workshop_by_id(w["id"])
    people = [rules.join(w["code"], helix, name=f"P{k}")[0]
              for k, helix in enumerate(HELIX_CROWD)]
    db.session.commit()
    rules.set_phase(ws, "propose")
    if method != "dot":
        rules.set_method(ws, "rank" if method == "score" else "score")  # a detour first
        rules.set_method(ws, method)
    db.session.commit()
    proposed = [rules.propose(people[k], f"Idea {k}", description="why") for k in (0, 3, 8, 9)]
    db.session.commit()
    pending = None
    if moderation == "pre":
        assert all(d.status == "pending" for d in proposed)
        for d in proposed[:3]:
            rules.moderate(ws, d.id, "approve")
        pending = proposed[3].id
    rules.set_phase(ws, "vote")
    db.session.commit()
    ids = [d.id for d in rules.domains_of(ws, ("approved",))]
    assert len(ids) == (6 if moderation == "pre" else 7)
    return ws, people, ids, pending


def cast(method, ws, p, rng, ids):
    """One ballot action of participant p (setting values, so repeats change earlier ones)."""
    from edp import workshop as rules

    if method == "dot":
        return try_(rules.vote, p, rng.choice(ids), rng.choice([0, 1, 2, 3, 5]))
    if method == "score":
        crit = rng.choice([c["key"] for c in ws.criteria])
        return try_(rules.score, p, rng.choice(ids), crit, rng.randint(1, 5))
    order = rng.sample(ids, rng.randint(1, len(ids)))
    return try_(rules.rank, p, order)


@pytest.mark.parametrize("method", ["dot", "score", "rank"])
def test_replay_equals_live_results_through_a_whole_workshop(app, world, method):
    from edp import workshop as rules
    from edp.extensions import db
    from edp.replay import events_from_db, workshop_dict_for_replay

    moderation = "pre" if method == "score" else "post"
    with app.app_context():
        ws, people, ids, pending = open_workshop(world, method, moderation)
        check_replay(ws)  # nobody voted yet
        rng = random.Random(f"replay-{method}")

        # One participant changes their mind several times on the same domain.
        g1, b1 = people[0], people[3]
        if method == "dot":
            for pts in (3, 5, 1, 0, 4):
                assert try_(rules.vote, g1, ids[0], pts) == 10 - pts
            assert try_(rules.vote, b1, ids[0], 5) == 5
            assert try_(rules.vote, b1, ids[1], 5) == 0
            assert try_(rules.vote, b1, ids[2], 1) == "over_budget"
        elif method == "score":
            for value in (1, 5, 2, 4):
                try_(rules.score, g1, ids[0], "assets", value)
            try_(rules.score, g1, ids[0], "market", 3)
            try_(rules.score, b1, ids[1], "assets", 5)
        else:
            try_(rules.rank, g1, [ids[0], ids[1], ids[2]])
            try_(rules.rank, g1, [ids[2], ids[0]])
            try_(rules.rank, g1, list(reversed(ids)))
            try_(rules.rank, b1, [ids[1]])
        if pending is not None:
            assert cast(method, ws, g1, random.Random(0), [pending]) == "not_found"
        check_replay(ws)

        for _ in range(60):
            cast(method, ws, rng.choice(people), rng, ids)
        first = check_replay(ws)
        assert first["totals"]["voters"] > 5

        # Moderation after the votes: hide one voted domain, merge another into a third.
        hidden, merged, target = ids[0], ids[1], ids[2]
        rules.moderate(ws, hidden, "hide")
        rules.moderate(ws, merged, "merge", into=target)
        db.session.commit()
        after = check_replay(ws)
        assert {hidden, merged}.isdisjoint(e["domain_id"] for e in after["ranking"])
        still = [d for d in ids if d not in (hidden, merged)]
        assert cast(method, ws, g1, rng, [hidden]) == "not_found"

        for _ in range(30):
            cast(method, ws, rng.choice(people), rng, still)
        check_replay(ws)

        # Approved again: the old ballots on it count again, on both sides.
        rules.moderate(ws, hidden, "approve")
        db.session.commit()
        back = check_replay(ws)
        assert hidden in {e["domain_id"] for e in back["ranking"]}

        # Results phase, and a round of the events as the JSON export carries them.
        rules.set_phase(ws, "results")
        db.session.commit()
        check_replay(ws)
        events = events_from_db(ws)
        assert [e["id"] for e in events] == sorted(e["id"] for e in events)
        assert set(events[0]) == {"id", "at", "kind", "actor_role", "helix", "participant_id",
                                  "payload"}
        assert {e["kind"] for e in events} >= {"workshop_created", "propose", "join", "phase",
                                               "moderate", {"dot": "vote"}.get(method, method)}
        wsd = workshop_dict_for_replay(ws)
        assert wsd["method"] == method
        assert [h["key"] for h in wsd["helices"]] == ws.helix_keys()


def test_replay_after_a_second_round_of_dot_voting(app, world):
    """Dot votes cast, back to discussion (the method cannot change once ballots exist), a
    domain hidden so its points return to the voters, then a second round of votes."""
    from edp import workshop as rules
    from edp.extensions import db

    with app.app_context():
        ws, people, ids, _ = open_workshop(world, "dot")
        rng = random.Random("two-rounds")
        for _ in range(25):
            cast("dot", ws, rng.choice(people[:6]), rng, ids)
        check_replay(ws)
        rules.set_phase(ws, "discuss")
        with pytest.raises(rules.EDPError) as refused:
            rules.set_method(ws, "rank")
        assert refused.value.code == "ballots_exist"
        db.session.rollback()
        rules.moderate(ws, ids[-1], "hide")
        rules.set_phase(ws, "vote")
        db.session.commit()
        check_replay(ws)
        for _ in range(25):
            cast("dot", ws, rng.choice(people[4:]), rng, ids[:-1])
        res = check_replay(ws)
        assert res["method"] == "dot"
        assert ids[-1] not in [e["domain_id"] for e in res["ranking"]]


def test_replay_of_the_json_export(app, world):
    """The events of the JSON record (participants as references) replay to its results."""
    from edp import exports
    from edp import workshop as rules

    with app.app_context():
        ws, people, ids, _ = open_workshop(world, "score")
        rng = random.Random("export")
        for _ in range(40):
            cast("score", ws, rng.choice(people), rng, ids)
        rules.moderate(ws, ids[0], "hide")
        check_replay(ws)
        data, _, _ = exports.build(ws, "json")
        record = json.loads(data)
        replayed = results_from_events(record["events"], record["workshop"])
        for key in ("method", "ranking", "participation"):
            assert replayed[key] == approx_tree(record["results"][key])
