"""The JSON record round-trips: `edp workshop import` recreates a workshop whose results and
re-exported record equal the original's (apart from ids, the join code and the export time).

Also the `decide` event's richer payload (indicator objects, funders) over Socket.IO.
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest
import sqlalchemy as sa
from conftest import BIN, PASSWORD, TEMPLATE, World, make_app
from test_exports import (
    RICH_FUNDERS,
    RICH_INDICATORS,
    build_agri,
    build_method,
    build_rich,
    export,
)

from edp import record as rec
from edp import workshop as rules
from edp.extensions import db
from edp.models import (
    Comment,
    Event,
    Facilitator,
    Funding,
    Participant,
    Reaction,
    Statement,
    SwotItem,
    Workshop,
)
from edp.record_schema import first_error
from edp.replay import events_from_db, results_from_events, workshop_dict_for_replay


def approx_tree(x):
    """Floats compared with pytest.approx anywhere inside a payload."""
    if type(x) is float:
        return pytest.approx(x, rel=1e-12, abs=1e-12)
    if isinstance(x, dict):
        return {k: approx_tree(v) for k, v in x.items()}
    if isinstance(x, list):
        return [approx_tree(v) for v in x]
    return x


def build_rank(app, world) -> dict:
    """Ranking (Borda and Schulze) with a merge after the ballots and a hidden domain."""
    world.facilitator()
    info = world.workshop(template=TEMPLATE, method="rank")
    with app.app_context():
        ws = db.session.get(Workshop, info["id"])
        rules.set_phase(ws, "propose")
        people = [rules.join(ws.code, h)[0]
                  for h in ("government", "business", "business", "academia", "funders")]
        new = rules.propose(people[0], "Green hydrogen", "Electrolysers.", sdgs=[7, 13])
        db.session.commit()
        rules.set_phase(ws, "vote")
        ids = [d.id for d in rules.domains_of(ws, rules.VOTABLE)]
        for k, p in enumerate(people):
            rules.rank(p, ids[k % len(ids):] + ids[: k % len(ids)])
        rules.rank(people[0], list(reversed(ids)))  # changed
        db.session.commit()
        rules.moderate(ws, new.id, "merge", into=ids[0])
        rules.moderate(ws, ids[1], "hide")
        rules.set_phase(ws, "decide")
        rules.decide(ws, ids[0], 1, "Borda and Schulze agree.",
                     [{"name": "Patents", "baseline": "3"}], ["Horizon Europe"])
        db.session.commit()
    return info


BUILDERS = {
    "dot": lambda app, world: build_rich(app, world),
    "named": lambda app, world: build_rich(app, world, anonymity="named"),
    "score": build_agri,
    "rank": build_rank,
    "method": build_method,
}


def import_into(app, data: bytes, email: str = "fac@example.org") -> dict:
    with app.app_context():
        user = db.session.scalar(sa.select(Facilitator).where(Facilitator.email == email))
        ws = rec.import_record(rec.load(data), user)
        db.session.commit()
        return {"id": ws.id, "code": ws.code}


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_import_recreates_the_workshop_and_round_trips(app, world, kind):
    info = BUILDERS[kind](app, world)
    original = json.loads(export(app, info["id"], "json")[0])
    # Every export holds to the published schema (docs/record.schema.json, made from these models).
    assert first_error(original) is None, first_error(original)
    copy = import_into(app, export(app, info["id"], "json")[0])
    assert copy["id"] != info["id"] and copy["code"] != info["code"]
    again = json.loads(export(app, copy["id"], "json")[0])
    assert again["workshop"]["code"] == copy["code"]

    # Its results equal the original's (ids mapped), and so does the whole record.
    a, b = rec.canonical(original), rec.canonical(again)
    assert b["results"] == approx_tree(a["results"])
    assert b == approx_tree(a)
    assert len(again["events"]) == len(original["events"])
    assert [d["status"] for d in again["domains"]] == [d["status"] for d in original["domains"]]

    with app.app_context():
        ws = db.session.get(Workshop, copy["id"])
        # The imported event log replays to the imported workshop's live results.
        replayed = results_from_events(events_from_db(ws), workshop_dict_for_replay(ws))
        live = rules.compute_results(ws)
        for key in ("method", "ranking", "participation"):
            assert replayed[key] == approx_tree(live[key])
        # Participants are new rows with new tokens; names only where the record is named.
        people = db.session.scalars(
            sa.select(Participant).where(Participant.workshop_id == ws.id)).all()
        assert len(people) == len(original["participants"])
        assert all(p.token for p in people)
        named = original["workshop"]["settings"].get("anonymity") == "named"
        assert any(p.name for p in people) == named
        # The original is untouched.
        assert db.session.get(Workshop, info["id"]).code == info["code"]


def test_import_keeps_lineage_priorities_and_evidence(app, world):
    rich = build_rich(app, world)
    copy = import_into(app, export(app, rich["id"], "json")[0])
    again = json.loads(export(app, copy["id"], "json")[0])
    by_title = {d["title"]: d for d in again["domains"]}
    top = by_title["Smart irrigation"]
    assert [x["title"] for x in top["lineage"]] == ["Irrigation sensors", "Water reuse"]
    assert by_title["Water reuse"]["merged_into"] == by_title["Irrigation sensors"]["domain_id"]
    assert by_title["Tourism again"]["status"] == "hidden"
    first = again["priorities"][0]
    assert first["indicators"] == RICH_INDICATORS and first["funders"] == RICH_FUNDERS
    assert len(first["evidence"]["supporting"]) == 2 == len(first["evidence"]["opposing"])
    merge = next(e for e in again["events"] if e["kind"] == "moderate"
                 and e["payload"]["action"] == "merge" and e["payload"]["title"] == "Water reuse")
    assert merge["payload"]["into"] == by_title["Irrigation sensors"]["domain_id"]
    assert merge["payload"]["lineage"] == [
        {"domain_id": by_title["Water reuse"]["domain_id"],
         "into": by_title["Irrigation sensors"]["domain_id"]}]


def test_import_restores_the_vision_swot_and_funders_signals(app, world):
    built = build_method(app, world)
    original = json.loads(export(app, built["id"], "json")[0])
    copy = import_into(app, export(app, built["id"], "json")[0])

    def rows(workshop_id: int) -> dict:
        where = {m: m.workshop_id == workshop_id for m in (Statement, Reaction, SwotItem, Funding)}
        return {
            "statements": db.session.execute(
                sa.select(Statement.text, Statement.adopted, Statement.hidden)
                .where(where[Statement]).order_by(Statement.id)).all(),
            "reactions": sorted(db.session.execute(
                sa.select(Statement.text, Participant.helix, Reaction.reaction)
                .join(Statement, Statement.id == Reaction.statement_id)
                .join(Participant, Participant.id == Reaction.participant_id)
                .where(where[Reaction])).all()),
            "swot": db.session.execute(
                sa.select(SwotItem.quadrant, SwotItem.text, SwotItem.helix, SwotItem.hidden)
                .where(where[SwotItem]).order_by(SwotItem.id)).all(),
            "funding": sorted(db.session.execute(
                sa.select(Participant.helix, Funding.signal, Funding.instrument)
                .join(Participant, Participant.id == Funding.participant_id)
                .where(where[Funding])).all()),
        }

    with app.app_context():
        before, after = rows(built["id"]), rows(copy["id"])
        ws = db.session.get(Workshop, copy["id"])
        # The funding helix stays a funding helix: its participants may go on signalling.
        assert any(h.get("funder") for h in ws.helices)
    assert after == before
    assert len(after["statements"]) == 4 and len(after["reactions"]) == 20
    assert len(after["swot"]) == 6 and len(after["funding"]) == 4
    again = json.loads(export(app, copy["id"], "json")[0])
    assert [s["adopted"] for s in again["vision"]] == [s["adopted"] for s in original["vision"]]


def test_a_version_2_record_without_the_method_still_imports(app, world):
    rich = build_rich(app, world)
    old = json.loads(export(app, rich["id"], "json")[0])
    old["version"] = 2
    for key in ("vision", "reactions", "funding"):
        del old[key]
    for d in old["domains"]:
        del d["swot"], d["funding"]
    copy = import_into(app, json.dumps(old).encode())
    again = json.loads(export(app, copy["id"], "json")[0])
    assert again["version"] == 3 and again["vision"] == []


def test_a_version_1_record_imports_with_authors_from_the_events(app, world):
    rich = build_rich(app, world)
    old = json.loads(export(app, rich["id"], "json")[0])
    old["version"] = 1
    for c in old["comments"]:
        del c["participant"]
    copy = import_into(app, json.dumps(old).encode())
    with app.app_context():
        helices = db.session.execute(
            sa.select(Participant.helix).join(Comment, Comment.participant_id == Participant.id)
            .where(Comment.workshop_id == copy["id"]).order_by(Comment.id)).scalars().all()
    assert helices == [c["helix"] for c in old["comments"]]


@pytest.mark.parametrize("damage, message", [
    (lambda r: r.update(format="something-else"), "not an EDP Live record"),
    (lambda r: r.update(version=99), "version 99"),
    (lambda r: r["domains"][-1].update(merged_into=10**6), "merged into unknown"),
    (lambda r: r["comments"][0].update(participant="p999"), "unknown participant"),
    (lambda r: r["domains"][0].update(status="deleted"), "unknown status"),
    (lambda r: r["workshop"].update(method="lottery"), "method"),
    (lambda r: r["votes"].update(p1={"helix": "x", "points": {"abc": 1}}), "not a number"),
    (lambda r: r["domains"][0]["swot"][0].update(quadrant="hope"),
     r"domains\[0\]\.swot\[0\]\.quadrant"),
    (lambda r: r["reactions"]["p1"]["statements"].update({"999999": "agree"}),
     r"reactions\.p1\.statements\.999999"),
    (lambda r: r["reactions"]["p1"]["statements"].update({r["vision"][0]["statement_id"]: "love"}),
     r"reactions\.p1\.statements"),
    (lambda r: r["funding"][next(iter(r["funding"]))]["signals"].update({"999999": {
        "signal": "yes"}}), "unknown domain"),
    (lambda r: r["vision"].append(dict(r["vision"][0])), "appears twice"),
])
def test_a_bad_record_is_refused_and_leaves_nothing(app, world, damage, message):
    rich = build_method(app, world)
    record = json.loads(export(app, rich["id"], "json")[0])
    damage(record)
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count(Workshop.id)))
        user = db.session.scalar(sa.select(Facilitator))
        with pytest.raises(rec.RecordError, match=message):
            rec.import_record(rec.load(json.dumps(record).encode()), user)
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count(Workshop.id))) == before
    with pytest.raises(rec.RecordError):
        rec.load(b"not json")


def test_canonical_ignores_only_ids_codes_and_export_time(app, world):
    rich = build_rich(app, world)
    a = json.loads(export(app, rich["id"], "json")[0])
    b = json.loads(export(app, rich["id"], "json")[0])
    assert a["exported_at"] != b["exported_at"] or a == b
    assert rec.canonical(a) == rec.canonical(b)
    b["priorities"][0]["rationale"] += "!"
    assert rec.canonical(a) != rec.canonical(b)


# ---------------------------------------------------------------- the command line


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "edp"), *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_cli_import_then_export_round_trips(tmp_path):
    # The record comes from one installation ...
    source = make_app(f"sqlite:///{tmp_path / 'source.sqlite3'}")
    info = build_rich(source, World(source), anonymity="named")
    data = export(source, info["id"], "json")[0]
    with source.app_context():
        db.session.remove()
        db.engine.dispose()
    path = tmp_path / "record.json"
    path.write_bytes(data)

    # ... and is imported into another through the command line.
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDP_")}
    env.update({"EDP_DATABASE_URL": f"sqlite:///{tmp_path / 'target.sqlite3'}",
                "EDP_SECRET_KEY": "cli-test", "EDP_PASSWORD": PASSWORD,
                "EDP_PUBLIC_URL": "http://edp.example"})
    assert cli(env, "init-db").returncode == 0
    nobody = cli(env, "workshop", "import", str(path))
    assert nobody.returncode != 0 and "facilitator" in nobody.stderr
    assert cli(env, "facilitator", "add", "next@example.org").returncode == 0
    done = cli(env, "workshop", "import", str(path), "--facilitator", "next@example.org")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    created = json.loads(lines[0])
    assert set(created) == {"id", "code", "join_url", "screen_url"}
    assert created["join_url"] == f"http://edp.example/w/{created['code']}"

    out = tmp_path / "again.json"
    exported = cli(env, "workshop", "export", created["code"], "--format", "json",
                   "--output", str(out))
    assert exported.returncode == 0, exported.stderr
    original, again = json.loads(data), json.loads(out.read_text("utf-8"))
    assert again["workshop"]["code"] == created["code"] != original["workshop"]["code"]
    assert rec.canonical(again) == approx_tree(rec.canonical(original))

    # Without --facilitator the only facilitator owns it; each import gets its own code.
    second = cli(env, "workshop", "import", str(path))
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["code"] != created["code"]
    unknown = cli(env, "workshop", "import", str(path), "--facilitator", "nobody@example.org")
    assert unknown.returncode != 0 and "nobody@example.org" in unknown.stderr
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "edp-live-record", "version": 2, "workshop": {}}')
    refused = cli(env, "workshop", "import", str(broken))
    assert refused.returncode != 0 and "broken.json" in refused.stderr
    for fmt in ("docx", "xlsx", "md", "csv"):
        made = cli(env, "workshop", "export", created["code"], "--format", fmt,
                   "--output", str(tmp_path / f"again.{fmt}"))
        assert made.returncode == 0, made.stderr


# ---------------------------------------------------------------- decide over Socket.IO


def test_decide_event_takes_indicator_objects_and_funders(app, world):
    world.facilitator()
    info = world.workshop()
    console = world.console(info["id"])
    assert console.act("phase", phase="decide")["ok"]
    with app.app_context():
        a, b = [d.id for d in rules.domains_of(db.session.get(Workshop, info["id"]),
                                              rules.VOTABLE)][:2]
    ack = console.act("decide", domain_id=a, rank=1, rationale="Strong assets",
                      indicators=["Jobs", {"name": "Patents", "baseline": 4, "target": "10",
                                           "extra": "ignored"}],
                      funders=["ERDF", "Regional bank"])
    assert ack["ok"], ack
    assert ack["indicators"] == ["Jobs", {"name": "Patents", "baseline": "4", "target": "10"}]
    assert ack["funders"] == ["ERDF", "Regional bank"]
    # Plain strings still work, and leaving funders out keeps them.
    ack = console.act("decide", domain_id=a, rank=1, rationale="Strong assets",
                      indicators=["Jobs"])
    assert ack["ok"] and ack["funders"] == ["ERDF", "Regional bank"]
    assert console.act("decide", domain_id=b, rank=2, rationale="Ok")["ok"]

    for bad in (
        {"indicators": [{"baseline": "1"}]},  # no name
        {"indicators": [{"name": "x", "target": True}]},
        {"indicators": [{"name": "x" * 501}]},
        {"indicators": [{"name": "x", "baseline": "y" * 201}]},
        {"indicators": [["nested"]]},
        {"indicators": [7]},
        {"funders": "ERDF"},
        {"funders": [1]},
        {"funders": ["x" * 201]},
        {"funders": ["f"] * 21},
    ):
        ack = console.act("decide", domain_id=a, rank=1, rationale="r", **bad)
        assert not ack["ok"] and ack["error"]["code"] == "bad_payload", bad

    with app.app_context():
        decided = [e.payload for e in db.session.scalars(
            sa.select(Event).where(Event.workshop_id == info["id"], Event.kind == "decide")
            .order_by(Event.id))]
    assert decided[0]["funders"] == ["ERDF", "Regional bank"]
    assert decided[0]["indicators"][1] == {"name": "Patents", "baseline": "4", "target": "10"}
    assert decided[1]["before"]["indicators"] == decided[0]["indicators"]
