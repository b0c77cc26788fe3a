"""Small-group privacy (CONTRACT "Privacy"): phones and the projector never receive, in any
form they could subtract their way back to, the ballot of a helix with fewer than 3 voters
(`min_group` in a template may raise it); the facilitator sees every helix.

A real `edp run` process and real Socket.IO clients; the arithmetic rule also as a property.
"""
from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import TEMPLATE, LiveServer, login_cookie
from hypothesis import given, settings
from hypothesis import strategies as st
from test_server import Opener, ok, wait_for

from edp import analysis

FUNDER = {0: 5, 1: 3, 2: 2}  # the lone funder's ballot over the first three seed domains
BUSINESS = [{0: 1, 1: 1}, {1: 2, 2: 1}, {0: 3}]  # three business voters


@pytest.fixture
def socks():
    opener = Opener()
    yield opener
    opener.close_all()


def _server(tmp_path, template: Path = TEMPLATE) -> tuple[LiveServer, dict]:
    srv = LiveServer(f"sqlite:///{tmp_path / 'privacy.sqlite3'}", log_dir=tmp_path)
    info = srv.seed(template=template)
    srv.start()
    return srv, info


def _room(srv, info, socks, voters: list[tuple[str, dict[int, int]]]):
    """The facilitator opens the vote; `voters` (helix, {seed index: points}) vote; a phone
    that did not vote and the projector watch; then the results phase shows the results."""
    wid = info["id"]
    fac = socks.open(srv.url, cookie=login_cookie(srv.url))
    seeds = [d["domain_id"] for d in ok(fac.call("facilitate", {"workshop_id": wid}))
             ["state"]["domains"]]
    projector = socks.open(srv.url)
    ok(projector.call("watch", {"code": info["code"]}))
    onlooker = socks.open(srv.url)
    ok(onlooker.call("join", {"code": info["code"], "helix": "government"}))
    ok(fac.call("phase", {"workshop_id": wid, "phase": "vote"}))
    ok(fac.call("reveal", {"workshop_id": wid, "shown": True}))  # live results during the vote
    phones = []
    for helix, ballot in voters:
        phone = socks.open(srv.url)
        ok(phone.call("join", {"code": info["code"], "helix": helix}))
        for k, points in ballot.items():
            ok(phone.call("vote", {"domain_id": seeds[k], "points": points}))
        phones.append(phone)
        time.sleep(0.3)  # each arrival is its own broadcast, as in a room
    ok(fac.call("phase", {"workshop_id": wid, "phase": "results"}))
    late = socks.open(srv.url)  # joins after: its ack carries the results in its state
    joined = ok(late.call("join", {"code": info["code"], "helix": "government"}))
    return fac, projector, onlooker, phones, late, joined, seeds


def _public_payloads(projector, onlooker, phones, late, joined) -> list[dict]:
    """Every results payload phones and the projector received: `results` events, the
    results inside `state` broadcasts, and the late phone's join ack."""
    found = [joined["state"]["results"]]
    for client in (projector, onlooker, late, *phones):
        found += client.got("results")
        found += [s["results"] for s in client.got("state") if s.get("results")]
    return [r for r in found if r]


def _assert_nothing_left_over(results: dict, min_group: int) -> None:
    """Every published bucket has min_group voters or more, and the scores are exactly the
    published buckets' points: no total minus the published parts leaves anyone's ballot."""
    participation = results["participation"]
    assert all(n == 0 or n >= min_group for n in participation.values()), participation
    for e in results["ranking"]:
        parts = sum(x * participation[h] for h, x in e["by_helix"].items())
        assert e["score"] == pytest.approx(parts), e
        if e["by_helix"]:
            assert e["balanced_score"] == pytest.approx(
                sum(e["by_helix"].values()) / len(e["by_helix"]))


def test_a_lone_funder_s_ballot_reaches_the_facilitator_only(tmp_path, socks):
    srv, info = _server(tmp_path)
    try:
        fac, projector, onlooker, phones, late, joined, seeds = _room(
            srv, info, socks, [("funders", FUNDER)] + [("business", b) for b in BUSINESS])
        business = {seeds[k]: sum(b.get(k, 0) for b in BUSINESS) for k in range(3)}
        wait_for(lambda: projector.got("results") and {
            e["domain_id"]: e["score"] for e in projector.got("results")[-1]["ranking"]
            if e["domain_id"] in business} == business, what="the final public results")
        wait_for(lambda: onlooker.got("results"), what="results on a phone")
        time.sleep(1.5)  # the phones' slower cadence
        public = _public_payloads(projector, onlooker, phones, late, joined)
        assert len(public) >= 4
        for results in public:
            assert results["participation"].get("funders", 0) == 0, results["participation"]
            assert results["participation"].get("business", 0) in (0, 3)
            for e in results["ranking"]:
                assert "funders" not in e["by_helix"]
                # The funder's 5/3/2 is in no total either: only the business points. (Or,
                # while business had two voters, it and the funder were pooled: a bucket of
                # three, checked below.)
                if e["domain_id"] in business and "_other" not in results["participation"]:
                    shown = results["participation"].get("business") == 3
                    assert e["score"] == (business[e["domain_id"]] if shown else 0)
            _assert_nothing_left_over(results, 3)
        # Before the third business voter, business too was too small to be shown.
        early = [r for r in projector.got("results") if r["participation"].get("business") == 2]
        assert early == []

        # The facilitator sees everything, the funder's ballot included.
        final = wait_for(lambda: [r for r in fac.got("results")
                                  if r["participation"].get("funders") == 1
                                  and r["participation"].get("business") == 3],
                         what="the facilitator's complete results")[-1]
        by_domain = {e["domain_id"]: e for e in final["ranking"]}
        for k, points in FUNDER.items():
            assert by_domain[seeds[k]]["by_helix"]["funders"] == points
            assert by_domain[seeds[k]]["score"] == points + business[seeds[k]]
        state = ok(fac.call("facilitate", {"workshop_id": info["id"]}))["state"]
        assert state["results"]["participation"]["funders"] == 1
    finally:
        srv.stop()


def test_small_helices_are_pooled_once_together_they_reach_the_threshold(tmp_path, socks):
    """A template raising min_group to 4: three business voters are now too few on their own;
    with the funder they make one pooled "other groups" bucket of 4; the pool is all there is."""
    template = tmp_path / "min4.toml"
    template.write_text("min_group = 4\n" + TEMPLATE.read_text())  # a top-level key
    srv, info = _server(tmp_path, template)
    try:
        fac, projector, onlooker, phones, late, joined, seeds = _room(
            srv, info, socks, [("funders", FUNDER)] + [("business", b) for b in BUSINESS])
        total = {seeds[k]: FUNDER[k] + sum(b.get(k, 0) for b in BUSINESS) for k in range(3)}
        wait_for(lambda: projector.got("results")
                 and projector.got("results")[-1]["participation"].get("_other") == 4,
                 what="the pooled bucket on the projector")
        time.sleep(1.5)
        public = _public_payloads(projector, onlooker, phones, late, joined)
        for results in public:
            assert not any(results["participation"].get(h) for h in ("business", "funders"))
            _assert_nothing_left_over(results, 4)
        final = projector.got("results")[-1]
        assert {e["domain_id"]: e["score"] for e in final["ranking"]
                if e["domain_id"] in total} == total
        assert {e["domain_id"]: e["by_helix"]["_other"] for e in final["ranking"]
                if e["domain_id"] in total} == {d: x / 4 for d, x in total.items()}
        # The console: each helix on its own.
        last = wait_for(lambda: [r for r in fac.got("results")
                                 if r["participation"].get("business") == 3], what="console")
        assert last[-1]["participation"]["funders"] == 1
    finally:
        srv.stop()


# ---------------------------------------------------------------- the rule, as a property


@settings(max_examples=60, deadline=None)
@given(
    ballots=st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d"]),
                               st.lists(st.integers(0, 5), min_size=3, max_size=3)),
                     max_size=14),
    min_group=st.integers(3, 5),
    method=st.sampled_from(["dot", "rank"]),
)
def test_every_public_bucket_is_big_enough_and_adds_up(ballots, min_group, method):
    domains = pd.DataFrame({"domain_id": [1, 2, 3], "title": ["x", "y", "z"]})
    frames = analysis.empty_frames()
    votes, ranks = [], []
    for pid, (helix, pts) in enumerate(ballots, start=1):
        for d, x in zip((1, 2, 3), pts):
            votes.append((pid, helix, d, x))
        order = sorted((1, 2, 3), key=lambda d: (-pts[d - 1], d))
        ranks += [(pid, helix, d, i) for i, d in enumerate(order, start=1)]
    if method == "dot":
        frames["votes"] = pd.DataFrame(votes, columns=analysis.VOTE_COLUMNS)
    else:
        frames["rankings"] = pd.DataFrame(ranks, columns=analysis.RANK_COLUMNS)
    public = analysis.results(method, domains, frames["votes"], frames["scores"],
                              frames["rankings"], ["a", "b", "c", "d"], {},
                              min_group=min_group)
    _assert_nothing_left_over(public, min_group)
    full = analysis.results(method, domains, frames["votes"], frames["scores"],
                            frames["rankings"], ["a", "b", "c", "d"], {})
    # Helices big enough on their own are published exactly as the facilitator sees them.
    for h, n in full["participation"].items():
        if n >= min_group:
            assert public["participation"][h] == n
            pub = {e["domain_id"]: e["by_helix"][h] for e in public["ranking"]}
            assert pub == {e["domain_id"]: e["by_helix"][h] for e in full["ranking"]}
