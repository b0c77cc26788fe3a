"""The room, end to end: a 15-domain Spanish workshop run the way a facilitator runs it.

`edp run --host 0.0.0.0` with no EDP_PUBLIC_URL (a laptop at the venue), a Spanish ranking
workshop created from the English template with `--language es --region`, the console at
1366x768, two projectors (1920x1080 and 1280x720) and three Chromium phones in Spanish,
Portuguese and English, plus a few python-socketio phones for the other helices. Every phase,
in order, asserts what the facilitator and the room would notice:

- the projector never scrolls, and every domain of the ranking and every priority becomes
  legible on it (page by page);
- the current phase's controls are inside the console's viewport;
- the projector's QR code, decoded from a screenshot, is not a loopback URL and its path
  serves the join page;
- a ranking changed on a phone just before the facilitator moves on is counted;
- the proposer of a merged proposal sees the merge;
- a wrong code gets the translated retry page;
- axe finds no violation on any view.

Screenshots of every view go to tests/artifacts/room-*.png.
"""
from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import TEMPLATE
from test_browser import (
    ARTIFACTS,
    READY,
    assert_accessible,
    chromium,  # noqa: F401  (the fixture)
    collect_errors,
    log_in,
    phone_context,
)
from test_browser_console import Facilitator, Phone, assert_fits
from test_browser_screen import assert_no_scroll, check_texts, pages_of, set_paused
from test_venue import VenueServer, machine_addresses

from edp import network

pytestmark = [pytest.mark.browser, pytest.mark.server]

# Thirteen seed domains; two phones propose two more and a third a near-duplicate of a seed,
# which the facilitator merges: fifteen approved domains on the ballot.
SEEDS = [
    "Hidrógeno verde y almacenamiento de energía",
    "Agricultura de precisión y riego inteligente",
    "Turismo sostenible y patrimonio cultural",
    "Servicios digitales para la salud pública",
    "Manufactura avanzada para la transición energética",
    "Bioeconomía forestal y construcción en madera",
    "Logística inteligente para puertos",
    "Industrias creativas y diseño",
    "Tecnologías del agua para regiones secas",
    "Datos espaciales para la agricultura",
    "Dispositivos médicos y diagnóstico",
    "Textiles circulares y moda",
    "Minería sostenible del litio",
]
PT_PROPOSAL = "Aquicultura e alimentos do mar"
EN_PROPOSAL = "Community energy cooperatives"
DUPLICATE = "Hidrógeno verde y almacenamiento energético"  # repeats SEEDS[0]
SIZES = {"1920": (1920, 1080), "1280": (1280, 720)}


def spanish_template(tmp: Path) -> Path:
    """The first (English) template with 13 seed domains and ranking; the workshop is made
    Spanish at creation (`--language es`), so helix labels come from the template's `labels`."""
    text = TEMPLATE.read_text().split("[[domains]]")[0]
    text = text.replace('method = "dot"', 'method = "rank"')
    seeds = "".join(f'\n[[domains]]\ntitle = "{t}"\ndescription = "Capacidades de la región en '
                    f'{t.lower()}."\n' for t in SEEDS)
    path = tmp / "region-norte.toml"
    path.write_text(text + seeds)
    return path


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    # A page fading in is shot as it ends, not half transparent.
    page.screenshot(path=str(ARTIFACTS / f"room-{name}.png"), animations="disabled")


def wait_until(predicate, page, what: str, tries: int = 150) -> None:
    for _ in range(tries):
        if predicate():
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out: {what}")


def legible_over_pages(page, list_id: str, where: str) -> set[str]:
    """Every text of a paged projector list, fully visible and above the legibility floor, on
    each page in turn (the → key turns the page, as the facilitator's clicker would)."""
    set_paused(page, True)
    seen: set[str] = set()
    n = pages_of(page, list_id)
    for _ in range(n):
        number = page.evaluate(f"() => document.getElementById('{list_id}').dataset.page")
        if n > 1:
            pager = page.locator(f'.pager[data-pager="{list_id}"] .pager-n')
            assert pager.inner_text() == f"{number}/{n}", f"{where}: no {number}/{n} indicator"
        for x in check_texts(page, f"{where} page {number}"):
            seen.add(x["text"])
        if n > 1:
            page.keyboard.press("ArrowRight")
            page.wait_for_function(
                f"(p) => document.getElementById('{list_id}').dataset.page !== p", arg=number)
    return seen


def test_a_spanish_workshop_with_fifteen_domains_in_every_face(chromium, tmp_path):  # noqa: F811
    addresses = machine_addresses()
    server = VenueServer(f"sqlite:///{tmp_path / 'room.sqlite3'}", "0.0.0.0", None, tmp_path)
    server.cli("init-db")
    server.cli("facilitator", "add", "fac@example.org")
    ws = json.loads(server.cli(
        "workshop", "create", "--template", str(spanish_template(tmp_path)),
        "--facilitator", "fac@example.org", "--language", "es", "--region", "Región Norte",
        "--title", "Región Norte: taller de priorización").strip().splitlines()[-1])
    server.start()
    people: list = []
    errors: list[str] = []
    try:
        run_workshop(chromium, server, ws, addresses, people, errors)
    finally:
        for client in people:
            client.close()
        server.stop()
    assert errors == [], errors


def run_workshop(chromium, server, ws, addresses, people, errors):  # noqa: F811
    # The laptop opens everything on its own loopback address, as a facilitator would.
    base, code = f"http://127.0.0.1:{server.port}", ws["code"]
    fac = Facilitator(base, ws["id"])
    people.append(fac)

    laptop = chromium.new_context(viewport={"width": 1366, "height": 768}, base_url=base)
    console = laptop.new_page()
    collect_errors(errors, console, "console")
    log_in(console)
    console.goto(f"/f/w/{ws['id']}")
    console.wait_for_function(READY)

    screens = {}
    for name, (w, h) in SIZES.items():
        context = chromium.new_context(viewport={"width": w, "height": h}, base_url=base)
        page = context.new_page()
        collect_errors(errors, page, f"projector {name}")
        page.goto(f"/screen/{code}?turn=2")
        page.wait_for_function(READY)
        screens[name] = page

    # ------------------------------------------------------------ lobby
    # A phone that typed the code wrong gets a Spanish page to try again, and lands in the
    # workshop with the right code.
    es = phone_context(chromium, base, locale="es-ES").new_page()
    response = es.goto("/w/NOPE99")
    assert response.status == 404
    assert es.locator("html").get_attribute("lang") == "es"
    assert es.locator("#code").is_visible()
    shot(es, "phone-es-wrong-code")
    assert_accessible(es, "wrong code page (es)")
    es.locator("#code").fill(code.lower())
    es.locator("form button[type=submit]").click()
    es.wait_for_url(f"**/w/{code}")
    collect_errors(errors, es, "phone es")  # from here on: the 404 above was the point
    es.wait_for_function(READY)

    pt = phone_context(chromium, base, locale="pt-BR").new_page()
    collect_errors(errors, pt, "phone pt")
    pt.goto(f"/w/{code}")
    pt.wait_for_function(READY)
    en = phone_context(chromium, base, locale="en-US").new_page()
    collect_errors(errors, en, "phone en")
    en.goto(f"/w/{code}")
    en.wait_for_function(READY)

    # Each phone sees the helices in its own language.
    for page, helix, view in ((es, "Empresas", "es"), (pt, "Academia e pesquisa", "pt"),
                              (en, "Civil society", "en")):
        assert page.locator("html").get_attribute("lang") == view
        page.get_by_role("radio", name=helix).check()
        if view == "es":
            shot(page, "phone-es-join")
            assert_accessible(page, "phone join (es)")
        page.locator("#join-form button[type=submit]").click()
        page.wait_for_selector("#view-lobby:not([hidden])")
    assert pt.locator("#me-label").inner_text().endswith("Academia e pesquisa")
    # Three voters in public administration and in business (the projector shows them by name);
    # one each in academia, environment and civil society (pooled as "other groups").
    for helix in ("government", "government", "business", "academia", "environment",
                  "environment", "funders", "funders", "civil_society", "government", "business"):
        people.append(Phone(base, code, helix))
    shot(es, "phone-es-lobby")
    assert_accessible(es, "phone lobby (es)")

    console.wait_for_function(
        "() => document.querySelectorAll('#counts li').length > 0"
        " && !document.getElementById('panel-lobby').hidden")
    assert_fits(console, "lobby", "#counts", ".console-qr")
    shot(console, "console-lobby")
    assert_accessible(console, "console lobby")

    # The QR code on the projector, read from a screenshot as a phone's camera reads it: a
    # network address of this machine (never loopback), whose path serves the join page.
    import zxingcpp
    from PIL import Image

    for name, page in screens.items():
        page.wait_for_function("() => document.body.dataset.stage === 'join'")
        assert_no_scroll(page, f"projector {name} lobby")
        check_texts(page, f"projector {name} lobby")
        shot(page, f"screen-{name}-lobby")
        assert_accessible(page, f"projector {name} lobby")
    qr = ARTIFACTS / "room-qr.png"
    screens["1920"].locator("#join-panel .qr").screenshot(path=str(qr))
    decoded = [r.text for r in zxingcpp.read_barcodes(Image.open(qr))]
    assert len(decoded) == 1, decoded
    where = urlsplit(decoded[0])
    assert not network.is_loopback(where.hostname) and where.hostname in addresses, decoded
    assert where.path == f"/w/{code}"
    with urllib.request.urlopen(decoded[0], timeout=10) as r:
        page_html = r.read().decode()
    assert r.status == 200 and 'id="join-form"' in page_html

    # ------------------------------------------------------------ propose
    # This workshop skips the optional vision phase: the facilitator picks Propose directly.
    console.locator('.phase-button[data-phase="propose"]').click()
    console.wait_for_selector("#panel-propose:not([hidden])")
    for page in (es, pt, en):
        page.wait_for_selector("#view-propose:not([hidden])")
    for page, title in ((pt, PT_PROPOSAL), (en, EN_PROPOSAL), (es, DUPLICATE)):
        page.locator("#propose-title").fill(title)
        page.locator("#propose-form button[type=submit]").click()
        page.locator("#propose-mine > li", has_text=title).wait_for()
    shot(es, "phone-es-propose")
    assert_accessible(es, "phone propose (es)")

    # The newest proposal heads the queue with its near-duplicate hint; one click merges it.
    newest = console.locator("#domains-body tr").first
    newest.locator(".title", has_text=DUPLICATE).wait_for()
    hint = newest.locator(".hint", has_text=SEEDS[0])
    hint.wait_for()
    assert_fits(console, "propose", "#domains-body tr:first-child .merge-similar")
    shot(console, "console-propose")
    assert_accessible(console, "console propose")
    hint.locator(".merge-similar").click()
    wait_until(lambda: {d["title"]: d["status"] for d in fac.state()["domains"]}[DUPLICATE]
               == "merged", console, "the merge is stored")
    # The proposer's phone says what became of the proposal.
    es.locator("#propose-mine > li", has_text=SEEDS[0]).wait_for()
    mine = es.locator("#propose-mine > li", has_text=DUPLICATE).inner_text()
    assert SEEDS[0] in mine, mine
    shot(es, "phone-es-merged")
    assert_accessible(es, "phone with a merged proposal (es)")

    approved = [d for d in fac.state()["domains"] if d["status"] == "approved"]
    assert len(approved) == 15
    titles = {d["title"] for d in approved}
    for name, page in screens.items():
        page.wait_for_function("() => document.body.dataset.stage === 'domains'")
        assert_no_scroll(page, f"projector {name} propose")
        shot(page, f"screen-{name}-propose")
        assert_accessible(page, f"projector {name} propose")

    # ------------------------------------------------------------ discuss
    console.locator("#phase-next").click()
    console.wait_for_selector("#panel-discuss:not([hidden])")
    pt.wait_for_selector("#view-discuss:not([hidden])")
    target = next(d for d in approved if d["title"] == PT_PROPOSAL)
    pt.locator("#comment-domain").select_option(str(target["domain_id"]))
    pt.locator("#comment-text").fill("Temos 40 km de costa e duas universidades do mar.")
    pt.locator("#comment-form button[type=submit]").click()
    people[1].call("comment", {"domain_id": target["domain_id"], "stance": "concern",
                               "text": "Texto ofensivo que hay que ocultar."})
    console.locator(".wall-item", has_text="Texto ofensivo").wait_for()
    en.wait_for_selector("#view-discuss:not([hidden])")
    en.locator("#discuss-domains > li", has_text=PT_PROPOSAL).locator("summary").first.click()
    en.locator("#discuss-domains li", has_text="Texto ofensivo").first.wait_for()
    rude = console.locator(".wall-item", has_text="Texto ofensivo")
    assert_fits(console, "discuss", ".wall-item")
    shot(console, "console-discuss")
    assert_accessible(console, "console discuss")
    rude.locator("button").first.click()  # hide
    rude.wait_for(state="attached")
    console.wait_for_function(
        "() => Array.from(document.querySelectorAll('.wall-item')).some(li =>"
        " li.textContent.includes('Texto ofensivo') && li.dataset.hidden === 'yes')")
    en.locator("#discuss-domains li", has_text="Texto ofensivo").first.wait_for(state="detached")
    shot(en, "phone-en-discuss")
    assert_accessible(en, "phone discuss (en)")
    for name, page in screens.items():
        assert_no_scroll(page, f"projector {name} discuss")
        legible = legible_over_pages(page, "domains", f"projector {name} discuss")
        assert titles <= legible, titles - legible
        shot(page, f"screen-{name}-discuss")
        assert_accessible(page, f"projector {name} discuss")

    # ------------------------------------------------------------ vote
    console.locator("#phase-next").click()
    console.wait_for_selector("#panel-vote:not([hidden])")
    for page in (es, pt, en):
        page.wait_for_selector("#view-vote:not([hidden])")
        page.wait_for_selector("#rank-state[data-state='none']")
    ids = [d["domain_id"] for d in approved]
    for k, phone in enumerate(people[1:6] + people[10:12]):
        phone.call("rank", {"order": ids[k:] + ids[:k]})
    en.locator("#rank-accept").tap()  # happy with the order shown: cast it as it is
    en.wait_for_selector("#rank-state[data-state='saved']")
    shot(en, "phone-en-vote")
    assert_accessible(en, "phone vote (en)")
    for name, page in screens.items():
        page.wait_for_function("() => document.body.dataset.stage === 'vote'")
        page.wait_for_function(
            "() => /\\d/.test(document.getElementById('turnout').textContent)")
        assert_no_scroll(page, f"projector {name} vote")
        check_texts(page, f"projector {name} vote")
        shot(page, f"screen-{name}-vote")
        assert_accessible(page, f"projector {name} vote")
    assert_fits(console, "vote", "#voted-summary")
    shot(console, "console-vote")
    assert_accessible(console, "console vote")

    shot(es, "phone-es-vote")
    assert_accessible(es, "phone vote, nothing ranked yet (es)")
    # The Spanish phone moves one domain up (nothing else: there is no save button), and the
    # facilitator moves on at once.
    rows = es.locator("#vote-list > li")
    rows.nth(3).locator("button").first.tap()
    order = es.evaluate("() => Array.from(document.querySelectorAll('#vote-list > li'))"
                        ".map(li => Number(li.dataset.key.split('-').pop()))")
    console.locator("#phase-next").click()
    console.wait_for_selector("#panel-results:not([hidden])")
    record = json.loads(urllib.request.urlopen(urllib.request.Request(
        f"{base}/api/workshops/{code}"), timeout=10).read())
    assert record["phase"] == "results"
    results = fac.state()["results"]
    assert results["participation"]["business"] == 3  # two socket phones and the Spanish phone
    assert results["participation"]["academia"] == 1  # the Portuguese phone left it untouched
    es_ballot = es_ranking(server, ws)
    assert es_ballot == order, (es_ballot, order)
    pt.wait_for_selector("#view-results:not([hidden])")
    assert_accessible(pt, "phone results (pt)")
    shot(pt, "phone-pt-results")

    # ------------------------------------------------------------ results on the projector
    for name, page in screens.items():
        page.wait_for_function("() => document.body.dataset.stage === 'results'")
        page.wait_for_timeout(500)
        assert_no_scroll(page, f"projector {name} results")
        legible = legible_over_pages(page, "rank-bars", f"projector {name} results")
        assert titles <= legible, titles - legible
        shot(page, f"screen-{name}-results")
        assert_accessible(page, f"projector {name} results")
    assert_fits(console, "results", "#reveal")
    shot(console, "console-results")
    assert_accessible(console, "console results")

    # ------------------------------------------------------------ decide
    console.locator("#phase-next").click()
    console.wait_for_selector("#panel-decide:not([hidden])")
    ranking = fac.state()["results"]["ranking"]
    top = ranking[0]
    item = console.locator("#decide-list > li", has_text=top["title"]).first
    item.locator("summary").click()
    item.locator("input[name=rank]").fill("1")
    item.locator("textarea[name=rationale]").fill("Recursos naturales y dos universidades.")
    item.locator("button[type=submit]").click()
    console.locator("#shortlist li", has_text=top["title"]).wait_for()
    decided = [top["title"]]
    for rank, entry in enumerate(ranking[1:5], start=2):
        ack = fac.sio.call("decide", {"workshop_id": ws["id"], "domain_id": entry["domain_id"],
                                      "rank": rank, "rationale": "Masa crítica, mercados de "
                                      "exportación y un consorcio listo para empezar en 2027.",
                                      "indicators": ["Empresas en la cadena de valor",
                                                     {"name": "Patentes", "baseline": "12",
                                                      "target": "30"}]}, timeout=10)
        assert ack["ok"], ack
        decided.append(entry["title"])
    console.locator("#shortlist li").nth(4).wait_for()
    item.locator("summary").click()
    assert_fits(console, "decide", "#decide-h")
    shot(console, "console-decide")
    assert_accessible(console, "console decide")
    for name, page in screens.items():
        page.wait_for_function("() => document.body.dataset.stage === 'priorities'")
        page.wait_for_function("() => document.querySelectorAll('#priorities > li').length === 5")
        assert_no_scroll(page, f"projector {name} decide")
        legible = legible_over_pages(page, "priorities", f"projector {name} decide")
        for title in decided:
            assert any(title in text for text in legible), (title, legible)
        shot(page, f"screen-{name}-decide")
        assert_accessible(page, f"projector {name} decide")
    es.wait_for_selector("#view-decide:not([hidden])")
    es.locator("#priorities > li").nth(4).wait_for()
    shot(es, "phone-es-decide")
    assert_accessible(es, "phone decide (es)")

    # ------------------------------------------------------------ closed
    console.locator("#phase-next").click()
    console.wait_for_selector("#panel-closed:not([hidden])")
    assert_fits(console, "closed", "#export-h")
    shot(console, "console-closed")
    assert_accessible(console, "console closed")
    for name, page in screens.items():
        page.wait_for_function("() => document.body.dataset.phase === 'closed'")
        assert_no_scroll(page, f"projector {name} closed")
        assert_accessible(page, f"projector {name} closed")
    es.locator("#closed-note").wait_for()
    assert_accessible(es, "phone closed (es)")


def es_ranking(server, ws) -> list[int]:
    """The Spanish phone's stored ranking, from the JSON record: it joined first, so it is the
    record's participant `p1`."""
    out = Path(server.log_path).with_suffix(".json")
    server.cli("workshop", "export", ws["code"], "--format", "json", "--output", str(out))
    record = json.loads(out.read_text())
    assert record["participants"][0]["helix"] == "business"
    return record["rankings"].get("p1", {}).get("order", [])
