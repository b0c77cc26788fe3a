"""The region's evidence beside each domain (issue #17), in Chromium against a real `edp run`.

A Spanish workshop loads a small diagnosis (`edp workshop diagnosis`: regions × sectors of
employment). A phone at 390x844 proposes a domain and picks its sector by typing the Spanish
name without its accent ("energia" finds "Energía eléctrica"); the facilitator, on the console,
links a sector to a seed domain with "Link sectors". The phones' domain cards then show each
linked sector's RCA and the data's source and year, and the projector (1280x720 and 1920x1080)
the strongest sector with its RCA under each domain and on the SWOT card, never scrolling and
clipping nothing. Every page is checked with axe-core; screenshots: tests/artifacts/evidence-*.png.
"""

from __future__ import annotations

import re

import pytest
import test_browser
from test_browser import ARTIFACTS, READY, assert_accessible, log_in
from test_browser_method_phone import es, seed_spanish
from test_browser_phone import Facilitator, join, open_phone, quiet, shot
from test_browser_screen import assert_no_scroll, check_texts, set_paused

pytestmark = [pytest.mark.browser, pytest.mark.server]
chromium = test_browser.chromium  # the shared fixture: Debian's Chromium, skipped (or failed in CI) if absent

REGION = "Demo Region"
SOURCE = "Encuesta regional de empleo"
YEAR = 2022
# Employment by region and sector: the demo region is specialised in energy and in machinery
# (RCA > 1), and under-represented in tourism.
SECTORS = {
    "D35": "Energía eléctrica, gas y vapor",
    "C28": "Fabricación de maquinaria",
    "I55": "Servicios de alojamiento",
    "Q86": "Actividades sanitarias",
    "J62": "Programación informática",
    "A01": "Agricultura y ganadería",
}
VALUES = {
    REGION: {"D35": 900, "C28": 1200, "I55": 300, "Q86": 1500, "J62": 400, "A01": 700},
    "Otra Región": {"D35": 200, "C28": 800, "I55": 1400, "Q86": 2500, "J62": 1300, "A01": 900},
    "Tercera Región": {"D35": 150, "C28": 500, "I55": 1100, "Q86": 2100, "J62": 900, "A01": 1500},
    "Cuarta Región": {"D35": 100, "C28": 300, "I55": 600, "Q86": 1800, "J62": 200, "A01": 2600},
    "Quinta Región": {"D35": 400, "C28": 900, "I55": 200, "Q86": 1200, "J62": 1600, "A01": 300},
}
PROPOSAL = "Hidrógeno verde para la industria regional"
SEED = "Advanced manufacturing for the energy transition"


def rca(region: str, sector: str) -> float:
    """The Balassa index: the sector's share of the region over its share of all regions."""
    total = sum(sum(v.values()) for v in VALUES.values())
    region_total = sum(VALUES[region].values())
    sector_total = sum(v[sector] for v in VALUES.values())
    return (VALUES[region][sector] / region_total) / (sector_total / total)


def one_decimal(x: float) -> str:
    return f"{x:.1f}".replace(".", ",")  # Spanish decimals


def diagnosis_csv(tmp_path) -> str:
    path = tmp_path / "diagnosis.csv"
    lines = ["region,sector,sector_name,value,year"]
    for region, values in VALUES.items():
        for code, value in values.items():
            lines.append(f'{region},{code},"{SECTORS[code]}",{value},{YEAR}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def projector(chromium, base: str, code: str, size: tuple[int, int], errors: list[str]):
    ctx = chromium.new_context(viewport={"width": size[0], "height": size[1]}, base_url=base, locale="es-ES")
    page = ctx.new_page()
    test_browser.collect_errors(errors, page, f"projector {size}")
    page.goto(f"/screen/{code}?turn=600")
    page.wait_for_function(READY)
    set_paused(page, True)
    return ctx, page


def test_evidence_on_phone_cards_console_and_projector(live_server, chromium, tmp_path):
    ws = seed_spanish(live_server)
    live_server.cli("workshop", "diagnosis", ws["code"], "--file", diagnosis_csv(tmp_path),
                    "--source", SOURCE)
    live_server.start()
    base = live_server.url
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    fac = Facilitator(base, ws["id"])
    assert fac.state()["workshop"]["diagnosis"]["sectors"] == len(SECTORS)
    fac.phase("propose")
    energy = rca(REGION, "D35")
    machinery = rca(REGION, "C28")
    assert energy > 1 and machinery > 1

    # ---------------------------------------------------------------- phone: propose with a sector
    ctx, phone = open_phone(chromium, base, "es-ES", errors, "phone")
    join(phone, ws["code"], "Empresas", button="Unirse")
    phone.wait_for_selector("#view-propose:not([hidden])")
    picker = phone.locator("#sector-picker")
    picker.wait_for(state="visible")
    picker.locator("summary").tap()
    search = phone.get_by_label(es("Search the region's sectors"), exact=True)
    search.fill("energia")  # no accent: still finds "Energía"
    add = phone.get_by_role("button", name=es("Add the sector {name}", name=f"{SECTORS['D35']} (D35)"))
    add.wait_for()
    # Only the matching sector is offered.
    assert phone.locator("#sector-picker .sector-add").count() == 1
    search.fill("xyz")
    phone.get_by_text(es("No sector matches “{text}”.", text="xyz")).wait_for()
    search.fill("ENERGÍA")
    add.tap()
    chip = phone.get_by_role("button", name=es("Remove the sector {name}", name=f"{SECTORS['D35']} (D35)"))
    chip.wait_for()
    for box in (chip.bounding_box(), search.bounding_box()):
        assert box["height"] >= 44, box
    phone.get_by_label(es("Title"), exact=True).fill(PROPOSAL)
    quiet(phone)
    shot(phone, ARTIFACTS / "evidence-phone-picker.png", "phone sector picker")
    phone.get_by_role("button", name=es("Send proposal")).tap()
    phone.locator("#propose-status", has_text=es("Thank you. Your proposal was added.")).wait_for()
    assert phone.locator("#sector-picker .sector-chip").count() == 0  # the form starts afresh

    # The card of the proposal shows the sector's RCA, its share and the data's source.
    card = phone.locator("#propose-domains > li", has=phone.locator(".title", has_text=PROPOSAL))
    evidence = card.locator(".evidence")
    evidence.wait_for()
    text = evidence.inner_text()
    assert SECTORS["D35"] in text
    assert es("RCA {value}", value=one_decimal(energy)) in text, text
    assert es("Source: {source}, {year}", source=SOURCE, year=YEAR) in text or SOURCE in text, text
    seed_card = phone.locator("#propose-domains > li", has=phone.locator(".title", has_text=SEED))
    assert seed_card.locator(".evidence").is_hidden()  # no sector linked: nothing shown

    # ---------------------------------------------------------------- console: link a sector to a seed domain
    laptop = chromium.new_context(viewport={"width": 1366, "height": 768}, base_url=base)
    console = laptop.new_page()
    test_browser.collect_errors(errors, console, "console")
    log_in(console)
    console.goto(f"/f/w/{ws['id']}")
    console.wait_for_function(READY)
    # The lobby names the loaded data beside the link to its upload page.
    console.wait_for_function("(s) => document.getElementById('diagnosis-status').textContent.includes(s)", arg=SOURCE)
    assert console.locator("#diagnosis-link").get_attribute("href") == f"/f/w/{ws['id']}/diagnosis"
    console.locator("#tab-propose").click()
    seed_id = fac.domain_ids()[SEED]
    row = console.locator(f'#domains-body tr[data-key="{seed_id}"]')
    row.locator(".domain-detail > summary").click()
    row.get_by_label(es("Link sectors to {title}", title=SEED)).fill("maquinaria")
    row.get_by_role("button", name=es("Add the sector {name}", name=f"{SECTORS['C28']} (C28)")).click()
    row.get_by_role("button", name=es("Save the linked sectors")).click()
    row.locator(".link-sectors .row-status", has_text=es("Sectors linked: the phones and the projector show the evidence.")).wait_for()
    row.locator(".detail-evidence", has_text=SECTORS["C28"]).wait_for()
    console.screenshot(path=str(ARTIFACTS / "evidence-console-link.png"))
    assert_accessible(console, "console link sectors")

    # The phone's seed card now shows it too.
    seed_card.locator(".evidence", has_text=SECTORS["C28"]).wait_for()
    seed_text = seed_card.locator(".evidence").inner_text()
    assert es("RCA {value}", value=one_decimal(machinery)) in seed_text, seed_text
    assert SOURCE in seed_text and str(YEAR) in seed_text

    # ---------------------------------------------------------------- discuss: cards and the projector
    fac.phase("discuss")
    phone.wait_for_selector("#view-discuss:not([hidden])")
    discuss_card = phone.locator("#discuss-domains > li", has=phone.locator(".title", has_text=PROPOSAL))
    discuss_card.locator("summary").first.tap()
    discuss_card.locator(".evidence", has_text=SECTORS["D35"]).wait_for()
    quiet(phone)
    shot(phone, ARTIFACTS / "evidence-phone-card.png", "phone discuss card with evidence")

    # A SWOT item on the proposal: the projector's SWOT card comes with the evidence strip.
    proposal_id = fac.domain_ids()[PROPOSAL]
    swot = phone.evaluate(
        """(id) => new Promise((resolve) => window.edpSocket.emit('swot',
             {domain_id: id, quadrant: 'strength', text: 'Puerto con espacio para electrolizadores.',
              client_id: 'evidence-test-swot'}, resolve))""", proposal_id)
    assert swot["ok"], swot

    for size in [(1280, 720), (1920, 1080)]:
        sctx, screen = projector(chromium, base, ws["code"], size, errors)
        where = f"projector {size[0]}x{size[1]}"
        screen.wait_for_selector("#domains-panel:not([hidden])")
        line = screen.locator(f'#domains > li[data-key="{proposal_id}"] .evidence-line')
        line.wait_for()
        assert re.search(rf"{re.escape(SECTORS['D35'])} · {re.escape(es('RCA {value}', value=one_decimal(energy)))}", line.inner_text()), line.inner_text()
        seed_line = screen.locator(f'#domains > li[data-key="{seed_id}"] .evidence-line')
        assert es("RCA {value}", value=one_decimal(machinery)) in seed_line.inner_text()
        # The card beside the domains turns through the domains with a SWOT or evidence: the
        # seed domain (evidence only) and the proposal (both), each with its evidence strip.
        screen.wait_for_function("() => window.edpSwotSlides().length === 2")
        assert {x["domain"] for x in screen.evaluate("() => window.edpSwotSlides()")} == {seed_id, proposal_id}
        strip = screen.locator("#swot-evidence")
        for _ in range(2):
            shown = int(screen.evaluate("() => document.getElementById('swot-card').dataset.domain"))
            expected = SECTORS["D35"] if shown == proposal_id else SECTORS["C28"]
            strip.get_by_text(expected).wait_for()
            assert SOURCE in strip.inner_text()
            if shown == proposal_id:
                break
            screen.keyboard.press("ArrowRight")
            screen.wait_for_function("(d) => document.getElementById('swot-card').dataset.domain !== d", arg=str(shown))
        screen.wait_for_timeout(500)
        assert_no_scroll(screen, where)
        seen = {x["text"] for x in check_texts(screen, where)}
        assert any(es("RCA {value}", value=one_decimal(energy)) in x for x in seen), seen
        screen.screenshot(path=str(ARTIFACTS / f"evidence-screen-{size[0]}x{size[1]}.png"))
        assert_accessible(screen, where)
        sctx.close()

    # ---------------------------------------------------------------- results and decide
    # The projector's ranking carries the evidence under each domain; so do the priorities.
    sctx, screen = projector(chromium, base, ws["code"], (1280, 720), errors)
    fac.phase("vote")
    vote = phone.evaluate(
        """(id) => new Promise((resolve) => window.edpSocket.emit('vote',
             {domain_id: id, points: 3, client_id: 'evidence-test-vote'}, resolve))""", proposal_id)
    assert vote["ok"], vote
    assert fac.act("reveal", shown=True)["ok"]
    fac.phase("results")
    screen.wait_for_selector("#results-panel:not([hidden])")
    rank_line = screen.locator(f'#rank-bars > li[data-key="{proposal_id}"] .rank-evidence')
    rank_line.wait_for()
    assert es("RCA {value}", value=one_decimal(energy)) in rank_line.inner_text()
    screen.wait_for_timeout(800)  # the bars' animation
    assert_no_scroll(screen, "projector results")
    check_texts(screen, "projector results")
    screen.screenshot(path=str(ARTIFACTS / "evidence-screen-results.png"))
    assert_accessible(screen, "projector results with evidence")

    fac.phase("decide")
    ack = fac.act("decide", domain_id=proposal_id, rank=1,
                  rationale="La región ya concentra empleo en energía y tiene puerto y red eléctrica.")
    assert ack["ok"], ack
    screen.wait_for_selector("#priorities-panel:not([hidden])")
    priority_line = screen.locator(f'#priorities > li[data-key="{proposal_id}"] .evidence-line')
    priority_line.wait_for()
    assert es("RCA {value}", value=one_decimal(energy)) in priority_line.inner_text()
    assert_no_scroll(screen, "projector priorities")
    check_texts(screen, "projector priorities")
    screen.screenshot(path=str(ARTIFACTS / "evidence-screen-priorities.png"))
    sctx.close()

    # The console's decide view: the evidence summary per domain, in full above its form.
    console.locator("#tab-decide").click()
    item = console.locator(f'#decide-list > li[data-key="{proposal_id}"]')
    item.locator(".summary-evidence", has_text=es("RCA {value}", value=one_decimal(energy))).wait_for()
    item.locator("summary").click()
    item.locator(".decide-evidence", has_text=SOURCE).wait_for()
    console.screenshot(path=str(ARTIFACTS / "evidence-console-decide.png"))
    assert_accessible(console, "console decide with evidence")

    fac.close()
    laptop.close()
    ctx.close()
    assert errors == []


# Long sector names, as national classifications write them.
LONG_SECTORS = {
    "C26": "Fabricación de productos informáticos, electrónicos y ópticos",
    "C20": "Industria química",
    "C10": "Industria de la alimentación",
    "H52": "Almacenamiento y actividades anexas al transporte",
    "M72": "Investigación y desarrollo",
    "N79": "Actividades de agencias de viajes, operadores turísticos, servicios de reservas y actividades relacionadas con los mismos",
}


def test_projector_pages_many_domains_with_evidence(live_server, chromium, tmp_path):
    """Fifteen domains, each linked to one to three sectors with long names: on the projector
    at 1280x720 and 1920x1080 every domain's evidence line is legible on some page, the
    card beside them turns through the domains with their evidence, nothing scrolls or clips."""
    from test_browser_screen import collect_over_pages, template_with

    ws = live_server.seed(template=template_with(tmp_path, 15, 5))
    regions = ["Demo Region", "Norte", "Sur", "Este", "Oeste", "Centro"]
    rows = ["region,sector,sector_name,value,year"]
    for i, region in enumerate(regions):
        for j, (code, name) in enumerate(LONG_SECTORS.items()):
            rows.append(f'{region},{code},"{name}",{100 + ((i + 2) * (j + 3) * 37) % 900},{YEAR}')
    path = tmp_path / "long.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    live_server.cli("workshop", "diagnosis", ws["code"], "--file", str(path), "--source", SOURCE)
    live_server.start()
    base = live_server.url
    errors: list[str] = []
    fac = Facilitator(base, ws["id"])
    codes = list(LONG_SECTORS)
    domains = [d for d in fac.state()["domains"] if d["status"] == "approved"]
    assert len(domains) == 15
    for k, d in enumerate(domains):
        linked = [codes[(k + m) % len(codes)] for m in range(1 + k % 3)]
        ack = fac.act("moderate", domain_id=d["domain_id"], action="link", sectors=linked)
        assert ack["ok"], ack
    fac.phase("discuss")
    shown = {d["domain_id"]: d for d in fac.state()["domains"]}
    assert all(shown[d["domain_id"]]["evidence"] for d in domains)

    for size in [(1280, 720), (1920, 1080)]:
        where = f"projector {size[0]}x{size[1]}, 15 domains"
        sctx, screen = projector(chromium, base, ws["code"], size, errors)
        screen.wait_for_selector("#domains-panel:not([hidden])")
        screen.wait_for_function("() => window.edpSwotSlides().length === 15")
        screen.wait_for_timeout(300)
        assert_no_scroll(screen, where)
        seen = collect_over_pages(screen, "domains", where)
        # Every domain's strongest sector, "name · RCA x.x", was wholly on the screen once.
        lines = screen.evaluate("() => Array.from(document.querySelectorAll('#domains .evidence-line')).map(e => e.textContent)")
        assert len(lines) == 15 and all("RCA" in x for x in lines), lines
        missing = [x for x in lines if x not in seen]
        assert not missing, f"{where}: never legible: {missing}"
        # The card beside the list: the first domains' evidence strips, each legible.
        for _ in range(3):
            shown_id = screen.evaluate("() => document.getElementById('swot-card').dataset.domain")
            strip = screen.locator("#swot-evidence")
            assert "RCA" in strip.inner_text() and SOURCE in strip.inner_text()
            check_texts(screen, f"{where}, card of domain {shown_id}")
            assert_no_scroll(screen, where)
            screen.keyboard.press("ArrowRight")
            screen.wait_for_function("(d) => document.getElementById('swot-card').dataset.domain !== d", arg=shown_id)
        screen.wait_for_timeout(700)  # the page turn's fade
        screen.screenshot(path=str(ARTIFACTS / f"evidence-screen-15-{size[0]}x{size[1]}.png"))
        assert_accessible(screen, where)
        sctx.close()
    fac.close()
    assert errors == []
