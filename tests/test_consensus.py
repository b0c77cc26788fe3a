"""Consensus across helices (issue #16, CONTRACT "Method"): Pol.is's group-informed consensus.

Per helix h the Laplace-smoothed support rate p_h = (s_h + 1) / (n_h + 2); consensus is the
geometric mean of p_h over the helices with voters (Small, Bjorkegren, Erkkilä, Shaw and Megill
2021, "Polis: Scaling Deliberation by Mapping High Dimensional Opinion Spaces", Recerca 26(2)).
What a person would notice: a domain every helix but one supports is not shown as 0%; one a
single helix supports is below one every helix supports; a helix that did not score a domain
does not count as a 0; and with fewer than two groups to compare, on the console or on the
projector after small helices are pooled, there is no consensus figure rather than 100%.

The arithmetic through `edp.analysis.results` (the function every screen and export calls), the
projector's payload through real Socket.IO test clients.
"""
from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_sockets import Room, fast_passwords, ok  # noqa: F401 (an autouse fixture)

from edp import analysis
from edp.analysis import RANK_COLUMNS, SCORE_COLUMNS, VOTE_COLUMNS, empty_frames, results

HELICES = ["government", "business", "academia", "civil_society", "environment"]
PROPS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def polis(*groups: tuple[float, int]) -> float:
    """By hand: the geometric mean of (s + 1) / (n + 2) over (s, n) per helix."""
    return math.prod((s + 1) / (n + 2) for s, n in groups) ** (1 / len(groups))


def doms(*ids: int) -> pd.DataFrame:
    return pd.DataFrame({"domain_id": list(ids), "title": [f"D{i}" for i in ids]})


def run(method: str, ids: list[int], votes=(), scores=(), rankings=(), weights=None,
        helices=HELICES, min_group: int = 0) -> dict[int, dict]:
    frames = empty_frames()

    def frame(kind: str, rows, columns) -> pd.DataFrame:
        rows = list(rows)
        return pd.DataFrame(rows, columns=columns) if rows else frames[kind]

    res = results(method, doms(*ids), frame("votes", votes, VOTE_COLUMNS),
                  frame("scores", scores, SCORE_COLUMNS),
                  frame("rankings", rankings, RANK_COLUMNS), helices,
                  weights or {"impact": 1.0}, min_group=min_group)
    return {e["domain_id"]: e for e in res["ranking"]} | {"payload": res}


def voters(sizes: list[int]) -> list[tuple[int, str]]:
    """(participant_id, helix) for `sizes[k]` participants of HELICES[k]."""
    out, pid = [], 0
    for helix, n in zip(HELICES, sizes):
        for _ in range(n):
            pid += 1
            out.append((pid, helix))
    return out


@pytest.fixture
def room(world):
    """A workshop of the first template with its facilitator's console (tests/test_sockets.py)."""
    world.facilitator()
    return lambda phase=None, **kw: Room(world, phase, **kw)


# ---------------------------------------------------------------- the cases by hand


def test_the_worked_example_of_the_protocol():
    """docs/protocol.md: government 2 voters, business 2, academia 1. D1 has both government
    voters and one of business: (3/4 x 2/4 x 1/3) ** (1/3) = 0.5, where min / max gave 0."""
    votes = [(1, "government", 1, 2), (2, "government", 1, 1), (3, "business", 1, 3),
             (4, "business", 2, 4), (5, "academia", 2, 5), (1, "government", 3, 1),
             (2, "government", 3, 1)]
    r = run("dot", [1, 2, 3], votes=votes)
    assert r[1]["consensus"] == pytest.approx(0.5)
    assert r[2]["consensus"] == pytest.approx(polis((0, 2), (1, 2), (1, 1)))  # 0.437
    assert r[3]["consensus"] == pytest.approx(polis((2, 2), (0, 2), (0, 1)))  # 0.397
    assert r[3]["one_helix"] and r[3]["consensus"] < r[2]["consensus"] < r[1]["consensus"]


def test_a_four_person_dot_workshop_tells_domains_apart():
    """Four people, one per helix, ten points each: every domain lacks some helix, so min /
    max read 0% everywhere. Now the domain three helices back leads, the one only one backs
    trails, and none is 0."""
    votes = [(1, "government", 1, 5), (1, "government", 2, 5),
             (2, "business", 1, 4), (2, "business", 3, 6),
             (3, "academia", 1, 3), (3, "academia", 2, 7),
             (4, "civil_society", 2, 10)]
    r = run("dot", [1, 2, 3], votes=votes)
    c = {d: r[d]["consensus"] for d in (1, 2, 3)}
    assert all(x > 0 for x in c.values())
    assert c[1] == c[2] == pytest.approx(polis((1, 1), (1, 1), (1, 1), (0, 1)))  # 3 of 4 helices
    assert c[3] == pytest.approx(polis((0, 1), (1, 1), (0, 1), (0, 1)))  # business alone
    assert c[3] < c[1]


def test_a_domain_one_helix_scored_3_85_is_not_zero():
    """The score workshop of the issue: government scored the domain 3.85 (impact 4 and
    feasibility 3 at weights 0.85 / 0.15), business never scored it. Business's missing score
    is neutral (1/2), exactly as if it had scored the middle of the scale, 3."""
    weights = {"impact": 0.85, "feasibility": 0.15}
    scores = [(p, "government", 1, c, v) for p in (1, 2) for c, v in (("impact", 4),
                                                                      ("feasibility", 3))]
    scores += [(p, "business", 2, "impact", 4) for p in (3, 4)]
    r = run("score", [1, 2], scores=scores, weights=weights)
    assert r[1]["score"] == pytest.approx(3.85)
    assert r[1]["by_helix"] == {"government": pytest.approx(3.85), "business": 0.0}
    support = 2 * (3.85 - 1) / 4  # two government scorers, each (3.85 - 1) / 4
    assert r[1]["consensus"] == pytest.approx(polis((support, 2), (0, 0)))
    assert r[1]["consensus"] > 0.5  # leaning to support, not 0%
    middle = scores + [(p, "business", 1, "impact", 3) for p in (3, 4)]
    assert run("score", [1, 2], scores=middle, weights=weights)[1]["consensus"] == (
        pytest.approx(r[1]["consensus"]))


# ---------------------------------------------------------------- properties


@st.composite
def crowds(draw, min_helices: int = 2):
    """Helix sizes (2..5 helices of 1..6 voters) and a method."""
    sizes = draw(st.lists(st.integers(1, 6), min_size=min_helices, max_size=len(HELICES)))
    return sizes, draw(st.sampled_from(["dot", "score", "rank"]))


def ballots(method: str, people: list[tuple[int, str]], backs) -> dict[str, list[tuple]]:
    """Two domains; each person backs domain 1 (`backs(pid, helix)`) or not. Backing is: dot
    points on 1 (else on 2), score 5 for 1 (else 1), rank 1 first (else last)."""
    votes, scores, rankings = [], [], []
    for pid, helix in people:
        yes = backs(pid, helix)
        if method == "dot":
            votes.append((pid, helix, 1 if yes else 2, 3))
        elif method == "score":
            scores += [(pid, helix, 1, "impact", 5 if yes else 1), (pid, helix, 2, "impact", 3)]
        else:
            order = [1, 2] if yes else [2, 1]
            rankings += [(pid, helix, d, i) for i, d in enumerate(order, start=1)]
    return {"votes": votes, "scores": scores, "rankings": rankings}


@PROPS
@given(crowds(), st.data())
def test_every_helix_but_one_supporting_is_never_zero(crowd, data):
    sizes, method = crowd
    people = voters(sizes)
    against = data.draw(st.sampled_from(HELICES[: len(sizes)]))
    r = run(method, [1, 2], **ballots(method, people, lambda pid, helix: helix != against))
    c = r[1]["consensus"]
    assert type(c) is float and 0.0 < c < 1.0
    assert c == pytest.approx(polis(*[(0 if h == against else n, n)
                                      for h, n in zip(HELICES, sizes)]))


@PROPS
@given(crowds(), st.data())
def test_one_helix_support_is_less_than_every_helix_supporting_as_much(crowd, data):
    """Domain 1: only helix `alone` backs it. Domain 2 (in another workshop with the same
    people): `alone` backs it the same way and so does everyone else."""
    sizes, method = crowd
    people = voters(sizes)
    alone = data.draw(st.sampled_from(HELICES[: len(sizes)]))
    single = run(method, [1, 2], **ballots(method, people, lambda pid, helix: helix == alone))
    every = run(method, [1, 2], **ballots(method, people, lambda pid, helix: True))
    # (Under score the others' 1s still count as scores, so it is not "one helix" there.)
    assert single[1]["one_helix"] or method == "score"
    assert 0.0 < single[1]["consensus"] < every[1]["consensus"] < 1.0


@PROPS
@given(st.integers(2, 5), st.integers(1, 8), st.data())
def test_the_same_supporters_spread_over_every_helix_beat_one_helix(n_helices, per_helix, data):
    """Same total: S supporters (each giving the same points) in helices of equal size, all in
    one helix for domain 1 or spread as evenly as can be over every helix for domain 2. Same
    score; the spread one has the higher consensus."""
    size = max(per_helix, n_helices)
    total = data.draw(st.integers(n_helices, size))
    people = voters([size] * n_helices)
    by_helix: dict[str, list[int]] = {}
    for pid, helix in people:
        by_helix.setdefault(helix, []).append(pid)
    concentrated = set(by_helix[HELICES[0]][:total])
    spread = set()
    for k in range(total):  # round robin: helix k % n_helices gets its next person
        helix = HELICES[k % n_helices]
        spread.add(by_helix[helix][k // n_helices])
    votes = [(pid, helix, 1, 2) for pid, helix in people if pid in concentrated]
    votes += [(pid, helix, 2, 2) for pid, helix in people if pid in spread]
    votes += [(pid, helix, 3, 1) for pid, helix in people]  # everyone votes: all are voters
    r = run("dot", [1, 2, 3], votes=votes)
    assert r[1]["score"] == r[2]["score"] == 2 * total
    assert r[1]["consensus"] < r[2]["consensus"]


@PROPS
@given(st.lists(st.integers(1, 12), min_size=2, max_size=5), st.data())
def test_equal_rates_give_the_rate_whatever_the_head_counts(sizes, data):
    """Every helix supports the domain at the same rate r, s_h = r n_h (under score each
    scorer's support is (value - 1) / 4, so everyone scoring the same value puts every helix,
    whatever its size, at r = 0, 1/4, 1/2, 3/4 or 1). Exact invariance cannot hold with
    Laplace smoothing; head counts move the consensus only through it, and it fades as
    1 / (n + 2): |consensus - r| <= |1 - 2r| / (min n + 2). At r = 1/2 (the neutral point)
    head counts do not matter at all, and which helix is the crowded one never does."""
    people = voters(sizes)
    r = data.draw(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]))
    value = int(1 + 4 * r)
    scores = [(pid, helix, 1, "impact", value) for pid, helix in people]
    c = run("score", [1], scores=scores)[1]["consensus"]
    assert abs(c - r) <= abs(1 - 2 * r) / (min(sizes) + 2) + 1e-12
    if r == 0.5:
        assert c == pytest.approx(0.5)
    # Reversing which helix is the crowded one changes nothing.
    reordered = voters(list(reversed(sizes)))
    again = [(pid, helix, 1, "impact", value) for pid, helix in reordered]
    assert run("score", [1], scores=again)[1]["consensus"] == pytest.approx(c)


@PROPS
@given(crowds(), st.data(), st.integers(1, 4))
def test_a_bigger_helix_keeps_one_say(crowd, data, k):
    """A helix that brings k times the people (each new one casting the same ballot) changes
    the consensus only through its own rate, now less smoothed: by exactly the factor
    (p_after / p_before) ** (1 / H), never by weighing more than the other helices."""
    sizes, method = crowd
    people = voters(sizes)
    backing = data.draw(st.lists(st.booleans(), min_size=len(people), max_size=len(people)))
    yes = {pid: b for (pid, _), b in zip(people, backing)}
    grown = data.draw(st.sampled_from(HELICES[: len(sizes)]))
    more = people + [(pid + 1000 * j, helix) for j in range(1, k + 1)
                     for pid, helix in people if helix == grown]

    def backs(pid: int, helix: str) -> bool:
        return yes[pid % 1000]  # a clone backs as its original

    before = run(method, [1, 2], **ballots(method, people, backs))[1]["consensus"]
    after = run(method, [1, 2], **ballots(method, more, backs))[1]["consensus"]
    n = sizes[HELICES.index(grown)]
    s = sum(yes[pid] for pid, helix in people if helix == grown)
    own_before = (s + 1) / (n + 2)
    own_after = ((k + 1) * s + 1) / ((k + 1) * n + 2)
    assert after == pytest.approx(before * (own_after / own_before) ** (1 / len(sizes)))


# ---------------------------------------------------------------- nothing to agree across


@PROPS
@given(st.lists(st.integers(0, 5), min_size=1, max_size=5), st.integers(3, 4), st.data())
def test_public_results_need_two_published_groups(sizes, min_group, data):
    """On the projector small helices are pooled or left out; with fewer than two published
    buckets left (or fewer than two helices voting at all) consensus is None, not 100%. The
    facilitator's payload keeps every helix and has a consensus from two helices on. Same
    through the database-totals path of the live dot results."""
    people = voters(sizes)
    votes = [(pid, helix, data.draw(st.sampled_from([1, 2])), 1) for pid, helix in people]
    for public in (0, min_group):
        res = run("dot", [1, 2], votes=votes, min_group=public)["payload"]
        groups = [h for h, n in res["participation"].items() if n > 0]
        for e in res["ranking"]:
            if len(groups) < 2:
                assert e["consensus"] is None
            else:
                assert type(e["consensus"]) is float and 0.0 < e["consensus"] < 1.0
        totals = pd.DataFrame(
            [(d, h, sum(1 for v in votes if v[1] == h and v[2] == d),
              sum(1 for v in votes if v[1] == h and v[2] == d)) for h in HELICES for d in (1, 2)],
            columns=["domain_id", "helix", "points", "voters"])
        found = {h: n for h, n in zip(HELICES, sizes) if n}
        fast = analysis.dot_results_from_totals(doms(1, 2), totals, found, HELICES,
                                                min_group=public)
        assert fast == res
    facilitator = run("dot", [1, 2], votes=votes)["payload"]
    if sum(1 for n in sizes if n) >= 2:
        assert all(e["consensus"] is not None for e in facilitator["ranking"])


def test_the_projector_shows_no_consensus_with_one_published_helix(room):
    """A real room: three business voters and one government voter. The console compares two
    helices; the projector may only show business (government's lone ballot is left out), so
    it gets no consensus. Two more government voters: both sides have one."""
    workshop = room("vote")
    projector = workshop.projector()
    ok(workshop.console.act("reveal", shown=True))
    seeds = workshop.seeds
    for helix, domain in (("business", 0), ("business", 0), ("business", 1), ("government", 0)):
        ok(workshop.phone(helix).emit("vote", {"domain_id": seeds[domain], "points": 2}))
    console = workshop.console.received("results")[-1]
    screen = projector.received("results")[-1]
    assert console["participation"]["government"] == 1
    first = {e["domain_id"]: e for e in console["ranking"]}[seeds[0]]
    assert first["consensus"] == pytest.approx(polis((2, 3), (1, 1)))
    assert screen["participation"]["business"] == 3 and "government" not in screen["participation"]
    assert all(e["consensus"] is None for e in screen["ranking"])
    for _ in range(2):
        ok(workshop.phone("government").emit("vote", {"domain_id": seeds[1], "points": 2}))
    screen = projector.received("results")[-1]
    shown = {e["domain_id"]: e for e in screen["ranking"]}
    assert screen["participation"]["government"] == 3
    assert shown[seeds[0]]["consensus"] == pytest.approx(polis((2, 3), (1, 3)))
    assert shown[seeds[1]]["consensus"] == pytest.approx(polis((1, 3), (2, 3)))


def test_exports_and_rounds_say_nothing_rather_than_a_number_with_one_helix(app, room):
    """Every consumer copes with no consensus: a workshop where only business voted exports in
    every format (an empty cell or "–", not 0 or 100%), and a comparison of rounds keeps it
    empty."""
    import json

    from edp import exports
    from edp import workshop as rules
    from edp.extensions import db
    from edp.models import Workshop

    workshop = room("vote")
    for _ in range(3):
        ok(workshop.phone("business").emit("vote", {"domain_id": workshop.seeds[0], "points": 4}))
    with app.app_context():
        ws = db.session.get(Workshop, workshop.id)
        assert all(e["consensus"] is None for e in rules.compute_results(ws)["ranking"])
        rules.set_phase(ws, "decide")
        rules.decide(ws, workshop.seeds[0], 1, "Business alone, on purpose.")
        db.session.commit()
        built = {fmt: exports.build(ws, fmt)[0] for fmt in exports.FORMATS}
        record = json.loads(built["json"])
        (priority,) = record["priorities"]
        assert priority["evidence"]["consensus"] is None
        assert all(len(data) > 0 for data in built.values())
        summary = analysis.round_summary(rules.compute_results(ws))
        assert summary[workshop.seeds[0]]["consensus"] is None
        db.session.remove()
