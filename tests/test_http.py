"""HTTP routes of the contract: health, the public workshop JSON, log-in, access to the console,
security headers and the participant/projector pages."""
from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
from conftest import PASSWORD, csrf_token

from edp import models
from edp.views import auth



@pytest.fixture(autouse=True)
def fresh_throttle():
    auth._failures.clear()
    yield
    auth._failures.clear()


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
