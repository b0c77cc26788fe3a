"""HTTP routes of the contract: health, the public workshop JSON, log-in, access to the console,
security headers and the participant/projector pages."""
from __future__ import annotations

import json
import re
from urllib.parse import urlparse

import pytest
from conftest import PASSWORD, csrf_token

from edp import models


@pytest.fixture(autouse=True)
def fast_passwords(monkeypatch):
    from werkzeug.security import generate_password_hash

    monkeypatch.setattr(models, "generate_password_hash",
                        lambda pw: generate_password_hash(pw, method="pbkdf2:sha256:1000"))


@pytest.fixture
def ws(world):
    world.facilitator()
    return world.workshop()


def post_login(client, email="fac@example.org", password=PASSWORD, token=True, query=""):
    page = client.get("/login")
    data = {"email": email, "password": password}
    if token:
        data["csrf_token"] = csrf_token(page.text)
    return client.post("/login" + query, data=data)


# ---------------------------------------------------------------- JSON


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.is_json and r.get_json() == {"ok": True}


def test_workshop_json_for_a_join_page(client, ws):
    r = client.get(f"/api/workshops/{ws['code']}")
    assert r.status_code == 200 and r.is_json
    body = r.get_json()
    for key in ("code", "title", "phase", "method", "language", "helices", "criteria"):
        assert key in body, key
    assert (body["code"], body["phase"], body["method"], body["language"]) == (
        ws["code"], "lobby", "dot", "en")
    assert body["title"] == "Smart Specialisation priority-setting workshop"
    assert body["helices"][0] == {"key": "government", "label": "Public administration"}
    assert all(set(h) == {"key", "label"} for h in body["helices"])
    assert len(body["helices"]) == 6
    assert body["criteria"][0] == {"key": "assets", "label": "Critical mass and existing assets",
                                   "weight": 0.25}
    assert all(set(c) == {"key", "label", "weight"} for c in body["criteria"])
    # Nothing about the facilitator or participants leaks here.
    assert "fac@example.org" not in r.text and "facilitator" not in body
    # Codes are typed by people: lower case works too.
    assert client.get(f"/api/workshops/{ws['code'].lower()}").status_code == 200


def test_unknown_workshop_json_is_404_json(client):
    r = client.get("/api/workshops/NOPE99")
    assert r.status_code == 404 and r.is_json
    error = r.get_json()["error"]
    assert error["code"] == "unknown_workshop" and error["message"]


# ---------------------------------------------------------------- log-in


def test_login_page_has_a_form_with_csrf(client):
    r = client.get("/login")
    assert r.status_code == 200
    assert csrf_token(r.text)
    assert 'name="email"' in r.text and 'name="password"' in r.text


def test_login_good_password_sets_the_session_and_redirects(client, ws):
    r = post_login(client)
    assert r.status_code == 302
    assert "session=" in r.headers.get("Set-Cookie", "")
    assert "HttpOnly" in r.headers["Set-Cookie"]
    # The session now opens the console.
    assert client.get(f"/f/w/{ws['id']}").status_code == 200


def test_login_email_is_case_insensitive(client, ws):
    assert post_login(client, email="  FAC@Example.org ").status_code == 302


def test_login_wrong_password_is_401_and_no_session(client, ws):
    r = post_login(client, password="wrong")
    assert r.status_code == 401
    assert client.get(f"/f/w/{ws['id']}").status_code == 302
    assert post_login(client, email="nobody@example.org").status_code == 401


def test_login_without_csrf_is_400(client, ws):
    r = post_login(client, token=False)
    assert r.status_code == 400
    assert client.get(f"/f/w/{ws['id']}").status_code == 302  # not logged in


def test_login_throttled_after_five_failures(client, ws):
    for _ in range(5):
        assert post_login(client, password="guess").status_code == 401
    r = post_login(client)  # even the right password waits now
    assert r.status_code == 429
    assert client.get(f"/f/w/{ws['id']}").status_code == 302
    # Another account is not locked out by the guessing.
    assert post_login(client.application.test_client(), email="other@example.org",
                      password="x").status_code == 401


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/",
                                    "/\\evil.example", "/\\/evil.example",
                                    "/\t/evil.example", "/%09/evil.example"])
def test_login_never_redirects_off_site(client, ws, target):
    r = post_login(client, query=f"?next={target}")
    assert r.status_code == 302
    location = r.headers["Location"]
    parsed = urlparse(location.replace("\\", "/"))
    assert parsed.netloc in ("", "localhost"), location
    assert "evil" not in location


def test_login_follows_a_local_next(client, ws):
    r = post_login(client, query=f"?next=/f/w/{ws['id']}")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/f/w/{ws['id']}")


# ---------------------------------------------------------------- the console


def test_console_needs_login(client, ws):
    r = client.get(f"/f/w/{ws['id']}")
    assert r.status_code == 302
    assert urlparse(r.headers["Location"]).path == "/login"
    for fmt in ("csv", "xlsx", "docx", "json", "md"):
        r = client.get(f"/f/w/{ws['id']}/export.{fmt}")
        assert r.status_code in (302, 401, 403), fmt
        if r.status_code == 302:
            assert urlparse(r.headers["Location"]).path == "/login"


def test_console_is_403_for_another_facilitator(app, world, ws):
    world.facilitator("other@example.org")
    other = world.login("other@example.org")
    assert other.get(f"/f/w/{ws['id']}").status_code == 403
    for fmt in ("csv", "xlsx", "docx", "json", "md"):
        assert other.get(f"/f/w/{ws['id']}/export.{fmt}").status_code == 403, fmt
    assert other.get("/f/w/999999").status_code == 404


def test_console_for_the_owner(world, ws):
    r = world.login().get(f"/f/w/{ws['id']}")
    assert r.status_code == 200
    assert ws["code"] in r.text


# ---------------------------------------------------------------- security headers and pages


def _script_sources(csp: str) -> list[str]:
    directives = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            directives[words[0]] = words[1:]
    return directives.get("script-src", directives.get("default-src", []))


@pytest.mark.parametrize("path", ["/healthz", "/login", "/api/workshops/NOPE99", "/w/NOPE99"])
def test_security_headers(client, path):
    r = client.get(path)
    csp = r.headers.get("Content-Security-Policy", "")
    sources = _script_sources(csp)
    assert sources, csp
    assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources, csp
    assert "*" not in sources
    assert "frame-ancestors 'none'" in csp
    assert r.headers.get("X-Content-Type-Options") == "nosniff"
    assert r.headers.get("X-Frame-Options") == "DENY"
    assert r.headers.get("Referrer-Policy")


def _inline_scripts(html: str) -> list[str]:
    """<script> elements that run inline code (JSON data blocks are fine under the CSP)."""
    found = []
    for attrs, body in re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.DOTALL | re.IGNORECASE):
        if "src=" in attrs or "application/json" in attrs:
            continue
        if body.strip():
            found.append(body.strip()[:80])
    return found


@pytest.mark.parametrize("page, template", [("/w/{code}", "participant.html"),
                                            ("/screen/{code}", "screen.html")])
def test_participant_and_projector_pages(client, ws, page, template):
    r = client.get(page.format(code=ws["code"]))
    assert r.status_code == 200
    assert ws["code"] in r.text
    assert _inline_scripts(r.text) == [], "inline scripts are blocked by the CSP"
    assert not re.search(r"\son[a-z]+=\"", r.text), "inline event handlers are blocked too"
    assert "Content-Security-Policy" in r.headers
    lower = client.get(page.format(code=ws["code"].lower()))
    assert lower.status_code == 200


@pytest.mark.parametrize("page", ["/w/NOPE99", "/screen/NOPE99"])
def test_unknown_code_pages_are_404(client, page):
    assert client.get(page).status_code == 404


def test_screen_shows_the_join_url(client, ws):
    r = client.get(f"/screen/{ws['code']}")
    assert f"http://edp.test/w/{ws['code']}" in r.text  # PUBLIC_URL, as printed in the QR code
    assert "<svg" in r.text


# ---------------------------------------------------------------- a join code that leads nowhere


@pytest.mark.parametrize("accept, query, lang, heading, button", [
    ("es-ES,es;q=0.9", "", "es", "No hay ningún taller con ese código.", "Unirse"),
    ("pt-BR,pt;q=0.9,en;q=0.5", "", "pt", "Não há nenhuma oficina com esse código.", "Entrar"),
    ("en-US,en;q=0.9", "", "en", "There is no workshop with that code.", "Join"),
    ("en-US,en;q=0.9", "?lang=pt", "pt", "Não há nenhuma oficina com esse código.", "Entrar"),
])
def test_unknown_code_page_speaks_the_phones_language(client, accept, query, lang, heading, button):
    """Not Werkzeug's bare English "Not Found": a page in the phone's language (Accept-Language,
    or ?lang=) with the code form, the wrong code in it ready to be corrected."""
    r = client.get(f"/w/nope99{query}", headers={"Accept-Language": accept})
    assert r.status_code == 404
    assert r.mimetype == "text/html"
    assert f'<html lang="{lang}">' in r.text
    assert f'<h1 id="problem-h">{heading}</h1>' in r.text
    form = re.search(r'<form method="get" action="/"[^>]*>(.*?)</form>', r.text, re.DOTALL)
    assert form, "the page has the code form"
    assert re.search(r'<input id="code" name="code" value="NOPE99"', form.group(1))
    assert f">{button}</button>" in form.group(1)
    assert 'name="to"' not in form.group(1)  # it leads to the phone page
    assert ('name="lang" value="pt"' in form.group(1)) == bool(query)
    assert _inline_scripts(r.text) == []


def test_unknown_code_on_the_projector_leads_back_to_a_projector_page(client, ws):
    r = client.get("/screen/NOPE99", headers={"Accept-Language": "es"})
    assert r.status_code == 404 and '<html lang="es">' in r.text
    assert '<input type="hidden" name="to" value="screen">' in r.text
    # The form's request: a projector page, whatever case or spacing the code was typed in.
    r = client.get("/", query_string={"code": f" {ws['code'].lower()} ", "to": "screen"})
    assert r.status_code == 302 and urlparse(r.headers["Location"]).path == f"/screen/{ws['code']}"
    assert client.get(r.headers["Location"]).status_code == 200


@pytest.mark.parametrize("typed", ["{code}", "{lower}", " {code} ", "{a}-{b}",
                                   "http://192.168.1.20:5000/w/{code}"])
def test_the_code_form_takes_codes_as_people_type_them(client, ws, typed):
    code = ws["code"]
    text = typed.format(code=code, lower=code.lower(), a=code[:3], b=code[3:])
    r = client.get("/", query_string={"code": text, "lang": "pt"})
    assert r.status_code == 302
    location = urlparse(r.headers["Location"])
    assert (location.path, location.query) == (f"/w/{code}", "lang=pt")


def test_wrong_codes_still_drain_the_guessing_bucket_and_429_is_a_page(sqlite_url):
    """The join-code limiter still counts the friendly 404 pages; an empty bucket answers 429
    with a translated page (the JSON route keeps its JSON)."""
    from conftest import World, make_app

    app = make_app(sqlite_url, JOIN_GUESS_ADDRESS_BURST=3, JOIN_GUESS_ADDRESS_PER_SECOND=0.001)
    world = World(app)
    world.facilitator()
    real = world.workshop()["code"]
    http = app.test_client()
    headers = {"Accept-Language": "es"}
    assert [http.get(f"/w/ZZ{i:04d}", headers=headers).status_code for i in range(3)] == [404] * 3
    for path in (f"/w/{real}", f"/screen/{real}"):
        r = http.get(path, headers=headers)
        assert r.status_code == 429, path
        assert r.mimetype == "text/html" and '<html lang="es">' in r.text
        assert 'data-status="429"' in r.text and "Código de acceso" in r.text
        assert r.headers["Retry-After"]
    r = http.get(f"/api/workshops/{real}")
    assert r.status_code == 429 and r.get_json()["error"]["code"] == "rate_limited"


def test_participant_page_carries_labels_and_goals_in_the_phones_language(client, ws):
    """Template labels (`labels = {es, pt}`) on the server-rendered join form and in the page
    data the scripts read; SDG names and colours for the picker."""
    r = client.get(f"/w/{ws['code']}?lang=pt")
    assert r.status_code == 200
    for label in ("Administração pública", "Academia e pesquisa", "Entidades financiadoras"):
        assert f"<span>{label}</span>" in r.text
    data = json.loads(re.search(r'<script type="application/json" id="page-data">(.*?)</script>',
                                r.text, re.DOTALL).group(1))
    assert [h["label"] for h in data["helices"]][:2] == ["Administração pública", "Empresas"]
    assert data["phase"] == "lobby" and "priorities" not in data
    goals = {g["n"]: g for g in data["sdgs"]}
    assert sorted(goals) == list(range(1, 18))
    assert goals[2]["name"] == "Fome zero e agricultura sustentável"
    assert (goals[7]["colour"], goals[7]["ink"]) == ("#FCC30B", "#14171C")
    # The public JSON keeps `label` a plain string in the workshop's language (the contract).
    body = client.get(f"/api/workshops/{ws['code']}").get_json()
    assert body["helices"][0] == {"key": "government", "label": "Public administration"}


def test_every_goal_colour_has_a_readable_ink():
    from edp.sdgs import SDG_COLOURS, contrast, sdg_ink

    assert sorted(SDG_COLOURS) == list(range(1, 18))
    for n, colour in SDG_COLOURS.items():
        assert contrast(colour, sdg_ink(n)) >= 4.5, n
