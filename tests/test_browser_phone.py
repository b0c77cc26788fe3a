"""The phone, as participants in a hotel ballroom use it: Chromium phones at 390x844 in English,
Spanish and Portuguese against a real `edp run`, the facilitator as a python-socketio client.

A ranking is saved on every move (and one nobody touched is no ballot), a proposer learns what
became of each proposal, a wrong join code gets a page to type it again, a closed workshop
shows its priorities to a newcomer, and template labels, SDG names and errors before joining
follow the phone's language. Every view is screenshotted under tests/artifacts/ and checked
with axe-core.
"""

from __future__ import annotations

import contextlib
import re

import pytest
import socketio
import test_browser
from conftest import TEMPLATE, login_cookie
from test_browser import ARTIFACTS, READY, assert_accessible, collect_errors, phone_context

pytestmark = [pytest.mark.browser, pytest.mark.server]
chromium = test_browser.chromium  # the shared fixture: Debian's Chromium, skipped (or failed in CI) if absent

SEEDED = [
    "Advanced manufacturing for the energy transition",
    "Digital services for public health",
    "Sustainable tourism and cultural heritage",
]


class Facilitator:
    """The facilitator's console, as a python-socketio client with the session cookie."""

    def __init__(self, base: str, workshop_id: int):
        self.workshop_id = workshop_id
        self.sio = socketio.Client(reconnection=False)
        self.sio.connect(base, headers={"Cookie": login_cookie(base)}, transports=["websocket"],
                         wait_timeout=10)
        assert self.act("facilitate")["ok"]

    def act(self, event: str, **payload) -> dict:
        return self.sio.call(event, {"workshop_id": self.workshop_id, **payload}, timeout=10)

    def phase(self, phase: str) -> None:
        ack = self.act("phase", phase=phase)
        assert ack["ok"], ack

    def state(self) -> dict:
        return self.act("facilitate")["state"]

    def domain_ids(self) -> dict[str, int]:
        return {d["title"]: d["domain_id"] for d in self.state()["domains"]}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.sio.disconnect()


@pytest.fixture
def shots():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def open_phone(chromium, base: str, locale: str, errors: list[str], name: str):
    ctx = phone_context(chromium, base, locale=locale)
    page = ctx.new_page()
    collect_errors(errors, page, name)
    return ctx, page


def join(page, code: str, helix: str, button: str = "Join") -> None:
    page.goto(f"/w/{code}")
    page.wait_for_function(READY)
    page.get_by_role("radio", name=helix).check()
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_selector("#view-join", state="hidden")


def quiet(page) -> None:
    """Ready for a screenshot: no transient toast, scrolled to the top."""
    page.wait_for_function("() => !document.getElementById('status').textContent", timeout=10000)
    page.evaluate("() => window.scrollTo(0, 0)")


def no_sideways_scroll(page, name: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{name} is {width} px wide on a 390 px phone"


def shot(page, path, name: str) -> None:
    """Screenshot, no horizontal scroll, axe-core clean."""
    no_sideways_scroll(page, name)
    page.screenshot(path=str(path), full_page=True)
    assert_accessible(page, name)


def rank_titles(page) -> list[str]:
    return page.locator("#vote-list > li .title").all_inner_texts()


def borda(orders: list[list[str]], titles: list[str]) -> dict[str, int]:
    points = dict.fromkeys(titles, 0)
    for order in orders:
        for i, title in enumerate(order, start=1):
            points[title] += len(titles) - i
    return points


# ---------------------------------------------------------------- ranking


def test_ranking_saves_on_every_move_and_an_untouched_order_is_no_ballot(live_server, chromium, shots):
    """Four phones rank: one moves a domain and the facilitator closes the vote at once, one
    casts the shown order with the button, one never touches its list, one moves while its
    connection is down. The server's results count exactly the first two, and each phone says
    what happened to its ballot."""
    ws = live_server.seed(method="rank")
    live_server.start()
    base = live_server.url
    errors: list[str] = []
    fac = Facilitator(base, ws["id"])

    mover_ctx, mover = open_phone(chromium, base, "en-US", errors, "mover")
    keeper_ctx, keeper = open_phone(chromium, base, "pt-BR", errors, "keeper")
    idle_ctx, idle = open_phone(chromium, base, "es-ES", errors, "idle")
    late_ctx, late = open_phone(chromium, base, "en-US", errors, "late")
    join(mover, ws["code"], "Business")
    join(keeper, ws["code"], "Sociedade civil", button="Entrar")
    join(idle, ws["code"], "Academia e investigación", button="Unirse")
    join(late, ws["code"], "Environment and sustainability")

    fac.phase("vote")
    for page in (mover, keeper, idle, late):
        page.wait_for_selector("#view-vote:not([hidden])")
        page.wait_for_selector("#rank-state[data-state='none']")
    # Untouched: no ballot, and the phone says so, with a way to cast the order as it is.
    assert mover.locator("#rank-note").inner_text() == (
        "Not ranked yet: move the domains into your order; it saves as you go.")
    assert mover.locator("#rank-status").inner_text() == "Not ranked yet"
    assert mover.get_by_role("button", name="Keep this order as my ranking").is_visible()
    assert mover.locator("#vote-list > li[data-ranked='no']").count() == 3
    quiet(mover)
    shot(mover, shots / "phone-rank-none.png", "phone rank, not ranked yet")
    quiet(idle)
    shot(idle, shots / "es-phone-rank-none.png", "phone rank, not ranked yet (es)")
    assert fac.state()["results"]["participation"].get("business", 0) == 0

    # The keeper agrees with the order shown and casts it as it is.
    kept = rank_titles(keeper)
    keeper.locator("#rank-accept").tap()
    keeper.wait_for_selector("#rank-state[data-state='saved']")
    assert keeper.locator("#rank-accept").is_hidden()
    quiet(keeper)
    shot(keeper, shots / "pt-phone-rank-saved.png", "phone rank, saved (pt)")

    # The late phone loses its connection, then moves a domain: the move waits, and says so.
    late.evaluate("() => window.edpSocket.disconnect()")
    late.wait_for_function("() => window.edpReady === false")
    late.locator("#vote-list > li").nth(1).get_by_role("button", name=re.compile("up$")).tap()
    late.wait_for_selector("#rank-state[data-state='sending']")
    assert late.locator("#rank-status").inner_text() == "Not sent yet: waiting for the connection…"

    # The mover moves its second domain up: the whole order goes out at once (no save button),
    # and the facilitator closes the vote right away, before the phone hears back.
    before = rank_titles(mover)
    mover.locator("#vote-list > li").nth(1).get_by_role("button", name=f"Move {before[1]} up").tap()
    moved = [before[1], before[0], before[2]]
    assert rank_titles(mover) == moved
    mover.wait_for_selector("#rank-state:not([data-state='none'])")  # sent on the tap
    fac.phase("results")

    # The server counted the moved ranking and the kept one; the idle and the late phones cast
    # nothing.
    results = fac.state()["results"]
    assert results["participation"]["business"] == 1
    assert results["participation"]["civil_society"] == 1
    assert results["participation"].get("academia", 0) == 0
    assert results["participation"].get("environment", 0) == 0
    expected = borda([moved, kept], SEEDED)
    assert {r["title"]: r["score"] for r in results["ranking"]} == expected

    # The mover's change arrived in time: no warning. The late phone comes back and is told
    # plainly that its change did not count.
    mover.wait_for_selector("#view-results:not([hidden])")
    assert mover.locator("#ballot-note").is_hidden()
    late.evaluate("() => window.edpSocket.connect()")
    late.wait_for_selector("#view-results:not([hidden])")
    late.wait_for_selector("#ballot-note[data-kind='error']")
    assert late.locator("#ballot-note").inner_text() == (
        "The vote closed before your change arrived: it does not count, and you have no ballot"
        " in this vote.")
    quiet(late)
    shot(late, shots / "phone-rank-late.png", "phone results, late change")
    assert fac.state()["results"]["participation"].get("environment", 0) == 0

    assert errors == [], errors
    fac.close()
    for ctx in (mover_ctx, keeper_ctx, idle_ctx, late_ctx):
        ctx.close()


# ---------------------------------------------------------------- what became of my proposals


def test_proposer_sees_approval_merge_and_hiding(live_server, chromium, shots, tmp_path):
    """With moderation before publishing, a proposer's phone lists each proposal with its fate,
    live: waiting, approved, merged into another domain, hidden; a toast says each change."""
    template = tmp_path / "pre.toml"
    text = TEMPLATE.read_text().replace('moderation = "post"', 'moderation = "pre"')
    assert 'moderation = "pre"' in text
    template.write_text(text)
    ws = live_server.seed(template=template)
    live_server.start()
    base = live_server.url
    errors: list[str] = []
    fac = Facilitator(base, ws["id"])
    fac.phase("propose")

    ctx, phone = open_phone(chromium, base, "en-US", errors, "proposer")
    join(phone, ws["code"], "Business")
    phone.wait_for_selector("#view-propose:not([hidden])")
    assert phone.locator("#propose-mine-box").is_hidden()  # nothing proposed yet

    phone.get_by_label("Title").fill("Green hydrogen valleys")
    phone.locator("#sdg-picker summary").click()
    phone.get_by_role("checkbox", name="SDG 7: Affordable and clean energy").check()
    phone.get_by_role("checkbox", name="SDG 13: Climate action").check()
    assert phone.locator("#sdg-chosen").inner_text() == "(chosen: 7, 13)"
    phone.get_by_role("button", name="Send proposal").click()
    mine = phone.locator("#propose-mine > li")
    mine.filter(has_text="Green hydrogen valleys").filter(has_text="Waiting for approval").wait_for()
    phone.get_by_label("Title").fill("Hydrogen for heavy industry")
    phone.get_by_role("button", name="Send proposal").click()
    mine.filter(has_text="Hydrogen for heavy industry").filter(has_text="Waiting for approval").wait_for()
    assert mine.count() == 2

    ids = fac.domain_ids()
    valleys, industry = ids["Green hydrogen valleys"], ids["Hydrogen for heavy industry"]
    assert fac.act("moderate", domain_id=valleys, action="approve")["ok"]
    mine.filter(has_text="Green hydrogen valleys").filter(has_text="Approved").wait_for()
    phone.get_by_text("Your proposal “Green hydrogen valleys”: Approved").wait_for()
    # Approved, it joins the public list with its goals by number, name and colour.
    card = phone.locator("#propose-domains > li", has_text="Green hydrogen valleys")
    card.wait_for()
    assert card.locator(".sdg-name").all_inner_texts() == [
        "Affordable and clean energy", "Climate action"]
    assert card.locator(".sdg-tag").first.text_content() == "SDG 7: 7Affordable and clean energy"
    assert card.locator(".sdg-tag").first.evaluate(
        "el => getComputedStyle(el.querySelector('.sdg-num')).backgroundColor") == "rgb(252, 195, 11)"

    assert fac.act("moderate", domain_id=industry, action="merge", into=valleys)["ok"]
    merged = mine.filter(has_text="Hydrogen for heavy industry")
    merged.filter(has_text="Merged into “Green hydrogen valleys”").wait_for()
    assert merged.get_attribute("data-status") == "merged"
    phone.get_by_text(
        "Your proposal “Hydrogen for heavy industry”: Merged into “Green hydrogen valleys”").wait_for()
    quiet(phone)
    shot(phone, shots / "phone-propose-mine.png", "phone propose, your proposals")

    assert fac.act("moderate", domain_id=valleys, action="hide")["ok"]
    hidden = mine.filter(has_text="Green hydrogen valleys")
    hidden.filter(has_text="Hidden by the facilitator").wait_for()
    phone.locator("#propose-domains > li", has_text="Green hydrogen valleys").wait_for(state="detached")

    # The discuss view lists them too; a reload rebuilds the list from the server.
    fac.phase("discuss")
    phone.wait_for_selector("#view-discuss:not([hidden])")
    phone.reload()
    phone.wait_for_function(READY)
    listed = phone.locator("#discuss-mine > li")
    listed.filter(has_text="Hidden by the facilitator").wait_for()
    assert [li.get_attribute("data-status") for li in listed.all()] == ["merged", "hidden"]
    quiet(phone)
    shot(phone, shots / "phone-discuss-mine.png", "phone discuss, your proposals")

    assert errors == [], errors
    fac.close()
    ctx.close()


# ---------------------------------------------------------------- the phone's language


PT_HELICES = ["Administração pública", "Empresas", "Academia e pesquisa", "Sociedade civil",
              "Meio ambiente e sustentabilidade", "Entidades financiadoras"]


def pt_catalogue():
    from babel.support import Translations

    from edp import app as edp_app

    return Translations.load(str(edp_app.ROOT / "edp" / "translations"), ["pt"])


def test_portuguese_phone_sees_labels_goals_and_errors_in_portuguese(live_server, chromium, shots):
    """An English template with translated labels, on a Brazilian phone: the helices on the
    join form and everywhere after, the criteria of the scoring, the SDG names in the picker and
    on the cards, and the server's refusals before joining are Portuguese."""
    ws = live_server.seed(method="score")
    live_server.start()
    base = live_server.url
    errors: list[str] = []
    fac = Facilitator(base, ws["id"])

    ctx, phone = open_phone(chromium, base, "pt-BR", errors, "pt phone")
    phone.goto(f"/w/{ws['code']}")
    phone.wait_for_function(READY)
    assert phone.locator("#view-join input[name=helix] + span").all_inner_texts() == PT_HELICES
    shot(phone, shots / "pt-phone-join.png", "phone join (pt)")

    # A refusal before joining speaks the phone's language: a group the workshop does not have
    # (as from a stale page) ...
    phone.locator("#view-join input[name=helix]").first.evaluate("el => { el.value = 'martians' }")
    phone.get_by_role("radio", name="Administração pública").check()
    phone.get_by_role("button", name="Entrar", exact=True).click()
    phone.locator("#status", has_text="Escolha um dos grupos da oficina.").wait_for()
    assert phone.locator("#view-join").is_visible()

    phone.get_by_role("radio", name="Academia e pesquisa").check()
    phone.get_by_role("button", name="Entrar", exact=True).click()
    phone.wait_for_selector("#view-lobby:not([hidden])")
    assert phone.locator("#me-label").inner_text() == "Você participa como: Academia e pesquisa"
    assert phone.locator("#lobby-counts .bar-label").all_inner_texts() == PT_HELICES

    # Propose: the 17 goals with number, name and UN colour, as checkboxes.
    fac.phase("propose")
    phone.wait_for_selector("#view-propose:not([hidden])")
    phone.locator("#sdg-picker summary").click()
    goals = phone.locator(".sdgs .sdg-option")
    assert goals.count() == 17
    hunger = phone.get_by_role("checkbox", name="ODS 2: Fome zero e agricultura sustentável")
    hunger.check()
    assert hunger.is_checked()
    tile = phone.locator('.sdg-option[data-sdg="2"] .sdg-num')
    assert tile.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(221, 166, 58)"
    assert tile.evaluate("el => getComputedStyle(el).color") == "rgb(20, 23, 28)"  # 8.2:1
    assert min(box["height"] for box in (g.bounding_box() for g in goals.all())) >= 44
    seeded = phone.locator("#propose-domains > li", has_text=SEEDED[0])
    assert seeded.locator(".sdg-name").all_inner_texts() == [
        "Energia limpa e acessível", "Indústria, inovação e infraestrutura",
        "Ação contra a mudança global do clima"]
    quiet(phone)
    shot(phone, shots / "pt-phone-propose.png", "phone propose (pt)")

    # Vote: the criteria in Portuguese.
    fac.phase("vote")
    phone.wait_for_selector("#view-vote:not([hidden])")
    legends = phone.locator("#vote-list > li").first.locator(".scale legend").all_inner_texts()
    assert [text.split("—")[0].strip() for text in legends] == [
        "Massa crítica e ativos existentes", "Potencial de inovação",
        "Potencial de mercado e crescimento", "Contribuição para os ODS e a sustentabilidade",
        "Financiabilidade"]
    quiet(phone)
    shot(phone, shots / "pt-phone-vote.png", "phone vote (pt)")

    # ... and a workshop that closes while a newcomer fills in the form: the refusal in
    # Portuguese, then the closed page instead of the form.
    late_ctx, late = open_phone(chromium, base, "pt-BR", errors, "late pt phone")
    late.goto(f"/w/{ws['code']}")
    late.wait_for_function(READY)
    late.get_by_role("radio", name="Sociedade civil").check()
    fac.phase("closed")
    english = socketio.Client(reconnection=False)
    english.connect(base, transports=["websocket"])
    refused = english.call("join", {"code": ws["code"], "helix": "civil_society", "language": "en"})
    english.disconnect()
    assert refused["ok"] is False and refused["error"]["code"] == "wrong_phase"
    late.get_by_role("button", name="Entrar", exact=True).click()
    late.locator("#status", has_text=pt_catalogue().gettext(refused["error"]["message"])).wait_for()
    late.wait_for_selector("#view-decide:not([hidden])")
    assert late.locator("#view-join").is_hidden()
    assert late.get_by_role("link", name=re.compile("prioridades acordadas|agreed priorities")).is_visible()

    assert errors == [], errors
    fac.close()
    for c in (ctx, late_ctx):
        c.close()


# ---------------------------------------------------------------- wrong codes, closed workshops


UNKNOWN = {
    "es-ES": ("es", "No hay ningún taller con ese código.", "Unirse"),
    "pt-BR": ("pt", "Não há nenhuma oficina com esse código.", "Entrar"),
    "en-US": ("en", "There is no workshop with that code.", "Join"),
}


def test_a_wrong_code_gets_a_page_to_type_it_again(live_server, chromium, shots):
    """/w/NOPE99 answers 404 with a page in the phone's language (es, pt, en) whose form leads
    to the right workshop; the projector's wrong code leads back to a projector page."""
    ws = live_server.seed()
    live_server.start()
    errors: list[str] = []
    for locale, (lang, heading, button) in UNKNOWN.items():
        ctx, phone = open_phone(chromium, live_server.url, locale, errors, f"phone {locale}")
        response = phone.goto("/w/NOPE99")
        assert response.status == 404
        assert phone.locator("html").get_attribute("lang") == lang
        assert phone.get_by_role("heading", level=1).inner_text() == heading
        assert phone.locator("#code").input_value() == "NOPE99"  # a typo is fixed, not retyped
        shot(phone, shots / f"{lang}-phone-unknown-code.png", f"unknown code page ({locale})")
        phone.locator("#code").fill(f" {ws['code'].lower()} ")
        phone.get_by_role("button", name=button, exact=True).click()
        phone.wait_for_url(f"**/w/{ws['code']}")
        phone.wait_for_function(READY)
        assert phone.locator("#view-join").is_visible()
        assert phone.locator("html").get_attribute("lang") == lang
        ctx.close()

    # The projector's page, on an English laptop asking for Portuguese with ?lang=.
    ctx, laptop = open_phone(chromium, live_server.url, "en-US", errors, "projector")
    response = laptop.goto("/screen/NOPE99?lang=pt")
    assert response.status == 404
    assert laptop.get_by_role("heading", level=1).inner_text() == UNKNOWN["pt-BR"][1]
    laptop.locator("#code").fill(ws["code"])
    laptop.locator("form.code-form button[type=submit]").click()
    laptop.wait_for_url(f"**/screen/{ws['code']}?lang=pt")
    assert laptop.locator("html").get_attribute("lang") == "pt"
    ctx.close()

    # The 404 itself is logged by the browser; nothing else may be.
    assert [e for e in errors if "status of 404" not in e] == [], errors


def test_a_closed_workshop_shows_its_priorities(live_server, chromium, shots):
    """A newcomer to a closed workshop sees at once that it is closed and what it agreed, never
    the join form; a participant who had joined rejoins and sees the same priorities."""
    ws = live_server.seed()
    live_server.start()
    base = live_server.url
    errors: list[str] = []
    fac = Facilitator(base, ws["id"])
    member_ctx, member = open_phone(chromium, base, "es-ES", errors, "member")
    join(member, ws["code"], "Empresas", button="Unirse")

    fac.phase("decide")
    ids = fac.domain_ids()
    ack = fac.act("decide", domain_id=ids[SEEDED[1]], rank=1,
                  rationale="Two university hospitals and a health-data cluster.",
                  indicators=[{"name": "Telemedicine consultations", "baseline": 1200,
                               "target": 5000}])
    assert ack["ok"], ack
    fac.phase("closed")

    new_ctx, newcomer = open_phone(chromium, base, "pt-BR", errors, "newcomer")
    newcomer.goto(f"/w/{ws['code']}")
    newcomer.wait_for_selector("#view-decide:not([hidden])")
    assert newcomer.locator("#view-join").is_hidden()
    assert newcomer.locator("#phase-label").inner_text() == "Fase: Encerrado"
    assert newcomer.locator("#closed-note").is_visible()
    priority = newcomer.locator("#priorities > li")
    assert priority.count() == 1
    assert priority.locator(".title").inner_text() == f"Prioridade 1: {SEEDED[1]}"
    assert "Telemedicine consultations: de 1200 para 5000" in priority.inner_text()
    newcomer.wait_for_function(READY)
    quiet(newcomer)
    shot(newcomer, shots / "pt-phone-closed-newcomer.png", "closed workshop, newcomer (pt)")

    member.reload()
    member.wait_for_function(READY)
    member.wait_for_selector("#view-decide:not([hidden])")
    member.get_by_text("El taller ha terminado. Gracias por participar.").wait_for()
    assert member.locator("#priorities .title").inner_text() == f"Prioridad 1: {SEEDED[1]}"
    quiet(member)
    shot(member, shots / "es-phone-closed.png", "closed workshop, member (es)")

    assert errors == [], errors
    fac.close()
    for c in (member_ctx, new_ctx):
        c.close()


# ---------------------------------------------------------------- score cards


def test_quick_taps_on_one_domain_go_as_one_card_and_all_are_saved(live_server, chromium):
    """A participant taps the five criteria of a domain faster than the acks come back: the
    first value goes at once, the four tapped meanwhile go together as one `score` card, and
    every value is saved (the phone says so, and shows them all again after a reload)."""
    ws = live_server.seed(method="score")
    live_server.start()
    errors: list[str] = []
    fac = Facilitator(live_server.url, ws["id"])
    ctx, phone = open_phone(chromium, live_server.url, "en-US", errors, "scoring phone")
    sent: list[str] = []
    phone.on("websocket", lambda ws_: ws_.on(
        "framesent", lambda frame: sent.append(frame) if '"score"' in str(frame) else None))
    join(phone, ws["code"], "Academia and research")
    fac.phase("vote")
    phone.wait_for_selector("#view-vote:not([hidden])")
    card = phone.locator("#vote-list > li").first
    criteria = card.locator(".scale").evaluate_all("els => els.map(e => e.dataset.criterion)")
    assert len(criteria) == 5
    wanted = {c: (k % 5) + 1 for k, c in enumerate(criteria)}
    # Five taps in one go (a thumb is fast; the ack of the first is not back yet).
    card.evaluate("""(li, wanted) => {
        for (const [c, v] of Object.entries(wanted))
          li.querySelector(`[data-criterion="${c}"] input[value="${v}"]`).click();
      }""", wanted)
    card.locator(".row-status", has_text="Saved").wait_for()
    assert len(sent) == 2, sent  # the first tap, then one card with the other four
    assert '"scores"' in str(sent[1])

    phone.reload()
    phone.wait_for_selector("#view-vote:not([hidden])")
    card = phone.locator("#vote-list > li").first
    for c, v in wanted.items():
        card.locator(f'[data-criterion="{c}"] input[value="{v}"]:checked').wait_for()
    assert errors == [], errors
    fac.close()
    ctx.close()
