"""Tests of the voting arithmetic in edp.analysis: hand-computed cases plus properties.

A small pure-Python reference implementation of the contract is compared against the pandas code
on random workshops, so the vectorised code is checked by something written differently.
"""
from __future__ import annotations

import itertools
import json
import math
import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edp import analysis
from edp.analysis import (
    RANK_COLUMNS,
    SCORE_COLUMNS,
    VOTE_COLUMNS,
    borda_points,
    empty_frames,
    participant_scores,
    results,
    schulze_order,
    voters_by_helix,
)

H3 = ["government", "business", "academia"]
H5 = ["government", "business", "academia", "civil_society", "environment"]
W = {"impact": 2.0, "feasibility": 1.0}
COLUMNS = {"votes": VOTE_COLUMNS, "scores": SCORE_COLUMNS, "rankings": RANK_COLUMNS}


def frame(kind: str, rows) -> pd.DataFrame:
    rows = list(rows)
    if not rows:
        return empty_frames()[kind]
    return pd.DataFrame(rows, columns=COLUMNS[kind])


def doms(*ids: int) -> pd.DataFrame:
    return pd.DataFrame({"domain_id": list(ids), "title": [f"D{i}" for i in ids]})


def run(method, domains, votes=(), scores=(), rankings=(), helices=H3, weights=W) -> dict:
    return results(
        method,
        domains,
        votes if isinstance(votes, pd.DataFrame) else frame("votes", votes),
        scores if isinstance(scores, pd.DataFrame) else frame("scores", scores),
        rankings if isinstance(rankings, pd.DataFrame) else frame("rankings", rankings),
        helices,
        weights,
    )


def by_id(res: dict) -> dict[int, dict]:
    return {e["domain_id"]: e for e in res["ranking"]}


def assert_plain_types(res: dict) -> None:
    """Everything must be a plain Python number so the payload is JSON-serialisable."""
    json.dumps(res)
    for e in res["ranking"]:
        assert type(e["domain_id"]) is int
        assert type(e["title"]) is str
        assert type(e["score"]) is float
        assert type(e["balanced_score"]) is float
        assert type(e["voters"]) is int
        assert all(type(v) is float for v in e["by_helix"].values())
        active = [h for h, n in res["participation"].items() if n > 0]
        if len(active) < 2:
            assert e["consensus"] is None  # nothing to agree across
        else:
            assert e["consensus"] is None or (
                type(e["consensus"]) is float and 0.0 < e["consensus"] < 1.0)
        assert type(e["spread"]) is float and e["spread"] >= 0.0
        assert type(e["polarised"]) is bool
        assert type(e["one_helix"]) is bool
        assert type(e["supporting_helices"]) is int
    assert all(type(v) is int for v in res["participation"].values())
    assert all(type(v) is int for v in res.get("schulze", []))
    assert {k: type(v) for k, v in res["totals"].items()} == {"voters": int, "ballots": int}
    assert type(res["warnings"]) is list
    assert all(type(w) is dict and type(w["code"]) is str for w in res["warnings"])


CONTRACT_KEYS = ("domain_id", "title", "score", "balanced_score", "by_helix", "voters")
AGREEMENT_KEYS = ("consensus", "spread", "polarised", "one_helix", "supporting_helices")


def core(e: dict) -> dict:
    """The contract keys of a ranking entry."""
    return {k: e[k] for k in CONTRACT_KEYS}


def agreement(e: dict) -> tuple:
    return tuple(e[k] for k in AGREEMENT_KEYS)


def polis(*groups: tuple[float, int]) -> float:
    """Consensus by hand: the geometric mean of (s + 1) / (n + 2) over (s, n) per helix."""
    return math.prod((s + 1) / (n + 2) for s, n in groups) ** (1 / len(groups))


def ranks(pid: int, helix: str, order: list[int], start: int = 1, step: int = 1) -> list[tuple]:
    """Ranking rows for one ballot, best first (positions start, start+step, ...)."""
    return [(pid, helix, d, start + k * step) for k, d in enumerate(order)]


# --------------------------------------------------------------------------- frames


def test_empty_frames_have_columns_and_dtypes():
    f = empty_frames()
    assert set(f) == {"votes", "scores", "rankings"}
    assert list(f["votes"].columns) == VOTE_COLUMNS
    assert list(f["scores"].columns) == SCORE_COLUMNS
    assert list(f["rankings"].columns) == RANK_COLUMNS
    for df in f.values():
        assert len(df) == 0
        assert df["participant_id"].dtype == np.int64
        assert df["domain_id"].dtype == np.int64
        assert pd.api.types.is_string_dtype(df["helix"]) or df["helix"].dtype == object
    assert f["votes"]["points"].dtype == np.int64
    assert f["scores"]["value"].dtype == np.int64
    assert f["rankings"]["position"].dtype == np.int64


@pytest.mark.parametrize("method", ["dot", "score", "rank"])
def test_nobody_voted_gives_zeros(method):
    res = run(method, doms(3, 1, 2))
    assert_plain_types(res)
    assert res["method"] == method
    assert [e["domain_id"] for e in res["ranking"]] == [1, 2, 3]
    for e in res["ranking"]:
        assert e == {"domain_id": e["domain_id"], "title": f"D{e['domain_id']}", "score": 0.0,
                     "balanced_score": 0.0, "by_helix": {}, "voters": 0,
                     "consensus": None, "spread": 0.0, "polarised": False, "one_helix": False,
                     "supporting_helices": 0}
    assert res["totals"] == {"voters": 0, "ballots": 0}
    assert res["warnings"] == []
    assert res["participation"] == {"government": 0, "business": 0, "academia": 0}
    assert list(res["participation"]) == H3
    if method == "rank":
        assert res["schulze"] == [1, 2, 3]
    else:
        assert "schulze" not in res


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError):
        run("approval", doms(1))


# --------------------------------------------------------------------------- dot


def test_dot_hand_example():
    votes = [
        (1, "government", 1, 3),
        (1, "government", 2, 2),
        (2, "government", 1, 1),
        (2, "government", 3, 4),
        (3, "business", 2, 5),
        (4, "business", 2, 0),  # zero points: not a vote, p4 is no voter
        (5, "business", 9, 6),  # domain 9 is not approved: ignored, p5 is no voter
        (3, "business", 1, -2),  # negative: ignored
    ]
    res = run("dot", doms(1, 2, 3), votes=votes)
    assert_plain_types(res)
    assert res["participation"] == {"government": 2, "business": 1, "academia": 0}
    assert [e["domain_id"] for e in res["ranking"]] == [2, 1, 3]  # 1 and 3 tie on 4: id order
    r = by_id(res)
    assert core(r[2]) == {"domain_id": 2, "title": "D2", "score": 7.0, "balanced_score": 3.0,
                          "by_helix": {"government": 1.0, "business": 5.0}, "voters": 2}
    assert core(r[1]) == {"domain_id": 1, "title": "D1", "score": 4.0, "balanced_score": 1.0,
                          "by_helix": {"government": 2.0, "business": 0.0}, "voters": 2}
    assert core(r[3]) == {"domain_id": 3, "title": "D3", "score": 4.0, "balanced_score": 1.0,
                          "by_helix": {"government": 2.0, "business": 0.0}, "voters": 1}
    # consensus over (supporters, voters) of government (of 2) and business (of 1); spread =
    # max - min of by_helix. Relative support (by_helix / the helix's mean 5/3 over the three
    # domains): D2 is business's favourite (3.0) but still gets 0.6 of government's average,
    # so it is not polarised.
    assert agreement(r[2]) == (pytest.approx(polis((1, 2), (1, 1))), 4.0, False, False, 2)
    # Business gave D1 nothing: lower, but not 0 (gov 1.2 of its average: no flag).
    assert agreement(r[1]) == (pytest.approx(polis((2, 2), (0, 1))), 2.0, False, True, 1)
    assert agreement(r[3]) == (pytest.approx(polis((1, 2), (0, 1))), 2.0, False, True, 1)
    assert r[1]["consensus"] == pytest.approx(0.5)  # sqrt(3/4 x 1/3)
    assert res["totals"] == {"voters": 3, "ballots": 5}  # p1 x2, p2 x2, p3 x1
    assert res["warnings"] == [  # ranking order
        {"code": "one_helix", "domain_id": 1, "helix": "government"},
        {"code": "one_helix", "domain_id": 3, "helix": "government"},
    ]
    assert list(r[2]["by_helix"]) == ["government", "business"]  # display order, no academia


def test_balanced_score_lets_a_small_helix_outweigh_a_crowd():
    # Four business voters back domain 1, one academic backs domain 2 as strongly per head.
    votes = [(p, "business", 1, 2) for p in range(1, 5)] + [(9, "academia", 2, 3)]
    r = by_id(run("dot", doms(1, 2), votes=votes))
    assert r[1]["score"] == 8.0 and r[2]["score"] == 3.0
    assert r[1]["balanced_score"] == pytest.approx(1.0)  # (8/4 + 0) / 2
    assert r[2]["balanced_score"] == pytest.approx(1.5)  # (0 + 3/1) / 2


def test_helix_outside_configuration_is_reported():
    votes = [(1, "government", 1, 2), (2, "media", 1, 4)]
    res = run("dot", doms(1), votes=votes)
    assert list(res["participation"]) == ["government", "business", "academia", "media"]
    assert res["participation"]["media"] == 1
    assert by_id(res)[1]["by_helix"] == {"government": 2.0, "media": 4.0}
    assert by_id(res)[1]["balanced_score"] == 3.0


# --------------------------------------------------------------------------- score


SCORES = [
    (1, "government", 1, "impact", 5),
    (1, "government", 1, "feasibility", 2),  # (2*5 + 1*2) / 3 = 4
    (1, "government", 1, "novelty", 1),  # not a weighted criterion: ignored
    (2, "government", 1, "impact", 2),  # partly scored: 2
    (3, "business", 1, "feasibility", 5),  # partly scored: 5
    (3, "business", 2, "impact", 3),
    (3, "business", 2, "feasibility", 3),  # 3
    (4, "academia", 2, "novelty", 5),  # only an unknown criterion: p4 is no voter
    (6, "government", 7, "impact", 5),  # domain 7 not approved
]


def test_participant_scores_weighted_mean_over_scored_criteria():
    ps = participant_scores(frame("scores", SCORES), W)
    assert list(ps.columns) == ["participant_id", "helix", "domain_id", "value"]
    got = {(int(r.participant_id), r.helix, int(r.domain_id)): r.value for r in ps.itertuples()}
    assert got == pytest.approx({
        (1, "government", 1): 4.0,
        (2, "government", 1): 2.0,
        (3, "business", 1): 5.0,
        (3, "business", 2): 3.0,
        (6, "government", 7): 5.0,
    })


def test_participant_scores_normalises_weights():
    rows = [(1, "business", 1, "impact", 4), (1, "business", 1, "feasibility", 1)]
    for weights in ({"impact": 3, "feasibility": 1}, {"impact": 0.75, "feasibility": 0.25}):
        ps = participant_scores(frame("scores", rows), weights)
        assert ps["value"].tolist() == pytest.approx([3.25])


def test_score_hand_example():
    res = run("score", doms(1, 2), scores=SCORES)
    assert_plain_types(res)
    assert res["participation"] == {"government": 2, "business": 1, "academia": 0}
    assert [e["domain_id"] for e in res["ranking"]] == [1, 2]
    r = by_id(res)
    assert r[1]["score"] == pytest.approx(11 / 3)
    assert r[1]["by_helix"] == pytest.approx({"government": 3.0, "business": 5.0})
    assert r[1]["balanced_score"] == pytest.approx(4.0)
    assert r[1]["voters"] == 3
    assert r[2]["score"] == pytest.approx(3.0)
    assert r[2]["by_helix"] == {"government": 0.0, "business": 3.0}
    assert r[2]["balanced_score"] == pytest.approx(1.5)
    assert r[2]["voters"] == 1


def test_score_ties_are_ordered_by_domain_id():
    scores = [(1, "academia", d, "impact", 4) for d in (5, 3, 4)]
    res = run("score", doms(3, 4, 5, 6), scores=scores)
    assert [e["domain_id"] for e in res["ranking"]] == [3, 4, 5, 6]
    assert [e["score"] for e in res["ranking"]] == [4.0, 4.0, 4.0, 0.0]


# --------------------------------------------------------------------------- rank / Borda


RANKINGS = (
    # p1 ranked 1, 9 (not approved), 2: after dropping 9 the ballot is 1, 2.
    ranks(1, "government", [1, 9, 2])
    + ranks(2, "government", [2, 1, 3])
    + ranks(3, "business", [3], start=5)  # a gap before the only ranked domain
    + ranks(4, "academia", [9])  # ranked only a non-approved domain: no voter
)


def test_borda_points_renumbers_after_filtering():
    bp = borda_points(frame("rankings", RANKINGS), [1, 2, 3, 4])
    got = {(int(r.participant_id), int(r.domain_id)): (int(r.position), int(r.points))
           for r in bp.itertuples()}
    assert got == {
        (1, 1): (1, 3), (1, 2): (2, 2),
        (2, 2): (1, 3), (2, 1): (2, 2), (2, 3): (3, 1),
        (3, 3): (1, 3),
    }


def test_rank_hand_example():
    res = run("rank", doms(1, 2, 3, 4), rankings=RANKINGS)
    assert_plain_types(res)
    assert res["participation"] == {"government": 2, "business": 1, "academia": 0}
    assert [e["domain_id"] for e in res["ranking"]] == [1, 2, 3, 4]  # 1 and 2 tie on 5
    r = by_id(res)
    assert [r[d]["score"] for d in (1, 2, 3, 4)] == [5.0, 5.0, 4.0, 0.0]
    assert r[1]["by_helix"] == {"government": 2.5, "business": 0.0}
    assert r[3]["by_helix"] == {"government": 0.5, "business": 3.0}
    assert r[4]["by_helix"] == {"government": 0.0, "business": 0.0}
    assert [r[d]["balanced_score"] for d in (1, 2, 3, 4)] == [1.25, 1.25, 1.75, 0.0]
    assert [r[d]["voters"] for d in (1, 2, 3, 4)] == [2, 2, 2, 0]
    # 1 and 2 tie head to head; both beat 3 and 4; 3 beats 4.
    assert res["schulze"] == [1, 2, 3, 4]


def test_borda_known_example():
    # The Tennessee capital example (Wikipedia, "Borda count"): 42% Memphis, 26% Nashville,
    # 15% Chattanooga, 17% Knoxville; with 4 candidates points are 3, 2, 1, 0.
    mem, nas, cha, kno = 1, 2, 3, 4
    blocs = [
        (42, [mem, nas, cha, kno]),
        (26, [nas, cha, kno, mem]),
        (15, [cha, kno, nas, mem]),
        (17, [kno, cha, nas, mem]),
    ]
    rows, pid = [], 0
    for count, order in blocs:
        for _ in range(count):
            pid += 1
            rows += ranks(pid, "civil_society", order)
    res = run("rank", doms(mem, nas, cha, kno), rankings=rows, helices=H5)
    assert [e["domain_id"] for e in res["ranking"]] == [nas, cha, mem, kno]
    r = by_id(res)
    assert {d: r[d]["score"] for d in (mem, nas, cha, kno)} == {
        mem: 126.0, nas: 194.0, cha: 173.0, kno: 107.0
    }
    assert res["ranking"][0]["domain_id"] == nas
    # Nashville is also the Condorcet winner, so Schulze agrees at the top.
    assert res["schulze"] == [nas, cha, kno, mem]


# --------------------------------------------------------------------------- Schulze


def wikipedia_ballots() -> pd.DataFrame:
    """The Schulze-method example from Wikipedia: 45 voters, candidates A..E = 1..5."""
    a, b, c, d, e = 1, 2, 3, 4, 5
    blocs = [
        (5, [a, c, b, e, d]),
        (5, [a, d, e, c, b]),
        (8, [b, e, d, a, c]),
        (3, [c, a, b, e, d]),
        (7, [c, a, e, b, d]),
        (2, [c, b, a, d, e]),
        (7, [d, c, e, b, a]),
        (8, [e, b, a, d, c]),
    ]
    rows, pid = [], 0
    for count, order in blocs:
        for _ in range(count):
            pid += 1
            rows += ranks(pid, H5[pid % 5], order)
    return frame("rankings", rows)


def test_schulze_wikipedia_example():
    ballots = wikipedia_ballots()
    assert ballots["participant_id"].nunique() == 45
    assert schulze_order(ballots, [1, 2, 3, 4, 5]) == [5, 1, 3, 2, 4]  # E, A, C, B, D
    # The pairwise matrix published with the example.
    d = analysis._pairwise(analysis._clean_rankings(ballots, [1, 2, 3, 4, 5]), [1, 2, 3, 4, 5])
    assert d.tolist() == [
        [0, 20, 26, 30, 22],
        [25, 0, 16, 33, 18],
        [19, 29, 0, 17, 24],
        [15, 12, 28, 0, 14],
        [23, 27, 21, 31, 0],
    ]
    res = results("rank", doms(1, 2, 3, 4, 5), *list(empty_frames().values())[:2], ballots,
                  H5, W)
    assert res["schulze"] == [5, 1, 3, 2, 4]


def test_schulze_with_unranked_domains():
    # Domain 4 is ranked alone by 3 voters and left unranked by 4: it loses to 1, 2 and 3
    # (4 to 3 each) although Borda puts it second.
    rows = []
    for pid in range(1, 4):
        rows += ranks(pid, "business", [4])
    for pid in (4, 5):
        rows += ranks(pid, "academia", [1, 2, 3])
    for pid in (6, 7):
        rows += ranks(pid, "government", [2, 3, 1])
    ballots = frame("rankings", rows)
    d = analysis._pairwise(analysis._clean_rankings(ballots, [1, 2, 3, 4]), [1, 2, 3, 4])
    assert d.tolist() == [[0, 2, 2, 4], [2, 0, 4, 4], [2, 0, 0, 4], [3, 3, 3, 0]]
    assert schulze_order(ballots, [1, 2, 3, 4]) == [2, 1, 3, 4]
    res = run("rank", doms(1, 2, 3, 4), rankings=ballots)
    assert [e["domain_id"] for e in res["ranking"]] == [2, 4, 1, 3]  # Borda 10, 9, 8, 6
    assert [e["score"] for e in res["ranking"]] == [10.0, 9.0, 8.0, 6.0]
    assert res["schulze"] == [2, 1, 3, 4]


def test_schulze_ignores_non_approved_and_breaks_ties_by_id():
    rows = ranks(1, "business", [9, 3]) + ranks(2, "business", [9, 2])
    assert schulze_order(frame("rankings", rows), [3, 2, 1]) == [2, 3, 1]
    assert schulze_order(frame("rankings", []), [5, 2]) == [2, 5]
    assert schulze_order(frame("rankings", rows), []) == []


# --------------------------------------------------------------------------- voters


def test_voters_are_counted_across_all_three_frames():
    votes = [(1, "government", 1, 3), (5, "government", 1, 0)]  # p5's zero vote does not count
    scores = [(2, "business", 2, "impact", 4)]
    rankings = ranks(3, "academia", [2, 1]) + ranks(1, "government", [1])  # p1 counted once
    assert voters_by_helix(frame("votes", votes), frame("scores", scores),
                           frame("rankings", rankings)) == {
        "government": 1, "business": 1, "academia": 1
    }
    for method in ("dot", "score", "rank"):
        res = run(method, doms(1, 2), votes, scores, rankings)
        assert res["participation"] == {"government": 1, "business": 1, "academia": 1}
        for e in res["ranking"]:
            assert list(e["by_helix"]) == H3
    r = by_id(run("dot", doms(1, 2), votes, scores, rankings))
    # Only government dotted, but all three helices have voters: balanced = 3 / 1 / 3.
    assert r[1]["by_helix"] == {"government": 3.0, "business": 0.0, "academia": 0.0}
    assert r[1]["balanced_score"] == 1.0
    assert r[1]["voters"] == 1 and r[2]["voters"] == 0
    r = by_id(run("score", doms(1, 2), votes, scores, rankings))
    assert r[2]["by_helix"] == {"government": 0.0, "business": 4.0, "academia": 0.0}
    assert r[2]["balanced_score"] == pytest.approx(4 / 3)
    assert r[2]["voters"] == 1
    r = by_id(run("rank", doms(1, 2), votes, scores, rankings))
    assert r[1]["by_helix"] == {"government": 1.0, "business": 0.0, "academia": 0.0}
    assert r[1]["voters"] == 2 and r[1]["score"] == 1.0  # p3: 2 - 2 = 0 points, p1: 2 - 1


def test_ballots_on_non_approved_domains_are_ignored_everywhere():
    votes = [(1, "government", 8, 5)]
    scores = [(2, "business", 8, "impact", 5)]
    rankings = ranks(3, "academia", [8])
    for method in ("dot", "score", "rank"):
        res = run(method, doms(1), votes, scores, rankings)
        assert res["participation"] == {"government": 0, "business": 0, "academia": 0}
        assert [e["domain_id"] for e in res["ranking"]] == [1]
        assert res["ranking"][0]["score"] == 0.0


# --------------------------------------------------------------------------- agreement


def test_dot_consensus_spread_and_flags_hand_example():
    votes = [
        (1, "government", 1, 4), (2, "government", 1, 2),  # government: D1 6 / 2 = 3
        (3, "business", 1, 3), (4, "business", 2, 5),  # business: D1 3 / 2, D2 5 / 2
        (5, "academia", 1, 3),  # academia: D1 3 / 1
    ]
    res = run("dot", doms(1, 2, 3), votes=votes)
    assert_plain_types(res)
    r = by_id(res)
    assert r[1]["by_helix"] == {"government": 3.0, "business": 1.5, "academia": 3.0}
    # All of government and academia and half of business: (3/4 x 2/4 x 2/3) ** (1/3).
    assert agreement(r[1]) == (pytest.approx(0.25 ** (1 / 3)), 1.5, False, False, 3)
    assert r[2]["by_helix"] == {"government": 0.0, "business": 2.5, "academia": 0.0}
    # Means over D1..D3: government 1, business 4/3, academia 1. D2 is 1.875 x business's
    # average and 0 for the others: it matters to business and not to them.
    assert agreement(r[2]) == (pytest.approx(polis((0, 2), (1, 2), (0, 1))), 2.5, True, True, 1)
    # Nobody supports D3: no flag, and the lowest consensus of the three.
    assert agreement(r[3]) == (pytest.approx(polis((0, 2), (0, 2), (0, 1))), 0.0, False, False, 0)
    assert r[3]["consensus"] < r[2]["consensus"] < r[1]["consensus"]
    assert res["totals"] == {"voters": 5, "ballots": 5}  # D1 has 4 voters, D2 1
    assert res["warnings"] == [{"code": "one_helix", "domain_id": 2, "helix": "business"}]


def test_polarised_thresholds_are_relative_to_each_helix_average():
    # One voter per helix, two domains: by_helix is the points, each helix's average is half
    # its points. Government gives D1 3 of 4 (1.5 x its average 2: D1 matters to it, exactly).
    def d1(gov: tuple[int, int], bus: tuple[int, int]) -> dict:
        votes = [(1, "government", 1, gov[0]), (1, "government", 2, gov[1]),
                 (2, "business", 1, bus[0]), (2, "business", 2, bus[1])]
        return run("dot", doms(1, 2), votes=votes)

    # Business gives D1 1 of 8: 2/8 = exactly a quarter of its average, not below.
    res = d1((3, 1), (1, 7))
    assert [by_id(res)[d]["polarised"] for d in (1, 2)] == [False, False]
    # 1 of 9: 2/9 of its average, below a quarter: polarised.
    res = d1((3, 1), (1, 8))
    # Both voters gave D1 points: each helix's rate is (1 + 1) / (1 + 2).
    assert agreement(by_id(res)[1]) == (pytest.approx(2 / 3), 2.0, True, False, 2)
    assert not by_id(res)[2]["polarised"]  # business's favourite, but 0.5 of government's mean
    assert res["warnings"] == [
        {"code": "polarised", "domain_id": 1, "high": ["government"], "low": ["business"]}
    ]
    # Government 3 of 5: 1.2 x its average, not clearly more: nobody cares enough to disagree.
    res = d1((3, 2), (1, 8))
    assert [by_id(res)[d]["polarised"] for d in (1, 2)] == [False, False]
    # A single domain is each helix's average: nothing to compare with.
    res = run("dot", doms(1), votes=[(1, "government", 1, 1), (2, "business", 1, 9)])
    assert agreement(by_id(res)[1]) == (pytest.approx(2 / 3), 8.0, False, False, 2)


def test_a_small_concentrated_helix_does_not_polarise_everything():
    """The case that made "consensus below a quarter" useless: a helix of one voter puts all
    its points on one domain, so consensus is 0 almost everywhere. Only the domains that are
    a favourite of one helix and a non-topic for another are polarised."""
    votes = [(p, "government", d, 2) for p in (1, 2) for d in (1, 2, 3, 4, 5)]  # even: 2 each
    votes += [(3, "business", 1, 6), (3, "business", 2, 4),
              (4, "business", 1, 4), (4, "business", 3, 5), (4, "business", 2, 1)]
    votes += [(5, "academia", 5, 10)]
    res = run("dot", doms(1, 2, 3, 4, 5), votes=votes)
    r = by_id(res)
    assert {d: r[d]["by_helix"] for d in (1, 5)} == {
        1: {"government": 2.0, "business": 5.0, "academia": 0.0},
        5: {"government": 2.0, "business": 0.0, "academia": 10.0},
    }
    # A min / max ratio gave all five 0 (some helix gave each nothing). Consensus still ranks
    # them: D1 and D2 have all of government and business, D3 and D5 one helix's half or a
    # helix of one less, D4 only government.
    c = {d: r[d]["consensus"] for d in (1, 2, 3, 4, 5)}
    assert c[1] == c[2] == pytest.approx(polis((2, 2), (2, 2), (0, 1)))
    assert c[3] == pytest.approx(polis((2, 2), (1, 2), (0, 1))) == pytest.approx(0.5)
    assert c[5] == pytest.approx(polis((2, 2), (0, 2), (1, 1))) == pytest.approx(0.5)
    assert c[4] == pytest.approx(polis((2, 2), (0, 2), (0, 1))) and c[4] == min(c.values()) > 0
    # Averages: government 2, business 2, academia 2. D1 is 2.5 x business's average and 0 for
    # academia; D5 is 5 x academia's and 0 for business. D2 and D3 are nobody's favourite
    # (business 1.25, government 1); D4 only government supports, evenly (one helix).
    assert [r[d]["polarised"] for d in (1, 2, 3, 4, 5)] == [True, False, False, False, True]
    assert [r[d]["one_helix"] for d in (1, 2, 3, 4, 5)] == [False, False, False, True, False]
    assert [e["domain_id"] for e in res["ranking"]] == [1, 5, 2, 3, 4]  # 14, 14, 9, 9, 4
    assert res["warnings"] == [
        {"code": "polarised", "domain_id": 1, "high": ["business"], "low": ["academia"]},
        {"code": "polarised", "domain_id": 5, "high": ["academia"], "low": ["business"]},
        {"code": "one_helix", "domain_id": 4, "helix": "government"},
    ]


def test_polarised_lists_every_helix_on_each_side():
    # Four helices, three domains; government and business love D1, academia and civil society
    # ignore it (each still supports other domains).
    helices = ["government", "business", "academia", "civil_society"]
    votes = [(1, "government", 1, 6), (1, "government", 2, 1), (1, "government", 3, 1),
             (2, "business", 1, 5), (2, "business", 2, 1), (2, "business", 3, 1),
             (3, "academia", 2, 3), (3, "academia", 3, 3),
             (4, "civil_society", 2, 2), (4, "civil_society", 3, 4)]
    res = run("dot", doms(1, 2, 3), votes=votes, helices=helices)
    assert res["warnings"] == [
        {"code": "polarised", "domain_id": 1, "high": ["government", "business"],
         "low": ["academia", "civil_society"]}
    ]
    # D3 is civil society's favourite (2 x its average) but business still gives it 3/7 of its
    # own: a preference, not a disagreement. Without business's point on D3 it becomes one.
    assert votes.pop(5) == (2, "business", 3, 1)
    res = run("dot", doms(1, 2, 3), votes=votes, helices=helices)
    assert {"code": "polarised", "domain_id": 3, "high": ["academia", "civil_society"],
            "low": ["business"]} in res["warnings"]


def test_a_single_voting_helix_is_never_polarised_or_one_helix():
    votes = [(1, "business", 1, 3), (2, "business", 2, 1)]
    res = run("dot", doms(1, 2, 3), votes=votes)
    r = by_id(res)
    # Nothing to agree across: no consensus rather than a trivial 100%.
    assert agreement(r[1]) == (None, 0.0, False, False, 1)
    assert agreement(r[2]) == (None, 0.0, False, False, 1)
    assert agreement(r[3]) == (None, 0.0, False, False, 0)
    assert res["warnings"] == []


def test_score_consensus_hand_example():
    scores = [
        (1, "government", 1, "impact", 5), (1, "government", 1, "feasibility", 5),  # 5
        (2, "business", 1, "impact", 1),  # 1
        (2, "business", 2, "impact", 4), (1, "government", 2, "feasibility", 3),  # 4 and 3
    ]
    res = run("score", doms(1, 2), scores=scores)
    assert_plain_types(res)
    r = by_id(res)
    assert r[1]["by_helix"] == {"government": 5.0, "business": 1.0}
    # Averages: government 4, business 2.5; D1 is 1.25 x and 0.4 x: a gap, not polarised.
    # Support is (mean - 1) / 4: government 1 of 1, business 0 of 1.
    assert agreement(r[1]) == (pytest.approx(polis((1, 1), (0, 1))), 4.0, False, False, 2)
    assert r[2]["by_helix"] == {"government": 3.0, "business": 4.0}
    assert agreement(r[2]) == (pytest.approx(polis((0.5, 1), (0.75, 1))), 1.0, False, False, 2)
    assert res["totals"] == {"voters": 2, "ballots": 4}
    assert res["warnings"] == []
    # A third domain only government scores (5): 5 / (13 / 3) = 1.15 x government's average,
    # not a clear favourite, so one helix only but not polarised.
    more = scores + [(1, "government", 3, "impact", 5)]
    r = by_id(run("score", doms(1, 2, 3), scores=more))
    assert r[3]["one_helix"] and not r[3]["polarised"]
    # Business did not score D3: neutral (1/2), not a score of 0.
    assert r[3]["consensus"] == pytest.approx(polis((1, 1), (0, 0)))
    # Two more domains both helices score 1: government's average falls to 3, so D3 (5) is
    # 1.67 x it, while business (average 7 / 5) gives it nothing.
    for d in (4, 5):
        more += [(1, "government", d, "impact", 1), (2, "business", d, "impact", 1)]
    r = by_id(run("score", doms(1, 2, 3, 4, 5), scores=more))
    assert r[3]["by_helix"] == {"government": 5.0, "business": 0.0}
    assert agreement(r[3]) == (pytest.approx(polis((1, 1), (0, 0))), 5.0, True, True, 1)
    # A domain nobody scored has no consensus (nobody was asked), whatever its helices.
    r = by_id(run("score", doms(1, 2, 3, 6), scores=more))
    assert r[6]["voters"] == 0 and r[6]["consensus"] is None


def test_rank_last_place_is_no_support():
    # Borda gives the last of m = 3 positions 0 points.
    rankings = ranks(1, "government", [1, 2, 3]) + ranks(2, "academia", [2, 3, 1])
    res = run("rank", doms(1, 2, 3), rankings=rankings)
    r = by_id(res)
    # Both helices average 1 point per domain.
    assert r[1]["by_helix"] == {"government": 2.0, "academia": 0.0}
    # Support is the normalised position (m - i) / (m - 1): first 1, second 1/2, last 0.
    # Government's favourite, academia's last:
    assert agreement(r[1]) == (pytest.approx(polis((1, 1), (0, 1))), 2.0, True, True, 1)
    assert r[2]["by_helix"] == {"government": 1.0, "academia": 2.0}
    assert agreement(r[2]) == (pytest.approx(polis((0.5, 1), (1, 1))), 1.0, False, False, 2)
    assert r[3]["by_helix"] == {"government": 0.0, "academia": 1.0}
    # Academia's average: not a favourite.
    assert agreement(r[3]) == (pytest.approx(polis((0, 1), (0.5, 1))), 1.0, False, True, 1)
    assert res["totals"] == {"voters": 2, "ballots": 6}
    assert [e["domain_id"] for e in res["ranking"]] == [2, 1, 3]
    assert res["warnings"] == [
        {"code": "one_helix", "domain_id": 1, "helix": "government"},
        {"code": "one_helix", "domain_id": 3, "helix": "academia"},
    ]


def test_representation_compares_with_half_the_mean_presence():
    present = {"government": 10, "business": 30, "academia": 4, "civil_society": 0,
               "environment": 6}  # mean 50 / 5 = 10, half = 5
    participation = {"government": 8, "business": 20, "academia": 4}
    assert analysis.representation(present, participation) == [
        {"code": "under_represented", "helix": "academia", "present": 4, "voters": 4},
        {"code": "under_represented", "helix": "civil_society", "present": 0, "voters": 0},
    ]
    assert analysis.representation({"government": 2, "business": 6}, {}) == []  # 2 == 4 / 2
    assert analysis.representation({"government": 1, "business": 6}, {}) == [
        {"code": "under_represented", "helix": "government", "present": 1, "voters": 0}
    ]
    assert analysis.representation({}, {}) == []
    assert analysis.representation({"government": 0, "business": 0}, {}) == []


def test_results_warn_about_under_represented_helices_only_when_present_is_given():
    votes = [(1, "government", 1, 2), (2, "business", 1, 3)]
    present = {"government": 1, "business": 8, "academia": 0}  # mean 3, half 1.5
    res = results("dot", doms(1), frame("votes", votes), empty_frames()["scores"],
                  empty_frames()["rankings"], H3, W, present=present)
    assert_plain_types(res)
    assert res["warnings"] == [
        {"code": "under_represented", "helix": "government", "present": 1, "voters": 1},
        {"code": "under_represented", "helix": "academia", "present": 0, "voters": 0},
    ]
    without = run("dot", doms(1), votes=votes)
    assert without["warnings"] == []
    assert {k: v for k, v in res.items() if k != "warnings"} == {
        k: v for k, v in without.items() if k != "warnings"
    }


# --------------------------------------------------------------------------- reference


def reference(method, domain_ids, votes, scores, rankings, helices, weights) -> dict:
    """The contract written out with plain loops, for comparison with the pandas code."""
    ids = sorted(set(domain_ids))
    m = len(ids)
    v = [r for r in votes if r[2] in ids and r[3] > 0]
    s = [r for r in scores if r[2] in ids and weights.get(r[3], 0) > 0]
    ballots: dict[int, list[int]] = {}
    helix_of: dict[int, str] = {}
    for pid, helix, did, pos in sorted(rankings, key=lambda r: (r[0], r[3], r[2])):
        if did in ids and did not in ballots.setdefault(pid, []):
            ballots[pid].append(did)
    ballots = {p: b for p, b in ballots.items() if b}
    for pid, helix, *_ in list(v) + list(s) + [r for r in rankings if r[0] in ballots]:
        helix_of[pid] = helix
    voters = {}
    for h in helix_of.values():
        voters[h] = voters.get(h, 0) + 1
    active = [h for h in list(helices) + sorted(set(voters) - set(helices)) if voters.get(h)]

    given: dict[int, list[tuple[int, float]]] = {d: [] for d in ids}  # (pid, amount)
    if method == "dot":
        for pid, _, did, pts in v:
            given[did].append((pid, float(pts)))
    elif method == "score":
        acc: dict[tuple[int, int], list[float]] = {}
        for pid, _, did, crit, val in s:
            a = acc.setdefault((pid, did), [0.0, 0.0])
            a[0] += weights[crit] * val
            a[1] += weights[crit]
        for (pid, did), (wv, w) in acc.items():
            given[did].append((pid, wv / w))
    else:
        for pid, order in ballots.items():
            for i, did in enumerate(order, start=1):
                given[did].append((pid, float(m - i)))
    # Consensus (Pol.is): per helix, support s out of n asked, each participant's support in
    # [0, 1] (dot: any points; score: (mean - 1) / 4 over those who scored it; rank: the
    # normalised Borda position, n = all the helix's voters).
    consensus_of: dict[int, float | None] = {}
    for d in ids:
        rates = []
        for h in active:
            mine = [(p, a) for p, a in given[d] if helix_of[p] == h]
            if method == "dot":
                s, n = len({p for p, a in mine if a > 0}), voters[h]
            elif method == "score":
                s, n = sum((a - 1) / 4 for _, a in mine), len(mine)
            else:
                s, n = sum(a / (m - 1) if m > 1 else 1.0 for _, a in mine), voters[h]
            rates.append(((s + 1) / (n + 2), n))
        asked = sum(n for _, n in rates)
        consensus_of[d] = (math.prod(r for r, _ in rates) ** (1 / len(rates))
                           if len(active) >= 2 and asked > 0 else None)
    support_of: dict[int, dict[str, float]] = {}  # domain -> helix -> by_helix
    for d in ids:
        support_of[d] = {}
        for h in active:
            mine = [a for p, a in given[d] if helix_of[p] == h]
            if method == "score":
                support_of[d][h] = sum(mine) / len(mine) if mine else 0.0
            else:
                support_of[d][h] = sum(mine) / voters[h]
    # Each helix's average support per domain: the yardstick for "matters to it" (polarised).
    average = {h: sum(support_of[d][h] for d in ids) / m for h in active}
    out = {}
    for d in ids:
        amounts = [a for _, a in given[d]]
        bh = support_of[d]
        if method == "score":
            score = sum(amounts) / len(amounts) if amounts else 0.0
        else:
            score = sum(amounts)
        support = [x for x in bh.values()]
        top, low = (max(support), min(support)) if support else (0.0, 0.0)
        helping = sum(1 for x in support if x > 0)
        high, low_helices = [], []
        for h in active:
            if average[h] > 0 and bh[h] / average[h] >= 1.5 - 1e-9:
                high.append(h)
            if average[h] > 0 and bh[h] / average[h] < 0.25 - 1e-9:
                low_helices.append(h)
        out[d] = {
            "score": score,
            "by_helix": bh,
            "balanced_score": sum(bh.values()) / len(bh) if bh else 0.0,
            "voters": len({p for p, _ in given[d]}),
            "consensus": consensus_of[d],
            "spread": top - low,
            "supporting_helices": helping,
            "polarised": bool(high) and bool(low_helices),
            "one_helix": len(support) >= 2 and helping == 1,
            "high": high,
            "low": low_helices,
        }
    extra = sorted(set(voters) - set(helices))
    res = {"ranking": out, "participation": {h: voters.get(h, 0) for h in list(helices) + extra}}
    if method == "rank":
        res["schulze"] = reference_schulze(list(ballots.values()), ids)
    return res


def reference_schulze(ballots: list[list[int]], ids: list[int]) -> list[int]:
    """Schulze with the textbook triple loop over dictionaries."""
    d = {(a, b): 0 for a in ids for b in ids}
    for order in ballots:
        rank = {x: i for i, x in enumerate(order)}
        for a, b in itertools.permutations(ids, 2):
            if a in rank and (b not in rank or rank[a] < rank[b]):
                d[a, b] += 1
    p = {(a, b): (d[a, b] if d[a, b] > d[b, a] else 0) for a in ids for b in ids if a != b}
    for i in ids:
        for j in ids:
            if j == i:
                continue
            for k in ids:
                if k in (i, j):
                    continue
                p[j, k] = max(p[j, k], min(p[j, i], p[i, k]))
    wins = {a: sum(p[a, b] > p[b, a] for b in ids if b != a) for a in ids}
    return sorted(ids, key=lambda a: (-wins[a], a))


# --------------------------------------------------------------------------- properties


HELIX_POOL = H3 + ["media"]  # "media" is not configured


@st.composite
def workshops(draw, max_participants: int = 8):
    """Random ballots over approved domains 1..m plus a non-approved domain 99."""
    m = draw(st.integers(1, 6))
    ids = list(range(1, m + 1))
    pool = ids + [99]
    n = draw(st.integers(0, max_participants))
    votes, scores, rankings = [], [], []
    for pid in range(1, n + 1):
        helix = draw(st.sampled_from(HELIX_POOL))
        for did in draw(st.lists(st.sampled_from(pool), unique=True, max_size=4)):
            votes.append((pid, helix, did, draw(st.integers(-1, 5))))
        for did in draw(st.lists(st.sampled_from(pool), unique=True, max_size=3)):
            crits = draw(st.lists(st.sampled_from(["impact", "feasibility", "novelty"]),
                                  unique=True, min_size=1))
            for c in crits:
                scores.append((pid, helix, did, c, draw(st.integers(1, 5))))
        order = draw(st.permutations(pool))[: draw(st.integers(0, len(pool)))]
        gaps = draw(st.lists(st.integers(1, 3), min_size=len(order), max_size=len(order)))
        rankings += [(pid, helix, did, pos) for did, pos in zip(order, itertools.accumulate(gaps))]
    return ids, votes, scores, rankings


def compute(method, ids, votes, scores, rankings, weights=W) -> dict:
    return run(method, doms(*ids), votes, scores, rankings, helices=H3, weights=weights)


PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(workshops(), st.sampled_from(["dot", "score", "rank"]))
def test_matches_reference_implementation(ws, method):
    ids, votes, scores, rankings = ws
    res = compute(method, ids, votes, scores, rankings)
    assert_plain_types(res)
    ref = reference(method, ids, votes, scores, rankings, H3, W)
    assert list(res["participation"].items()) == list(ref["participation"].items())
    got = by_id(res)
    assert set(got) == set(ids)
    for d in ids:
        e, r = got[d], ref["ranking"][d]
        assert e["score"] == pytest.approx(r["score"])
        assert e["balanced_score"] == pytest.approx(r["balanced_score"])
        assert e["by_helix"] == pytest.approx(r["by_helix"])
        assert list(e["by_helix"]) == list(r["by_helix"])
        assert e["voters"] == r["voters"]
        if r["consensus"] is None:
            assert e["consensus"] is None
        else:
            assert e["consensus"] == pytest.approx(r["consensus"])
        assert e["spread"] == pytest.approx(r["spread"])
        for flag in ("polarised", "one_helix", "supporting_helices"):
            assert e[flag] == r[flag], flag
    keys = [(-e["score"], e["domain_id"]) for e in res["ranking"]]
    assert keys == sorted(keys)
    assert res["totals"] == {"voters": sum(ref["participation"].values()),
                             "ballots": sum(r["voters"] for r in ref["ranking"].values())}
    expected = []
    for e in res["ranking"]:
        r = ref["ranking"][e["domain_id"]]
        if r["one_helix"]:
            helix = next(h for h, x in r["by_helix"].items() if x > 0)
            expected.append({"code": "one_helix", "domain_id": e["domain_id"], "helix": helix})
        elif r["polarised"]:
            expected.append({"code": "polarised", "domain_id": e["domain_id"],
                             "high": r["high"], "low": r["low"]})
    assert res["warnings"] == expected
    if method == "rank":
        assert res["schulze"] == ref["schulze"]


def shuffled(rows: list[tuple], seed: int) -> list[tuple]:
    rows = list(rows)
    random.Random(seed).shuffle(rows)
    return rows


@PROPS
@given(workshops(), st.sampled_from(["dot", "score", "rank"]), st.integers(0, 2**32 - 1))
def test_results_do_not_depend_on_row_order(ws, method, seed):
    ids, votes, scores, rankings = ws
    present = {h: random.Random(seed + k).randint(0, 6) for k, h in enumerate(H3)}
    before = results(method, doms(*ids), frame("votes", votes), frame("scores", scores),
                     frame("rankings", rankings), H3, W, present=present)
    after = results(method, doms(*reversed(ids)), frame("votes", shuffled(votes, seed)),
                    frame("scores", shuffled(scores, seed + 1)),
                    frame("rankings", shuffled(rankings, seed + 2)), H3, W, present=present)
    assert after == before  # every key, the new ones and the warnings included


def warning_set(res: dict) -> list[tuple]:
    return sorted((w["code"], w.get("domain_id", 0), w.get("helix", "")) for w in res["warnings"])


def duplicate_helix(rows: list[tuple], helix: str, k: int) -> list[tuple]:
    """Every ballot row of `helix` repeated k more times under fresh participant ids."""
    extra = [(pid + 1000 * j, *rest) for j in range(1, k + 1)
             for pid, *rest in rows if rest[0] == helix]
    return list(rows) + extra


@PROPS
@given(workshops(), st.sampled_from(["dot", "score", "rank"]), st.sampled_from(HELIX_POOL),
       st.integers(1, 4))
def test_balanced_score_ignores_helix_size(ws, method, helix, k):
    ids, votes, scores, rankings = ws
    before = by_id(compute(method, ids, votes, scores, rankings))
    res = compute(method, ids, duplicate_helix(votes, helix, k),
                  duplicate_helix(scores, helix, k), duplicate_helix(rankings, helix, k))
    after = by_id(res)
    for d in ids:
        assert after[d]["balanced_score"] == pytest.approx(before[d]["balanced_score"])
        assert after[d]["by_helix"] == pytest.approx(before[d]["by_helix"])
        # Not consensus: its smoothing rightly trusts a bigger helix's rate more (see
        # tests/test_consensus.py for what head counts do and do not change there).
        assert after[d]["spread"] == pytest.approx(before[d]["spread"])
        for flag in ("polarised", "one_helix", "supporting_helices"):
            assert after[d][flag] == before[d][flag], flag
    # Same warnings; only their order may change, as they follow the ranking by plain score.
    assert warning_set(res) == warning_set(compute(method, ids, votes, scores, rankings))
    if method != "score":
        # The plain score does grow with the crowd (unless that helix gave nothing).
        for d in ids:
            assert after[d]["score"] >= before[d]["score"]


@PROPS
@given(workshops(), st.sampled_from(["dot", "score", "rank"]),
       st.dictionaries(st.sampled_from(H3), st.integers(0, 20)))
def test_agreement_invariants(ws, method, present):
    ids, votes, scores, rankings = ws
    res = results(method, doms(*ids), frame("votes", votes), frame("scores", scores),
                  frame("rankings", rankings), H3, W, present=present)
    assert_plain_types(res)
    active = [h for h, n in res["participation"].items() if n > 0]
    for e in res["ranking"]:
        support = list(e["by_helix"].values())
        assert list(e["by_helix"]) == active
        assert e["supporting_helices"] == sum(x > 0 for x in support)
        assert e["spread"] == pytest.approx(max(support) - min(support) if support else 0.0)
        # Consensus exists exactly when there is something to agree across, and is never 0
        # (a helix that gave nothing lowers it) nor 1 (no group of people proves certainty).
        assert (e["consensus"] is None) == (len(active) < 2 or (
            method == "score" and e["voters"] == 0))
        assert e["consensus"] is None or 0.0 < e["consensus"] < 1.0
        if e["one_helix"]:
            assert len(active) >= 2
        if e["polarised"]:
            assert e["score"] > 0 and len(active) >= 2
            assert e["supporting_helices"] >= 1 and len(res["ranking"]) >= 2
        if e["supporting_helices"] == 0 and not (method == "rank" and len(ids) == 1):
            # Nobody supports it: every rate is at most 1 / (1 + 2). (A lone domain ranked
            # first earns no Borda points but counts as full support, m = 1.)
            assert not e["polarised"]
            assert e["consensus"] is None or e["consensus"] <= 1 / 3 + 1e-12
        warned = [w for w in res["warnings"] if w.get("domain_id") == e["domain_id"]]
        if e["polarised"] and not e["one_helix"]:
            (w,) = warned
            assert w["high"] and w["low"] and not set(w["high"]) & set(w["low"])
            assert set(w["high"]) | set(w["low"]) <= set(active)
    assert res["totals"]["voters"] == sum(res["participation"].values())
    assert res["totals"]["ballots"] == sum(e["voters"] for e in res["ranking"])
    under = [w for w in res["warnings"] if w["code"] == "under_represented"]
    assert under == analysis.representation(present, res["participation"])
    assert res["warnings"][: len(under)] == under


@PROPS
@given(workshops(max_participants=12))
def test_dot_score_is_sum_of_points(ws):
    ids, votes, scores, rankings = ws
    res = compute("dot", ids, votes, scores, rankings)
    for e in res["ranking"]:
        expected = sum(p for _, _, d, p in votes if d == e["domain_id"] and p > 0)
        assert e["score"] == expected
    total = sum(p for _, _, d, p in votes if d in ids and p > 0)
    assert sum(e["score"] for e in res["ranking"]) == total


@settings(max_examples=100, deadline=None)
@given(st.integers(2, 6).flatmap(
    lambda m: st.lists(st.permutations(range(1, m + 1)), min_size=1, max_size=15)))
def test_condorcet_winner_comes_first(ballots):
    ids = sorted(ballots[0])
    rows = [row for pid, order in enumerate(ballots) for row in ranks(pid, "business", order)]
    order = schulze_order(frame("rankings", rows), ids)
    assert sorted(order) == ids
    n = len(ballots)
    for a in ids:
        if all(sum(b.index(a) < b.index(x) for b in ballots) * 2 > n for x in ids if x != a):
            assert order[0] == a


def test_schulze_pairwise_counts_in_chunks(monkeypatch):
    """Counting ballots in several chunks gives the same matrix as counting them at once."""
    ballots = wikipedia_ballots()
    ids = [1, 2, 3, 4, 5]
    whole = analysis._pairwise(analysis._clean_rankings(ballots, ids), ids)
    monkeypatch.setattr(analysis, "_SCHULZE_CHUNK_CELLS", 7 * 25)
    chunked = analysis._pairwise(analysis._clean_rankings(ballots, ids), ids)
    assert chunked.tolist() == whole.tolist()
    assert math.isclose(float(whole.sum()), 45 * 10)  # every ballot ranks all 5: 10 pairs each


def test_a_domain_listed_twice_keeps_its_best_position():
    rows = [(1, "business", 2, 1), (1, "business", 3, 2), (1, "business", 2, 3)]
    bp = borda_points(frame("rankings", rows), [1, 2, 3])
    assert sorted(zip(bp["domain_id"], bp["position"], bp["points"])) == [(2, 1, 2), (3, 2, 1)]


def _totals(votes: list[tuple]) -> tuple[pd.DataFrame, dict[str, int]]:
    """What the database sums for the dot method (`workshop.dot_totals`), in plain Python."""
    sums: dict[tuple[int, str], list[int]] = {}
    voters: dict[str, set[int]] = {}
    for pid, helix, did, points in votes:
        if points > 0:
            cell = sums.setdefault((did, helix), [0, 0])
            cell[0] += points
            cell[1] += 1
            voters.setdefault(helix, set()).add(pid)
    rows = [(d, h, p, n) for (d, h), (p, n) in sums.items()]
    return (pd.DataFrame(rows, columns=["domain_id", "helix", "points", "voters"]),
            {h: len(s) for h, s in voters.items()})


@PROPS
@given(workshops(), st.booleans())
def test_dot_results_from_database_totals_equal_the_ballot_by_ballot_results(ws, with_present):
    """The live dot results are summed by the database, not read ballot by ballot: the same
    payload, number for number, warnings included."""
    ids, votes, _scores, _rankings = ws
    # The database path only serves dot workshops without score or ranking rows.
    present = {h: 2 for h in H3} if with_present else None
    full = results("dot", doms(*ids), frame("votes", votes), empty_frames()["scores"],
                   empty_frames()["rankings"], H3, W, present=present)
    in_ids = [v for v in votes if v[2] in ids]
    totals, found = _totals(in_ids)
    fast = analysis.dot_results_from_totals(doms(*ids), totals, found, H3, present=present)
    assert fast == full
    assert_plain_types(fast)
