"""Personal invitations, as an organiser and invitees live them.

The organiser invites people from a spreadsheet (`edp workshop invite`, run in-process with
Flask's CLI runner, or the upload on the printable page); each invitee gets a personal link and
joins with the helix the organiser assigned, whatever the phone sends. A workshop by invitation
refuses walk-ins and wrong links with `invite_required`; an open one counts walk-ins apart on
the console. The phone page opened from a personal link is driven by a real Chromium.
"""
from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa
import test_browser
from conftest import TEMPLATE, Client, World, csrf_token, make_app

from edp import models
from edp import workshop as rules
from edp.extensions import db
from edp.invite_command import invite_command

chromium = test_browser.chromium  # the shared fixture: Debian's Chromium

HEADER = "name,organisation,helix,email\n"
ROWS = [
    ("Ana Pérez", "Gobierno Regional", "government", "ana@region.example"),
    ("Bruno Silva", "AgroTech SA", "Empresas", ""),  # the helix by its Spanish label
    ("Carla Ruiz", "Universidad del Valle", "academia and research", "carla@uv.example"),
]


def csv_text(rows=ROWS, header=HEADER) -> str:
    return header + "".join(",".join(f'"{v}"' for v in row) + "\n" for row in rows)


def template_with(tmp_path, join: str):
    """The first template with another `join` line."""
    text = re.sub(r"(?m)^join = .*\n", "", TEMPLATE.read_text(encoding="utf-8"))
    path = tmp_path / f"join-{join}.toml"
    path.write_text(f'join = "{join}"\n' + text, encoding="utf-8")
    return path


def invite(app, code: str, path, *extra: str):
    return app.test_cli_runner().invoke(invite_command, [code, "--file", str(path), *extra])


def lines(result) -> list[dict]:
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.strip()]


def count(app, model, **where) -> int:
    with app.app_context():
        query = sa.select(sa.func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return db.session.scalar(query)


def ok(ack):
    assert ack["ok"] is True, ack
    return ack


def err(ack, code: str):
    assert ack["ok"] is False, ack
    assert ack["error"]["code"] == code, ack
    assert ack["error"]["message"]
    return ack


def anonymous(app):
    from edp.extensions import socketio

    return Client(socketio.test_client(app))


@pytest.fixture
def invited_ws(world, tmp_path):
    """A workshop by invitation with three invitees; returns (workshop, invitees by name)."""
    world.facilitator()
    ws = world.workshop(join="invite")
    path = tmp_path / "invitees.csv"
    path.write_text(csv_text(), encoding="utf-8")
    found = {row["name"]: row for row in lines(invite(world.app, ws["code"], path))}
    return ws, found


# ---------------------------------------------------------------- the command line


def test_invite_prints_one_personal_link_per_invitee(world, tmp_path):
    world.facilitator()
    ws = world.workshop()
    path = tmp_path / "invitees.csv"
    # As a spreadsheet saves it: a byte-order mark, headers in any case, semicolons.
    path.write_bytes(("\ufeffNAME;Organisation;Helix;E-mail\n"
                      "Ana Pérez;Gobierno Regional;government;ana@region.example\n"
                      "Bruno Silva;AgroTech SA;Empresas;\n"
                      "\n"
                      "Dora Lima;Instituto Verde;Meio ambiente e sustentabilidade;\n").encode())
    out = lines(invite(world.app, ws["code"], path))
    assert [o["name"] for o in out] == ["Ana Pérez", "Bruno Silva", "Dora Lima"]
    assert [o["helix"] for o in out] == ["government", "business", "environment"]
    for o in out:
        assert set(o) == {"name", "organisation", "helix", "email", "token", "join_url"}
        assert o["join_url"] == f"http://edp.test/w/{ws['code']}?invite={o['token']}"
        assert len(o["token"]) >= 16
    assert out[0]["email"] == "ana@region.example" and out[1]["email"] == ""
    assert len({o["token"] for o in out}) == 3
    assert count(world.app, models.Invitation) == 3
    # The record says how many were invited, never who.
    with world.app.app_context():
        events = db.session.scalars(sa.select(models.Event).where(models.Event.kind == "invite")).all()
        assert [(e.actor_role, e.payload["added"]) for e in events] == [("facilitator", 3)]
        assert "Ana" not in json.dumps([e.payload for e in events])


def test_invite_writes_the_lines_to_a_file(world, tmp_path):
    world.facilitator()
    ws = world.workshop()
    path = tmp_path / "invitees.csv"
    path.write_text(csv_text(), encoding="utf-8")
    target = tmp_path / "links.jsonl"
    result = invite(world.app, ws["code"], path, "--output", str(target))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"code": ws["code"], "output": str(target),
                                         "invitees": 3, "added": 3}
    written = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [w["name"] for w in written] == [r[0] for r in ROWS]


def test_running_the_same_file_again_adds_no_one_and_keeps_the_links(world, tmp_path):
    world.facilitator()
    ws = world.workshop()
    path = tmp_path / "invitees.csv"
    path.write_text(csv_text(), encoding="utf-8")
    first = lines(invite(world.app, ws["code"], path))
    again = lines(invite(world.app, ws["code"], path))
    assert again == first
    assert count(world.app, models.Invitation) == 3
    # A corrected list: Ana's organisation fixed (matched by e-mail), Bruno twice, one newcomer.
    rows = [("Ana Pérez", "Gobierno Regional del Valle", "government", "ana@region.example"),
            *ROWS[1:], ROWS[1], ("Eva Torres", "ONG Agua", "civil_society", "")]
    path.write_text(csv_text(rows), encoding="utf-8")
    third = {o["name"]: o for o in lines(invite(world.app, ws["code"], path))}
    assert len(third) == 4 and count(world.app, models.Invitation) == 4
    for row in first:
        assert third[row["name"]]["token"] == row["token"]
    assert third["Ana Pérez"]["organisation"] == "Gobierno Regional del Valle"
    with world.app.app_context():
        added = [e.payload["added"] for e in db.session.scalars(
            sa.select(models.Event).where(models.Event.kind == "invite").order_by(models.Event.id))]
    assert added == [3, 1]  # the second run changed nothing and recorded nothing


@pytest.mark.parametrize("content, needles", [
    (HEADER + "Ana,Gob,government,\nBruno,AgroTech,pirates,\n",
     ["Line 3", "column helix", "pirates", "government, business"]),
    (HEADER + "Ana,Gob,government,\n,AgroTech,business,\n", ["Line 3", "column name"]),
    (HEADER + "Ana,Gob,government,not-an-address\n", ["Line 2", "column email"]),
    (HEADER + f"{'x' * 121},Gob,government,\n", ["Line 2", "column name", "120"]),
    ("name,helix\nAna,government\n", ["organisation"]),
    (HEADER, ["no invitees"]),
    (HEADER + "Ana,Gob,government,a@x.example\nAnn,Gob,business,A@x.example\n",
     ["Line 3", "column email", "line 2"]),
])
def test_a_bad_file_is_refused_whole_naming_the_line_and_column(world, tmp_path, content, needles):
    world.facilitator()
    ws = world.workshop()
    path = tmp_path / "invitees.csv"
    path.write_text(content, encoding="utf-8")
    result = invite(world.app, ws["code"], path)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in result.output
    assert count(world.app, models.Invitation) == 0  # nothing half-created
    assert count(world.app, models.Event, kind="invite") == 0


def test_a_file_that_is_not_utf8_or_a_workshop_that_does_not_exist(world, tmp_path):
    world.facilitator()
    ws = world.workshop()
    path = tmp_path / "invitees.csv"
    path.write_bytes((HEADER + "Peña,Gob,government,\n").encode("latin-1"))
    result = invite(world.app, ws["code"], path)
    assert result.exit_code != 0 and "UTF-8" in result.output
    path.write_text(csv_text(), encoding="utf-8")
    result = invite(world.app, "NOSUCH", path)
    assert result.exit_code != 0 and "no workshop with code NOSUCH" in result.output
    result = invite(world.app, ws["code"], tmp_path / "missing.csv")
    assert result.exit_code != 0 and "missing.csv" in result.output
    assert count(world.app, models.Invitation) == 0


def test_the_template_says_who_may_join(world, tmp_path):
    world.facilitator()
    with pytest.raises(ValueError, match="join must be one of"):
        rules.load_template(template_with(tmp_path, "everyone"))
    good = template_with(tmp_path, "invite")
    assert rules.load_template(good)["join"] == "invite"
    by_invitation = world.workshop(template=good)
    open_one = world.workshop()
    c1, c2 = world.console(by_invitation["id"]), world.console(open_one["id"])
    assert c1.act("facilitate")["state"]["workshop"]["join"] == "invite"
    assert c2.act("facilitate")["state"]["workshop"]["join"] == "open"


# ---------------------------------------------------------------- joining


def test_an_invitee_joins_with_the_helix_the_organiser_assigned(world, invited_ws):
    ws, found = invited_ws
    ana = found["Ana Pérez"]
    phone = anonymous(world.app)
    # The phone claims another helix, name and organisation: the invitation's stand.
    ack = ok(phone.emit("join", {"code": ws["code"], "invite": ana["token"], "helix": "business",
                                 "name": "Someone Else", "organisation": "Elsewhere"}))
    assert ack["state"]["me"]["helix"] == "government"
    assert ack["state"]["me"]["name"] == "Ana Pérez"
    assert ack["state"]["me"]["invited"] is True
    with world.app.app_context():
        p = db.session.get(models.Participant, ack["participant_id"])
        inv = db.session.scalar(sa.select(models.Invitation).where(
            models.Invitation.token == ana["token"]))
        assert (p.helix, p.name, p.organisation, p.invitation_id) == (
            "government", "Ana Pérez", "Gobierno Regional", inv.id)
        assert p.invited
        event = db.session.scalar(sa.select(models.Event).where(
            models.Event.kind == "join", models.Event.participant_id == p.id))
        assert event.payload == {"invited": True} and event.helix == "government"
    # A new phone, or a lost token: the same invitation is the same participant.
    again = ok(anonymous(world.app).emit("join", {"code": ws["code"], "invite": ana["token"],
                                                  "helix": "academia"}))
    assert again["participant_id"] == ack["participant_id"]
    assert again["token"] == ack["token"]
    assert count(world.app, models.Participant) == 1


def test_a_workshop_by_invitation_refuses_walk_ins_and_wrong_links(world, invited_ws):
    ws, found = invited_ws
    walk_in = anonymous(world.app)
    ack = err(walk_in.emit("join", {"code": ws["code"], "helix": "business"}), "invite_required")
    assert "invitation" in ack["error"]["message"]
    err(walk_in.emit("join", {"code": ws["code"], "helix": "business",
                              "invite": "not-a-real-token"}), "invite_required")
    # Another workshop's invitation does not open this one either.
    other = world.workshop(join="invite")
    with world.app.app_context():
        db.session.add(models.Invitation(workshop_id=other["id"], token="other-workshop-token",
                                         name="Zoe", helix="business"))
        db.session.commit()
    err(walk_in.emit("join", {"code": ws["code"], "invite": "other-workshop-token"}),
        "invite_required")
    assert count(world.app, models.Participant) == 0
    # An invitee gets in, and back in with the token from the ack (no invitation needed).
    bruno = ok(anonymous(world.app).emit("join", {"code": ws["code"],
                                                  "invite": found["Bruno Silva"]["token"]}))
    back = ok(anonymous(world.app).emit("join", {"code": ws["code"], "token": bruno["token"]}))
    assert back["participant_id"] == bruno["participant_id"]
    assert back["state"]["me"]["helix"] == "business"
    # A bad payload is still a bad payload.
    err(walk_in.emit("join", {"code": ws["code"], "invite": "x" * 65}), "bad_payload")


def test_wrong_invitations_drain_the_guessing_budget(tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'guess.sqlite3'}", JOIN_GUESS_BURST=5,
                   JOIN_GUESS_PER_SECOND=0.001)
    world = World(app)
    world.facilitator()
    ws = world.workshop(join="invite")
    with app.app_context():
        db.session.add(models.Invitation(workshop_id=ws["id"], token="the-right-token-123",
                                         name="Ana", helix="government"))
        db.session.commit()
    guesser = anonymous(app)
    codes = [guesser.emit("join", {"code": ws["code"], "invite": f"guess-{i}"})["error"]["code"]
             for i in range(12)]
    assert codes[0] == "invite_required"
    assert codes[-5:] == ["rate_limited"] * 5
    # Once limited, even the right invitation is refused the same way: nothing to learn.
    err(guesser.emit("join", {"code": ws["code"], "invite": "the-right-token-123"}),
        "rate_limited")
    ok(anonymous(app).emit("join", {"code": ws["code"], "invite": "the-right-token-123"}))


def test_an_open_workshop_counts_walk_ins_apart(world, tmp_path):
    world.facilitator()
    ws = world.workshop()
    path = tmp_path / "invitees.csv"
    path.write_text(csv_text(), encoding="utf-8")
    found = {o["name"]: o for o in lines(invite(world.app, ws["code"], path))}
    console = world.console(ws["id"])
    assert console.act("facilitate")["state"]["invited"] == {
        "invitations": 3, "joined": 0, "walk_ins": 0,
        "walk_ins_by_helix": dict.fromkeys(
            ["government", "business", "academia", "civil_society", "environment", "funders"], 0)}
    console.received()
    world.phone(ws["code"], helix="business")
    world.phone(ws["code"], helix="business")
    world.phone(ws["code"], helix="academia")
    ok(anonymous(world.app).emit("join", {"code": ws["code"],
                                          "invite": found["Carla Ruiz"]["token"]}))
    invited = console.act("facilitate")["state"]["invited"]
    assert (invited["invitations"], invited["joined"], invited["walk_ins"]) == (3, 1, 3)
    assert invited["walk_ins_by_helix"]["business"] == 2
    assert invited["walk_ins_by_helix"]["academia"] == 1  # Carla is invited, not a walk-in
    # The console hears it as people join; phones and the projector never get this part.
    counts = console.received("counts")
    assert counts and counts[-1]["invited"]["joined"] == 1
    phone = world.phone(ws["code"], helix="government")
    assert "invited" not in phone.joined["state"]
    assert all("invited" not in c for c in phone.received("counts"))


# ---------------------------------------------------------------- the printable page


def test_the_printable_sheet_is_the_facilitators_only(world, tmp_path):
    world.facilitator()
    world.facilitator("other@example.org")
    ws = world.workshop(join="invite")
    path = tmp_path / "invitees.csv"
    path.write_text(csv_text(), encoding="utf-8")
    out = lines(invite(world.app, ws["code"], path))
    http = world.login()
    page = http.get(f"/f/w/{ws['id']}/invitations")
    assert page.status_code == 200
    for row in out:
        assert row["name"] in page.text
        assert f"edp.test/w/{ws['code']}?invite={row['token']}" in page.text
    assert page.text.count('<img class="invitation-qr" src="data:image/svg+xml') == 3
    assert "Public administration" in page.text and "Business" in page.text
    assert "By invitation only" in page.text
    # A console links to it.
    assert f"/f/w/{ws['id']}/invitations" in http.get(f"/f/w/{ws['id']}").text
    anonymous_http = world.app.test_client()
    response = anonymous_http.get(f"/f/w/{ws['id']}/invitations")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert world.login("other@example.org").get(f"/f/w/{ws['id']}/invitations").status_code == 403


def test_invitees_added_by_upload_follow_the_same_rules(world):
    world.facilitator()
    ws = world.workshop()
    http = world.login()
    url = f"/f/w/{ws['id']}/invitations"

    def upload(content: bytes):
        from io import BytesIO

        token = csrf_token(http.get(url).text)
        return http.post(url, data={"csrf_token": token,
                                    "file": (BytesIO(content), "invitees.csv")},
                         content_type="multipart/form-data")

    bad = upload((HEADER + "Ana,Gob,government,\nBruno,AgroTech,pirates,\n").encode())
    assert bad.status_code == 400
    assert re.search(r"Line 3, column helix", bad.text)
    assert count(world.app, models.Invitation) == 0
    good = upload(("\ufeff" + csv_text()).encode())
    assert good.status_code == 302
    assert count(world.app, models.Invitation) == 3
    again = upload(csv_text().encode())
    assert again.status_code == 302 and count(world.app, models.Invitation) == 3
    assert "0 invitees added" in http.get(url).text
    # Without the CSRF token nothing happens.
    from io import BytesIO

    refused = http.post(url, data={"file": (BytesIO(b"name,organisation,helix\nX,Y,business\n"),
                                            "x.csv")}, content_type="multipart/form-data")
    assert refused.status_code == 400 and count(world.app, models.Invitation) == 3


def test_the_phone_page_greets_an_invitee_and_refuses_a_wrong_link(world, invited_ws):
    ws, found = invited_ws
    http = world.app.test_client()
    ana = found["Ana Pérez"]
    page = http.get(f"/w/{ws['code']}?invite={ana['token']}&lang=es")
    assert page.status_code == 200
    assert "Ana Pérez" in page.text and "Administración pública" in page.text
    assert 'id="invite-form"' in page.text
    assert f"lang=en&amp;invite={ana['token']}" in page.text  # the language picker keeps it
    plain = http.get(f"/w/{ws['code']}?lang=en")
    assert "This workshop is by invitation" in plain.text and 'id="invite-form"' not in plain.text
    wrong = http.get(f"/w/{ws['code']}?invite=nope&lang=en")
    assert wrong.status_code == 200 and "This invitation link is not valid" in wrong.text
    assert "Ana Pérez" not in wrong.text


# ---------------------------------------------------------------- a real phone


@pytest.mark.browser
@pytest.mark.server
def test_an_invitee_joins_from_the_personal_link_on_a_real_phone(live_server, chromium, tmp_path):
    from test_browser import (
        ARTIFACTS,
        READY,
        assert_accessible,
        collect_errors,
        log_in,
        phone_context,
    )

    ARTIFACTS.mkdir(exist_ok=True)

    ws = live_server.seed(template=template_with(tmp_path, "invite"))
    path = tmp_path / "invitees.csv"
    path.write_text(csv_text(), encoding="utf-8")
    out = {json.loads(line)["name"]: json.loads(line)
           for line in live_server.cli("workshop", "invite", ws["code"], "--file", str(path))
           .splitlines() if line.strip()}
    live_server.start()
    errors: list[str] = []
    ctx = phone_context(chromium, live_server.url)
    try:
        page = ctx.new_page()
        collect_errors(errors, page, "invitee")
        # Without a personal link: the page says the workshop is by invitation, and no form.
        page.goto(f"/w/{ws['code']}")
        page.wait_for_function(READY)
        assert page.get_by_text("This workshop is by invitation").is_visible()
        assert page.get_by_role("radio").count() == 0 or not page.locator("#join-form").is_visible()
        assert_accessible(page, "phone without an invitation")
        # From Bruno's personal link: his name and helix, one button, no helix to pick.
        url = out["Bruno Silva"]["join_url"]
        page.goto(url[url.index("/w/"):])
        page.wait_for_function(READY)
        greeting = page.locator("#invite-form")
        assert "Bruno Silva" in greeting.inner_text() and "Business" in greeting.inner_text()
        assert not page.locator("#join-form").is_visible()
        assert_accessible(page, "invitee's greeting")
        page.screenshot(path=str(ARTIFACTS / "invitation-phone-greeting.png"), full_page=True)
        page.get_by_role("button", name="Join", exact=True).click()
        page.wait_for_selector("#view-join", state="hidden")
        assert "Business" in page.locator("#me-label").inner_text()
        assert "Bruno Silva" in page.locator("#me-label").inner_text()
        assert_accessible(page, "invitee in the lobby")
        page.screenshot(path=str(ARTIFACTS / "invitation-phone-joined.png"), full_page=True)
        # Reloading the link comes back as the same participant (nothing to tap).
        page.reload()
        page.wait_for_function(READY)
        page.wait_for_selector("#view-lobby", state="visible")
    finally:
        ctx.close()
    # The facilitator's printable sheet, on screen and as printed on A4.
    console = chromium.new_context(viewport={"width": 1366, "height": 768}, base_url=live_server.url)
    try:
        page = console.new_page()
        collect_errors(errors, page, "invitations sheet")
        log_in(page)
        # The console: the invitees who joined and the walk-ins, apart.
        page.goto(f"/f/w/{ws['id']}")
        page.wait_for_function(READY)
        summary = page.locator("#invited-summary")
        summary.wait_for(state="visible")
        assert summary.inner_text() == "1 of 3 invited joined · 0 walk-ins"
        assert page.locator("#join-mode").inner_text() == "By invitation only"
        page.screenshot(path=str(ARTIFACTS / "invitations-console.png"))
        page.get_by_role("link", name="Personal invitations").click()
        page.wait_for_url(f"**/f/w/{ws['id']}/invitations")
        assert page.locator("img.invitation-qr").count() == 3
        assert_accessible(page, "invitations sheet")
        page.screenshot(path=str(ARTIFACTS / "invitations-sheet.png"), full_page=True)
        page.emulate_media(media="print")
        assert not page.locator("form").first.is_visible()  # the upload form is not printed
        page.pdf(path=str(ARTIFACTS / "invitations-sheet.pdf"), format="A4")
    finally:
        console.close()
    assert errors == []
    with_db = sa.create_engine(live_server.db_url)
    try:
        with with_db.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT helix, name, invitation_id IS NOT NULL FROM participant")).all()
    finally:
        with_db.dispose()
    assert rows == [("business", "Bruno Silva", True)]
