"""At the venue: the join link and QR code phones can open, and pages that work whatever
address the laptop opened them at (docs/venue.md).

Real servers (`edp run --host 0.0.0.0` without EDP_PUBLIC_URL, and one with a public URL that is
somewhere else), real Socket.IO clients, a real Chromium whose screenshot of the projector's QR
code is decoded by zxing-cpp.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import BIN, PASSWORD, TEMPLATE, LiveServer, chromium_path, make_app, missing

from edp import network

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
PUBLIC = "http://edp.example.test"  # a public address that is not this machine's
OTHER = "other-name.example.test"   # a name the browser maps to this machine, that we refuse


def page_data(html: str) -> dict:
    match = re.search(r'<script[^>]*id="page-data"[^>]*>(.*?)</script>', html, re.DOTALL)
    assert match, "the page has no page-data block"
    return json.loads(match.group(1))


def fetch(url: str, headers: dict | None = None, opener=None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    with (opener or urllib.request.build_opener()).open(request, timeout=10) as r:
        return r.status, r.read().decode()


def machine_addresses() -> list[str]:
    found = network.network_addresses(refresh=True)
    if not found:
        missing("a network address on this machine", "connect a network interface")
    return found


class VenueServer(LiveServer):
    """`edp run --host HOST` in a subprocess, with EDP_PUBLIC_URL unset (or set elsewhere)."""

    def __init__(self, db_url: str, host: str, public_url: str | None, log_dir: Path):
        super().__init__(db_url, log_dir=log_dir)
        self.host = host
        self.env.pop("EDP_PUBLIC_URL", None)
        if public_url:
            self.env["EDP_PUBLIC_URL"] = public_url

    def start(self) -> VenueServer:
        self.log = open(self.log_path, "ab")  # noqa: SIM115  (open while the server runs)
        self.proc = subprocess.Popen(
            [str(BIN / "edp"), "run", "--host", self.host, "--port", str(self.port)],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if json.load(r)["ok"]:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not answer /healthz in 30 s")

    def seed_here(self) -> dict:
        """A facilitator and a workshop, written in-process (faster than three CLI runs)."""
        from conftest import World

        from edp.extensions import db

        app = make_app(self.db_url)
        world = World(app)
        world.facilitator()
        info = world.workshop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        return info

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text()


@pytest.fixture(scope="module")
def venue(tmp_path_factory):
    """A laptop at the venue: `edp run --host 0.0.0.0`, no EDP_PUBLIC_URL."""
    folder = tmp_path_factory.mktemp("venue")
    server = VenueServer(f"sqlite:///{folder / 'venue.sqlite3'}", "0.0.0.0", None, folder)
    server.info = server.seed_here()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory):
    """EDP_PUBLIC_URL names another address (a proxy, a DNS name) than the one a page is
    opened at."""
    folder = tmp_path_factory.mktemp("elsewhere")
    server = VenueServer(f"sqlite:///{folder / 'elsewhere.sqlite3'}", "0.0.0.0", PUBLIC, folder)
    server.info = server.seed_here()
    server.start()
    yield server
    server.stop()


def login_opener(base: str, headers: dict | None = None):
    import http.cookiejar
    import urllib.parse

    from conftest import csrf_token

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = list((headers or {}).items())
    page = opener.open(base + "/login", timeout=10).read().decode()
    data = urllib.parse.urlencode({"email": "fac@example.org", "password": PASSWORD,
                                   "csrf_token": csrf_token(page)}).encode()
    opener.open(base + "/login", data=data, timeout=10)
    return opener


# ---------------------------------------------------------------- the join link


@pytest.mark.server
def test_the_join_link_is_a_network_address_whatever_the_page_was_opened_at(venue):
    addresses = machine_addresses()
    code, port = venue.info["code"], venue.port
    links = set()
    for opened in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
        status, html = fetch(f"{opened}/screen/{code}")
        assert status == 200
        join_url = page_data(html)["join_url"]
        links.add(join_url)
        where = urlsplit(join_url)
        assert not network.is_loopback(where.hostname), join_url
        assert where.hostname in addresses, (join_url, addresses)
        assert where.port == port and where.path == f"/w/{code}"
        assert join_url in html  # the address written under the QR code
    assert len(links) == 1
    # A phone on the network opens it and gets the join page.
    status, html = fetch(links.pop())
    assert status == 200 and "Smart Specialisation" in html and 'id="page-data"' in html

    # The console opened on the laptop (localhost) shows the same link, and no warning.
    opener = login_opener(f"http://localhost:{port}")
    status, html = fetch(f"http://localhost:{port}/f/w/{venue.info['id']}", opener=opener)
    data = page_data(html)
    assert urlsplit(data["join_url"]).hostname in addresses
    assert data["join_warning"] is None and data["origin_warning"] is None
    # `edp run` said where phones join.
    assert f"Phones join at {data['join_url']}" in venue.output()


@pytest.mark.server
@pytest.mark.browser
def test_the_projector_qr_code_opens_the_network_join_link(venue):
    """The QR code as a phone's camera would read it: a screenshot of the projector, decoded."""
    import zxingcpp
    from PIL import Image
    from test_browser import CHROMIUM_ARGS, READY, assert_accessible

    executable = chromium_path()
    if executable is None:
        missing("Chromium", "apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    addresses = machine_addresses()
    base = f"http://localhost:{venue.port}"  # the laptop's own browser
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 720}, base_url=base)
            page.goto(f"/screen/{venue.info['code']}")
            page.wait_for_function(READY)  # live updates work on the laptop's localhost
            shot = ARTIFACTS / "venue-projector-qr.png"
            page.locator(".qr").first.screenshot(path=str(shot))
            page.screenshot(path=str(ARTIFACTS / "venue-projector-localhost.png"))
            join_url = page.evaluate("() => JSON.parse(document.getElementById('page-data')"
                                     ".textContent).join_url")
            assert page.locator("#origin-warning").count() == 0
            assert_accessible(page, "projector opened at localhost")
        finally:
            browser.close()
    decoded = [r.text for r in zxingcpp.read_barcodes(Image.open(shot))]
    assert decoded == [join_url]
    where = urlsplit(decoded[0])
    assert where.hostname in addresses and not network.is_loopback(where.hostname)
    assert where.port == venue.port


@pytest.mark.server
def test_command_line_links_follow_the_running_server(venue):
    addresses = machine_addresses()
    out = venue.cli("workshop", "create", "--template", str(TEMPLATE),
                    "--facilitator", "fac@example.org")
    created = json.loads(out.strip().splitlines()[-1])
    for key in ("join_url", "screen_url"):
        where = urlsplit(created[key])
        assert where.port == venue.port, created  # not 5000: the port the server uses
        assert where.hostname in addresses, created
    assert fetch(created["join_url"])[0] == 200  # a phone opens it


@pytest.mark.server
def test_a_dead_servers_record_is_not_followed(tmp_path):
    """A server killed with -9 leaves its record behind: the command line ignores (and removes)
    it, and its links fall back to a network address on the default port (test_join_link_rules)."""
    dead = VenueServer(f"sqlite:///{tmp_path / 'dead.sqlite3'}", "0.0.0.0", None, tmp_path)
    dead.cli("init-db")  # /healthz checks a write, so the database must exist
    dead.start()
    instance = Path(network.__file__).resolve().parent.parent / "instance"
    record = instance / "servers" / f"{dead.proc.pid}.json"
    assert json.loads(record.read_text())["port"] == dead.port
    assert network.running_server(instance, dead.db_url)["port"] == dead.port
    assert network.running_server(instance, dead.db_url + "-another") is None
    os.kill(dead.proc.pid, signal.SIGKILL)
    dead.proc.wait(10)
    dead.stop()
    assert record.exists()
    assert network.running_server(instance, dead.db_url) is None
    assert not record.exists()


# ---------------------------------------------------------------- the origin check


def _connects(url: str, origin: str | None, code: str) -> bool:
    import socketio as sio_client

    options = {"origin": origin} if origin else {"suppress_origin": True}
    client = sio_client.Client(reconnection=False, websocket_extra_options=options)
    try:
        client.connect(url, transports=["websocket"], wait_timeout=5)
    except (sio_client.exceptions.ConnectionError, ValueError):
        return False
    try:
        return client.call("watch", {"code": code}, timeout=5)["ok"] is True
    finally:
        client.disconnect()


@pytest.mark.server
def test_the_servers_own_names_connect_when_the_public_url_is_elsewhere(elsewhere):
    addresses = machine_addresses()
    port, code = elsewhere.port, elsewhere.info["code"]
    url = f"http://127.0.0.1:{port}"
    for own in (f"http://localhost:{port}", f"http://127.0.0.1:{port}",
                f"http://{network.url_host(addresses[0])}:{port}", PUBLIC):
        assert _connects(url, own, code), own
    for foreign in ("http://evil.example", f"http://localhost:{port + 1}",
                    f"http://{OTHER}:{port}", f"https://localhost:{port}"):
        assert not _connects(url, foreign, code), foreign


def test_loopback_origins_only_from_this_machine(sqlite_url):
    """A page at another machine's localhost is not ours; our network address is."""
    addresses = machine_addresses()
    app = make_app(sqlite_url, PUBLIC_URL=PUBLIC, LISTEN={"host": "0.0.0.0", "port": 5000})
    http = app.test_client()

    def handshake(origin: str, peer: str) -> int:
        return http.get("/socket.io/?EIO=4&transport=polling", headers={"Origin": origin},
                        environ_base={"REMOTE_ADDR": peer}).status_code

    assert handshake("http://localhost:5000", "127.0.0.1") == 200
    assert handshake("http://localhost:5000", "192.0.2.77") == 400
    assert handshake(f"http://{network.url_host(addresses[0])}:5000", "192.0.2.77") == 200
    assert handshake(f"http://{network.url_host(addresses[0])}:5001", "192.0.2.77") == 400


@pytest.mark.server
def test_a_page_opened_at_a_refused_address_says_so(elsewhere):
    code, port = elsewhere.info["code"], elsewhere.port
    headers = {"Host": f"{OTHER}:{port}"}
    pages = {f"/screen/{code}": None, f"/w/{code}": None,
             f"/f/w/{elsewhere.info['id']}": login_opener(f"http://127.0.0.1:{port}", headers)}
    for path, opener in pages.items():
        status, html = fetch(f"http://127.0.0.1:{port}{path}", headers, opener)
        assert status == 200
        data = page_data(html)
        assert data["origin_warning"].startswith(f"This page was opened at http://{OTHER}:{port}")
        assert data["origin_url"] == PUBLIC + path
        alert = re.search(r'<div id="origin-warning"[^>]*role="alert"[^>]*>(.*?)</div>', html,
                          re.DOTALL)
        assert alert and f'href="{PUBLIC}{path}"' in alert.group(1), path
    # The same pages at the laptop's own address have no warning.
    status, html = fetch(f"http://localhost:{port}/screen/{code}")
    assert page_data(html)["origin_warning"] is None and 'id="origin-warning"' not in html


@pytest.mark.server
@pytest.mark.browser
def test_in_the_browser_a_refused_address_is_explained_and_localhost_works(elsewhere):
    """The issue: with EDP_PUBLIC_URL set, a console opened at localhost stayed "Offline —
    reconnecting…" forever. Now it connects; and a page at an address that the server does
    refuse says so at once, and its connection banner says why instead of "reconnecting"."""
    from test_browser import CHROMIUM_ARGS, READY, assert_accessible, log_in

    executable = chromium_path()
    if executable is None:
        missing("Chromium", "apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    code, port = elsewhere.info["code"], elsewhere.port
    ARTIFACTS.mkdir(exist_ok=True)
    args = [*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {OTHER} 127.0.0.1"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=args)
        try:
            laptop = browser.new_context(viewport={"width": 1366, "height": 768},
                                         base_url=f"http://localhost:{port}")
            console = laptop.new_page()
            log_in(console)
            console.goto(f"/f/w/{elsewhere.info['id']}")
            console.wait_for_function(READY)
            assert console.locator("#origin-warning").count() == 0

            room = browser.new_context(viewport={"width": 1280, "height": 720},
                                       base_url=f"http://{OTHER}:{port}")
            screen = room.new_page()
            screen.goto(f"/screen/{code}")
            alert = screen.get_by_role("alert").filter(has_text="does not accept")
            assert alert.is_visible()
            link = alert.get_by_role("link")
            assert link.get_attribute("href") == f"{PUBLIC}/screen/{code}"
            # The connection banner points at it instead of "reconnecting" forever.
            screen.wait_for_function(
                "() => (document.getElementById('connection') || {}).textContent"
                "?.includes('use the link at the top')")
            screen.screenshot(path=str(ARTIFACTS / "venue-refused-address.png"))
            assert_accessible(screen, "projector at a refused address")
        finally:
            browser.close()


# ---------------------------------------------------------------- warnings on the console


@pytest.fixture
def loopback_app(sqlite_url):
    app = make_app(sqlite_url, PUBLIC_URL="", LISTEN={"host": "127.0.0.1", "port": 5000})
    yield app
    from edp.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_a_loopback_only_server_warns_on_the_console(loopback_app):
    from conftest import World

    world = World(loopback_app)
    world.facilitator()
    ws = world.workshop()
    http = world.login()
    html = http.get(f"/f/w/{ws['id']}", base_url="http://localhost:5000").text
    data = page_data(html)
    assert data["join_url"] == f"http://localhost:5000/w/{ws['code']}"
    assert "edp run --host 0.0.0.0" in data["join_warning"]
    assert "EDP_PUBLIC_URL" in data["join_warning"]
    assert 'id="join-warning"' in html  # rendered near the top of the console
    # Listening on every address instead: a network address, and no warning.
    loopback_app.config["LISTEN"] = {"host": "0.0.0.0", "port": 5000}
    data = page_data(http.get(f"/f/w/{ws['id']}", base_url="http://localhost:5000").text)
    if network.network_addresses():
        assert data["join_warning"] is None
        assert urlsplit(data["join_url"]).hostname in network.network_addresses()


def test_join_link_rules():
    """The rules of edp/network.py on given addresses (a machine with none included)."""
    lan = ["192.168.1.20", "10.8.0.2", "2001:db8::20"]
    listen_all = {"host": "0.0.0.0", "port": 5050}
    join = network.join_base
    # EDP_PUBLIC_URL wins.
    assert join("https://edp.example.org/", listen_all, "http://localhost:5050/", lan) == (
        "https://edp.example.org", None)
    # Listening on every address: the first network address, whatever the page's address...
    assert join(None, listen_all, "http://127.0.0.1:5050/", lan) == (
        "http://192.168.1.20:5050", None)
    # ... unless the page was opened at another of the machine's addresses (its network).
    assert join(None, listen_all, "http://10.8.0.2:5050/", lan) == ("http://10.8.0.2:5050", None)
    # 0.0.0.0 answers on IPv4 only; :: on IPv6 too.
    assert join(None, listen_all, None, ["2001:db8::20"])[1] == network.NO_NETWORK
    assert join(None, {"host": "::", "port": 5050}, None, ["2001:db8::20"]) == (
        "http://[2001:db8::20]:5050", None)
    # One LAN address: that one.
    assert join(None, {"host": "10.8.0.2", "port": 80}, "http://localhost/", lan) == (
        "http://10.8.0.2:80", None)
    # No network at all: the page's address, and a warning.
    assert join(None, listen_all, "http://localhost:5050/", []) == (
        "http://localhost:5050", network.NO_NETWORK)
    # Loopback only: the page's address, and a warning.
    assert join(None, {"host": "127.0.0.1", "port": 5050}, "http://localhost:5050/", lan) == (
        "http://localhost:5050", network.LOOPBACK_ONLY)
    # Not knowing where the server listens (gunicorn): the page's; loopback gets a warning.
    assert join(None, None, "http://10.8.0.2:8000/", lan) == ("http://10.8.0.2:8000", None)
    assert join(None, None, "http://localhost:8000/", lan)[1] == network.LOOPBACK_PAGE
    # The command line without a running server: a network address on port 5000.
    assert join(None, None, None, lan) == ("http://192.168.1.20:5000", None)
    assert join(None, None, None, []) == ("http://127.0.0.1:5000", network.NO_NETWORK)
    for host in ("localhost", "127.0.0.1", "127.0.1.1", "::1", "[::1]", "::ffff:127.0.0.1"):
        assert network.is_loopback(host), host
    for host in ("192.168.1.20", "0.0.0.0", "::", "laptop.local", "fd00::2"):
        assert not network.is_loopback(host), host
