"""Attacks on the app: facilitator powers from the wrong seat, who-voted-what leaks, CSRF,
cross-site Socket.IO, cookies, headers, join-code enumeration, login guessing, stored markup.

In process on SQLite (the rules are engine-independent); the Origin check also against a real
server, whose websockets are what a browser would open.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
import sqlalchemy as sa
from conftest import (
    PASSWORD,
    ROOT,
    Client,
    LiveServer,
    World,
    csrf_token,
    make_app,
)
from test_sockets import Room, anonymous, err, ok, snapshot

from edp import models
from edp import workshop as rules
from edp.extensions import db, socketio

PARTICIPANT_EVENTS = {"join", "propose", "comment", "vote", "score", "rank", "watch"}
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def app(sqlite_url):
    """Overrides conftest's: these tests run on SQLite only (nothing here is engine-specific)."""
    app = make_app(sqlite_url)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    from werkzeug.security import generate_password_hash

    monkeypatch.setattr(models, "generate_password_hash",
                        lambda pw: generate_password_hash(pw, method="pbkdf2:sha256:1000"))


@pytest.fixture
def room(world):
    world.facilitator()
    return lambda phase=None, **kw: Room(world, phase, **kw)


# ---------------------------------------------------------------- facilitator powers


def facilitator_payloads(r: Room) -> dict[str, dict]:
    """A valid payload for every facilitator event (the owner's own acks prove them valid)."""
    wid, seed = r.id, r.seeds
    return {
        "facilitate": {"workshop_id": wid},
        "phase": {"workshop_id": wid, "phase": "closed"},
        "configure": {"workshop_id": wid, "method": "rank"},
        "moderate": {"workshop_id": wid, "domain_id": seed[1], "action": "merge", "into": seed[0]},
        "decide": {"workshop_id": wid, "domain_id": seed[0], "rank": 1, "rationale": "Ours"},
        "undecide": {"workshop_id": wid, "domain_id": seed[0]},
        "reveal": {"workshop_id": wid, "shown": True},
    }


def registered_events() -> set[str]:
    return {name for name in socketio.server.handlers["/"] if name != "*"}


@pytest.mark.parametrize("phase", ["lobby", "decide"])
def test_every_facilitator_event_is_refused_to_every_other_seat(app, world, room, phase):
    r = room(phase)
    payloads = facilitator_payloads(r)
    others = registered_events() - PARTICIPANT_EVENTS - set(payloads)
    world.facilitator("other@example.org")
    Room(world, email="other@example.org")  # the intruder owns a workshop of their own
    intruder = Client(socketio.test_client(app, flask_test_client=world.login("other@example.org")))
    phone, projector = r.phone(), r.projector()
    # A participant whose phone also joined as the projector, and a logged-out browser.
    both = r.phone("academia")
    ok(both.emit("watch", {"code": r.code}))
    seats = {"participant": phone, "projector": projector, "participant+projector": both,
             "anonymous": anonymous(app), "another facilitator": intruder}
    before = snapshot(app)
    for seat, client in seats.items():
        for name, payload in payloads.items():
            ack = err(client.emit(name, payload), "forbidden")
            assert ack, (seat, name)
        # Events added later are refused as well (whatever their payload needs).
        for name in others:
            ack = client.emit(name, {"workshop_id": r.id})
            assert ack["ok"] is False and ack["error"]["code"] in ("forbidden", "bad_payload"), (
                seat, name, ack)
    assert snapshot(app) == before
    # Nobody above was let into the facilitator's room: a change reaches none of them.
    for client in seats.values():
        client.received()
    ok(r.console.act("reveal", shown=True))  # a change: the facilitator's room gets its state
    for seat, client in seats.items():
        assert not [s for s in client.received("state") if s.get("facilitator")], seat
    # The owner may do every one of them (so the refusals above were about the seat).
    if phase == "decide":
        for name in ("facilitate", "decide", "undecide", "moderate", "reveal", "phase"):
            ok(r.console.emit(name, payloads[name]))
    else:
        for name in ("facilitate", "configure", "moderate", "reveal", "phase"):
            ok(r.console.emit(name, payloads[name]))


def test_participant_session_cannot_be_upgraded_by_sending_workshop_ids(app, room):
    """A participant of workshop A cannot act on A's console by naming A's id in any field."""
    r = room("vote")
    phone = r.phone()
    before = snapshot(app)
    for payload in ({"workshop_id": r.id, "facilitator": True},
                    {"workshop_id": r.id, "user_id": 1, "_user_id": "1"},
                    {"workshop_id": str(r.id)}, {"workshop_id": [r.id]}):
        ack = phone.emit("reveal", {**payload, "shown": True})
        assert ack["ok"] is False and ack["error"]["code"] in ("forbidden", "bad_payload")
    assert snapshot(app) == before


# ---------------------------------------------------------------- who voted what


# Keys that would carry a person (aggregates such as counts of ballots are fine).
SECRET_KEYS = {"participant_id", "token", "organisation", "email", "me", "voter"}


def _keys(obj) -> set:
    if isinstance(obj, dict):
        return set(obj) | set().union(*(_keys(v) for v in obj.values()))
    if isinstance(obj, list):
        return set().union(*(_keys(v) for v in obj)) if obj else set()
    return set()


@pytest.mark.parametrize("method", ["dot", "score", "rank"])
def test_participants_and_projector_never_receive_who_voted_what(app, room, method):
    r = room("propose", method=method)
    projector = r.projector()
    names = [f"Zq{i}name" for i in range(3)]
    people = [r.phone(h, name=names[i], organisation=f"Zq{i}org")
              for i, h in enumerate(["business", "academia", "government"])]
    own = ok(people[0].emit("propose", {"title": "Mine"}))["domain_id"]
    ok(people[1].emit("comment", {"domain_id": own, "stance": "concern", "text": "Hm"}))
    r.phase("vote")
    for i, p in enumerate(people):
        if method == "dot":
            ok(p.emit("vote", {"domain_id": own, "points": 1 + i}))
            ok(p.emit("vote", {"domain_id": r.seeds[i], "points": 2}))
        elif method == "score":
            ok(p.emit("score", {"domain_id": own, "criterion": "assets", "value": 1 + i}))
        else:
            ok(p.emit("rank", {"order": [own, r.seeds[i]]}))
    ok(r.console.act("reveal", shown=True))
    ok(r.console.act("moderate", domain_id=own, action="hide"))  # ballots move: `me` events
    ok(r.console.act("moderate", domain_id=own, action="approve"))
    for phase in ("results", "decide", "closed"):
        r.phase(phase)
    again = anonymous(app)
    rejoin = ok(again.emit("join", {"code": r.code, "token": people[2].token}))
    tokens = [p.token for p in people]
    for who, viewer in [("projector", projector), *[(f"phone {i}", p) for i, p in
                                                    enumerate(people)], ("rejoined", again)]:
        got = viewer.sio.get_received()
        mine = people.index(viewer) if viewer in people else (2 if viewer is again else None)
        broadcast = [m["args"][0] for m in got if m["name"] != "me"]
        text = json.dumps(broadcast)
        for secret in tokens + names:
            assert secret not in text, (who, secret)
        assert not _keys(broadcast) & SECRET_KEYS, who
        # Personal ballots (`me`) only ever go to their owner.
        for m in got:
            if m["name"] == "me":
                assert mine is not None and m["args"][0]["participant_id"] == \
                    people[mine].participant_id, who
        assert viewer is again or any(m["name"] == "results" for m in got), who
    assert rejoin["state"]["me"]["participant_id"] == people[2].participant_id
    assert people[0].token not in json.dumps(rejoin)


# ---------------------------------------------------------------- CSRF on every form


def _post_forms(html: str) -> list[str]:
    return re.findall(r"<form\b[^>]*method=\"post\"[^>]*>.*?</form>", html, re.DOTALL | re.IGNORECASE)


def test_every_post_form_carries_a_csrf_token(app, world):
    world.facilitator()
    ws = world.workshop()
    http = world.login()
    pages = {"/login": app.test_client(), "/f/": http, f"/f/w/{ws['id']}": http}
    seen = 0
    for path, client in pages.items():
        r = client.get(path)
        assert r.status_code == 200, path
        for form in _post_forms(r.text):
            seen += 1
            assert re.search(r'name="csrf_token"[^>]*value="[^"]+"', form), (path, form[:200])
    assert seen >= 3  # log-in, log-out, create a workshop


def test_login_logout_and_create_refuse_a_missing_or_forged_token(app, world):
    world.facilitator()
    http = app.test_client()
    page = http.get("/login")
    for token in (None, "forged", csrf_token(page.text) + "x"):
        data = {"email": "fac@example.org", "password": PASSWORD}
        if token:
            data["csrf_token"] = token
        assert http.post("/login", data=data).status_code == 400
        assert http.get("/f/").status_code == 302  # still logged out

    http = world.login()
    with app.app_context():
        n = db.session.scalar(sa.select(sa.func.count()).select_from(models.Workshop))
    template = min((ROOT / "workshops").glob("*.toml")).name
    for token in (None, "forged"):
        data = {"template": template, "title": "Planted", "method": ""}
        if token:
            data["csrf_token"] = token
        assert http.post("/f/", data=data).status_code == 400
        logout = {"csrf_token": token} if token else {}
        assert http.post("/logout", data=logout).status_code == 400
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(models.Workshop)) == n
    assert http.get("/f/").status_code == 200  # the forged log-out did not log out
    # With the page's own token both work.
    token = csrf_token(http.get("/f/").text)
    r = http.post("/f/", data={"template": template, "title": "Real", "method": "",
                               "csrf_token": token})
    assert r.status_code == 302
    assert http.post("/logout", data={"csrf_token": token}).status_code == 302
    assert http.get("/f/").status_code == 302


# ---------------------------------------------------------------- Socket.IO Origin


def _handshake(client, origin: str | None):
    headers = {"Origin": origin} if origin else {}
    return client.get("/socket.io/?EIO=4&transport=polling", headers=headers)


def test_origin_is_the_public_url_when_one_is_set(sqlite_url):
    app = make_app(sqlite_url, PUBLIC_URL="https://edp.example.org/")
    http = app.test_client()
    assert _handshake(http, None).status_code == 200  # not a browser: no Origin header
    assert _handshake(http, "https://edp.example.org").status_code == 200
    assert _handshake(http, "https://EDP.example.org:443").status_code == 200
    # (The server's own names on its own port are accepted too: tests/test_venue.py.)
    for foreign in ("http://edp.example.org", "https://evil.example", "http://localhost:8080",
                    "https://edp.example.org.evil.example", "null", "https://edp.example.org:8443"):
        r = _handshake(http, foreign)
        assert r.status_code == 400, foreign


def test_origin_is_the_same_origin_without_a_public_url(sqlite_url):
    app = make_app(sqlite_url, PUBLIC_URL="")
    http = app.test_client()
    assert _handshake(http, None).status_code == 200
    assert _handshake(http, "http://localhost").status_code == 200  # the test client's host
    for foreign in ("http://evil.example", "https://localhost", "http://localhost:8080", "null"):
        assert _handshake(http, foreign).status_code == 400, foreign
    # Extra origins can be allowed by name.
    extra = make_app(sqlite_url, PUBLIC_URL="http://a.example", ALLOWED_ORIGINS="http://b.example")
    assert _handshake(extra.test_client(), "http://b.example").status_code == 200
    assert _handshake(extra.test_client(), "http://a.example").status_code == 200
    assert _handshake(extra.test_client(), "http://c.example").status_code == 400


@pytest.mark.server
def test_a_websocket_from_a_foreign_origin_is_refused_by_the_real_server(tmp_path):
    import socketio as sio_client
    import websocket

    srv = LiveServer(f"sqlite:///{tmp_path / 'origin.sqlite3'}", log_dir=tmp_path)
    info = srv.seed()
    srv.start()
    try:
        ws_url = srv.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"

        def opens_a_session(**options) -> bool:
            """True when Engine.IO opens a session (its first frame is the open packet).
            A refusal shows as a bad status or as a socket closed without that packet."""
            try:
                conn = websocket.create_connection(ws_url, timeout=5, **options)
            except websocket.WebSocketBadStatusException:
                return False
            try:
                return conn.recv().startswith("0{")
            except websocket.WebSocketConnectionClosedException:
                return False
            finally:
                conn.close()

        assert not opens_a_session(origin="http://evil.example")
        # localhost on another port is another program's page (its own port is accepted).
        assert not opens_a_session(origin=f"http://localhost:{srv.port + 1}")
        assert opens_a_session(origin=srv.url)  # the same (public) origin
        assert opens_a_session(suppress_origin=True)  # not a browser: no Origin header
        # The same through python-socketio: refused, and allowed.
        evil = sio_client.Client(reconnection=False,
                                 websocket_extra_options={"origin": "http://evil.example"})
        # (the client library reports the closed socket as an empty packet)
        with pytest.raises((sio_client.exceptions.ConnectionError, ValueError)):
            evil.connect(srv.url, transports=["websocket"], wait_timeout=5)
        good = sio_client.Client(reconnection=False)
        good.connect(srv.url, transports=["websocket"], wait_timeout=5)
        assert good.call("watch", {"code": info["code"]}, timeout=5)["ok"] is True
        good.disconnect()
    finally:
        srv.stop()


# ---------------------------------------------------------------- cookies and headers


def test_secure_cookies_follow_edp_secure_cookies():
    code = ("from config import Config as C; print(C.SESSION_COOKIE_SECURE, "
            "C.REMEMBER_COOKIE_SECURE, C.SESSION_COOKIE_HTTPONLY, C.SESSION_COOKIE_SAMESITE)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDP_")}
    on = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                        env={**env, "EDP_SECURE_COOKIES": "1"}, check=True).stdout.split()
    off = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env=env, check=True).stdout.split()
    assert on == ["True", "True", "True", "Lax"]
    assert off == ["False", "False", "True", "Lax"]


@pytest.mark.parametrize("secure", [True, False])
def test_the_session_cookie_flags(sqlite_url, secure):
    app = make_app(sqlite_url, SESSION_COOKIE_SECURE=secure)
    world = World(app)
    world.facilitator()
    http = app.test_client()
    page = http.get("/login")
    r = http.post("/login", data={"email": "fac@example.org", "password": PASSWORD,
                                  "csrf_token": csrf_token(page.text)})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ("Secure" in cookie) is secure


def _csp(response) -> dict[str, list[str]]:
    out = {}
    for part in response.headers.get("Content-Security-Policy", "").split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def test_security_headers_on_every_page(app, world):
    world.facilitator()
    ws = world.workshop()
    http = world.login()
    anon = app.test_client()
    paths = [(anon, "/"), (anon, "/login"), (anon, f"/w/{ws['code']}"),
             (anon, f"/screen/{ws['code']}"), (anon, f"/api/workshops/{ws['code']}"),
             (anon, "/healthz"), (anon, "/w/NOPE99"), (anon, "/no/such/page"),
             (anon, "/static/js/socket.js"), (http, "/f/"), (http, f"/f/w/{ws['id']}"),
             (http, f"/f/w/{ws['id']}/export.md"), (http, f"/f/w/{ws['id']}/export.json")]
    for client, path in paths:
        r = client.get(path)
        csp = _csp(r)
        scripts = csp.get("script-src", csp.get("default-src"))
        assert scripts, path
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"} & set(
            scripts), (path, scripts)
        assert csp.get("object-src", csp.get("default-src")) == ["'self'"] or \
            csp.get("object-src") == ["'none'"], path
        assert csp.get("frame-ancestors") == ["'none'"], path
        assert csp.get("base-uri") == ["'self'"], path
        assert r.headers.get("X-Content-Type-Options") == "nosniff", path
        assert r.headers.get("X-Frame-Options") == "DENY", path
        assert r.headers.get("Referrer-Policy"), path
        if r.mimetype == "text/html" and r.status_code == 200:
            for attrs, body in re.findall(r"<script\b([^>]*)>(.*?)</script>", r.text, re.DOTALL | re.IGNORECASE):
                inline = "src=" not in attrs and "application/json" not in attrs
                assert not (inline and body.strip()), f"inline script on {path}"
            assert not re.search(r"\son[a-z]+\s*=", r.text), f"inline handler on {path}"


# ---------------------------------------------------------------- rate limits and join codes


def test_the_join_code_space_is_large_and_codes_are_random(app):
    space = len(set(rules.CODE_ALPHABET)) ** rules.CODE_LENGTH
    assert space >= 500_000_000  # 31^6 = 887,503,681 (docs/operations.md has the arithmetic)
    assert not set(rules.CODE_ALPHABET) & set("0O1IL")  # read off a projector without doubt
    with app.app_context():
        codes = {rules.new_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(len(c) == rules.CODE_LENGTH and set(c) <= set(rules.CODE_ALPHABET) for c in codes)
    # Every position uses the whole alphabet (not a counter or a timestamp).
    for i in range(rules.CODE_LENGTH):
        assert len({c[i] for c in codes}) == len(rules.CODE_ALPHABET)


def test_guessing_join_codes_from_one_connection_is_rate_limited(app, room):
    r = room("propose")
    member = r.phone()
    guesser = anonymous(app)
    codes = []
    for i in range(100):
        ack = guesser.emit("join", {"code": f"ZZ{i:04d}", "helix": "business"})
        assert ack["ok"] is False
        codes.append(ack["error"]["code"])
    assert codes[0] == "unknown_workshop"
    assert codes.count("unknown_workshop") <= 10
    assert codes[-50:] == ["rate_limited"] * 50
    # A limited connection learns nothing: the right code is refused the same way...
    err(guesser.emit("join", {"code": r.code, "helix": "business"}), "rate_limited")
    # ...but a phone with a valid token always gets back in, even from that connection.
    ack = ok(guesser.emit("join", {"code": r.code, "token": member.token}))
    assert ack["participant_id"] == member.participant_id
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(models.Participant)) == 1


def test_new_connections_do_not_reset_the_guessing_budget(app, room):
    r = room("propose")
    limited = 0
    for _conn in range(12):  # 12 connections x 10 guesses from one address
        sock = anonymous(app)
        for i in range(10):
            ack = sock.emit("join", {"code": f"Q{_conn:02d}{i:03d}", "helix": "business"})
            limited += ack["error"]["code"] == "rate_limited"
    assert limited >= 50
    err(anonymous(app).emit("join", {"code": r.code, "helix": "business"}), "rate_limited")


def test_a_room_full_of_phones_on_one_address_joins_freely(app, room):
    """Rate limits are per participant, not per IP: a venue shares one address."""
    r = room("propose")
    for i in range(120):
        ok(anonymous(app).emit("join", {"code": r.code, "helix": "business", "name": f"P{i}"}))


def test_guessing_codes_over_http_is_rate_limited(app, room):
    r = room()
    http = app.test_client()
    statuses = [http.get(f"/w/ZZ{i:04d}").status_code for i in range(70)]
    assert statuses[0] == 404 and statuses[-1] == 429
    assert statuses.count(404) <= 60
    # Now every code answers 429, the right one too, on every route that looks codes up.
    for path in (f"/w/{r.code}", f"/screen/{r.code}", f"/api/workshops/{r.code}"):
        assert http.get(path).status_code == 429, path
    body = http.get(f"/api/workshops/{r.code}").get_json()
    assert body["error"]["code"] == "rate_limited" and body["error"]["message"]
    assert http.get("/healthz").status_code == 200  # the rest of the site is unaffected


def test_an_unjoined_connection_hammering_join_is_rate_limited(sqlite_url):
    app = make_app(sqlite_url, RATE_BURST=30, RATE_PER_SECOND=0.001)
    world = World(app)
    world.facilitator()
    r = Room(world, "propose")
    sock = anonymous(app)
    acks = [sock.emit("join", {"code": r.code, "helix": "business"}) for _ in range(40)]
    assert [a["ok"] for a in acks[:30]] == [True] * 30
    assert all(a["error"]["code"] == "rate_limited" for a in acks[30:])
    # One connection, one participant: every later join returned the first (test_floods.py).
    assert {a["participant_id"] for a in acks[:30]} == {acks[0]["participant_id"]}
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(models.Participant)) == 1
    # Unknown events and unreadable frames count against the same per-connection bucket.
    other = anonymous(app)
    codes = [other.emit("no-such-event", {})["error"]["code"] for _ in range(35)]
    assert codes[:30] == ["bad_payload"] * 30 and codes[30:] == ["rate_limited"] * 5


def test_login_throttling_ignores_case_and_spaces(client, world):
    world.facilitator()
    for email in ("fac@example.org", "FAC@example.org", " Fac@Example.org ", "fac@EXAMPLE.ORG",
                  "fac@example.org"):
        page = client.get("/login")
        r = client.post("/login", data={"email": email, "password": "guess",
                                        "csrf_token": csrf_token(page.text)})
        assert r.status_code == 401
    page = client.get("/login")
    r = client.post("/login", data={"email": "fac@example.org", "password": PASSWORD,
                                    "csrf_token": csrf_token(page.text)})
    assert r.status_code == 429
    assert client.get("/f/").status_code == 302


# ---------------------------------------------------------------- stored markup


def test_proposals_comments_and_names_are_never_rendered_as_markup(app, world):
    world.facilitator()
    r = Room(world, "propose", title=XSS)
    phone = world.phone(r.code, "business", name=XSS, organisation=XSS)
    dom = ok(phone.emit("propose", {"title": XSS[:200], "description": XSS, "rationale": XSS}))
    ok(phone.emit("comment", {"domain_id": dom["domain_id"], "stance": "support", "text": XSS}))
    r.phase("decide")
    ok(r.console.act("decide", domain_id=dom["domain_id"], rank=1, rationale=XSS,
                     indicators=[XSS]))
    http = world.login()
    anon = app.test_client()
    pages = [anon.get(f"/w/{r.code}"), anon.get(f"/screen/{r.code}"), http.get("/f/"),
             http.get(f"/f/w/{r.id}")]
    for page in pages:
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text, page.request.path
    md = http.get(f"/f/w/{r.id}/export.md")
    assert md.status_code == 200
    text = md.get_data(as_text=True)
    assert "alert" in text  # the text is there...
    assert "<script" not in text.lower() and "<img" not in text.lower()  # ...but not as markup
    # The JSON answers are data, typed as JSON (a browser never renders them as a page).
    api = anon.get(f"/api/workshops/{r.code}")
    assert api.mimetype == "application/json"
    # Sockets deliver the text as it was typed: the pages insert it with textContent.
    state = ok(world.projector(r.code).emit("watch", {"code": r.code}))["state"]
    assert state["domains"][-1]["title"] == XSS[:200]


def test_the_pages_insert_server_text_without_parsing_it_as_html():
    """The client side of escaping: no innerHTML / insertAdjacentHTML / document.write."""
    for path in (ROOT / "static" / "js").glob("*.js"):
        source = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, f"{path.name} uses {sink}"


@pytest.mark.parametrize("hops", [0, 1])
def test_forwarded_addresses_count_only_behind_a_trusted_proxy(sqlite_url, hops):
    """With EDP_PROXY_HOPS each phone behind the proxy has its own guessing budget; without it a
    forged X-Forwarded-For cannot buy a guesser a fresh one."""
    app = make_app(sqlite_url, PROXY_HOPS=hops)
    world = World(app)
    world.facilitator()
    code = world.workshop()["code"]
    http = app.test_client()
    for i in range(61):
        http.get(f"/w/ZZ{i:04d}", headers={"X-Forwarded-For": f"10.0.0.{i % 250}" if not hops
                                           else "10.0.0.1"})
    blocked = http.get(f"/w/{code}", headers={"X-Forwarded-For": "10.0.0.1"})
    other = http.get(f"/w/{code}", headers={"X-Forwarded-For": "10.0.0.2"})
    assert blocked.status_code == 429
    assert other.status_code == (200 if hops else 429)
