"""A real Chromium drives the three faces at once: console (laptop), projector, phone.

One scenario: the facilitator opens the vote and reveals results from the console, a phone joins
and gives points, the projector's chart and ranking follow live, and a reload of the phone keeps
its identity and its points. Screenshots go to tests/artifacts/ (look at them); axe-core checks
the phone and projector pages for WCAG 2.2 AA violations.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import AGRI_TEMPLATE, PASSWORD, ROOT, TEMPLATE, chromium_path, missing

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
    # Colours are judged once finite transitions have settled (a projector page fading in is
    # mid-opacity for a moment; what the room reads is the settled page).
    return page.evaluate(
        """async () => (await Promise.all(document.getAnimations()
            .filter(a => a.effect && a.effect.getTiming().iterations !== Infinity)
            .map(a => a.finished.catch(() => null))), await axe.run(document, {
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


def phone_context(chromium, base: str, locale: str = "en-US"):
    return chromium.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        base_url=base,
        locale=locale,  # also the Accept-Language header the page's default language follows
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
    # Two more academics give a point elsewhere: phones and the projector see a helix only from
    # 3 voters on (small-group privacy), so the phone's ballot shows once its group is 3 strong.
    from test_browser_console import Phone

    colleagues = [Phone(base, ws["code"], "academia") for _ in range(2)]
    other = next(d for d in colleagues[0].joined["state"]["domains"] if d["title"] != title)
    for colleague in colleagues:
        colleague.call("vote", {"domain_id": other["domain_id"], "points": 1})
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
    wait_quiet(phone)  # the "You have joined." toast
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
        """(title) => Array.from(document.querySelectorAll('#rank-bars > li')).some(
             li => li.querySelector('.title').textContent === title
                && li.querySelector('.rank-score').textContent === '3'
                && li.querySelectorAll('.seg').length === 1)""",
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

    # Offline: a tap while the connection is down says that it waits, shows the new budget at
    # once, and is saved (once) after the reconnection and rejoin.
    phone.evaluate(
        """() => { const m = window.edpSocket.io;
             m.reconnectionDelay(2500); m.reconnectionDelayMax(2500); m.randomizationFactor(0);
             m.engine.close(); }"""
    )
    phone.wait_for_function("() => document.body.dataset.connected === 'no'")
    assert phone.locator("#connection").inner_text() == "Offline — reconnecting…"
    row.get_by_role("button", name=f"Take a point from {title}").tap()
    row_status = row.locator(".row-status")
    assert row_status.inner_text() == "Not sent yet: waiting for the connection…"
    assert "7 of 10" in phone.locator("#budget").inner_text()
    phone.wait_for_function(
        "() => document.querySelector('#vote-list > li').dataset.points === '3'"
        " && document.querySelector('#vote-list > li .row-status').textContent === 'Saved'"
        " && document.body.dataset.connected === 'yes'"
    )
    assert phone.locator("#connection").inner_text() == ""
    screen.wait_for_function(
        """(title) => Array.from(document.querySelectorAll('#ranking li')).some(
             li => li.querySelector('.title').textContent === title
                && li.querySelector('.score').textContent === 'Score: 3')""",
        arg=title,
    )

    # Keyboard only: Tab from the top of the page to the + button of a domain without points
    # (the first row holds 4 of the 5 points one domain may get), then Enter and Space.
    phone.evaluate("() => document.getElementById('main').focus()")  # as after the skip link
    on_empty_plus = (
        "() => document.activeElement.matches('#vote-list .plus')"
        " && document.activeElement.closest('li').dataset.points === '0'"
    )
    for _ in range(30):
        phone.keyboard.press("Tab")
        if phone.evaluate(on_empty_plus):
            break
    else:
        pytest.fail("no + button can be reached with Tab")
    key = phone.evaluate("() => document.activeElement.closest('li').dataset.key")
    phone.keyboard.press("Enter")
    phone.keyboard.press("Space")
    phone.wait_for_function(
        """(key) => { const li = document.querySelector(`#vote-list > li[data-key="${key}"]`);
             return li.dataset.points === '2' && li.querySelector('.row-status').textContent === 'Saved'; }""",
        arg=key,
    )
    assert "5 of 10" in phone.locator("#budget").inner_text()
    assert phone.evaluate("() => document.activeElement.matches('#vote-list .plus')")  # focus stays

    for colleague in colleagues:
        colleague.close()
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
    # Propose: the proposals on the stage, the join code and a small QR code in the corner.
    assert screen.locator("#corner-code").inner_text() == ws["code"]
    assert screen.locator(".corner-qr svg").is_visible()

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
    phone.locator("#sdg-picker summary").click()  # the 17 goals are folded away
    phone.locator(".sdgs label", has_text="13").click()
    phone.get_by_role("button", name="Send proposal").click()
    phone.get_by_text("Thank you. Your proposal was added.").wait_for()
    card = phone.locator("#propose-domains > li", has_text="Green hydrogen valleys")
    card.wait_for()
    assert "<b>farms</b>" in card.inner_text()  # user text is shown as text, never parsed
    assert "Your proposal" in card.inner_text()
    wait_quiet(phone)
    phone.screenshot(path=str(ARTIFACTS / "phone-propose.png"), full_page=True)
    assert_accessible(phone, "phone propose")

    screen.locator("#domains li", has_text="Green hydrogen valleys").wait_for()
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
    item.locator("summary").first.click()  # the domain's; its SWOT folds apart below
    item.locator(".comment", has_text="Water use must be measured first.").wait_for()
    assert "Comments: 1" in item.locator("summary").first.inner_text()
    wait_quiet(phone)
    phone.screenshot(path=str(ARTIFACTS / "phone-discuss.png"), full_page=True)
    assert_accessible(phone, "phone discuss")

    # Moderation: hiding a domain removes it from the phone.
    console.locator("#tab-propose").click()  # the discussion shows the comments' panel
    row = console.locator("#domains-body tr").filter(
        has=console.locator(".title", has_text="Sustainable tourism")
    )
    row.get_by_role("button", name="Hide Sustainable tourism").click()
    row.locator(".status-cell", has_text="Hidden").wait_for()
    phone.locator("#discuss-domains > li", has_text="Sustainable tourism").wait_for(
        state="detached"
    )
    # That state broadcast leaves the comments' text out: the phone keeps the one it has.
    assert item.locator(".comment", has_text="Water use must be measured first.").is_visible()
    assert "Comments: 1" in item.locator("summary").first.inner_text()

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
    wait_quiet(phone)
    phone.screenshot(path=str(ARTIFACTS / "phone-decide.png"), full_page=True)
    assert_accessible(phone, "phone decide")

    screen.locator("#priorities li", has_text="Green hydrogen valleys").wait_for()
    screen.screenshot(path=str(ARTIFACTS / "screen-decide.png"))

    assert errors == [], errors
    for ctx in (laptop, screen_ctx, phone_ctx):
        ctx.close()


# ---------------------------------------------------------------- results that resist capture

EXTRA_DOMAINS = [
    "Green hydrogen valleys",
    "Circular forestry and bio-based materials",
    "Aquaculture and blue food",
    "Creative industries and design",
    "Smart logistics for ports",
]
SEEDED = [
    "Advanced manufacturing for the energy transition",
    "Digital services for public health",
    "Sustainable tourism and cultural heritage",
]


def give_points(phone, title: str, points: int) -> None:
    """Tap + on one domain's row until it holds `points`, and wait until it is saved."""
    row = phone.locator("#vote-list > li", has_text=title)
    plus = row.get_by_role("button", name=f"Add a point to {title}")
    for _ in range(points):
        plus.tap()
    phone.wait_for_function(
        "([title, points]) => Array.from(document.querySelectorAll('#vote-list > li')).some(li =>"
        " li.querySelector('.title').textContent === title && li.dataset.points === points"
        " && li.querySelector('.row-status').textContent === 'Saved')",
        arg=[title, str(points)],
    )


def vote_order(phone) -> list[str]:
    return phone.locator("#vote-list > li .title").all_inner_texts()


def join_phone(chromium, base: str, code: str, helix: str, errors: list[str], name: str):
    ctx = phone_context(chromium, base)
    phone = ctx.new_page()
    collect_errors(errors, phone, name)
    phone.goto(f"/w/{code}")
    phone.wait_for_function(READY)
    phone.get_by_role("radio", name=helix).check()
    phone.get_by_role("button", name="Join").click()
    phone.wait_for_selector("#view-lobby:not([hidden])")
    return ctx, phone


def test_results_warnings_shuffle_and_the_line(live_server, chromium, tmp_path):
    """Hidden results until reveal, both charts, one-helix and under-representation warnings
    on the console, a per-phone domain order, and what falls below the line at max_priorities."""
    template = tmp_path / "eight-domains.toml"
    text = TEMPLATE.read_text().replace("max_priorities = 5", "max_priorities = 2")
    assert "max_priorities = 2" in text
    template.write_text(text + "".join(f'\n[[domains]]\ntitle = "{t}"\n' for t in EXTRA_DOMAINS))
    ws = live_server.seed(template=template)
    live_server.start()
    base = live_server.url
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []

    laptop = chromium.new_context(viewport={"width": 1280, "height": 800}, base_url=base)
    console = laptop.new_page()
    collect_errors(errors, console, "console")
    log_in(console)
    console.goto(f"/f/w/{ws['id']}")
    console.wait_for_function(READY)

    screen_ctx = chromium.new_context(viewport={"width": 1280, "height": 720}, base_url=base)
    screen = screen_ctx.new_page()
    collect_errors(errors, screen, "screen")
    screen.goto(f"/screen/{ws['code']}")
    screen.wait_for_function(READY)

    # Two phones of different helices join in the lobby.
    biz_ctx, biz = join_phone(chromium, base, ws["code"], "Business", errors, "business phone")
    aca_ctx, aca = join_phone(chromium, base, ws["code"], "Academia and research", errors,
                              "academia phone")

    # Before the vote opens, the console warns about the helices nobody came from.
    warning = console.locator("#participation-warning")
    warning.wait_for()
    assert console.evaluate("() => document.body.dataset.phase") == "lobby"
    for helix in ("Public administration", "Civil society", "Funding bodies"):
        assert helix in warning.inner_text()
    assert "Business" not in warning.inner_text()
    civil = console.locator("#counts li", has_text="Civil society")
    assert civil.get_attribute("data-under") == "yes"
    assert "under-represented" in civil.inner_text()

    # The vote: each phone lists the domains in its own order, stable across a reload.
    console.get_by_role("button", name="Vote", exact=True).click()
    biz.wait_for_selector("#view-vote:not([hidden])")
    aca.wait_for_selector("#view-vote:not([hidden])")
    server_order = SEEDED + EXTRA_DOMAINS
    biz_order, aca_order = vote_order(biz), vote_order(aca)
    assert sorted(biz_order) == sorted(aca_order) == sorted(server_order)
    assert biz_order != aca_order
    assert server_order not in (biz_order, aca_order)
    biz.reload()
    biz.wait_for_function(READY)
    biz.wait_for_selector("#view-vote:not([hidden])")
    assert vote_order(biz) == biz_order

    # Business backs one domain alone, academia another; both back "Smart logistics". Two
    # colleagues of each phone vote as it does: phones and the projector see a helix only from 3
    # voters on (small-group privacy).
    give_points(biz, SEEDED[0], 5)
    give_points(biz, "Smart logistics for ports", 3)
    give_points(aca, "Aquaculture and blue food", 5)
    give_points(aca, "Smart logistics for ports", 3)
    from test_browser_console import Phone

    colleagues = []
    for helix, alone in (("business", SEEDED[0]), ("academia", "Aquaculture and blue food")):
        for _ in range(2):
            colleague = Phone(base, ws["code"], helix)
            ids = {d["title"]: d["domain_id"] for d in colleague.joined["state"]["domains"]}
            colleague.call("vote", {"domain_id": ids[alone], "points": 5})
            colleague.call("vote", {"domain_id": ids["Smart logistics for ports"], "points": 3})
            colleagues.append(colleague)

    # The console always sees the results, with the warnings in plain words.
    console.wait_for_function(
        "() => Array.from(document.querySelectorAll('#results-body tr')).some(tr =>"
        " tr.textContent.includes('Smart logistics for ports')"
        " && tr.querySelectorAll('td')[1].textContent === '18')"
    )
    alone = console.locator("#warnings li", has_text=SEEDED[0])
    alone.wait_for()
    assert "Support comes only from Business" in alone.inner_text()
    other = console.locator("#warnings li", has_text="Aquaculture and blue food")
    assert "Support comes only from Academia and research" in other.inner_text()
    assert console.locator("#warnings li", has_text="Smart logistics for ports").count() == 0
    row = console.locator("#results-body tr", has_text=SEEDED[0])
    assert "Support comes only from Business" in row.inner_text()
    console.wait_for_function(
        "() => { const c = Chart.getChart(document.getElementById('consensus-chart'));"
        " return c && c.data.datasets.reduce((n, d) => n + d.data.length, 0) === 3; }"
    )

    # The projector shows no results before the reveal...
    screen.wait_for_timeout(500)  # room for a (wrong) results broadcast to arrive
    assert screen.locator("#results-panel").is_hidden()
    assert screen.locator("#ranking li").count() == 0
    assert screen.evaluate("() => window.edpConsensusChart === undefined")
    assert screen.locator("#rank-bars li").count() == 0
    assert screen.evaluate("() => document.body.dataset.stage") == "vote"  # turnout, titles, no figures
    assert "Score" not in screen.locator("body").inner_text()

    # ... and both charts after it.
    console.get_by_role("button", name="Show results to everyone").click()
    screen.wait_for_selector("#results-panel:not([hidden])")
    points = screen.wait_for_function(
        """() => {
             const c = window.edpConsensusChart;
             if (!c) return null;
             const byKind = Object.fromEntries(c.data.datasets.map(d => [d.key, d.data.map(p => p.title)]));
             return byKind.one_helix.length === 2 ? byKind : null;
           }"""
    ).json_value()
    assert sorted(points["one_helix"]) == sorted([SEEDED[0], "Aquaculture and blue food"])
    assert points["broad"] == ["Smart logistics for ports"]
    assert screen.locator("#ranking li").first.locator(".title").inner_text() == (
        "Smart logistics for ports")
    legend = screen.locator("#helix-legend li .legend-label").all_inner_texts()
    assert legend == ["Business", "Academia and research"]  # the per-helix split
    top = screen.locator("#rank-bars > li").first
    assert top.locator(".title").inner_text() == "Smart logistics for ports"
    assert top.locator(".seg").count() == 2
    assert "Business: 9" in top.locator(".rank-split").text_content()
    screen.wait_for_timeout(500)  # let the animation finish before the screenshot
    screen.screenshot(path=str(ARTIFACTS / "screen-results.png"))
    assert_accessible(screen, "projector (results)")

    # Decide: the cap is 2. Two domains supported by one helix each make the list; the domain
    # with the highest score and both helices behind it falls below the line, and the console
    # says so.
    console.get_by_role("button", name="Decide", exact=True).click()
    console.wait_for_selector('.phase-button[data-phase="decide"][aria-pressed="true"]')
    ids = console.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('#below-line tr'))
             .map(tr => [tr.querySelector('.title').textContent, Number(tr.dataset.domain)]))"""
    )
    for rank, title in enumerate([SEEDED[0], "Aquaculture and blue food"], start=1):
        ack = console.evaluate(
            """([wid, domain, rank]) => window.edpSocket.emitWithAck('decide',
                 {workshop_id: wid, domain_id: domain, rank, rationale: 'Tested on purpose'})""",
            [ws["id"], ids[title], rank],
        )
        assert ack["ok"], ack
    tradeoff = console.locator("#tradeoff")
    console.wait_for_function("() => document.querySelector('#tradeoff').dataset.full === 'yes'")
    above = console.locator("#above-line tr").all_inner_texts()
    assert [SEEDED[0] in above[0], "Aquaculture and blue food" in above[1]] == [True, True]
    assert "Support comes only from Business" in above[0]
    assert "Below the line" in console.locator("#line-label").inner_text()
    below = console.locator("#below-line tr", has_text="Smart logistics for ports")
    assert "Scores higher than priority 1" in below.inner_text()  # 18 points against 15
    # Every voter of both helices (three each) gave it points: (3 + 1) / (3 + 2) per helix.
    assert "80%" in below.inner_text()
    assert console.locator("#below-line tr").count() == len(server_order) - 2
    # A further priority is refused: the short list cannot grow past the cap.
    ack = console.evaluate(
        """([wid, domain]) => window.edpSocket.emitWithAck('decide',
             {workshop_id: wid, domain_id: domain, rank: 3, rationale: 'One too many'})""",
        [ws["id"], ids["Smart logistics for ports"]],
    )
    assert not ack["ok"]
    tradeoff.scroll_into_view_if_needed()
    console.wait_for_timeout(400)
    console.screenshot(path=str(ARTIFACTS / "console-results.png"), full_page=True)
    assert_accessible(console, "console (results and the line)")

    for colleague in colleagues:
        colleague.close()
    assert errors == [], errors
    for ctx in (laptop, screen_ctx, biz_ctx, aca_ctx):
        ctx.close()


# ---------------------------------------------------------------- a whole workshop in Spanish

# Strings from the es catalogue (edp/translations/es/LC_MESSAGES/messages.po).
ES = {
    "join_h": "Unirse al taller",
    "join": "Unirse",
    "lobby": "Sala de espera",
    "propose": "Proponer",
    "discuss": "Debatir",
    "vote": "Votación",
    "results": "Resultados",
    "decide": "Decidir",
    "closed": "Cerrado",
    "saved": "Guardado",
}
AGRI = {
    "riego": "Riego de precisión",
    "bio": "Bioinsumos y control biológico",
    "traza": "Trazabilidad y certificación de origen",
    "residuos": "Valorización de residuos agroindustriales",
    "agro": "Agroturismo y gastronomía local",
    "rural": "Turismo rural y gastronomía",
}


def wait_quiet(phone) -> None:
    """Ready for a screenshot: no transient toast on screen, scrolled to the top (a full-page
    screenshot of a scrolled page paints the sticky bar in the middle)."""
    phone.wait_for_function("() => !document.getElementById('status').textContent", timeout=10000)
    phone.evaluate("() => window.scrollTo(0, 0)")


def join_in_spanish(chromium, base, code, locale, helix, errors, name):
    """A phone opens the join page with its browser's language and ends up joined in Spanish."""
    ctx = phone_context(chromium, base, locale=locale)
    phone = ctx.new_page()
    collect_errors(errors, phone, name)
    phone.goto(f"/w/{code}")
    phone.wait_for_function(READY)
    if locale.startswith("en"):
        # An English-only browser gets English first; the picker switches to Spanish.
        assert phone.locator("#join-h").inner_text() == "Join the workshop"
        phone.get_by_role("link", name="Español").click()
        phone.wait_for_url("**lang=es**")
    elif locale.startswith("pt"):
        assert phone.locator("#join-h").inner_text() == "Entrar na oficina"
        phone.get_by_role("link", name="Español").click()
        phone.wait_for_url("**lang=es**")
    # Null-safe: the check may run while the page is still being replaced.
    phone.wait_for_function(
        "() => !!document.documentElement && document.documentElement.lang === 'es'"
        " && window.edpReady === true"
    )
    assert phone.locator("#join-h").inner_text() == ES["join_h"]
    assert phone.get_by_role("link", name="Español").get_attribute("aria-current") == "true"
    phone.get_by_role("radio", name=helix).check()
    phone.get_by_role("button", name=ES["join"], exact=True).click()
    phone.wait_for_selector("#view-lobby:not([hidden])")
    assert "Ya está en el taller" in phone.locator("#view-lobby h2").inner_text()
    assert phone.locator("#me-label").inner_text() == f"Participa como: {helix}"
    return ctx, phone


def set_phase(console, phase: str, minutes: str = "") -> None:
    console.locator("#timer-minutes").fill(minutes)  # by id: new strings get translated meanwhile
    key = {v: k for k, v in ES.items()}[phase]
    console.get_by_role("button", name=phase, exact=True).click()
    console.wait_for_selector(f'.phase-button[data-phase="{key}"][aria-pressed="true"]')


def score(phone, title: str, values: dict[str, int]) -> None:
    """Tap the chips of one domain's scales, each saved before the next."""
    card = phone.locator("#vote-list > li", has_text=title)
    for criterion, value in values.items():
        card.locator(f'[data-criterion="{criterion}"] input[value="{value}"]').check()
        phone.wait_for_function(
            """([title, criterion, value]) => {
                 const li = Array.from(document.querySelectorAll('#vote-list > li'))
                   .find(li => li.querySelector('.title').textContent === title);
                 return li && !li.dataset.pending && li.querySelector('.row-status').textContent === 'Guardado'
                   && li.querySelector(`[data-criterion="${criterion}"] input:checked`)?.value === String(value);
               }""",
            arg=[title, criterion, value],
        )


def test_whole_workshop_in_spanish(live_server, chromium):
    """Console, projector and three phones run the Spanish agri-food focus group (scoring)
    from the lobby to the closed workshop; every face speaks Spanish, the countdown set on the
    console shows on the projector and the phones, and each face is screenshotted and checked
    with axe-core."""
    ws = live_server.seed(template=AGRI_TEMPLATE)
    live_server.start()
    base = live_server.url
    code = ws["code"]
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []

    # Facilitator: the log-in page follows the (English) browser; the console the workshop.
    laptop = chromium.new_context(viewport={"width": 1280, "height": 800}, base_url=base)
    console = laptop.new_page()
    collect_errors(errors, console, "console")
    log_in(console)
    console.goto(f"/f/w/{ws['id']}")
    console.wait_for_function(READY)
    assert "Consola" in console.title()
    assert console.locator("#phase-now").inner_text() == f"Fase: {ES['lobby']}"
    for phase in ("lobby", "propose", "discuss", "vote", "results", "decide", "closed"):
        assert console.get_by_role("button", name=ES[phase], exact=True).count() == 1
    console.locator("#tab-propose").click()  # the lobby shows the participants' panel
    assert console.get_by_role("heading", name="Dominios y moderación").is_visible()

    # Projector.
    screen_ctx = chromium.new_context(viewport={"width": 1280, "height": 720}, base_url=base)
    screen = screen_ctx.new_page()
    collect_errors(errors, screen, "screen")
    screen.goto(f"/screen/{code}")
    screen.wait_for_function(READY)
    assert screen.locator("html").get_attribute("lang") == "es"
    assert screen.locator("#phase-label").inner_text() == ES["lobby"]
    assert screen.get_by_role("heading", name="Participe desde su teléfono").is_visible()
    assert screen.locator("#join-code").inner_text() == code
    assert screen.locator(".qr svg").is_visible()
    assert screen.locator("#timer").is_hidden()

    # Three phones of three helices: a Spanish phone gets Spanish at once; an English and a
    # Portuguese one pick Spanish on the join page.
    helices = ["Empresas y cooperativas", "Academia e investigación", "Sociedad civil"]
    phones = []
    for i, (locale, helix) in enumerate(zip(["es-ES", "en-US", "pt-BR"], helices), start=1):
        phones.append(join_in_spanish(chromium, base, code, locale, helix, errors, f"phone {i}"))
        if i == 2:
            # The English phone before it joined, now in Spanish: the join page for the README.
            pass
    (c1, p1), (c2, p2), (c3, p3) = phones
    screen.wait_for_function("() => document.getElementById('total').textContent === 'Participantes: 3'")
    console.wait_for_function(
        "() => document.getElementById('total').textContent.includes('Participantes: 3')"
    )

    # A fresh phone's join page, for the screenshot and axe.
    c4 = phone_context(chromium, base, locale="es-ES")
    p4 = c4.new_page()
    collect_errors(errors, p4, "phone 4")
    p4.goto(f"/w/{code}")
    p4.wait_for_function(READY)
    p4.get_by_role("radio", name="Medio ambiente y sostenibilidad").check()
    p4.screenshot(path=str(ARTIFACTS / "es-phone-join.png"))
    assert_accessible(p4, "phone join (es)")
    c4.close()

    # Propose, with a five-minute countdown: the projector and the phones count down.
    set_phase(console, ES["propose"], "5")
    screen.wait_for_selector("#timer:not([hidden])")
    value = screen.locator("#timer .timer-value").inner_text()
    assert value in ("05:00", "04:59", "04:58"), value
    assert screen.locator("#phase-label").inner_text() == ES["propose"]
    console.wait_for_selector("#console-timer:not([hidden])")
    for phone in (p1, p2, p3):
        phone.wait_for_selector("#view-propose:not([hidden])")
        phone.wait_for_selector("#timer:not([hidden])")
        assert phone.locator("#phase-label").inner_text() == f"Fase: {ES['propose']}"

    # An error in plain words (no title), then two proposals, the second a near-duplicate.
    p1.get_by_role("button", name="Enviar propuesta").click()
    assert p1.locator("#propose-status").inner_text() == "Póngale un título a su propuesta."
    for phone, title in ((p1, AGRI["agro"]), (p2, AGRI["rural"])):
        phone.get_by_label("Título", exact=True).fill(title)
        phone.get_by_label("Descripción (opcional)").fill("Rutas del vino, del queso y del olivo.")
        phone.get_by_role("button", name="Enviar propuesta").click()
        phone.get_by_text("Gracias. Su propuesta fue agregada.").wait_for()
    screen.locator("#domains li", has_text=AGRI["rural"]).wait_for()
    wait_quiet(p1)
    p1.screenshot(path=str(ARTIFACTS / "es-phone-propose.png"))
    assert_accessible(p1, "phone propose (es)")
    screen.screenshot(path=str(ARTIFACTS / "es-screen-propose.png"))
    assert_accessible(screen, "projector join (es)")

    # Moderation: merge the duplicate; both rows show the lineage.
    row = console.locator("#domains-body tr").filter(has=console.locator(".title", has_text=AGRI["rural"]))
    row.get_by_label(f"Fusionar {AGRI['rural']} con").select_option(label=AGRI["agro"])
    row.get_by_role("button", name=f"Fusionar {AGRI['rural']}").click()
    row.locator(".status-cell", has_text=f"Fusionado con: {AGRI['agro']}").wait_for()
    target = console.locator("#domains-body tr").filter(has=console.locator(".title", has_text=AGRI["agro"]))
    assert AGRI["rural"] in target.locator(".lineage").inner_text()
    p2.locator("#propose-domains > li", has_text=AGRI["rural"]).wait_for(state="detached")
    screen.locator("#domains li", has_text=AGRI["rural"]).wait_for(state="detached")

    # Discuss (no minutes: the countdown goes away with the phase change).
    set_phase(console, ES["discuss"])
    screen.wait_for_selector("#timer", state="hidden")
    p3.wait_for_selector("#view-discuss:not([hidden])")
    p3.get_by_label("Dominio", exact=True).select_option(label=AGRI["riego"])
    p3.get_by_role("radio", name="Preocupación").check()
    p3.get_by_label("Comentario", exact=True).fill("Hace falta medir el consumo de agua primero.")
    p3.get_by_role("button", name="Enviar comentario").click()
    p3.get_by_text("Gracias. Su comentario fue agregado.").wait_for()
    assert_accessible(p3, "phone discuss (es)")

    # Vote (multi-criteria scoring) with a three-minute countdown.
    set_phase(console, ES["vote"], "3")
    for phone in (p1, p2, p3):
        phone.wait_for_selector("#view-vote:not([hidden])")
        assert phone.locator("#phase-label").inner_text() == f"Fase: {ES['vote']}"
    screen.wait_for_function(
        "() => /^0[23]:\\d\\d$/.test(document.querySelector('#timer .timer-value').textContent)"
    )
    # Phone 1 cannot score its own proposal in this workshop (vote_own = false).
    own = p1.locator("#vote-list > li", has_text=AGRI["agro"])
    assert own.get_attribute("data-own") == "yes"
    assert own.locator('[data-criterion="assets"] input').first.is_disabled()
    score(p1, AGRI["riego"], {"assets": 5, "innovation": 5, "market": 4, "sustainability": 4})
    score(p1, AGRI["bio"], {"assets": 5, "innovation": 5})
    score(p1, AGRI["traza"], {"assets": 3, "market": 4})
    score(p1, AGRI["residuos"], {"assets": 3, "innovation": 3, "market": 2, "sustainability": 4})
    score(p2, AGRI["riego"], {"assets": 4, "innovation": 5, "market": 4, "sustainability": 5})
    score(p2, AGRI["bio"], {"assets": 1, "innovation": 2})
    score(p2, AGRI["agro"], {"assets": 4, "market": 4})
    score(p3, AGRI["riego"], {"assets": 4, "innovation": 4, "sustainability": 5})
    score(p3, AGRI["agro"], {"assets": 2, "market": 3})
    score(p3, AGRI["residuos"], {"assets": 4, "sustainability": 5})
    # Keyboard: an arrow key moves a scale to the next value, which is saved like a tap.
    card = p1.locator("#vote-list > li", has_text=AGRI["traza"])
    card.locator('[data-criterion="market"] input[value="4"]').focus()
    p1.keyboard.press("ArrowRight")
    p1.wait_for_function(
        """(title) => { const li = Array.from(document.querySelectorAll('#vote-list > li'))
             .find(li => li.querySelector('.title').textContent === title);
           return li.querySelector('[data-criterion="market"] input:checked').value === '5'
             && li.querySelector('.row-status').textContent === 'Guardado'; }""",
        arg=AGRI["traza"],
    )
    # Two domains with every criterion scored, of the four phone 1 may score.
    assert re.search(r"\b2\b.*\b4\b", p1.locator("#progress").inner_text())

    wait_quiet(p1)
    p1.evaluate("() => window.scrollTo(0, 0)")
    p1.screenshot(path=str(ARTIFACTS / "es-phone-vote.png"))
    assert_accessible(p1, "phone vote (es)")
    # Scrolled down to a scored domain: the countdown and the progress stay at the top.
    p1.evaluate(
        """(title) => {
             const li = Array.from(document.querySelectorAll('#vote-list > li'))
               .find(li => li.querySelector('.title').textContent === title);
             const bar = document.getElementById('sticky-bar');
             window.scrollTo(0, li.getBoundingClientRect().top + window.scrollY - bar.offsetHeight - 12);
           }""",
        AGRI["riego"],
    )
    assert p1.locator("#sticky-bar").is_visible()
    assert p1.locator("#sticky-bar").bounding_box()["y"] == 0
    p1.screenshot(path=str(ARTIFACTS / "es-phone-vote-scrolled.png"))
    console.wait_for_function(
        "(title) => document.querySelector('#results-body')?.textContent.includes(title)",
        arg=AGRI["residuos"],
    )

    # The facilitator stops the countdown: it goes from every face.
    console.locator("#timer-stop").click()
    screen.wait_for_selector("#timer", state="hidden")
    p2.wait_for_selector("#timer", state="hidden")
    console.wait_for_selector("#console-timer", state="hidden")
    assert console.evaluate("() => document.activeElement.id") == "timer-start"

    # Results, for everyone, with a two-minute countdown.
    set_phase(console, ES["results"], "2")
    screen.wait_for_selector("#results-panel:not([hidden])")
    screen.wait_for_function(
        "() => document.querySelectorAll('#rank-bars > li').length === 5"
        " && document.querySelector('#rank-bars > li .title').textContent === 'Riego de precisión'"
    )
    # One voter per helix: the projector pools them (small-group privacy), the console does not.
    legend = screen.locator("#helix-legend .legend-label").all_inner_texts()
    assert legend == ["Otros grupos"], (legend, helices)
    assert screen.locator("#phase-label").inner_text() == ES["results"]
    assert screen.locator("#timer .timer-value").inner_text().startswith(("02:", "01:"))
    for phone in (p1, p2, p3):
        phone.wait_for_selector("#view-results:not([hidden])")
        assert phone.locator("#results-h").inner_text() == ES["results"]
        phone.locator("#results-list li", has_text=AGRI["riego"]).wait_for()
    screen.wait_for_timeout(800)  # let the bars and the chart finish moving
    screen.screenshot(path=str(ARTIFACTS / "es-screen.png"))
    assert_accessible(screen, "projector results (es)")
    wait_quiet(p2)
    p2.screenshot(path=str(ARTIFACTS / "es-phone-results.png"))
    assert_accessible(p2, "phone results (es)")

    # Decide: a priority with rationale and indicators.
    set_phase(console, ES["decide"])
    item = console.locator("#decide-list > li", has_text=AGRI["riego"])
    item.locator("summary").click()
    item.get_by_label("Posición").fill("1")
    item.get_by_label("Justificación (obligatoria)").fill(
        "Masa crítica de cooperativas de regantes y dos grupos universitarios."
    )
    item.get_by_label("Indicadores, uno por línea").fill(
        "Hectáreas con riego de precisión | 1200 | 5000\nAgua ahorrada (hm³)"
    )
    item.get_by_role("button", name="Guardar prioridad").click()
    console.locator("#shortlist li", has_text=f"Prioridad 1: {AGRI['riego']}").wait_for()
    assert_accessible(console, "console (es)")
    console.screenshot(path=str(ARTIFACTS / "es-console.png"), full_page=True)

    # Closed: the phones thank everyone; the projector shows the agreed priorities.
    set_phase(console, ES["closed"])
    for phone in (p1, p2, p3):
        phone.get_by_text("El taller ha terminado. Gracias por participar.").wait_for()
        assert phone.locator("#decide-h").inner_text() == "Prioridades acordadas"
        phone.locator("#priorities .indicators li", has_text="Hectáreas con riego de precisión").wait_for()
    screen.locator("#priorities li", has_text=f"Prioridad 1: {AGRI['riego']}").wait_for()
    assert screen.locator("#priorities-h").inner_text() == "Prioridades acordadas"
    assert screen.locator("#phase-label").inner_text() == ES["closed"]
    wait_quiet(p3)
    p3.screenshot(path=str(ARTIFACTS / "es-phone-closed.png"))
    assert_accessible(p3, "phone closed (es)")
    screen.screenshot(path=str(ARTIFACTS / "es-screen-closed.png"))
    assert_accessible(screen, "projector closed (es)")

    assert errors == [], errors
    for ctx in (laptop, screen_ctx, c1, c2, c3):
        ctx.close()


def test_facilitator_pages_fit_a_phone(live_server, chromium):
    """A facilitator may drive the workshop from a phone: the console, the dashboard and the
    partner page never scroll sideways at 390 px (wide tables scroll inside their card)."""
    ws = live_server.seed()
    live_server.start()
    context = chromium.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                   has_touch=True, base_url=live_server.url)
    page = context.new_page()
    errors: list[str] = []
    collect_errors(errors, page, "console")
    log_in(page)
    for path in (f"/f/w/{ws['id']}", "/f/", f"/f/w/{ws['id']}/partners"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width} px wide on a 390 px phone"
    page.goto(f"/f/w/{ws['id']}")
    page.wait_for_function(READY)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # filled in, too
    page.screenshot(path=str(ARTIFACTS / "console-phone.png"), full_page=True)
    assert errors == []
    context.close()
