"""The room's server side, in process on SQLite and PostgreSQL: hiding and restoring comments,
merges that keep the per-domain cap and carry comments along, who has voted, near-duplicate
hints, what a proposer learns about their proposals, translated template labels, errors before
joining in the phone's language, and a workshop's region and language at creation."""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from conftest import TEMPLATE
from test_sockets import Room, err, last, ok

from edp import exports, models
from edp import workshop as rules
from edp.extensions import db


@pytest.fixture
def room(world):
    world.facilitator()
    return lambda phase=None, **kw: Room(world, phase, **kw)


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    from werkzeug.security import generate_password_hash

    monkeypatch.setattr(models, "generate_password_hash",
                        lambda pw: generate_password_hash(pw, method="pbkdf2:sha256:1000"))


def export_json(app, workshop_id: int) -> dict:
    with app.app_context():
        data = exports.build(db.session.get(models.Workshop, workshop_id), "json")[0]
        db.session.remove()
    return json.loads(data)


def export_md(app, workshop_id: int) -> str:
    with app.app_context():
        data = exports.build(db.session.get(models.Workshop, workshop_id), "md")[0]
        db.session.remove()
    return data.decode()


# ---------------------------------------------------------------- comments: hide and restore


def test_hidden_comment_leaves_the_room_and_comes_back(app, room):
    r = room("discuss")
    phone, projector, other = r.phone(), r.projector(), r.phone("academia")
    a = r.seeds[0]
    cid = ok(phone.emit("comment", {"domain_id": a, "stance": "concern",
                                    "text": "Offensive remark"}))["comment_id"]
    keep = ok(other.emit("comment", {"domain_id": a, "stance": "support",
                                     "text": "Strong cluster"}))["comment_id"]
    for c in (phone, projector, other, r.console):
        c.received()

    ack = ok(r.console.act("moderate", comment_id=cid, action="hide"))
    assert ack["hidden"] is True and ack["comment_id"] == cid
    # Every phone and the projector are told to drop it at once.
    for c in (phone, projector, other):
        assert last(c, "comment_hidden") == {"comment_id": cid, "domain_id": a}
    # A new joiner never sees it; its domain counts one comment less.
    late = r.phone("government")
    state = late.joined["state"]
    assert [c["comment_id"] for c in state["comments"]] == [keep]
    assert {d["domain_id"]: d["comments"] for d in state["domains"]}[a] == 1
    assert cid in state["hidden_comments"]
    # The facilitator still reads it, marked hidden.
    fac = last(r.console, "state")
    marked = {c["comment_id"]: c["hidden"] for c in fac["comments"]}
    assert marked == {cid: True, keep: False}
    # The JSON record keeps it, marked; the report's evidence leaves it out.
    record = export_json(app, r.id)
    assert {c["comment_id"]: c.get("hidden", False) for c in record["comments"]} == {
        cid: True, keep: False}
    assert "Offensive remark" not in export_md(app, r.id)
    with app.app_context():
        moderated = db.session.scalars(sa.select(models.Event.payload).where(
            models.Event.workshop_id == r.id, models.Event.kind == "moderate_comment")).all()
        db.session.remove()
    assert moderated == [{"comment_id": cid, "domain_id": a, "action": "hide"}]

    for c in (phone, projector):
        c.received()
    ok(r.console.act("moderate", comment_id=cid, action="restore"))
    for c in (phone, projector):
        back = last(c, "comment")
        assert back["comment_id"] == cid and back["text"] == "Offensive remark"
    state = r.phone("funders").joined["state"]
    assert {c["comment_id"] for c in state["comments"]} == {cid, keep}
    assert state["hidden_comments"] == []


def test_comment_moderation_refusals(app, room):
    r = room("discuss")
    phone = r.phone()
    cid = ok(phone.emit("comment", {"domain_id": r.seeds[0], "stance": "question",
                                    "text": "How?"}))["comment_id"]
    err(r.console.act("moderate", comment_id=cid, action="merge"), "bad_payload")
    err(r.console.act("moderate", comment_id=cid, domain_id=r.seeds[0], action="hide"),
        "bad_payload")
    err(r.console.act("moderate", action="hide"), "bad_payload")
    err(r.console.act("moderate", domain_id=r.seeds[0], action="restore"), "bad_payload")
    err(r.console.act("moderate", comment_id=999_999, action="hide"), "not_found")
    err(phone.emit("moderate", {"workshop_id": r.id, "comment_id": cid, "action": "hide"}),
        "forbidden")
    other = Room(r.world, "discuss", email=r.world.facilitator("other@example.org"))
    err(other.console.act("moderate", comment_id=cid, action="hide"), "not_found")


# ---------------------------------------------------------------- merges


def test_merge_keeps_the_cap_and_returns_the_rest_to_the_budget(app, room):
    r = room("vote")  # budget 10, cap 5
    a, b = r.seeds[0], r.seeds[1]
    phone = r.phone()
    ok(phone.emit("vote", {"domain_id": a, "points": 5}))
    assert ok(phone.emit("vote", {"domain_id": b, "points": 4}))["remaining"] == 1
    phone.received()
    ok(r.console.act("moderate", domain_id=b, action="merge", into=a))
    me = last(phone, "me")
    assert me["votes"] == {str(a): 5} and me["remaining"] == 5
    # The budget is really free again: 5 more points go on another domain.
    assert ok(phone.emit("vote", {"domain_id": r.seeds[2], "points": 5}))["remaining"] == 0
    with app.app_context():
        ev = db.session.scalars(sa.select(models.Event).where(
            models.Event.workshop_id == r.id, models.Event.kind == "vote",
            models.Event.actor_role == "system").order_by(models.Event.id)).all()
        assert [(e.payload["domain_id"], e.payload["points"], e.payload.get("returned"))
                for e in ev] == [(b, 0, None), (a, 5, 4)]
        db.session.remove()
    results = last(r.console, "results")
    assert {x["domain_id"]: x["score"] for x in results["ranking"]}[a] == 5


def test_comments_on_a_merged_domain_become_the_survivors_evidence(app, room):
    r = room("discuss")
    a = r.seeds[0]
    phone = r.phone()
    dup = ok(phone.emit("propose", {"title": "Green hydrogen valleys"}))["domain_id"]
    ok(phone.emit("comment", {"domain_id": dup, "stance": "evidence",
                              "text": "Two electrolyser plants already run here"}))
    ok(r.console.act("moderate", domain_id=dup, action="merge", into=a))
    r.phase("decide")
    ok(r.console.act("decide", domain_id=a, rank=1, rationale="Strong base"))
    record = export_json(app, r.id)
    evidence = record["priorities"][0]["evidence"]
    assert len(evidence["by_stance"]["evidence"]) == 1
    assert "Two electrolyser plants already run here" in export_md(app, r.id)


# ---------------------------------------------------------------- who has voted


def test_projector_and_console_see_who_has_voted_by_helix(app, room):
    r = room("vote")
    projector = r.projector()
    phones = [r.phone("business"), r.phone("business"), r.phone("academia")]
    for c in (projector, *phones):
        c.received()
    ok(phones[0].emit("vote", {"domain_id": r.seeds[0], "points": 2}))
    ok(phones[2].emit("vote", {"domain_id": r.seeds[1], "points": 1}))
    counts = last(projector, "counts")
    assert counts["total"] == 3 and counts["voted_total"] == 2
    assert counts["voted"]["business"] == 1 and counts["voted"]["academia"] == 1
    assert last(r.console, "counts")["voted_total"] == 2
    # Phones are not sent the running tally with every ballot (3,000 of them would be).
    assert phones[1].received("counts") == []
    # A projector opened now starts from the same figures.
    assert r.projector().emit("watch", {"code": r.code})["state"]["voted"]["business"] == 1


# ---------------------------------------------------------------- the facilitator's queue


def test_near_duplicate_hints_and_proposer_helix(app, room):
    r = room("propose")
    phone = r.phone("academia")
    one = ok(phone.emit("propose", {"title": "Agricultura de precisión"}))["domain_id"]
    two = ok(r.phone().emit("propose", {"title": "Agricultura de precision y riego"}))[
        "domain_id"]
    far = ok(phone.emit("propose", {"title": "Quantum computing chips"}))["domain_id"]
    state = last(r.console, "state")
    domains = {d["domain_id"]: d for d in state["domains"]}
    assert [s["domain_id"] for s in domains[one]["similar"]] == [two]
    assert domains[two]["similar"][0]["domain_id"] == one
    assert domains[two]["similar"][0]["score"] >= rules.SIMILAR_AT
    assert domains[far]["similar"] == []
    assert domains[one]["helix"] == "academia" and domains[r.seeds[0]]["helix"] is None
    assert domains[one]["created_at"].endswith("Z")
    # Phones get no hints.
    assert "similar" not in last(phone, "state")["domains"][0]


def test_proposer_learns_that_the_proposal_was_merged_or_hidden(app, room):
    r = room("propose")
    phone = r.phone()
    a = r.seeds[0]
    mine = ok(phone.emit("propose", {"title": "Solar farms"}))["domain_id"]
    other = ok(phone.emit("propose", {"title": "Wind farms"}))["domain_id"]
    phone.received()
    ok(r.console.act("moderate", domain_id=mine, action="merge", into=a))
    with app.app_context():
        title_a = db.session.get(models.Domain, a).title
        db.session.remove()
    me = last(phone, "me")
    assert {p["domain_id"]: (p["status"], p["merged_into_title"]) for p in me["proposals"]} == {
        mine: ("merged", title_a), other: ("approved", None)}
    ok(r.console.act("moderate", domain_id=other, action="hide"))
    statuses = {p["domain_id"]: p["status"] for p in last(phone, "me")["proposals"]}
    assert statuses[other] == "hidden"
    # A rejoin finds the same in the join ack.
    again = r.world.phone(r.code, token=phone.token)
    assert {p["status"] for p in again.joined["state"]["me"]["proposals"]} == {"merged", "hidden"}


# ---------------------------------------------------------------- labels and languages


def test_template_labels_per_language(app, world, tmp_path):
    world.facilitator()
    path = tmp_path / "t.toml"
    path.write_text('''
title = "Taller"
language = "es"
[[helices]]
key = "gov"
label = {en = "Government", es = "Gobierno", pt = "Governo"}
[[helices]]
key = "biz"
label = "Empresas"
labels = {en = "Business"}
[[criteria]]
key = "assets"
label = "Activos"
labels = {pt = "Ativos"}
''')
    with app.app_context():
        data = rules.load_template(path)
        user = db.session.scalar(sa.select(models.Facilitator))
        ws = rules.create_workshop(data, user)
        db.session.commit()
        assert ws.helices[0] == {"key": "gov", "label": "Gobierno", "labels": {
            "en": "Government", "es": "Gobierno", "pt": "Governo"}}
        assert ws.helices[1]["label"] == "Empresas"
        assert rules.label_in(ws.helices[1], "en") == "Business"
        assert rules.label_in(ws.helices[1], "pt") == "Empresas"  # no Portuguese given
        assert rules.label_in(ws.criteria[0], "pt") == "Ativos"
        # The same template run in English: the contract's plain label is the English one.
        en = rules.create_workshop(data, user, language="en")
        assert [h["label"] for h in en.helices] == ["Government", "Business"]
        code = ws.code
        db.session.commit()
    api = app.test_client().get(f"/api/workshops/{code}").get_json()
    assert [h["label"] for h in api["helices"]] == ["Gobierno", "Empresas"]
    bad = tmp_path / "bad.toml"
    bad.write_text('title = "x"\n[[helices]]\nkey = "a"\nlabel = {es = ""}\n')
    with pytest.raises(ValueError, match="helices"):
        rules.load_template(bad)


@pytest.mark.parametrize("language, words", [
    ("pt", "grupos"), ("es", "grupos"), ("en", "groups")])
def test_errors_before_joining_speak_the_phones_language(app, room, language, words):
    r = room()
    phone = r.world.phone()
    ack = err(phone.emit("join", {"code": r.code, "helix": "nobody", "language": language}),
              "bad_helix")
    assert words in ack["error"]["message"]


def test_create_with_region_and_language(app, world):
    import os
    import subprocess

    from conftest import BIN

    world.facilitator()
    env = {**os.environ, "EDP_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "EDP_SECRET_KEY": "test"}
    base = [str(BIN / "edp"), "workshop", "create", "--template", str(TEMPLATE),
            "--facilitator", "fac@example.org"]
    out = subprocess.run([*base, "--region", "Región Norte", "--language", "es"], check=False, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    code = json.loads(out.stdout.strip().splitlines()[-1])["code"]
    with app.app_context():
        ws = rules.workshop_by_code(code)
        assert (ws.region, ws.language) == ("Región Norte", "es")
        assert ws.helices[0]["label"] == "Administración pública"
        md = exports.build(ws, "md")[0].decode()
        db.session.remove()
    assert "Región Norte" in md and "Demo Region" not in md
    bad = subprocess.run([*base, "--language", "fr"], check=False, env=env,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "fr" in bad.stderr


def test_dashboard_creates_with_region_and_language(app, world):
    from conftest import csrf_token

    world.facilitator()
    http = world.login()
    page = http.get("/f/")
    assert 'name="region"' in page.text and 'name="language"' in page.text
    response = http.post("/f/", data={
        "csrf_token": csrf_token(page.text), "template": TEMPLATE.name, "title": "",
        "region": "Alentejo", "language": "pt", "method": ""})
    assert response.status_code == 302
    with app.app_context():
        ws = db.session.scalars(sa.select(models.Workshop).order_by(models.Workshop.id.desc())
                                ).first()
        assert (ws.region, ws.language) == ("Alentejo", "pt")
        db.session.remove()
