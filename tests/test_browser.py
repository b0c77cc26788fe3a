"""A real Chromium drives the three faces at once: console (laptop), projector, phone.

One scenario: the facilitator opens the vote and reveals results from the console, a phone joins
and gives points, the projector's chart and ranking follow live, and a reload of the phone keeps
its identity and its points. Screenshots go to tests/artifacts/ (look at them); axe-core checks
the phone and projector pages for WCAG 2.2 AA violations.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import PASSWORD, ROOT, chromium_path, missing

pytestmark = [pytest.mark.browser, pytest.mark.server]

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
AXE = ROOT / "static" / "vendor" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
READY = "() => window.edpReady === true && window.edpSocket && window.edpSocket.connected"


def axe_violations(page) -> list[dict]:
    # The page's CSP refuses inline scripts (what add_script_tag(path=...) injects), so axe-core
    # is loaded from the app's own /static/vendor/, the same file as AXE.
    page.add_script_tag(url="/static/vendor/axe.min.js")
    return page.evaluate(
        """async () => (await axe.run(document, {
            runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa', 'wcag22aa']},
            rules: {'target-size': {enabled: true}},
        })).violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                  nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))"""
    )


def assert_accessible(page, name: str) -> None:
    violations = axe_violations(page)
    if violations:
        print(f"axe violations on {name}:\n" + json.dumps(violations, indent=2))
    assert violations == [], f"{name}: " + ", ".join(v["id"] for v in violations)


@pytest.fixture
def chromium():
    executable = chromium_path()
    if executable is None:
        missing("Chromium", "apt-get install -y chromium")
    if not AXE.exists():
        missing("static/vendor (axe-core, Chart.js, socket.io-client)", "make setup")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def log_in(page) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill("fac@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/f/")


def collect_errors(errors: list[str], page, name: str) -> None:
    page.on("pageerror", lambda exc: errors.append(f"{name}: {exc}"))
    page.on("console", lambda msg: msg.type == "error" and errors.append(f"{name}: {msg.text}"))


def phone_context(chromium, base: str):
    return chromium.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        base_url=base,
    )


def test_vote_on_phone_shows_live_on_projector(live_server, chromium):
    ws = live_server.seed()
    live_server.start()
    base = live_server.url
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []

    def watch(page, name):
        collect_errors(errors, page, name)

    # Facilitator: log in through the form, open the console, open the vote, reveal results.
    laptop = chromium.new_context(viewport={"width": 1280, "height": 800}, base_url=base)
    console = laptop.new_page()
    watch(console, "console")
    log_in(console)
    console.goto(f"/f/w/{ws['id']}")
    console.wait_for_function(READY)
    console.get_by_role("button", name="Vote", exact=True).click()
    console.wait_for_selector('.phase-button[data-phase="vote"][aria-pressed="true"]')
    console.get_by_role("button", name="Show results to everyone").click()
    console.get_by_role("button", name="Hide results from participants").wait_for()

    # Projector.
    screen_ctx = chromium.new_context(viewport={"width": 1280, "height": 720}, base_url=base)
    screen = screen_ctx.new_page()
    watch(screen, "screen")
    screen.goto(f"/screen/{ws['code']}")
    screen.wait_for_function(READY)
    screen.wait_for_selector("#results-panel:not([hidden])")

    # Phone: join with a helix, then give points to the first domain.
    phone_ctx = phone_context(chromium, base)
    phone = phone_ctx.new_page()
    watch(phone, "phone")
    phone.goto(f"/w/{ws['code']}")
    phone.wait_for_function(READY)
    phone.get_by_role("radio", name="Academia and research").check()
    phone.get_by_label("Your name (optional)").fill("Ana")
    phone.screenshot(path=str(ARTIFACTS / "phone-join.png"), full_page=True)
    assert_accessible(phone, "phone join")
    phone.get_by_role("button", name="Join").click()
    phone.wait_for_selector("#view-vote:not([hidden])")
    row = phone.locator("#vote-list > li").first
    title = row.locator(".title").inner_text()
    plus = row.get_by_role("button", name=f"Add a point to {title}")
    for _ in range(3):
        plus.tap()
    phone.wait_for_function(
        "() => document.querySelector('#vote-list > li').dataset.points === '3'"
        " && document.querySelector('#vote-status').textContent.length > 0"
        " && !document.querySelector('#vote-list > li .row-status').textContent.includes('…')"
    )
    budget = phone.locator("#budget")
    assert "7 of 10" in budget.inner_text()
    phone.screenshot(path=str(ARTIFACTS / "phone-vote.png"), full_page=True)
    assert_accessible(phone, "phone vote")

    # Projector: the text ranking and the chart both show the 3 points on that domain.
    screen.wait_for_function(
        """(title) => Array.from(document.querySelectorAll('#ranking li')).some(
             li => li.querySelector('.title').textContent === title
                && li.querySelector('.score').textContent.includes('3'))""",
        arg=title,
    )
    screen.wait_for_function(
        """(title) => {
             const c = window.edpChart;
             if (!c) return false;
             const i = c.data.labels.indexOf(title);
             if (i < 0) return false;
             return c.data.datasets.reduce((sum, d) => sum + (d.data[i] || 0), 0) === 3;
           }""",
        arg=title,
    )
    assert int(screen.evaluate("() => document.body.dataset.resultsVersion")) >= 1
    assert screen.locator("#ranking li").first.locator(".title").inner_text() == title
    screen.wait_for_timeout(400)  # let the bar animation finish before the screenshot
    screen.screenshot(path=str(ARTIFACTS / "screen.png"))
    assert_accessible(screen, "projector")

    # Console: the live results table shows the vote too.
    console.wait_for_function(
        "(title) => document.querySelector('#results-body')?.textContent.includes(title)", arg=title
    )
    console.screenshot(path=str(ARTIFACTS / "console.png"), full_page=True)

    # Reload the phone: same participant (no join form), points still there.
    phone.reload()
    phone.wait_for_function(READY)
    phone.wait_for_selector("#view-vote:not([hidden])")
    assert phone.locator("#view-join").is_hidden()
    phone.wait_for_function(
        "() => document.querySelector('#vote-list > li')?.dataset.points === '3'"
    )
    assert "7 of 10" in phone.locator("#budget").inner_text()

    # A dropped connection: the socket reconnects, rejoins with the token, and voting still works.
    phone.evaluate("() => window.edpSocket.io.engine.close()")
    phone.wait_for_function(READY)
    row = phone.locator("#vote-list > li").first
    row.get_by_role("button", name=f"Add a point to {title}").tap()
    phone.wait_for_function(
        "() => document.querySelector('#vote-list > li').dataset.points === '4'"
        " && document.querySelector('#vote-list > li .row-status').textContent === 'Saved'"
    )
    assert "6 of 10" in phone.locator("#budget").inner_text()
    screen.wait_for_function(
        """(title) => Array.from(document.querySelectorAll('#ranking li')).some(
             li => li.querySelector('.title').textContent === title
                && li.querySelector('.score').textContent.includes('4'))""",
        arg=title,
    )

    assert errors == [], errors
    for ctx in (laptop, screen_ctx, phone_ctx):
        ctx.close()


def test_propose_discuss_moderate_decide(live_server, chromium):
    """The other phases end to end, with axe-core on every page a person sees."""
    ws = live_server.seed()
    live_server.start()
    base = live_server.url
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []

    # Pages without a workshop: join-code form, log-in, dashboard.
    laptop = chromium.new_context(viewport={"width": 1280, "height": 800}, base_url=base)
    console = laptop.new_page()
    collect_errors(errors, console, "console")
    console.goto("/")
    assert_accessible(console, "join-code page")
    console.goto("/login")
    assert_accessible(console, "log-in page")
    log_in(console)
    assert console.get_by_role("link", name="Console").count() == 1
    assert_accessible(console, "dashboard")
    console.goto(f"/f/w/{ws['id']}")
    console.wait_for_function(READY)
    console.get_by_role("button", name="Propose", exact=True).click()
    console.wait_for_selector('.phase-button[data-phase="propose"][aria-pressed="true"]')

    screen_ctx = chromium.new_context(viewport={"width": 1280, "height": 720}, base_url=base)
    screen = screen_ctx.new_page()
    collect_errors(errors, screen, "screen")
    screen.goto(f"/screen/{ws['code']}")
    screen.wait_for_function(READY)
    assert screen.locator("#join-code").inner_text() == ws["code"]
    assert screen.locator(".qr svg").is_visible()

    # Phone: join and propose a domain.
    phone_ctx = phone_context(chromium, base)
    phone = phone_ctx.new_page()
    collect_errors(errors, phone, "phone")
    phone.goto(f"/w/{ws['code']}")
    phone.wait_for_function(READY)
    phone.get_by_role("radio", name="Business").check()
    phone.get_by_role("button", name="Join").click()
    phone.wait_for_selector("#view-propose:not([hidden])")
    phone.get_by_label("Title").fill("Green hydrogen valleys")
    phone.get_by_label("Description (optional)").fill(
        "Electrolysers fed by the region's wind <b>farms</b>."
    )
    phone.locator(".sdgs label", has_text="13").click()
    phone.get_by_role("button", name="Send proposal").click()
    phone.get_by_text("Thank you. Your proposal was added.").wait_for()
    card = phone.locator("#propose-domains > li", has_text="Green hydrogen valleys")
    card.wait_for()
    assert "<b>farms</b>" in card.inner_text()  # user text is shown as text, never parsed
    assert "Your proposal" in card.inner_text()
    phone.screenshot(path=str(ARTIFACTS / "phone-propose.png"), full_page=True)
    assert_accessible(phone, "phone propose")

    screen.locator("#side-domains li", has_text="Green hydrogen valleys").wait_for()
    screen.screenshot(path=str(ARTIFACTS / "screen-propose.png"))
    assert_accessible(screen, "projector (join)")

    # Discuss: a comment with a stance, seen on the phone.
    console.get_by_role("button", name="Discuss", exact=True).click()
    phone.wait_for_selector("#view-discuss:not([hidden])")
    phone.get_by_label("Domain", exact=True).select_option(label="Green hydrogen valleys")
    phone.get_by_role("radio", name="Concern").check()
    phone.get_by_label("Comment", exact=True).fill("Water use must be measured first.")
    phone.get_by_role("button", name="Send comment").click()
    phone.get_by_text("Thank you. Your comment was added.").wait_for()
    item = phone.locator("#discuss-domains > li", has_text="Green hydrogen valleys")
    item.locator("summary").click()
    item.locator(".comment", has_text="Water use must be measured first.").wait_for()
    assert "Comments: 1" in item.locator("summary").inner_text()
    phone.screenshot(path=str(ARTIFACTS / "phone-discuss.png"), full_page=True)
    assert_accessible(phone, "phone discuss")

    # Moderation: hiding a domain removes it from the phone.
    row = console.locator("#domains-body tr").filter(
        has=console.locator(".title", has_text="Sustainable tourism")
    )
    row.get_by_role("button", name="Hide Sustainable tourism").click()
    row.locator(".status-cell", has_text="Hidden").wait_for()
    phone.locator("#discuss-domains > li", has_text="Sustainable tourism").wait_for(
        state="detached"
    )

    # Decide: record a priority with rationale and indicators; the phone shows it.
    console.get_by_role("button", name="Decide", exact=True).click()
    decide = console.locator("#decide-list > li", has_text="Green hydrogen valleys")
    decide.locator("summary").click()
    decide.get_by_label("Rank").fill("1")
    decide.get_by_label("Rationale (required)").fill("Wind surplus and two universities.")
    decide.get_by_label("Indicators, one per line").fill("MW of electrolysers\nJobs created")
    decide.get_by_role("button", name="Save priority").click()
    console.locator("#shortlist li", has_text="Priority 1: Green hydrogen valleys").wait_for()
    console.screenshot(path=str(ARTIFACTS / "console-decide.png"), full_page=True)
    assert_accessible(console, "console")

    phone.wait_for_selector("#view-decide:not([hidden])")
    priority = phone.locator("#priorities > li", has_text="Green hydrogen valleys")
    priority.wait_for()
    assert "Wind surplus and two universities." in priority.inner_text()
    assert "Jobs created" in priority.inner_text()
    phone.screenshot(path=str(ARTIFACTS / "phone-decide.png"), full_page=True)
    assert_accessible(phone, "phone decide")

    screen.locator("#priorities li", has_text="Green hydrogen valleys").wait_for()
    screen.screenshot(path=str(ARTIFACTS / "screen-decide.png"))

    assert errors == [], errors
    for ctx in (laptop, screen_ctx, phone_ctx):
        ctx.close()
