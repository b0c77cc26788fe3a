"""The method's views in a real Chromium: the vision, a domain's SWOT and the funders' signal,
on the console (1366x768) and on two projectors (1920x1080 and 1280x720), in a Spanish workshop.

A real server, eighteen python-socketio phones (three per helix, so the projector may show
every group: small-group privacy), a facilitator on the console who moves to the vision phase,
adds a statement, adopts one and hides another; the projector then shows the twelve statements
by agreement with the adopted one first and marked, page by page, never scrolling. Phones write
SWOT items; the console shows a domain's SWOT in four quadrants with the helix behind each item
and hides one, which leaves the projector's SWOT card (one domain at a time, in quadrants). The
funders give their yes / maybe / no: the console's results and decide views and the projector's
ranking show it beside support, as its own axis. Everything is inside the viewport, nothing is
clipped or smaller than the projector's floor, words break only between words, axe-core finds
nothing. With 3 and with 15 domains. Screenshots: tests/artifacts/method-*.png.
"""
from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import TEMPLATE, LiveServer, login_cookie
from test_browser import ARTIFACTS, READY, assert_accessible, chromium, collect_errors, log_in  # noqa: F401
from test_browser_console import assert_fits
from test_browser_screen import TITLES, Sock, assert_no_scroll, check_texts, set_paused

pytestmark = [pytest.mark.browser, pytest.mark.server]

HELICES = ["government", "business", "academia", "civil_society", "environment", "funders"]
# The template's Spanish labels (the console and the projector speak the workshop's language).
ES_LABELS = {"government": "Administración pública", "business": "Empresas",
             "academia": "Academia e investigación", "civil_society": "Sociedad civil",
             "environment": "Medio ambiente y sostenibilidad", "funders": "Entidades financiadoras"}
PROJECTORS = [(1920, 1080), (1280, 720)]
CONSOLE = (1366, 768)

LONG_STATEMENT = (
    "La región se ha convertido en un referente internacional de la bioeconomía: las industrias "
    "forestales, agroalimentarias y químicas colaboran con los centros tecnológicos para "
    "transformar residuos en materiales de alto valor, las comunidades rurales participan en los "
    "beneficios, los organismos financiadores comparten riesgos con las empresas innovadoras y "
    "las administraciones miden cada año, con indicadores abiertos y comparables, el avance hacia "
    "una economía descarbonizada e inclusiva."
)
STATEMENTS = [  # written on the phones, one each
    "En 2035 la región exporta energía limpia y la tecnología para producirla.",
    "Nuestras pymes agroalimentarias venden productos con trazabilidad digital en todo el continente.",
    "Las universidades y las empresas comparten laboratorios, datos y personal investigador de forma habitual.",
    "Ningún joven tiene que irse de la región para encontrar un empleo cualificado.",
    "El agua se gestiona con sensores y datos abiertos, y ninguna cuenca está sobreexplotada.",
    "La región es un destino turístico sostenible todo el año, no solo en verano.",
    "Cada municipio tiene fibra óptica y servicios públicos digitales accesibles para todas las edades.",
    "Las cooperativas lideran la transición hacia una economía circular y regenerativa.",
    "En 2035 todas las granjas son empresas tecnológicas emergentes.",
    LONG_STATEMENT,
    "La administración compra innovación: una parte fija de su presupuesto va a soluciones nuevas.",
]
FROM_CONSOLE = "Las prioridades se deciden con todas las hélices y se revisan cada dos años."
OFF_TOPIC = STATEMENTS[8]  # only business agrees; the facilitator hides it, then restores it

SWOT_LONG = (
    "Los precios internacionales del litio y del cobre cambian con tanta rapidez que cualquier "
    "inversión en la cadena de valor regional puede perder su rentabilidad antes de que las "
    "plantas de procesamiento lleguen a funcionar a plena capacidad, y la región no dispone de "
    "instrumentos propios para cubrir ese riesgo."
)[:300].rstrip()  # the longest item the server takes


def swot_plan(domains: list[dict]) -> list[tuple[int, str, str, str]]:
    """(domain_id, quadrant, text, helix) of every SWOT item the phones write."""
    a, b = domains[0]["domain_id"], domains[1]["domain_id"]
    plan = [
        (a, "strength", "Dos universidades con grupos de investigación en energía eólica.", "academia"),
        (a, "strength", "Más de cien empresas proveedoras de la industria eléctrica.", "business"),
        (a, "weakness", "Falta personal técnico con formación en mantenimiento.", "business"),
        (a, "weakness", "Esto es una tontería y quien lo apoye es un idiota.", "civil_society"),
        (a, "opportunity", "Los fondos europeos para la transición energética.", "funders"),
        (a, "opportunity", "La demanda de componentes para parques marinos.", "government"),
        (a, "threat", "La competencia de regiones con costes laborales menores.", "environment"),
        (b, "threat", SWOT_LONG, "funders"),
        (b, "opportunity", "Telemedicina para la población rural dispersa.", "government"),
    ]
    helices = ["government", "business", "academia", "civil_society", "environment"]
    for k in range(8):  # a domain with more strengths than one quadrant holds
        text = (f"Fortaleza número {k + 1}: hospitales con historia clínica digital y equipos "
                "de investigación clínica reconocidos.")
        plan.append((b, "strength", text, helices[k % 5]))
    if len(domains) > 2:
        plan.append((domains[2]["domain_id"], "opportunity",
                     "Rutas culturales que unen los pueblos del interior.", "civil_society"))
    return plan


RUDE = "Esto es una tontería y quien lo apoye es un idiota."


def template(tmp: Path, n_domains: int) -> Path:
    """The first template in Spanish with `n_domains` seed domains."""
    text = TEMPLATE.read_text().split("[[domains]]")[0].replace('language = "en"', 'language = "es"')
    assert 'language = "es"' in text
    for name in TITLES[:n_domains]:
        text += f'\n[[domains]]\ntitle = "{name}"\ndescription = "Sobre {name.lower()}."\n'
    path = tmp / f"metodo-{n_domains}.toml"
    path.write_text(text)
    return path


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_function("() => document.getAnimations().length === 0")
    page.screenshot(path=str(ARTIFACTS / f"method-{name}.png"), animations="disabled")


def console_shot(page, name: str) -> None:
    page.wait_for_function("() => !document.getElementById('console-status').textContent", timeout=10000)
    shot(page, name)


def top_of_pane(page, panel: str) -> None:
    """Scroll a console panel's list back to its top (a focused button may have moved it)."""
    page.evaluate("(p) => document.querySelector(`#panel-${p} .scroll-pane`).scrollTop = 0", panel)


def reaction(statement: int, helix: int, person: int) -> str:
    """Who agrees with what: statements get broad, middling or split support by helix."""
    if statement < len(STATEMENTS) and STATEMENTS[statement] == OFF_TOPIC:
        return "agree" if HELICES[helix] == "business" else "disagree"
    level = 9 - (statement * 5) % 8  # out of 10
    roll = (helix * 3 + person * 7 + statement * 11) % 10
    return "agree" if roll < level else "pass" if roll == level else "disagree"


def legible_pages(page, list_id: str, where: str) -> set[str]:
    """Every text of a paged list (or the SWOT card), each page in turn: fully visible, above
    the floor, words whole (check_texts); the → key turns the page."""
    set_paused(page, True)
    seen: set[str] = set()
    count = f"() => Number(document.getElementById('{list_id}').dataset.pages || 1)"
    n = -1
    while n != (n := int(page.evaluate(count))):  # laid out for good (fonts, late broadcasts)
        page.wait_for_function("() => document.getAnimations().length === 0")
        page.wait_for_timeout(300)
    indicator = page.locator(f'.pager[data-pager="{list_id}"]')
    assert indicator.is_visible() == (n > 1), f"{where}: page indicator with {n} pages"
    for _ in range(n):
        number = page.evaluate(f"() => document.getElementById('{list_id}').dataset.page")
        if n > 1:
            assert indicator.locator(".pager-n").inner_text() == f"{number}/{n}"
        assert_no_scroll(page, f"{where} page {number}")
        for x in check_texts(page, f"{where} page {number}"):
            seen.add(x["text"])
        if n > 1:
            page.keyboard.press("ArrowRight")
            page.wait_for_function(
                f"(p) => document.getElementById('{list_id}').dataset.page !== p", arg=number)
    return seen


def run(chromium, tmp_path, n_domains: int) -> None:  # noqa: F811
    server = LiveServer(f"sqlite:///{tmp_path / 'live.sqlite3'}", log_dir=tmp_path)
    clients: list[Sock] = []
    errors: list[str] = []
    try:
        info = server.seed(template=template(tmp_path, n_domains))
        server.start()
        base, code, wid = server.url, info["code"], info["id"]
        fac = Sock(base, cookie=login_cookie(base))
        clients.append(fac)

        def act(event: str, **payload) -> dict:
            return fac.call(event, {"workshop_id": wid, **payload})

        def fstate() -> dict:
            return act("facilitate")["state"]

        domains = [d for d in fstate()["domains"] if d["status"] == "approved"]
        titles = {d["title"] for d in domains}

        def join(helix: str) -> tuple[str, Sock]:
            phone = Sock(base)
            phone.call("join", {"code": code, "helix": helix})
            return helix, phone

        with ThreadPoolExecutor(max_workers=6) as pool:
            phones = list(pool.map(join, [h for h in HELICES for _ in range(3)]))
        clients.extend(p for _h, p in phones)
        by_helix: dict[str, list[Sock]] = {}
        for helix, phone in phones:
            by_helix.setdefault(helix, []).append(phone)

        # The console (1366x768) and the two projectors, paused (tests look at still pages).
        console_ctx = chromium.new_context(viewport={"width": CONSOLE[0], "height": CONSOLE[1]}, base_url=base)
        console = console_ctx.new_page()
        collect_errors(errors, console, "console")
        log_in(console)
        console.goto(f"/f/w/{wid}")
        console.wait_for_function(READY)
        assert console.evaluate("() => document.documentElement.lang") == "es"
        screens = []
        for width, height in PROJECTORS:
            ctx = chromium.new_context(viewport={"width": width, "height": height}, base_url=base)
            page = ctx.new_page()
            collect_errors(errors, page, f"projector {width}")
            page.goto(f"/screen/{code}?turn=1")
            page.wait_for_function(READY)
            set_paused(page, True)
            screens.append((f"{n_domains}-{width}", page, ctx))

        # ------------------------------------------------------------ vision
        # The phase bar has the vision between the lobby and the proposals; Next goes there and
        # its panel comes to the front.
        phases = console.evaluate(
            "() => Array.from(document.querySelectorAll('.phase-button'), b => b.dataset.phase)")
        assert phases[:3] == ["lobby", "vision", "propose"], phases
        console.locator("#phase-next").click()
        console.wait_for_selector('.phase-button[data-phase="vision"][aria-pressed="true"]')
        console.wait_for_selector("#panel-vision:not([hidden])")
        ids: dict[str, int] = {}
        for k, text in enumerate(STATEMENTS):
            helix, phone = phones[k]
            ids[text] = phone.call("statement", {"text": text})["statement_id"]
        console.locator("#statements > li.statement").nth(len(STATEMENTS) - 1).wait_for()
        # The facilitator adds one from the console.
        console.locator("#vision-text").fill(FROM_CONSOLE)
        console.locator("#vision-add button[type=submit]").click()
        console.wait_for_function(f"() => document.querySelectorAll('#statements > li').length === {len(STATEMENTS) + 1}")
        assert console.locator("#vision-text").input_value() == ""
        vision = {s["text"]: s["statement_id"] for s in fstate()["vision"]}
        assert FROM_CONSOLE in vision
        ids[FROM_CONSOLE] = vision[FROM_CONSOLE]
        order = [*STATEMENTS, FROM_CONSOLE]

        def react_all(item: tuple[int, tuple[str, Sock]]) -> None:
            g, (helix, phone) = item
            h, person = HELICES.index(helix), g % 3
            for s, text in enumerate(order):
                phone.call("react", {"statement_id": ids[text], "reaction": reaction(s, h, person)})

        with ThreadPoolExecutor(max_workers=6) as pool:
            list(pool.map(react_all, enumerate(phones)))
        expected = fstate()["vision"]
        assert len(expected) == 12 and all(s["agree"] + s["disagree"] + s["pass"] == 18 for s in expected)
        # The console follows: the server's order (broadest agreement first), each statement
        # with its reactions by group (six groups, three people each).
        first = expected[0]["statement_id"]
        console.wait_for_function(
            "(id) => document.querySelector('#statements > li')?.dataset.key === String(id)"
            " && document.querySelector('#statements > li .st-helix')", arg=first)
        console.wait_for_function(
            "() => Array.from(document.querySelectorAll('#statements > li')).every(li => li.querySelectorAll('.st-helix').length === 6)")
        row = console.locator(f'#statements > li[data-key="{first}"]')
        helices_shown = row.locator(".st-helix-label").all_inner_texts()
        assert helices_shown == [ES_LABELS[h] for h in HELICES], helices_shown
        for counts in row.locator(".st-helix-words").all_text_contents():
            assert sum(int(n) for n in re.findall(r"\d+", counts)) == 3, counts

        # Adopt the fifth statement: it heads the list, marked, with its toggle pressed.
        chosen = expected[4]
        adopt = console.locator(f'#statements > li[data-key="{chosen["statement_id"]}"] button.adopt')
        assert adopt.get_attribute("aria-pressed") == "false"
        adopt.click()
        console.wait_for_function(
            "(id) => { const li = document.querySelector('#statements > li');"
            " return li.dataset.key === String(id) && li.dataset.adopted === 'yes'"
            " && li.querySelector('button.adopt').getAttribute('aria-pressed') === 'true'; }",
            arg=chosen["statement_id"])
        top = fstate()["vision"][0]
        assert top["statement_id"] == chosen["statement_id"] and top["adopted"] is True
        # Hide the off-topic one: it leaves the projectors; restored, it is back.
        off = ids[OFF_TOPIC]
        console.locator(f'#statements > li[data-key="{off}"] button.toggle').click()
        console.wait_for_selector(f'#statements > li[data-key="{off}"][data-hidden="yes"]')
        assert console.locator("#statements > li").last.get_attribute("data-key") == str(off)
        for _name, page, _ctx in screens:
            page.wait_for_function("(id) => document.querySelectorAll('#statements > li').length === 11"
                                   " && !document.querySelector(`#statements > li[data-key=\"${id}\"]`)", arg=off)
        console.wait_for_function("() => !document.getElementById('console-status').textContent", timeout=10000)
        top_of_pane(console, "vision")
        assert_fits(console, "console vision with a hidden statement", "#vision-text", "#statements > li")
        console_shot(console, f"{n_domains}-console-vision-hidden")
        console.locator(f'#statements > li[data-key="{off}"] button.toggle').click()
        console.wait_for_selector(f'#statements > li[data-key="{off}"][data-hidden="no"]')
        top_of_pane(console, "vision")
        assert_fits(console, "console vision", "#vision-text", "#statements > li button.adopt")
        console_shot(console, f"{n_domains}-console-vision")
        assert_accessible(console, "console vision")

        # The projectors: all twelve, adopted first and marked, legible page by page.
        for name, page, _ctx in screens:
            where = f"{name} vision"
            page.wait_for_function("() => document.body.dataset.stage === 'vision'")
            page.wait_for_function(
                "(id) => document.querySelectorAll('#statements > li').length === 12"
                " && document.querySelector('#statements > li').dataset.key === String(id)"
                " && document.querySelector('#statements > li').dataset.adopted === 'yes'",
                arg=chosen["statement_id"])
            assert page.locator("#statements > li[data-adopted=yes]").count() == 1
            badge = page.locator("#statements > li").first.locator(".adopted-badge")
            assert badge.is_visible() and badge.inner_text().strip()
            height = page.evaluate("() => innerHeight")
            font = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('#statements .st-text')).fontSize)")
            assert font >= 0.028 * height, f"{where}: statements in {font}px type"
            seen = legible_pages(page, "statements", where)
            assert set(order) <= seen, f"{where}: never fully shown: {set(order) - seen}"
            # Back to the first page for the picture.
            while page.evaluate("() => document.getElementById('statements').dataset.page") != "1":
                page.keyboard.press("ArrowRight")
            shot(page, f"{name}-vision")
            assert_accessible(page, f"projector {where}")

        # ------------------------------------------------------------ SWOT
        act("phase", phase="propose")
        plan = swot_plan(domains)
        used: dict[str, int] = {}
        item_ids: dict[str, int] = {}
        for domain_id, quadrant, text, helix in plan:
            k = used.get(helix, 0)
            used[helix] = k + 1
            phone = by_helix[helix][k % 3]
            item_ids[text] = phone.call("swot", {"domain_id": domain_id, "quadrant": quadrant, "text": text})["item_id"]
        act("phase", phase="discuss")
        # The funders' signal (a funding helix only).
        a, b = domains[0]["domain_id"], domains[1]["domain_id"]
        funders = by_helix["funders"]
        for phone, signal in zip(funders, ("yes", "yes", "maybe")):
            phone.call("fund", {"domain_id": a, "signal": signal, "instrument": "FONDEF"})
        for phone, signal in zip(funders, ("no", "no", "maybe")):
            phone.call("fund", {"domain_id": b, "signal": signal})

        # The console: the domain's detail, its SWOT in four quadrants with the helix behind
        # each item; the rude item hidden.
        console.locator("#tab-propose").click()
        detail = console.locator(f'#domains-body tr[data-key="{a}"] .domain-detail')
        detail.locator("summary").wait_for()
        console.wait_for_function(
            "(a) => document.querySelectorAll(`#domains-body tr[data-key=\"${a}\"] .swot-item`).length === 7", arg=a)
        detail.locator("summary").click()
        quadrants = detail.locator(".quadrant")
        assert [quadrants.nth(k).get_attribute("data-quadrant") for k in range(4)] == [
            "strength", "weakness", "opportunity", "threat"]
        grid = [quadrants.nth(k).bounding_box() for k in range(4)]
        assert grid[0]["y"] == grid[1]["y"] and grid[2]["y"] == grid[3]["y"] > grid[0]["y"]  # 2x2
        assert grid[0]["x"] == grid[2]["x"] < grid[1]["x"] == grid[3]["x"]
        for domain_id, quadrant, text, helix in plan:
            if domain_id != a:
                continue
            item = detail.locator(f'.quadrant[data-quadrant="{quadrant}"] .swot-item', has_text=text)
            assert item.locator(".helix-badge").inner_text() == ES_LABELS[helix], text
        console.wait_for_function(  # the signals come with the next state (coalesced)
            "(a) => document.querySelector(`#domains-body tr[data-key=\"${a}\"] .funding-line .fund[data-signal=yes]`)"
            "?.textContent.endsWith(' 2')", arg=a)
        assert "FONDEF" in detail.locator(".funding-line").inner_text()
        rude = detail.locator(".swot-item", has_text=RUDE)
        rude.locator("button.toggle").click()
        console.wait_for_selector(f'.swot-item[data-key="{item_ids[RUDE]}"][data-hidden="yes"]')
        console.wait_for_function("() => !document.getElementById('console-status').textContent", timeout=10000)
        console.evaluate("""(a) => {  // the domain's row at the top of its list, under the column heads
            const row = document.querySelector(`#domains-body tr[data-key="${a}"]`);
            const pane = row.closest('.scroll-pane');
            row.scrollIntoView({block: 'start'});
            pane.scrollTop -= pane.querySelector('thead').getBoundingClientRect().height;
        }""", a)
        shot(console, f"{n_domains}-console-swot")
        assert_fits(console, "console SWOT", f'#domains-body tr[data-key="{a}"] .domain-detail summary')
        assert_accessible(console, "console SWOT")

        # The projectors: the SWOT card beside the domains, one domain at a time, in quadrants.
        shown_items = {t for d, _q, t, _h in plan if t != RUDE}
        for name, page, _ctx in screens:
            where = f"{name} discuss"
            page.wait_for_function("() => document.body.dataset.stage === 'domains' && document.body.dataset.swot === 'yes'")
            page.wait_for_function(
                "(rude) => !(window.edpSwotSlides() || []).some(s => s.texts.includes(rude))"
                " && window.edpSwotSlides().length > 0", arg=RUDE)
            cards = page.locator("#swot-card .quadrant")
            boxes = [cards.nth(k).bounding_box() for k in range(4)]
            assert boxes[0]["y"] == boxes[1]["y"] < boxes[2]["y"] == boxes[3]["y"], boxes
            seen = legible_pages(page, "swot-card", where)
            assert shown_items <= seen, f"{where}: SWOT never fully shown: {shown_items - seen}"
            assert RUDE not in seen
            labels = {t.strip("()") for t in seen if t.startswith("(")}
            assert {ES_LABELS[h] for _d, _q, t, h in plan if t != RUDE} <= labels, labels
            # The domains stay listed beside the card.
            listed = legible_pages(page, "domains", f"{where} domains")
            assert titles <= listed, f"{where}: domains never fully shown: {titles - listed}"
            # Pictures: the longest item, which has its quadrant to itself, and the domain with
            # four quadrants filled.
            pages = int(page.evaluate("() => document.getElementById('swot-card').dataset.pages"))
            on_page = "(t) => window.edpSwotSlides()[Number(document.getElementById('swot-card').dataset.page) - 1].texts.includes(t)"
            for _ in range(pages):
                if page.evaluate(on_page, SWOT_LONG):
                    break
                page.keyboard.press("ArrowRight")
            shot(page, f"{name}-swot-long")
            for _ in range(pages):
                if page.evaluate("() => document.getElementById('swot-card').dataset.domain") == str(a):
                    break
                page.keyboard.press("ArrowRight")
            assert_no_scroll(page, where)
            shot(page, f"{name}-swot")
            assert_accessible(page, f"projector {where}")

        # ------------------------------------------------------------ funders beside support
        act("phase", phase="vote")
        ids_all = [d["domain_id"] for d in domains]
        for k, (_helix, phone) in enumerate(phones):
            picks = [ids_all[0], ids_all[(k + 1) % len(ids_all)], ids_all[(k + 2) % len(ids_all)]]
            spent: dict[int, int] = {}
            for domain_id, points in zip(picks, (4, 3, 3)):
                spent[domain_id] = spent.get(domain_id, 0) + points
            for domain_id, points in spent.items():
                phone.call("vote", {"domain_id": domain_id, "points": min(points, 5)})
        act("phase", phase="results")
        console.locator("#tab-results").click()
        cell = console.locator(f'#results-body tr:has-text("{domains[0]["title"]}") .funding-cell')
        cell.locator('.fund[data-signal="yes"]').wait_for()
        assert cell.locator('.fund[data-signal="yes"]').inner_text().endswith(" 2")
        assert cell.locator('.fund[data-signal="maybe"]').inner_text().endswith(" 1")
        assert cell.locator('.fund[data-signal="no"]').inner_text().endswith(" 0")
        # Its own column, beside support and consensus; the score is the votes' alone.
        columns = console.evaluate("() => Array.from(document.querySelectorAll('#results-head th'), th => th.className)")
        assert columns.index("funding-col") == 5, columns  # #, domain, score, balanced, consensus
        ranked = {r["domain_id"]: r for r in fstate()["results"]["ranking"]}
        score = console.locator(f'#results-body tr:has-text("{domains[0]["title"]}") td.num').first.inner_text()
        assert score == f"{ranked[a]['score']:g}", (score, ranked[a])
        console.wait_for_timeout(400)  # the charts' animation
        top_of_pane(console, "results")
        console.locator("#results-table").evaluate("(t) => t.closest('.scroll-pane').scrollTop = t.offsetTop - 8")
        console_shot(console, f"{n_domains}-console-results")
        # Six helices and long titles may make the table scroll sideways in its own box (the
        # helices' columns come last); the funders' column is in view beside support.
        assert_fits(console, "console results", "#results-head th.funding-col",
                    f'#results-body tr:has-text("{domains[0]["title"]}") .funding-cell')
        assert_accessible(console, "console results")

        for name, page, _ctx in screens:
            where = f"{name} results"
            page.wait_for_function("() => document.body.dataset.stage === 'results'")
            page.wait_for_function(
                f"() => document.querySelectorAll('#rank-bars > li').length === {len(titles)}")
            row = page.locator(f'#rank-bars > li[data-key="{a}"] .rank-funding')
            page.wait_for_function(
                "(a) => document.querySelector(`#rank-bars > li[data-key=\"${a}\"] .fund-n[data-signal=yes]`)?.textContent === '2'", arg=a)
            assert row.locator('.fund-n[data-signal="maybe"]').inner_text() == "1"
            assert page.locator(f'#rank-bars > li[data-key="{b}"] .fund-n[data-signal="no"]').inner_text() == "2"
            seen = legible_pages(page, "rank-bars", where)
            assert titles <= seen, f"{where}: never fully shown: {titles - seen}"
            # Back to page 1 for the picture.
            while page.evaluate("() => document.getElementById('rank-bars').dataset.page") != "1":
                page.keyboard.press("ArrowRight")
            shot(page, f"{name}-results")
            assert_accessible(page, f"projector {where}")

        # The decide view: the funders' signal beside each domain where the short list is made.
        act("phase", phase="decide")
        console.wait_for_selector("#panel-decide:not([hidden])")
        item = console.locator(f'#decide-list > li[data-key="{a}"]')
        item.locator('.summary-funding .fund[data-signal="yes"]').wait_for()
        assert item.locator('.summary-funding .fund[data-signal="yes"]').inner_text().endswith(" 2")
        line = console.locator(f'#below-line tr[data-domain="{a}"] .funding-cell .fund[data-signal="yes"]')
        assert line.inner_text().endswith(" 2")
        item.locator("summary").click()
        assert "FONDEF" in item.locator(".decide-funding").inner_text()
        assert_fits(console, "console decide", "#tradeoff", "#decide-list summary")
        console_shot(console, f"{n_domains}-console-decide")
        assert_accessible(console, "console decide")

        assert errors == [], errors
        for _name, _page, ctx in screens:
            ctx.close()
        console_ctx.close()
    finally:
        for client in clients:
            client.close()
        server.stop()


def test_method_views_with_3_domains(chromium, tmp_path):  # noqa: F811
    run(chromium, tmp_path, 3)


def test_method_views_with_15_domains(chromium, tmp_path):  # noqa: F811
    run(chromium, tmp_path, 15)


if __name__ == "__main__":  # a look by hand: python tests/test_browser_method_screens.py 15
    import sys
    import tempfile

    from playwright.sync_api import sync_playwright
    from test_browser import CHROMIUM_ARGS

    with sync_playwright() as pw, tempfile.TemporaryDirectory() as tmp:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        run(browser, Path(tmp), int(sys.argv[1]))
        print(json.dumps({"ok": True}))
        browser.close()
