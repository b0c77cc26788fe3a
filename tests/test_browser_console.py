"""The facilitator's console as a cockpit, in a real Chromium at 1366x768 against a real server.

Phones are python-socketio clients over real websockets. Per phase: the current phase's panel is
in front, it and the cockpit bar (Next phase, countdown) fit the screen without the page
scrolling, axe-core finds nothing, and a screenshot goes to tests/artifacts/. Then the parts a
facilitator relies on: the newest proposal first with its near-duplicate hint and one-click
merge, hiding and restoring a comment (a phone stops and starts seeing it), "N of M have voted"
following the votes, the keyboard shortcuts, and an action clicked offline that is never sent by
itself.
"""
from __future__ import annotations

import contextlib
import json
import urllib.request
from pathlib import Path

import pytest
import socketio
from conftest import TEMPLATE, login_cookie
from test_browser import (
    ARTIFACTS,
    READY,
    assert_accessible,
    chromium,  # noqa: F401  (the fixture)
    collect_errors,
    log_in,
)

pytestmark = [pytest.mark.browser, pytest.mark.server]

WIDTH, HEIGHT = 1366, 768

SEEDS = [
    "Advanced manufacturing for the energy transition",
    "Digital services for public health",
    "Sustainable tourism and cultural heritage",
    "Precision agriculture and agri-food technology",
    "Offshore wind supply chain",
    "Smart logistics for ports",
    "Creative industries and design",
    "Forest bioeconomy and wood construction",
    "Water technologies for dry regions",
    "Space data services for farming",
    "Medical devices and diagnostics",
    "Circular textiles and fashion",
]
PROPOSALS = [
    ("business", "Green hydrogen valleys", "Electrolysers fed by the region's wind farms."),
    ("academia", "Aquaculture and blue food", "Fish farming and algae along the coast."),
    ("civil_society", "Community energy cooperatives", "Citizens owning solar and wind."),
    ("environment", "Green hydrogen valley", "Electrolysers using surplus wind power."),
]


def fifteen_plus(tmp_path: Path, **settings) -> Path:
    """The first template with twelve seed domains (three to four more come from phones)."""
    text = TEMPLATE.read_text()
    for key, value in settings.items():
        old = next(line for line in text.splitlines() if line.startswith(f"{key} "))
        text = text.replace(old, f"{key} = {json.dumps(value)}")
    seeds = "".join(
        f'\n[[domains]]\ntitle = "{t}"\ndescription = "What the region already has for {t.lower()}."\n'
        for t in SEEDS)
    path = tmp_path / "fifteen.toml"
    path.write_text(text.split("[[domains]]")[0] + seeds)
    return path


class Phone:
    """A participant's python-socketio client that keeps every event it receives."""

    def __init__(self, url: str, code: str, helix: str):
        self.events: list[tuple[str, object]] = []
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", lambda event, *args: self.events.append((event, args[0] if args else None)))
        self.sio.connect(url, transports=["websocket"], wait_timeout=10)
        self.joined = self.call("join", {"code": code, "helix": helix, "language": "en"})

    def call(self, event: str, data: dict) -> dict:
        ack = self.sio.call(event, data, timeout=10)
        assert isinstance(ack, dict) and ack.get("ok") is True, (event, ack)
        return ack

    def got(self, name: str) -> list:
        return [data for event, data in list(self.events) if event == name]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.sio.disconnect()


class Facilitator:
    """The facilitator's own Socket.IO client: the server's truth, independent of the page."""

    def __init__(self, url: str, workshop_id: int):
        self.workshop_id = workshop_id
        self.sio = socketio.Client(reconnection=False)
        self.sio.connect(url, headers={"Cookie": login_cookie(url)}, transports=["websocket"],
                         wait_timeout=10)

    def state(self) -> dict:
        ack = self.sio.call("facilitate", {"workshop_id": self.workshop_id}, timeout=10)
        assert ack["ok"], ack
        return ack["state"]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.sio.disconnect()


def phase_of(base: str, code: str) -> str:
    with urllib.request.urlopen(f"{base}/api/workshops/{code}", timeout=5) as r:
        return json.load(r)["phase"]


def open_console(chromium, base: str, workshop_id: int, errors: list[str], width=WIDTH,  # noqa: F811
                 height=HEIGHT, **kw):
    context = chromium.new_context(viewport={"width": width, "height": height}, base_url=base, **kw)
    page = context.new_page()
    collect_errors(errors, page, "console")
    log_in(page)
    page.goto(f"/f/w/{workshop_id}")
    page.wait_for_function(READY)
    return context, page


def assert_fits(page, name: str, *selectors: str) -> None:
    """The page does not scroll (either way); the cockpit and the panel's main controls are
    inside the viewport; no button or tab has text spilling out of it."""
    size = page.evaluate("""() => ({h: document.documentElement.scrollHeight, w: document.documentElement.scrollWidth,
                                    vh: innerHeight, vw: innerWidth})""")
    if size["h"] > size["vh"]:
        print(page.evaluate("""() => Array.from(document.querySelectorAll('body > *, main > *, .panel:not([hidden]) > *, .panel:not([hidden]) > * > *')).map(e => [e.tagName + '#' + e.id + '.' + e.className, e.getBoundingClientRect().top, e.getBoundingClientRect().height])"""))
    assert size["h"] <= size["vh"], f"{name}: the page scrolls ({size['h']} px > {size['vh']} px)"
    assert size["w"] <= size["vw"], f"{name}: the page scrolls sideways ({size['w']} px)"
    for selector in ("#phase-next", "#timer-minutes", ".console-tabs [aria-selected=true]", *selectors):
        box = page.locator(selector).first.bounding_box()
        assert box, f"{name}: {selector} is not shown"
        # Wholly on screen; a long list (which scrolls inside its panel) at least starts on it.
        assert box["y"] >= 0 and box["y"] + min(box["height"], 48) <= size["vh"], f"{name}: {selector} is off screen: {box}"
        assert box["x"] >= 0 and box["x"] + box["width"] <= size["vw"], f"{name}: {selector} is off screen: {box}"
    spilled = page.evaluate("""() => Array.from(document.querySelectorAll(
          'button, [role=tab], .fact, .phase-button, .badge, .tab-badge, label'))
        .filter(el => el.offsetParent && !el.closest('.visually-hidden') && el.scrollWidth > el.clientWidth + 1)
        .map(el => el.id || el.className || el.textContent.trim().slice(0, 30))""")
    assert spilled == [], f"{name}: text spills out of {spilled}"


def shown_panel(page) -> str:
    return page.evaluate("() => document.querySelector('[role=tabpanel]:not([hidden])').id")


def next_phase(page, phase: str) -> None:
    page.locator("#phase-next").click()
    page.wait_for_selector(f'.phase-button[data-phase="{phase}"][aria-pressed="true"]')
    page.wait_for_selector(f"#panel-{phase}:not([hidden])")


def snap(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_function("() => !document.getElementById('console-status').textContent", timeout=10000)
    page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"))


@pytest.fixture
def people():
    opened: list = []
    yield opened
    for client in opened:
        client.close()


def test_every_panel_fits_the_laptop_and_does_its_job(live_server, chromium, tmp_path, people):  # noqa: F811
    ws = live_server.seed(template=fifteen_plus(tmp_path))
    live_server.start()
    base, code = live_server.url, ws["code"]
    errors: list[str] = []
    fac = Facilitator(base, ws["id"])
    people.append(fac)
    phones = {}
    for helix in ("government", "business", "business", "academia", "civil_society", "environment"):
        phone = Phone(base, code, helix)
        people.append(phone)
        phones.setdefault(helix, []).append(phone)

    context, page = open_console(chromium, base, ws["id"], errors)

    # Lobby: the joins by helix with the missing helix flagged, the join link, code and QR.
    assert shown_panel(page) == "panel-lobby"
    page.wait_for_function("() => document.getElementById('total').textContent === 'Participants: 6'")
    business = page.locator("#counts li", has_text="Business")
    assert business.locator(".bar-value").inner_text() == "2"
    funders = page.locator("#counts li", has_text="Funding bodies")
    assert funders.get_attribute("data-under") == "yes"
    assert "Funding bodies" in page.locator("#participation-warning").inner_text()
    assert page.locator(".console-qr svg").is_visible()
    assert page.locator(".join-code-big").inner_text() == code
    assert_fits(page, "lobby", "#counts", ".console-qr", ".join-code-big")
    snap(page, "lobby")
    assert_accessible(page, "console lobby")

    # The vision (optional) comes next; then propose: four proposals, the last a near-duplicate
    # of the first.
    next_phase(page, "vision")
    next_phase(page, "propose")
    assert phase_of(base, code) == "propose"
    ids = {}
    for helix, title, description in PROPOSALS:
        ack = phones[helix][0].call("propose", {"title": title, "description": description})
        ids[title] = ack["domain_id"]
    page.wait_for_function(f"() => document.querySelectorAll('#domains-body tr').length === {len(SEEDS) + len(PROPOSALS)}")
    newest = page.locator("#domains-body tr").first
    titles = page.locator("#domains-body tr .title").all_inner_texts()
    assert titles[:4] == [t for _, t, _ in reversed(PROPOSALS)]  # newest first
    assert len(titles) == len(SEEDS) + len(PROPOSALS)
    assert newest.locator(".helix-badge").inner_text() == "Environment and sustainability"
    assert newest.locator(".new-badge").inner_text() == "New"
    assert page.locator("#new-text").inner_text() == "New since you last looked: 4"
    hint = newest.locator(".hint", has_text="Green hydrogen valleys")
    hint.wait_for()
    assert "similarity" in hint.inner_text()
    assert_fits(page, "propose", "#domains-body tr:first-child .merge-similar")
    snap(page, "propose")
    assert_accessible(page, "console propose")

    # One click merges the near-duplicate into the proposal it repeats.
    hint.get_by_role("button", name="Merge into “Green hydrogen valleys”").click()
    page.locator("#domains-body tr", has_text="Merged into: Green hydrogen valleys").wait_for()
    domains = {d["domain_id"]: d for d in fac.state()["domains"]}
    assert domains[ids["Green hydrogen valley"]]["status"] == "merged"
    assert domains[ids["Green hydrogen valley"]]["merged_into"] == ids["Green hydrogen valleys"]
    target = page.locator("#domains-body tr").filter(
        has=page.locator(".title", has_text="Green hydrogen valleys"))
    assert "Green hydrogen valley" in target.locator(".lineage").inner_text()
    assert target.locator(".hint").count() == 0  # nothing left to merge with

    # Looking elsewhere marks the proposals as seen.
    page.locator("#tab-lobby").click()
    assert page.locator('[data-badge="propose"]').inner_text() == ""
    page.locator("#tab-propose").click()
    assert page.locator("#new-note").is_hidden()

    # Discuss: the comment wall by domain, live; hide and restore from the console.
    next_phase(page, "discuss")
    gov, aca = phones["government"][0], phones["academia"][0]
    hydrogen, tourism = ids["Green hydrogen valleys"], domains_by_title(fac, SEEDS[2])
    kept = gov.call("comment", {"domain_id": hydrogen, "stance": "concern",
                                "text": "Water use must be measured first."})["comment_id"]
    rude = aca.call("comment", {"domain_id": hydrogen, "stance": "support",
                                "text": "Anyone who disagrees is an idiot."})["comment_id"]
    aca.call("comment", {"domain_id": tourism, "stance": "evidence",
                         "text": "Visitor nights grew 12% a year since 2019."})
    page.locator(".wall-item", has_text="Anyone who disagrees").wait_for()
    group = page.locator(".wall-group", has_text="Green hydrogen valleys")
    assert group.locator(".wall-item").count() == 2
    item = page.locator(".wall-item", has_text="Anyone who disagrees")
    assert "Support" in item.inner_text() and "Academia and research" in item.inner_text()
    assert_fits(page, "discuss", "#wall-stance", ".wall-item")
    snap(page, "discuss")
    assert_accessible(page, "console discuss")

    watcher = phones["business"][1]
    watcher.events.clear()
    item.get_by_role("button", name="Hide the comment “Anyone who disagrees is an idiot.”").click()
    item.locator(".hidden-badge", has_text="Hidden").wait_for()
    assert item.get_attribute("data-hidden") == "yes"
    wait_until(lambda: any(e["comment_id"] == rude for e in watcher.got("comment_hidden")),
               page, "the phone hears that the comment is hidden")
    assert all(e["comment_id"] != kept for e in watcher.got("comment_hidden"))
    assert "1 hidden" in page.locator("#wall-count").inner_text()
    snap(page, "discuss-hidden")
    assert_accessible(page, "console discuss with a hidden comment")
    item.get_by_role("button", name="Restore the comment “Anyone who disagrees is an idiot.”").click()
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.wall-item')).some(li =>"
        " li.textContent.includes('Anyone who disagrees') && li.dataset.hidden === 'no')")
    wait_until(lambda: any(c["comment_id"] == rude for c in watcher.got("comment")),
               page, "the phone gets the comment back")

    # The stance filter.
    page.locator("#wall-stance").select_option("evidence")
    assert page.locator(".wall-item").count() == 1
    assert "Visitor nights" in page.locator(".wall-item").inner_text()
    page.locator("#wall-stance").select_option("")

    # Vote: "N of M have voted" follows the ballots, by helix.
    next_phase(page, "vote")
    assert page.locator("#voted-summary").inner_text() == "0 of 6 have voted"
    phones["business"][0].call("vote", {"domain_id": hydrogen, "points": 3})
    page.wait_for_function("() => document.getElementById('voted-summary').textContent === '1 of 6 have voted'")
    gov.call("vote", {"domain_id": tourism, "points": 2})
    aca.call("vote", {"domain_id": hydrogen, "points": 4})
    page.wait_for_function("() => document.getElementById('voted-summary').textContent === '3 of 6 have voted'")
    assert page.locator("#voted-by-helix li", has_text="Business").locator(".bar-value").inner_text() == "1 of 2"
    assert page.locator("#voted-by-helix li", has_text="Civil society").locator(".bar-value").inner_text() == "0 of 1"
    page.wait_for_function(
        "() => document.querySelector('#results-body tr th .title')?.textContent === 'Green hydrogen valleys'")
    assert page.locator("#tab-vote .tab-badge").inner_text() == "3 of 6"
    page.wait_for_timeout(400)  # the charts' animation
    assert_fits(page, "vote", "#voted-summary", "#reveal", "#method")
    snap(page, "vote")
    assert_accessible(page, "console vote")

    # Results: the same live results on their own panel, with the reveal toggle.
    next_phase(page, "results")
    page.get_by_role("button", name="Hide results from participants").wait_for()
    page.wait_for_timeout(400)
    assert_fits(page, "results", "#reveal", "#results-table")
    snap(page, "results")
    assert_accessible(page, "console results")

    # Decide: the line and the forms.
    next_phase(page, "decide")
    item = page.locator("#decide-list > li", has_text="Green hydrogen valleys")
    item.locator("summary").click()
    item.get_by_label("Rank").fill("1")
    item.get_by_label("Rationale (required)").fill("Wind surplus and two universities.")
    item.get_by_role("button", name="Save priority").click()
    page.locator("#shortlist li", has_text="Priority 1: Green hydrogen valleys").wait_for()
    item.locator("summary").click()  # folded again; the list scrolls back to its top
    page.locator("#decide-forms-h").scroll_into_view_if_needed()
    assert_fits(page, "decide", "#tradeoff", "#decide-h", "#decide-forms-h", "#decide-list summary")
    snap(page, "decide")
    assert_accessible(page, "console decide")

    # Closed: the exports and what comes next.
    next_phase(page, "closed")
    assert page.locator("#phase-next").is_disabled()
    assert page.get_by_role("link", name="Full record (JSON)").is_visible()
    assert_fits(page, "closed", "#export-h", "#next-round-h")
    snap(page, "closed")
    assert_accessible(page, "console closed")

    assert errors == [], errors
    context.close()


def domains_by_title(fac: Facilitator, title: str) -> int:
    return next(d["domain_id"] for d in fac.state()["domains"] if d["title"] == title)


def wait_until(predicate, page, what: str, tries: int = 100) -> None:
    """Polls a condition on a python-socketio client while the page keeps running."""
    for _ in range(tries):
        if predicate():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out: {what}")


def test_pending_proposals_come_first_under_pre_moderation(live_server, chromium, tmp_path,  # noqa: F811
                                                           people):
    ws = live_server.seed(template=fifteen_plus(tmp_path, moderation="pre"))
    live_server.start()
    base = live_server.url
    errors: list[str] = []
    context, page = open_console(chromium, base, ws["id"], errors)
    page.locator('.phase-button[data-phase="propose"]').click()
    page.wait_for_selector("#panel-propose:not([hidden])")
    phone = Phone(base, ws["code"], "business")
    people.append(phone)
    first = phone.call("propose", {"title": "Green hydrogen valleys"})["domain_id"]
    phone.call("propose", {"title": "Aquaculture and blue food"})
    page.locator("#domains-body tr").nth(1).locator(".title", has_text="Green hydrogen valleys").wait_for()
    rows = page.locator("#domains-body tr")
    assert rows.nth(0).get_attribute("data-status") == "pending"
    assert rows.nth(0).locator(".title").inner_text() == "Aquaculture and blue food"
    assert rows.nth(2).get_attribute("data-status") == "approved"
    assert "Proposals waiting for your approval: 2" in page.locator("#queue-note").inner_text()
    assert page.locator('[data-badge="propose"]').inner_text() == "2 new"
    rows.nth(1).get_by_role("button", name="Approve Green hydrogen valleys").click()
    page.locator("#domains-body tr[data-status=approved] .title", has_text="Green hydrogen valleys").wait_for()
    assert page.locator("#domains-body tr").nth(0).locator(".title").inner_text() == "Aquaculture and blue food"
    assert {d["domain_id"]: d["status"] for d in Facilitator(base, ws["id"]).state()["domains"]}[first] == "approved"
    assert errors == [], errors
    context.close()


def test_keyboard_moves_the_phase_but_not_while_typing(live_server, chromium):  # noqa: F811
    ws = live_server.seed()
    live_server.start()
    base, code = live_server.url, ws["code"]
    errors: list[str] = []
    context, page = open_console(chromium, base, ws["id"], errors)

    # The help lists the shortcuts.
    page.get_by_role("button", name="Keyboard").click()
    help_panel = page.locator("#kbd-panel")
    assert help_panel.is_visible()
    assert "Next phase" in help_panel.inner_text() and "Alt" in help_panel.inner_text()
    assert_accessible(page, "console with the keyboard help")
    page.keyboard.press("Escape")
    assert help_panel.is_hidden()

    page.locator("main").focus()
    page.keyboard.press("Alt+ArrowRight")
    page.wait_for_selector('.phase-button[data-phase="vision"][aria-pressed="true"]')
    assert shown_panel(page) == "panel-vision"
    page.keyboard.press("Alt+ArrowRight")
    page.wait_for_selector('.phase-button[data-phase="propose"][aria-pressed="true"]')
    assert phase_of(base, code) == "propose"
    assert shown_panel(page) == "panel-propose"
    page.keyboard.press("Alt+ArrowRight")
    page.wait_for_selector('.phase-button[data-phase="discuss"][aria-pressed="true"]')
    page.keyboard.press("Alt+ArrowLeft")
    page.wait_for_selector('.phase-button[data-phase="propose"][aria-pressed="true"]')
    assert phase_of(base, code) == "propose"
    assert page.url.endswith(f"/f/w/{ws['id']}")  # Alt+arrow did not move the browser's history

    # Typing in a field: the same keys belong to the field.
    page.locator("#timer-minutes").fill("5")
    page.locator("#timer-minutes").press("Alt+ArrowRight")
    page.wait_for_timeout(1000)  # room for a (wrong) phase change to arrive
    assert phase_of(base, code) == "propose"
    assert page.locator('.phase-button[data-phase="propose"]').get_attribute("aria-pressed") == "true"

    # The tabs follow the arrow keys (without Alt) and change no phase.
    page.locator("#tab-propose").focus()
    page.keyboard.press("ArrowRight")
    assert shown_panel(page) == "panel-discuss"
    assert page.evaluate("() => document.activeElement.id") == "tab-discuss"
    assert phase_of(base, code) == "propose"
    assert errors == [], errors
    context.close()


def go_offline(page, context) -> None:
    """The laptop loses the network: no connection can be made, and the open one drops."""
    context.set_offline(True)
    page.evaluate("() => window.edpSocket.io.engine.close()")
    page.wait_for_function("() => document.body.dataset.connected === 'no' && !window.edpSocket.connected")


def go_online(page, context) -> None:
    context.set_offline(False)
    page.wait_for_function(READY, timeout=30000)


def test_a_click_made_offline_is_never_sent_by_itself(live_server, chromium):  # noqa: F811
    ws = live_server.seed()
    live_server.start()
    base, code = live_server.url, ws["code"]
    errors: list[str] = []
    context, page = open_console(chromium, base, ws["id"], errors)
    notice = page.locator("#offline-notice")
    page.add_script_tag(url="/static/vendor/axe.min.js")  # loaded while it still can be

    go_offline(page, context)
    page.locator("#phase-next").click()
    notice.wait_for()
    assert "You are offline: “Vision” was not sent." in notice.inner_text()
    assert page.locator("#offline-send").is_hidden()
    violations = page.evaluate(
        """async () => (await axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa', 'wcag22aa']},
            rules: {'target-size': {enabled: true}}})).violations.map(v => v.id)""")
    assert violations == [], f"console offline with a held action: {violations}"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-offline.png"))

    go_online(page, context)
    page.locator("#offline-send").wait_for()
    assert "Back online. “Vision” was not sent: send it now?" in notice.inner_text()
    page.wait_for_timeout(3000)  # room for a (wrong) replay to reach the server
    assert phase_of(base, code) == "lobby"
    assert page.locator('.phase-button[data-phase="lobby"]').get_attribute("aria-pressed") == "true"
    page.screenshot(path=str(ARTIFACTS / "console-back-online.png"))
    assert_accessible(page, "console back online with a held action")

    # The facilitator confirms: now it is sent, once.
    page.locator("#offline-send").click()
    page.wait_for_selector('.phase-button[data-phase="vision"][aria-pressed="true"]')
    assert phase_of(base, code) == "vision"
    assert notice.is_hidden()

    # Discard: the held click is dropped for good.
    go_offline(page, context)
    page.get_by_role("button", name="Vote", exact=True).click()
    assert "“Vote” was not sent" in notice.inner_text()
    go_online(page, context)
    page.locator("#offline-discard").click()
    assert notice.is_hidden()
    page.get_by_text("“Vote” was discarded.").wait_for()
    page.wait_for_timeout(2000)  # room for a (wrong) replay
    assert phase_of(base, code) == "vision"
    # Offline, the browser reports the failed reconnection attempts; nothing else may fail.
    assert [e for e in errors if "ERR_INTERNET_DISCONNECTED" not in e] == [], errors
    context.close()


def test_console_on_a_phone(live_server, chromium):  # noqa: F811
    ws = live_server.seed()
    live_server.start()
    errors: list[str] = []
    context, page = open_console(chromium, live_server.url, ws["id"], errors, width=390, height=844,
                                 is_mobile=True, has_touch=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator("#phase-next").is_visible()
    page.locator("#phase-next").tap()
    page.wait_for_selector("#panel-vision:not([hidden])")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_function("() => !document.getElementById('console-status').textContent", timeout=10000)
    page.screenshot(path=str(ARTIFACTS / "console-phone-propose.png"), full_page=True)
    assert_accessible(page, "console on a phone")
    assert errors == [], errors
    context.close()


def test_the_lobby_says_when_phones_cannot_join(live_server, chromium):  # noqa: F811
    """A server listening on loopback only: the lobby panel says so, in red, beside the QR."""
    live_server.env.pop("EDP_PUBLIC_URL")
    ws = live_server.seed()
    live_server.start()
    errors: list[str] = []
    context, page = open_console(chromium, live_server.url, ws["id"], errors)
    warning = page.locator("#panel-lobby #join-warning")
    assert warning.is_visible()
    assert "Phones cannot reach this join link" in warning.inner_text()
    assert page.evaluate("getComputedStyle(document.getElementById('join-warning')).color") == "rgb(140, 29, 23)"
    assert_fits(page, "lobby with the join warning", "#join-warning", ".console-qr")
    snap(page, "lobby-warning")
    assert_accessible(page, "console lobby with the join warning")
    assert errors == [], errors
    context.close()
