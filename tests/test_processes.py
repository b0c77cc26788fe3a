"""Continuous EDP: a process of rounds, domains carried forward with their history, and the
comparison of rounds (rules, exports, console pages, command line), on SQLite and PostgreSQL.

Two real workshops are recorded through the rules: round 1 votes with dots and decides two
priorities; round 2 is created from it, carrying three domains, switches to ranking and votes
differently. Every number of the comparison is checked against `compute_results` of each round.
"""
from __future__ import annotations

import io
import json
import os
import re
import subprocess

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import BIN, TEMPLATE, csrf_token
from flask_babel import force_locale
from openpyxl import load_workbook
from test_browser import chromium  # noqa: F401  (the fixture)
from test_exports import build_agri
from test_record import approx_tree

from edp import analysis, exports, processes, rounds_export
from edp import record as rec
from edp import workshop as rules
from edp.extensions import db
from edp.models import Domain, Event, Facilitator, Priority, Process, Workshop
from edp.replay import events_from_db, results_from_events, workshop_dict_for_replay

OTHER = "other@example.org"


# ---------------------------------------------------------------- two recorded rounds


def _join(ws: Workshop, helices: list[str]):
    return [rules.join(ws.code, h)[0] for h in helices]


def build_round_one(app, world) -> dict:
    """Dot voting, English, six helices: three seed domains, two proposals, two priorities."""
    world.facilitator()
    info = world.workshop(template=TEMPLATE)
    with app.app_context():
        ws = db.session.get(Workshop, info["id"])
        rules.set_phase(ws, "propose")
        gov, bus1, bus2, aca, civ, env = _join(
            ws, ["government", "business", "business", "academia", "civil_society",
                 "environment"])
        irrigation = rules.propose(bus1, "Smart irrigation", "Sensors and scheduling.",
                                   "Cooperatives already measure soil moisture.", sdgs=[2, 6])
        hydrogen = rules.propose(aca, "Green hydrogen", "Electrolysers.", sdgs=[7, 13])
        db.session.commit()
        manufacturing, digital, tourism = [d.id for d in rules.domains_of(ws, rules.VOTABLE)][:3]
        ids = {"I": irrigation.id, "H": hydrogen.id, "M": manufacturing, "D": digital,
               "T": tourism}
        rules.set_phase(ws, "vote")
        for p, ballot in [
            (gov, {"I": 5, "M": 3}),
            (bus1, {"I": 5, "H": 5}),
            (bus2, {"M": 5, "D": 5}),
            (aca, {"H": 4, "I": 3, "T": 3}),
            (civ, {"T": 5, "I": 2}),
            (env, {"I": 4, "H": 3}),
        ]:
            for key, points in ballot.items():
                rules.vote(p, ids[key], points)
        db.session.commit()
        rules.set_phase(ws, "decide")
        rules.decide(ws, ids["I"], 1, "Water is the binding constraint.", ["Hectares irrigated"])
        rules.decide(ws, ids["H"], 2, "Wind surplus and a port.")
        db.session.commit()
    return {**info, "domains": ids}


def build_round_two(app, one: dict) -> dict:
    """Created from round 1 carrying I, H and M; ranks instead of dots; a new proposal and a
    proposal that repeats a dropped round-1 title in other case and spacing."""
    d1 = one["domains"]
    with app.app_context():
        ws1 = db.session.get(Workshop, one["id"])
        ws = processes.new_round(ws1, carry=[d1["M"], d1["H"], d1["I"]])
        db.session.commit()
        assert ws.phase == "lobby"
        rules.set_method(ws, "rank")
        rules.set_phase(ws, "propose")
        gov, bus, aca, civ, env, fun = _join(
            ws, ["government", "business", "academia", "civil_society", "environment",
                 "funders"])
        water = rules.propose(env, "Water reuse", "Treated water for farms.")
        tourism = rules.propose(civ, "  sustainable TOURISM and cultural   heritage")
        db.session.commit()
        carried = {d.carried_from_id: d.id for d in rules.domains_of(ws)}
        ids = {"I": carried[d1["I"]], "H": carried[d1["H"]], "M": carried[d1["M"]],
               "W": water.id, "T": tourism.id}
        rules.set_phase(ws, "vote")
        for p, order in [
            (gov, "IWM"), (bus, "HI"), (aca, "IHT"), (civ, "TW"), (env, "WIH"), (fun, "IM"),
        ]:
            rules.rank(p, [ids[k] for k in order])
        db.session.commit()
        rules.set_phase(ws, "decide")
        rules.decide(ws, ids["I"], 1, "Confirmed by the validation workshop.")
        rules.decide(ws, ids["W"], 2, "New evidence from the water agency.")
        db.session.commit()
        return {"id": ws.id, "code": ws.code, "process_id": ws.process_id, "domains": ids}


@pytest.fixture
def two_rounds(app, world) -> tuple[dict, dict]:
    one = build_round_one(app, world)
    return one, build_round_two(app, one)


def by_id(results: dict) -> dict[int, dict]:
    return {e["domain_id"]: e for e in results["ranking"]}


# ---------------------------------------------------------------- rules


def test_new_round_copies_the_settings_and_carries_domains_with_their_results(app, two_rounds):
    one, two = two_rounds
    d1 = one["domains"]
    with app.app_context():
        ws1, ws2 = db.session.get(Workshop, one["id"]), db.session.get(Workshop, two["id"])
        # One process, made on the fly with round 1 attached.
        process = db.session.get(Process, two["process_id"])
        assert process.title == ws1.title and process.region == ws1.region
        assert [(w.id, w.round_no) for w in processes.rounds(process)] == [(ws1.id, 1),
                                                                             (ws2.id, 2)]
        assert ws1.process_id == ws2.process_id and ws2.previous_id == ws1.id
        assert ws2.title == f"{ws1.title}, round 2"
        for key in ("language", "budget", "cap", "max_priorities", "moderation", "helices",
                    "criteria", "region", "settings"):
            assert getattr(ws2, key) == getattr(ws1, key), key
        assert ws2.code != ws1.code and ws2.method == "rank"  # changed in round 2's lobby

        # Carried: approved seeds pointing back, priorities first (by rank), then the rest.
        carried = [d for d in rules.domains_of(ws2) if d.carried_from_id]
        assert [d.carried_from_id for d in carried] == [d1["I"], d1["H"], d1["M"]]
        for d in carried:
            old = db.session.get(Domain, d.carried_from_id)
            assert (d.title, d.description, d.rationale, d.sdgs) == (
                old.title, old.description, old.rationale, old.sdgs)
            assert d.status == "approved" and d.seed and d.workshop_id == ws2.id

        # A `carry` event per domain holds round 1's results for it as they were.
        results1 = by_id(rules.compute_results(ws1))
        ranking1 = [e["domain_id"] for e in rules.compute_results(ws1)["ranking"]]
        total = sum(e["balanced_score"] for e in results1.values())
        events = db.session.scalars(
            sa.select(Event).where(Event.workshop_id == ws2.id).order_by(Event.id)).all()
        carries = [e.payload for e in events if e.kind == "carry"]
        assert [c["from_domain_id"] for c in carries] == [d1["I"], d1["H"], d1["M"]]
        for c, d in zip(carries, carried):
            assert c["domain_id"] == d.id
            assert (c["from_workshop_id"], c["from_code"], c["from_round"]) == (ws1.id, ws1.code, 1)
            entry, got = results1[c["from_domain_id"]], c["results"]
            assert got["score"] == pytest.approx(entry["score"])
            assert got["balanced_score"] == pytest.approx(entry["balanced_score"])
            assert got["consensus"] == pytest.approx(entry["consensus"])
            assert got["by_helix"] == approx_tree(entry["by_helix"])
            assert got["rank"] == ranking1.index(c["from_domain_id"]) + 1
            assert got["support"] == pytest.approx(entry["balanced_score"] / total)
        assert carries[0]["results"]["priority"]["rationale"] == "Water is the binding constraint."
        assert carries[0]["results"]["priority"]["rank"] == 1
        assert carries[2]["results"]["priority"] is None  # M was not decided
        # Seeds have a propose event too (the record replays), and the round is recorded.
        seeds = [e.payload["domain_id"] for e in events if e.kind == "propose"
                 and e.actor_role == "system"]
        assert seeds == [d.id for d in carried]
        (made,) = [e.payload for e in events if e.kind == "round"]
        assert made == {"process_id": process.id, "round": 2, "previous_workshop_id": ws1.id,
                        "previous_code": ws1.code, "carried": 3, "vision": 0}
        assert db.session.scalar(sa.select(Event.payload).where(
            Event.workshop_id == ws1.id, Event.kind == "round"))["round"] == 1
        # Round 2's event log replays to its live results.
        replayed = results_from_events(events_from_db(ws2), workshop_dict_for_replay(ws2))
        assert replayed["ranking"] == approx_tree(rules.compute_results(ws2)["ranking"])


def test_comparison_numbers_are_each_rounds_results(app, two_rounds):
    one, two = two_rounds
    d1, d2 = one["domains"], two["domains"]
    with app.app_context():
        ws1, ws2 = db.session.get(Workshop, one["id"]), db.session.get(Workshop, two["id"])
        r1, r2 = rules.compute_results(ws1), rules.compute_results(ws2)
        frame = processes.compare_rounds(ws1, ws2)
    rows = {(r["earlier_domain_id"], r["later_domain_id"]): r
            for r in processes.comparison_rows(frame)}
    # Carried domains kept, the repeated title kept by its title, one added, one dropped.
    assert {k: r["status"] for k, r in rows.items()} == {
        (d1["I"], d2["I"]): "kept", (d1["H"], d2["H"]): "kept", (d1["M"], d2["M"]): "kept",
        (d1["T"], d2["T"]): "kept", (None, d2["W"]): "added", (d1["D"], None): "dropped"}
    assert rows[(d1["T"], d2["T"])]["title"] == "sustainable TOURISM and cultural   heritage"
    assert frame["status"].tolist()[-1] == "dropped"  # dropped rows come last

    e1, e2 = by_id(r1), by_id(r2)
    pos1 = {e["domain_id"]: k for k, e in enumerate(r1["ranking"], 1)}
    pos2 = {e["domain_id"]: k for k, e in enumerate(r2["ranking"], 1)}
    total1 = sum(e["balanced_score"] for e in r1["ranking"])
    total2 = sum(e["balanced_score"] for e in r2["ranking"])
    helices = frame.attrs["helices"]
    assert helices == ["government", "business", "academia", "civil_society", "environment",
                       "funders"]
    for (a, b), row in rows.items():
        for side, entry, pos, total, did in (("earlier", e1, pos1, total1, a),
                                             ("later", e2, pos2, total2, b)):
            if did is None:
                assert row[f"{side}_score"] is None and row[f"{side}_support"] is None
                continue
            e = entry[did]
            assert row[f"{side}_rank"] == pos[did]
            assert row[f"{side}_score"] == pytest.approx(e["score"])
            assert row[f"{side}_balanced_score"] == pytest.approx(e["balanced_score"])
            assert row[f"{side}_consensus"] == pytest.approx(e["consensus"])
            assert row[f"{side}_support"] == pytest.approx(e["balanced_score"] / total)
            spread = sum(e["by_helix"].values())
            for h in helices:
                expected = (e["by_helix"][h] / spread if spread else None) \
                    if h in e["by_helix"] else None
                assert row[f"split_{h}_{side}"] == (pytest.approx(expected)
                                                    if expected is not None else None), (did, h)
        if a is not None and b is not None:
            assert row["support_change"] == pytest.approx(
                row["later_support"] - row["earlier_support"])
            assert row["consensus_change"] == pytest.approx(
                row["later_consensus"] - row["earlier_consensus"])
    # Shares of one round add up to 1, whatever the method (dots, then Borda points).
    assert sum(r["earlier_support"] or 0 for r in rows.values()) == pytest.approx(1.0)
    assert sum(r["later_support"] or 0 for r in rows.values()) == pytest.approx(1.0)
    # Priorities of each round; the funders voted only in round 2.
    assert rows[(d1["I"], d2["I"])]["earlier_priority"] == 1 == \
        rows[(d1["I"], d2["I"])]["later_priority"]
    assert rows[(None, d2["W"])]["later_priority"] == 2
    assert rows[(d1["H"], d2["H"])]["later_priority"] is None
    assert rows[(d1["I"], d2["I"])]["split_funders_earlier"] is None
    assert rows[(d1["I"], d2["I"])]["split_funders_later"] > 0
    # Irrigation by hand. Round 1 (dots, points per voter of each helix; business had two
    # voters): government 5, business 5/2, academia 3, civil society 2, environment 4, so
    # balanced 16.5/5 = 3.3 of a round total of 8.4. Round 2 (Borda over 5 domains, one voter
    # per helix): 4, 3, 4, 0, 3, 4 (funders), balanced 3 of a total of 8.
    irrigation = rows[(d1["I"], d2["I"])]
    assert irrigation["earlier_support"] == pytest.approx(3.3 / 8.4)
    assert irrigation["later_support"] == pytest.approx(3 / 8)
    assert irrigation["support_change"] == pytest.approx(3 / 8 - 3.3 / 8.4)
    # Consensus (Pol.is: geometric mean of (s + 1) / (n + 2) per helix). Round 1: every voter
    # gave it points but one of business's two. Round 2: support is the normalised Borda
    # position (first 1, second 3/4), civil society left it unranked (0).
    earlier = ((2 / 3) ** 4 * (2 / 4)) ** (1 / 5)
    later = ((2 / 3) ** 3 * (1.75 / 3) ** 2 * (1 / 3)) ** (1 / 6)
    assert irrigation["earlier_consensus"] == pytest.approx(earlier)
    assert irrigation["later_consensus"] == pytest.approx(later)
    assert irrigation["consensus_change"] == pytest.approx(later - earlier)
    assert later < earlier
    assert irrigation["split_government_earlier"] == pytest.approx(5 / 16.5)
    assert irrigation["split_funders_later"] == pytest.approx(4 / 18)
    assert (irrigation["earlier_rank"], irrigation["later_rank"]) == (1, 1)


def test_history_follows_carried_domains_through_three_rounds(app, two_rounds):
    one, two = two_rounds
    with app.app_context():
        ws2 = db.session.get(Workshop, two["id"])
        ws3 = processes.new_round(ws2, carry=processes.CARRY_PRIORITIES, title="Yearly review")
        db.session.commit()
        assert (ws3.round_no, ws3.previous_id, ws3.title) == (3, ws2.id, "Yearly review")
        carried = rules.domains_of(ws3)
        assert [d.carried_from_id for d in carried] == [two["domains"]["I"], two["domains"]["W"]]
        history = processes.domain_history(carried[0])
        assert [(h["round"], h["domain_id"]) for h in history] == [
            (1, one["domains"]["I"]), (2, two["domains"]["I"]), (3, carried[0].id)]
        ws1 = db.session.get(Workshop, one["id"])
        for h, ws in zip(history, (ws1, ws2)):
            entry = by_id(rules.compute_results(ws))[h["domain_id"]]
            assert h["code"] == ws.code and h["method"] == ws.method
            assert h["score"] == pytest.approx(entry["score"])
            assert h["consensus"] == pytest.approx(entry["consensus"])
            assert h["priority"]["rank"] == 1
        assert history[-1]["rank"] is None and history[-1]["priority"] is None  # no votes yet
        # The water domain began in round 2.
        assert [h["round"] for h in processes.domain_history(carried[1])] == [2, 3]

        # Round 1 against round 3: irrigation is matched through round 2; the rest dropped.
        frame = processes.compare_rounds(ws1, ws3)
        status = dict(zip(frame["title"], frame["status"]))
        assert status["Smart irrigation"] == "kept"
        assert status["Water reuse"] == "added"
        assert status["Green hydrogen"] == "dropped"
        # Nobody has voted in round 3: no ranks, shares or consensus there.
        assert frame["later_support"].isna().all() and frame["later_rank"].isna().all()


def test_carry_modes_and_refusals(app, world):
    one = build_round_one(app, world)
    world.facilitator(OTHER)
    d1 = one["domains"]
    with app.app_context():
        ws1 = db.session.get(Workshop, one["id"])
        other = db.session.scalar(sa.select(Facilitator).where(Facilitator.email == OTHER))
        rules.moderate(ws1, d1["D"], "hide")
        db.session.commit()
        approved = {d.id for d in rules.domains_of(ws1, rules.VOTABLE)}
        assert [d.id for d in processes.carried_domains(ws1, processes.CARRY_PRIORITIES)] == [
            d1["I"], d1["H"]]
        assert {d.id for d in processes.carried_domains(ws1, "all")} == approved
        assert d1["D"] not in approved

        def refused(code, call):
            with pytest.raises(rules.EDPError) as info:
                call()
            db.session.rollback()
            assert info.value.code == code
            with force_locale("es"):  # a message for people, in their language
                assert str(info.value.message) != str(rules.MESSAGES["internal"])

        refused("not_found", lambda: processes.new_round(ws1, carry=[d1["D"]]))  # hidden
        refused("not_found", lambda: processes.new_round(ws1, carry=[10**6]))
        refused("bad_payload", lambda: processes.new_round(ws1, carry="everything"))
        refused("forbidden", lambda: processes.new_round(ws1, other))
        refused("bad_payload", lambda: processes.create_process(other, "   "))
        assert db.session.scalar(sa.select(sa.func.count(Workshop.id))) == 1
        assert ws1.process_id is None  # nothing half-made stays behind

        # Attaching: only one's own workshop, to one process; twice is harmless.
        mine = processes.create_process(ws1.facilitator, "Agri-food S3", "Demo Region")
        theirs = processes.create_process(other, "Theirs")
        assert processes.attach(mine, ws1) == 1 and processes.attach(mine, ws1) == 1
        refused("other_process", lambda: processes.attach(
            processes.create_process(ws1.facilitator, "Second"), ws1))
        refused("forbidden", lambda: processes.attach(theirs, ws1))
        refused("same_round", lambda: processes.compare_rounds(ws1, ws1))
        # An empty carry starts afresh, in the same process.
        fresh = processes.new_round(db.session.get(Workshop, one["id"]), carry=[])
        db.session.commit()
        assert fresh.process_id is not None and fresh.round_no == 2
        assert rules.domains_of(fresh) == []

        # Two round-1 domains with the same title: the carried one is matched by its lineage,
        # not the first of that title; the other is dropped.
        ws1 = db.session.get(Workshop, one["id"])
        rules.set_phase(ws1, "propose")
        late = rules.join(ws1.code, "funders")[0]
        twin = rules.propose(late, "GREEN  hydrogen")
        db.session.commit()
        nxt = processes.new_round(ws1, carry=[twin.id])
        db.session.commit()
        (carried,) = rules.domains_of(nxt)
        rows = processes.comparison_rows(processes.compare_rounds(ws1, nxt))
        (kept,) = [r for r in rows if r["status"] == "kept"]
        assert (kept["earlier_domain_id"], kept["later_domain_id"]) == (twin.id, carried.id)
        dropped = {r["earlier_domain_id"] for r in rows if r["status"] == "dropped"}
        assert d1["H"] in dropped and twin.id not in dropped


# ---------------------------------------------------------------- the pure part


def test_comparison_without_a_database():
    """Round 1 votes with dots, round 2 ranks: shares compare, raw scores do not."""
    helices = ["government", "business"]
    domains1 = pd.DataFrame({"domain_id": [1, 2, 3],
                             "title": ["Riego de precisión", "Bioinsumos", "Turismo"]})
    votes1 = pd.DataFrame(
        [(1, "government", 1, 6), (1, "government", 2, 4), (2, "business", 1, 2),
         (2, "business", 3, 8)], columns=analysis.VOTE_COLUMNS)
    empty = analysis.empty_frames()
    r1 = analysis.results("dot", domains1, votes1, empty["scores"], empty["rankings"], helices, {})
    domains2 = pd.DataFrame({"domain_id": [10, 11, 12],
                             "title": ["Riego de precision", "Bioinsumos", "Hidrógeno"]})
    ranks2 = pd.DataFrame([(5, "government", 11, 1), (5, "government", 10, 2),
                           (6, "business", 10, 1)], columns=analysis.RANK_COLUMNS)
    r2 = analysis.results("rank", domains2, empty["votes"], empty["scores"], ranks2, helices, {})

    s1 = processes.round_summary(r1, {1: {"rank": 1, "rationale": "r", "indicators": []}})
    s2 = processes.round_summary(r2)
    assert sum(e["support"] for e in s1.values()) == pytest.approx(1.0)
    assert s1[1]["support"] == pytest.approx(r1["ranking"][0]["balanced_score"] / sum(
        e["balanced_score"] for e in r1["ranking"]))
    assert s1[1]["split"] == pytest.approx({"government": 6 / 8, "business": 2 / 8})
    assert s1[1]["priority"]["rank"] == 1 and s2[10]["priority"] is None

    # Lineage wins over titles; titles match without accents, case or spacing.
    pairs = processes.match_domains({1: "Riego de precisión", 2: "Bioinsumos", 3: "Turismo"},
                                    {10: "Riego de precision", 11: "Bioinsumos",
                                     12: "Hidrógeno"},
                                    {11: 1})
    assert pairs == [(None, 10), (1, 11), (None, 12), (2, None), (3, None)]
    pairs = processes.match_domains({1: "Riego de precisión", 2: "Bioinsumos", 3: "Turismo"},
                                    {10: "riego  DE precision.", 11: "Bioinsumos",
                                     12: "Hidrógeno"}, {})
    assert pairs == [(1, 10), (2, 11), (None, 12), (3, None)]

    frame = processes.comparison_frame(s1, s2, pairs, helices)
    row = frame.set_index("title").loc["Riego de precision"]
    assert row["status"] == "kept"
    assert row["support_change"] == pytest.approx(s2[10]["support"] - s1[1]["support"])
    assert row["split_business_change"] == pytest.approx(
        s2[10]["split"]["business"] - s1[1]["split"]["business"])
    assert frame.set_index("title").loc["Hidrógeno", "status"] == "added"
    assert frame.set_index("title").loc["Turismo", "status"] == "dropped"
    assert frame.set_index("title").loc["Turismo", "later_rank"] is None
    assert list(frame["status"]) == ["kept", "kept", "added", "dropped"]

    # A round nobody voted in has no ranks or shares, not zeros that look like results.
    silent = processes.round_summary(analysis.results(
        "dot", domains1, empty["votes"], empty["scores"], empty["rankings"], helices, {}))
    assert all(e["rank"] is None and e["support"] is None and e["consensus"] is None
               for e in silent.values())


# ---------------------------------------------------------------- exports


def test_comparison_exports_read_back(app, two_rounds):
    one, two = two_rounds
    with app.app_context():
        ws1, ws2 = db.session.get(Workshop, one["id"]), db.session.get(Workshop, two["id"])
        frame = processes.compare_rounds(ws1, ws2)
        csv, mimetype, name = rounds_export.build(ws1, ws2, "csv")
        xlsx = rounds_export.build(ws1, ws2, "xlsx")[0]
        md = rounds_export.build(ws1, ws2, "md")[0].decode("utf-8")
        with pytest.raises(ValueError):
            rounds_export.build(ws1, ws2, "docx")
    assert mimetype.startswith("text/csv") and name.endswith(".csv")
    assert name.startswith(f"edp-compare-{one['code']}-{two['code']}-")

    table = pd.read_csv(io.BytesIO(csv), encoding="utf-8-sig")
    assert list(table.columns) == list(frame.columns)
    assert table["title"].tolist() == frame["title"].tolist()
    assert table["status"].tolist() == frame["status"].tolist()
    for col in ("earlier_support", "later_support", "consensus_change", "split_business_later"):
        expected = pd.to_numeric(frame[col], errors="coerce").astype(float)
        assert table[col].astype(float).tolist() == pytest.approx(expected.tolist(), nan_ok=True)

    book = load_workbook(io.BytesIO(xlsx))
    assert book.sheetnames == ["Comparison", "Rounds", "Notes"]
    sheet = book["Comparison"]
    head = [c.value for c in sheet[1]]
    assert head[:2] == ["Domain", "Change"]
    assert "Share of support (Round 1)" in head and "Share of support (Round 2)" in head
    assert "Business: share of the support (Round 2)" in head
    body = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert [r[0] for r in body] == frame["title"].tolist()
    assert [r[1] for r in body] == [s.capitalize() for s in frame["status"]]
    support = head.index("Share of support (Round 2)")
    assert sheet.cell(row=2, column=support + 1).number_format == "0.0%"
    assert body[0][support] == pytest.approx(frame["later_support"].iloc[0])
    rounds_sheet = [[c.value for c in row] for row in book["Rounds"].iter_rows()]
    assert [r[2] for r in rounds_sheet[1:]] == [one["code"], two["code"]]
    assert [r[-1] for r in rounds_sheet[1:]] == [6, 6]  # participants

    assert md.startswith("# Comparison of rounds: Round 1 → Round 2")
    assert "| Domain | Change | Rank | Share of support |" in md
    added = md.split("## Added in Round 2")[1].split("##")[0]
    dropped = md.split("## Dropped after Round 1")[1]
    assert "- Water reuse" in added and "Smart irrigation" not in added
    assert "- Digital services for public health" in dropped
    irrigation = next(line for line in md.splitlines() if line.startswith("| Smart irrigation"))
    assert "| Kept |" in irrigation and "Funding bodies – →" in irrigation


def test_export_import_then_next_round_in_spanish(app, world):
    """A recorded round travels as JSON; its import is round 1 of a new process."""
    agri = build_agri(app, world)
    with app.app_context():
        original = db.session.get(Workshop, agri["id"])
        data = exports.build(original, "json")[0]
        imported = rec.import_record(rec.load(data), original.facilitator)
        db.session.commit()
        decided = [p.domain_id for p in db.session.scalars(
            sa.select(Priority).where(Priority.workshop_id == imported.id)
            .order_by(Priority.rank))]
        nxt = processes.new_round(imported, carry=processes.CARRY_PRIORITIES)
        db.session.commit()
        assert nxt.title == "Grupo focal EDP agroalimentario, ronda 2"  # in the round's language
        assert (nxt.language, nxt.method, nxt.criteria) == ("es", "score", imported.criteria)
        carried = rules.domains_of(nxt)
        assert [d.carried_from_id for d in carried] == decided
        assert [d.title for d in carried] == ["Riego de precisión",
                                              "Valorización de residuos agroindustriales"]
        history = processes.domain_history(carried[0])
        assert [h["workshop_id"] for h in history] == [imported.id, nxt.id]
        # Round 1 of the history is the imported workshop, with the original's numbers.
        imported_riego = by_id(rules.compute_results(imported))[history[0]["domain_id"]]
        original_riego = next(e for e in rules.compute_results(original)["ranking"]
                              if e["title"] == "Riego de precisión")
        assert history[0]["score"] == pytest.approx(imported_riego["score"])
        assert history[0]["score"] == pytest.approx(original_riego["score"])
        assert history[0]["priority"]["rank"] == 1
        frame = processes.compare_rounds(imported, nxt)
        assert sorted(frame.loc[frame["status"] == "kept", "title"]) == sorted(
            d.title for d in carried)
        assert (frame["status"] == "dropped").sum() == len(
            rules.domains_of(imported, rules.VOTABLE)) - 2
        xlsx = rounds_export.build(imported, nxt, "xlsx")[0]
        md = rounds_export.build(imported, nxt, "md")[0].decode("utf-8")
    head = [c.value for c in load_workbook(io.BytesIO(xlsx))["Comparison"][1]]
    assert head[0] == "Dominio"  # headings in the workshop's language
    assert "| Dominio |" in md and "Riego de precisión" in md


def test_the_adopted_vision_heads_the_next_round(app, world):
    """A round created from another opens with its adopted vision statements, adopted again
    and pointing back to the ones they continue; the event log replays them, the report
    opens with them, and a third round carries them on."""
    from edp import method, verify
    from edp.models import Statement

    world.facilitator()
    info = world.workshop(template=TEMPLATE)
    with app.app_context():
        ws1 = db.session.get(Workshop, info["id"])
        rules.set_phase(ws1, "vision")
        gov, bus = _join(ws1, ["government", "business"])
        kept = method.statement(gov, "In 2035 the region exports clean energy.")
        also = method.facilitator_statement(ws1, "A region that keeps its young people.")
        left = method.statement(bus, "Every farm a start-up.")
        withdrawn = method.statement(bus, "An adopted statement later hidden.")
        for s in (kept, also, withdrawn):
            method.adopt(ws1, s.id, True)
        method.hide_statement(ws1, withdrawn.id, True)
        method.react(bus, kept.id, "agree")
        db.session.commit()
        ws2 = processes.new_round(ws1, carry=processes.CARRY_PRIORITIES)
        db.session.commit()
        rows = db.session.scalars(sa.select(Statement).where(Statement.workshop_id == ws2.id)
                                  .order_by(Statement.id)).all()
        assert [(r.text, r.adopted, r.hidden, r.carried_from_id, r.participant_id)
                for r in rows] == [(kept.text, True, False, kept.id, None),
                                   (also.text, True, False, also.id, None)]
        assert left.text not in {r.text for r in rows}
        # The room sees the vision adopted from the start (no reactions yet in this round).
        assert [(v["text"], v["adopted"], v["agree"]) for v in method.vision_summary(ws2)] == [
            (kept.text, True, 0), (also.text, True, 0)]
        round_event = next(e for e in events_from_db(ws2) if e["kind"] == "round")
        assert round_event["payload"]["vision"] == 2
        assert verify.differences(ws2)[1] == []
        md = exports.build(ws2, "md")[0].decode()
        assert md.index("### Shared vision") < md.index("**Region:**")
        assert f"- {kept.text}" in md and left.text not in md
        ws3 = processes.new_round(ws2)
        db.session.commit()
        third = db.session.scalars(sa.select(Statement).where(Statement.workshop_id == ws3.id)
                                   .order_by(Statement.id)).all()
        assert [r.carried_from_id for r in third] == [r.id for r in rows]


def test_a_later_rounds_record_round_trips_with_its_carry_events(app, two_rounds):
    one, two = two_rounds
    with app.app_context():
        ws2 = db.session.get(Workshop, two["id"])
        record = json.loads(exports.build(ws2, "json")[0])
        copy = rec.import_record(record, ws2.facilitator)
        db.session.commit()
        again = json.loads(exports.build(copy, "json")[0])
        assert rec.canonical(again) == approx_tree(rec.canonical(record))
        carries = [e for e in again["events"] if e["kind"] == "carry"]
        assert len(carries) == 3
        titles = {d["domain_id"]: d["title"] for d in again["domains"]}
        assert [titles[e["payload"]["domain_id"]] for e in carries] == [
            "Smart irrigation", "Green hydrogen", "Advanced manufacturing for the energy transition"]
        replayed = results_from_events(events_from_db(copy), workshop_dict_for_replay(copy))
        assert replayed["ranking"] == approx_tree(rules.compute_results(copy)["ranking"])

        # Imported, the round has no database link to round 1, but its history still begins
        # there: from the recorded carry event, with round 1's numbers.
        irrigation = next(d for d in rules.domains_of(copy) if d.title == "Smart irrigation")
        assert irrigation.carried_from_id is None
        history = processes.domain_history(irrigation)
        assert [(h["round"], h["code"], h["recorded"]) for h in history] == [
            (1, one["code"], True), (None, copy.code, False)]
        first = by_id(rules.compute_results(db.session.get(Workshop, one["id"])))[
            one["domains"]["I"]]
        assert history[0]["score"] == pytest.approx(first["score"])
        assert history[0]["consensus"] == pytest.approx(first["consensus"])
        assert history[0]["priority"]["rank"] == 1
        assert history[1]["score"] == pytest.approx(
            by_id(rules.compute_results(copy))[irrigation.id]["score"])
        # A domain proposed in round 2 has a history of one round.
        water = next(d for d in rules.domains_of(copy) if d.title == "Water reuse")
        assert len(processes.domain_history(water)) == 1


# ---------------------------------------------------------------- console pages


def test_console_process_pages(app, world, two_rounds):
    one, two = two_rounds
    http = world.login()
    dashboard = http.get("/f/")
    assert dashboard.status_code == 200
    assert f'href="/f/p/{two["process_id"]}"' in dashboard.text

    # Create a process from the dashboard, with its CSRF token (and without: refused).
    refused = http.post("/f/p/new", data={"title": "No token"})
    assert refused.status_code == 400
    made = http.post("/f/p/new", data={"title": "Agri-food S3, 2026", "region": "Maule",
                                       "csrf_token": csrf_token(dashboard.text)})
    assert made.status_code == 302
    new_id = int(re.search(r"/f/p/(\d+)$", made.headers["Location"]).group(1))
    empty = http.get(f"/f/p/{new_id}")
    assert "Agri-food S3, 2026" in empty.text and "Maule" in empty.text
    assert "No rounds yet" in empty.text

    page = http.get(f"/f/p/{two['process_id']}")
    assert page.status_code == 200
    text = page.text
    assert one["code"] in text and two["code"] in text
    assert "From round 1 to round 2" in text
    assert "Kept: 4 · Added: 1 · Dropped: 1" in text
    rows = re.findall(r'<tr data-status="(\w+)">\s*<th scope="row">([^<]+)', text)
    assert ("added", "Water reuse") in [(s, t.strip()) for s, t in rows]
    assert ("dropped", "Digital services for public health") in [(s, t.strip()) for s, t in rows]
    with app.app_context():
        frame = processes.compare_rounds(db.session.get(Workshop, one["id"]),
                                         db.session.get(Workshop, two["id"]))
    assert [t.strip() for _s, t in rows] == frame["title"].tolist()
    irrigation = text.split('<th scope="row">Smart irrigation')[1].split("</tr>")[0]
    first = frame.set_index("title").loc["Smart irrigation"]
    assert (f"{first['earlier_support'] * 100:.1f}".rstrip("0").rstrip(".") + "%") in irrigation

    base = f"/f/p/{two['process_id']}/compare/{one['id']}/{two['id']}"
    csv = http.get(base + ".csv")
    assert csv.status_code == 200 and "attachment" in csv.headers["Content-Disposition"]
    assert pd.read_csv(io.BytesIO(csv.data), encoding="utf-8-sig")["title"].tolist() == \
        frame["title"].tolist()
    book = load_workbook(io.BytesIO(http.get(base + ".xlsx").data))
    assert book["Comparison"].cell(row=2, column=1).value == frame["title"].iloc[0]
    assert http.get(base + ".md").data.decode().startswith("# Comparison of rounds")
    assert http.get(base + ".docx").status_code == 404
    assert http.get(f"/f/p/{new_id}/compare/{one['id']}/{two['id']}.csv").status_code == 404
    assert http.get("/f/p/999999").status_code == 404


def test_console_next_round_form_and_add_round(app, world):
    one = build_round_one(app, world)
    http = world.login()
    console = http.get(f"/f/w/{one['id']}")
    assert console.status_code == 200
    assert 'id="next-round-h"' in console.text
    # The decided priorities are pre-checked; the other approved domains are offered.
    boxes = re.findall(r'<input( checked)? id="carry-\d+" name="carry" type="checkbox" '
                       r'value="(\d+)">', console.text)
    assert {int(v) for c, v in boxes if c} == {one["domains"]["I"], one["domains"]["H"]}
    assert {int(v) for _c, v in boxes} == set(one["domains"].values())

    d1 = one["domains"]
    done = http.post(f"/f/w/{one['id']}/next-round",
                     data={"csrf_token": csrf_token(console.text), "title": "Validation",
                           "carry": [str(d1["I"]), str(d1["T"])]})
    assert done.status_code == 302
    new_id = int(re.search(r"/f/w/(\d+)$", done.headers["Location"]).group(1))
    with app.app_context():
        ws2 = db.session.get(Workshop, new_id)
        assert (ws2.title, ws2.round_no, ws2.phase) == ("Validation", 2, "lobby")
        assert sorted(d.carried_from_id for d in rules.domains_of(ws2)) == sorted(
            [d1["I"], d1["T"]])
        process_id = ws2.process_id
    later = http.get(f"/f/w/{new_id}")
    assert "Round 2 is ready in the lobby." in later.text
    assert f'href="/f/p/{process_id}"' in later.text and "round 2 of" in later.text

    # A domain that is not an approved domain of this round: refused, nothing created.
    bad = http.post(f"/f/w/{one['id']}/next-round",
                    data={"csrf_token": csrf_token(console.text), "carry": ["999999"]})
    assert bad.status_code == 302 and bad.headers["Location"].endswith(f"/f/w/{one['id']}")
    assert "does not exist" in http.get(f"/f/w/{one['id']}").text
    # Another workshop joins the process as round 3 through the process page.
    extra = world.workshop(title="Regional validation")
    page = http.get(f"/f/p/{process_id}")
    assert f'<option value="{extra["id"]}">' in page.text
    added = http.post(f"/f/p/{process_id}/add",
                      data={"csrf_token": csrf_token(page.text), "workshop": extra["id"]})
    assert added.status_code == 302
    with app.app_context():
        ws3 = db.session.get(Workshop, extra["id"])
        assert (ws3.process_id, ws3.round_no, ws3.previous_id) == (process_id, 3, new_id)
    assert "From round 2 to round 3" in http.get(f"/f/p/{process_id}").text


def test_console_refuses_other_facilitators(app, world, two_rounds):
    one, two = two_rounds
    world.facilitator(OTHER)
    mine = world.workshop(OTHER, title="Theirs")
    http = world.login(OTHER)
    pid = two["process_id"]
    assert http.get(f"/f/p/{pid}").status_code == 403
    assert http.get(f"/f/p/{pid}/compare/{one['id']}/{two['id']}.csv").status_code == 403
    token = csrf_token(http.get("/f/").text)
    assert http.post(f"/f/w/{one['id']}/next-round",
                     data={"csrf_token": token, "carry": []}).status_code == 403
    assert http.post(f"/f/p/{pid}/add", data={"csrf_token": token,
                                              "workshop": mine["id"]}).status_code == 403
    dashboard = http.get("/f/")
    assert f'href="/f/p/{pid}"' not in dashboard.text
    # The owner cannot attach someone else's workshop either.
    owner = world.login()
    page = owner.get(f"/f/p/{pid}")
    assert f'value="{mine["id"]}"' not in page.text
    assert owner.post(f"/f/p/{pid}/add", data={"csrf_token": csrf_token(owner.get("/f/").text),
                                               "workshop": mine["id"]}).status_code == 403
    # Nobody logged in: to the log-in page.
    anonymous = app.test_client().get(f"/f/p/{pid}")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    with app.app_context():
        assert db.session.get(Workshop, mine["id"]).process_id is None


# ---------------------------------------------------------------- command line


def cli_env(db_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDP_")}
    env.update({"EDP_DATABASE_URL": db_url, "EDP_SECRET_KEY": "cli-test",
                "EDP_PUBLIC_URL": "http://edp.example"})
    return env


def edp(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "edp"), *args], env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, check=False)


def edp_many(env: dict, *commands: tuple[str, ...]) -> list[subprocess.CompletedProcess]:
    """Independent commands at once (each start-up takes a second or two)."""
    procs = [subprocess.Popen([str(BIN / "edp"), *args], env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for args in commands]
    outs = []
    for args, proc in zip(commands, procs):
        stdout, stderr = proc.communicate(timeout=120)
        outs.append(subprocess.CompletedProcess(args, proc.returncode, stdout, stderr))
    return outs


def one_json_line(out: subprocess.CompletedProcess) -> dict:
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1, out.stdout
    return json.loads(lines[0])


def test_cli_process_commands(app, world, db_url, tmp_path):
    one = build_round_one(app, world)
    with app.app_context():
        db.session.remove()
    env = cli_env(db_url)
    created = one_json_line(edp(env, "process", "create", "--title", "Agri-food S3",
                                "--region", "Maule"))
    pid = created["id"]
    assert created == {"id": pid, "title": "Agri-food S3", "region": "Maule"}
    assert one_json_line(edp(env, "process", "add", str(pid), one["code"]))["round"] == 1

    nxt = one_json_line(edp(env, "process", "next-round", one["code"], "--carry", "priorities"))
    assert set(nxt) == {"id", "code", "join_url", "screen_url", "process_id", "round"}
    assert (nxt["process_id"], nxt["round"]) == (pid, 2)
    assert nxt["join_url"] == f"http://edp.example/w/{nxt['code']}"
    d1 = one["domains"]
    third = one_json_line(edp(env, "process", "next-round", one["code"], "--carry",
                              f"{d1['M']},{d1['D']}", "--title", "Branch"))
    assert third["round"] == 3
    with app.app_context():
        carried = {w: sorted(d.carried_from_id for d in rules.domains_of(
            db.session.get(Workshop, w))) for w in (nxt["id"], third["id"])}
        assert db.session.get(Workshop, third["id"]).title == "Branch"
        db.session.remove()
    assert carried == {nxt["id"]: sorted([d1["I"], d1["H"]]),
                       third["id"]: sorted([d1["M"], d1["D"]])}

    shown = one_json_line(edp(env, "process", "show", str(pid)))
    assert [(r["round"], r["code"], r["carried"]) for r in shown["rounds"]] == [
        (1, one["code"], 0), (2, nxt["code"], 2), (3, third["code"], 2)]
    assert shown["rounds"][0]["participants"] == 6 and shown["rounds"][1]["phase"] == "lobby"

    formats = ("csv", "xlsx", "md")
    made = edp_many(env, *[("process", "compare", one["code"], nxt["code"], "--format", fmt,
                            "--output", str(tmp_path / f"compare.{fmt}")) for fmt in formats])
    for fmt, out in zip(formats, made):
        assert one_json_line(out)["bytes"] == (tmp_path / f"compare.{fmt}").stat().st_size > 0
    table = pd.read_csv(tmp_path / "compare.csv", encoding="utf-8-sig")
    assert dict(zip(table["title"], table["status"])) == {
        "Smart irrigation": "kept", "Green hydrogen": "kept",
        "Advanced manufacturing for the energy transition": "dropped",
        "Digital services for public health": "dropped",
        "Sustainable tourism and cultural heritage": "dropped"}
    assert load_workbook(tmp_path / "compare.xlsx").sheetnames[0] == "Comparison"
    assert "## Dropped after Round 1" in (tmp_path / "compare.md").read_text("utf-8")

    # Clear refusals, no tracebacks, nothing half-made.
    refusals = [
        (("process", "next-round", one["code"], "--carry", "x,y"), "--carry"),
        (("process", "next-round", one["code"], "--carry", "999999"), "not_found"),
        (("process", "next-round", "NOPE22"), "NOPE22"),
        (("process", "add", "999999", one["code"]), "no process 999999"),
        (("process", "show", "999999"), "no process"),
        (("process", "compare", one["code"], one["code"], "--format", "md", "--output",
          str(tmp_path / "same.md")), "same_round"),
    ]
    for (args, needle), out in zip(refusals, edp_many(env, *[a for a, _n in refusals])):
        assert out.returncode != 0 and needle in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr
    second = one_json_line(edp(env, "process", "create", "--title", "Other"))
    out = edp(env, "process", "add", str(second["id"]), one["code"])
    assert out.returncode != 0 and "other_process" in out.stderr
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Workshop.id))) == 3


def test_migrations_match_the_models_on_both_databases(db_url):
    """The hand-written migration of processes and rounds: upgrade, no drift, downgrade, up."""
    from conftest import ROOT

    env, migrations = cli_env(db_url), str(ROOT / "migrations")
    assert edp(env, "init-db").returncode == 0
    check = edp(env, "db", "check", "-d", migrations)
    assert check.returncode == 0, check.stdout + check.stderr
    down = edp(env, "db", "downgrade", "-d", migrations, "564423b98837")
    assert down.returncode == 0, down.stderr
    engine = sa.create_engine(db_url)
    try:
        inspector = sa.inspect(engine)
        assert "process" not in inspector.get_table_names()
        assert "round_no" not in {c["name"] for c in inspector.get_columns("workshop")}
    finally:
        engine.dispose()
    assert edp(env, "db", "downgrade", "-d", migrations, "base").returncode == 0
    up = edp(env, "init-db")
    assert up.returncode == 0, up.stderr
    engine = sa.create_engine(db_url)
    try:
        inspector = sa.inspect(engine)
        assert "carried_from_id" in {c["name"] for c in inspector.get_columns("domain")}
    finally:
        engine.dispose()


# ---------------------------------------------------------------- a real browser


@pytest.mark.browser
@pytest.mark.server
def test_next_round_in_a_browser_and_the_process_page_is_accessible(
    live_server, chromium  # noqa: F811  (the fixture from test_browser)
):
    """The facilitator carries one domain forward from the console, then reads the process
    page; axe-core checks the console, the process page and the dashboard."""
    from test_browser import ARTIFACTS, READY, assert_accessible, log_in

    ws = live_server.seed()
    live_server.start()
    context = chromium.new_context(viewport={"width": 1280, "height": 900},
                                   base_url=live_server.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page)
    page.goto(f"/f/w/{ws['id']}")
    page.wait_for_function(READY)
    page.locator("#tab-closed").click()  # the panel with the exports and the next round
    section = page.locator("section[aria-labelledby=next-round-h]")
    section.get_by_label("Sustainable tourism and cultural heritage").check()
    section.get_by_label("Title of the next round").fill("Validation round")
    section.get_by_role("button", name="Create the next round").click()
    page.wait_for_url(re.compile(rf".*/f/w/(?!{ws['id']}$)\d+$"))
    assert page.locator("h1").inner_text() == "Validation round"
    assert "Round 2 is ready in the lobby." in page.locator(".flashes").inner_text()
    page.wait_for_function(READY)  # the console's script has filled in its controls
    assert_accessible(page, "console of round 2")
    page.locator("#tab-closed").click()
    page.locator("section[aria-labelledby=next-round-h]").get_by_role("link").click()
    page.wait_for_url(re.compile(r".*/f/p/\d+$"))
    rows = page.locator("table.comparison tbody tr")
    assert rows.count() == 3
    assert rows.nth(0).get_attribute("data-status") == "kept"
    assert "Sustainable tourism" in rows.nth(0).inner_text()
    assert page.get_by_text("Kept: 1 · Added: 0 · Dropped: 2").is_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "process.png"), full_page=True)
    assert_accessible(page, "process page")
    page.goto("/f/")
    assert page.get_by_role("link", name="Smart Specialisation priority-setting workshop",
                            exact=True).is_visible()
    assert_accessible(page, "dashboard with processes")
    assert errors == []
    context.close()
