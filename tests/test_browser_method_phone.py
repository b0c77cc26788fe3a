"""The method on the phone (issue #16), in a Spanish workshop on Chromium phones at 390x844
against a real `edp run`, the facilitator as a python-socketio client.

Vision: a participant writes a statement and reacts to the statements one card at a time
(agree / disagree / pass, "N of M"), is told when every statement is answered, finds the
reactions again after a reload and can change one; the adopted statements head the screen.
SWOT: an item added on a domain card reaches a second phone, with its author's group.
Funders: a funder's phone marks a domain yes with an instrument and the facilitator's state
shows it; other phones never see the buttons. Every screen is screenshotted under
tests/artifacts/, checked with axe-core and for sideways scrolling.

Texts are looked up in the Spanish catalogue the server uses, so the test reads the same words
before and after the new strings are translated.
"""

from __future__ import annotations

import json

import pytest
import test_browser
from conftest import ROOT, TEMPLATE
from test_browser import READY
from test_browser_phone import SEEDED, Facilitator, join, open_phone, quiet, shot, shots  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.server]
chromium = test_browser.chromium  # the shared fixture: Debian's Chromium, skipped (or failed in CI) if absent


def spanish():
    from babel.support import Translations

    return Translations.load(str(ROOT / "edp" / "translations"), ["es"])


ES = spanish()


def es(msgid: str, **fill) -> str:
    """The Spanish text (the English msgid while it has no translation), {name}s filled in."""
    text = ES.gettext(msgid)
    for key, value in fill.items():
        text = text.replace("{" + key + "}", str(value))
    return text


def seed_spanish(live_server) -> dict:
    live_server.cli("init-db")
    live_server.cli("facilitator", "add", "fac@example.org")
    out = live_server.cli("workshop", "create", "--template", str(TEMPLATE),
                          "--facilitator", "fac@example.org", "--language", "es")
    return json.loads(out.strip().splitlines()[-1])


FROM_STRATEGY = [
    "En 2035 la región exporta energía limpia a todo el país.",
    "En 2035 los jóvenes encuentran empleo cualificado sin emigrar.",
]
OWN = "En 2035 la región lidera el turismo sostenible de montaña."
LATE = "En 2035 cada comarca tiene un centro tecnológico."


def vision_of(fac: Facilitator) -> dict[str, dict]:
    return {s["text"]: s for s in fac.state()["vision"]}


def tall_enough(locator, px: int = 48) -> None:
    for box in (b.bounding_box() for b in locator.all()):
        assert box["height"] >= px and box["width"] >= px, box


def test_vision_swot_and_funders_on_spanish_phones(live_server, chromium, shots):  # noqa: F811
    ws = seed_spanish(live_server)
    live_server.start()
    base = live_server.url
    errors: list[str] = []
    fac = Facilitator(base, ws["id"])
    for text in FROM_STRATEGY:
        assert fac.act("vision_moderate", action="add", text=text)["ok"]
    fac.phase("vision")

    # ---------------------------------------------------------------- vision
    ctx, phone = open_phone(chromium, base, "es-ES", errors, "vision phone")
    join(phone, ws["code"], "Empresas", button="Unirse")
    phone.wait_for_selector("#view-vision:not([hidden])")
    assert phone.locator("html").get_attribute("lang") == "es"
    assert phone.locator("#phase-label").inner_text() == es("Phase: {phase}", phase=es("Vision"))
    progress = phone.locator("#vision-progress")
    progress.get_by_text(es("Statement {n} of {m}", n=1, m=2), exact=True).wait_for()

    # The participant writes a statement: the placeholder starts it, a counter counts down.
    box = phone.get_by_label(es("Your statement"), exact=True)
    assert box.get_attribute("placeholder") == es("In 2035 the region…")
    assert box.get_attribute("maxlength") == "500"
    box.fill(OWN)
    assert phone.locator("#statement-count").inner_text() == es(
        "{n} of {max} characters left", n=500 - len(OWN), max=500)
    phone.get_by_role("button", name=es("Add statement")).tap()
    phone.locator("#statement-status", has_text=es("Thank you. Your statement was added.")).wait_for()
    assert box.input_value() == ""
    # It joins the deck at the end: the card in hand stays.
    progress.get_by_text(es("Statement {n} of {m}", n=1, m=3), exact=True).wait_for()
    card = phone.locator("#vision-text")
    assert card.inner_text() == FROM_STRATEGY[0]
    buttons = phone.locator("#vision-buttons button")
    assert buttons.all_inner_texts() == [es("Agree"), es("Disagree"), es("Pass")]
    tall_enough(buttons)
    quiet(phone)
    shot(phone, shots / "es-phone-vision-card.png", "phone vision, a statement card (es)")

    # Three reactions, one card at a time.
    expected = [FROM_STRATEGY[0], FROM_STRATEGY[1], OWN]
    for n, (text, reaction) in enumerate(zip(expected, ["Agree", "Disagree", "Pass"]), start=1):
        progress.get_by_text(es("Statement {n} of {m}", n=n, m=3), exact=True).wait_for()
        assert card.inner_text() == text
        assert phone.locator("#vision-text").count() == 1
        phone.get_by_role("button", name=es(reaction), exact=True).tap()
    progress.get_by_text(es("You have reacted to every statement."), exact=True).wait_for()
    assert phone.locator("#vision-buttons").is_hidden()
    phone.locator("#vision-status", has_text=es("Saved")).wait_for()
    review = phone.get_by_role("button", name=es("Review or change your reactions"))
    assert review.is_visible()
    counts = vision_of(fac)
    assert [(counts[t]["agree"], counts[t]["disagree"], counts[t]["pass"]) for t in expected] == [
        (1, 0, 0), (0, 1, 0), (0, 0, 1)]
    quiet(phone)
    shot(phone, shots / "es-phone-vision-done.png", "phone vision, all answered (es)")

    # A reload finds the reactions (state.me), and one can be changed from the review list.
    phone.reload()
    phone.wait_for_function(READY)
    progress.get_by_text(es("You have reacted to every statement."), exact=True).wait_for()
    review.tap()
    mine = phone.locator("#vision-mine-list > li")
    assert mine.count() == 3
    assert mine.first.locator(".reaction").inner_text() == es(
        "Your reaction: {reaction}", reaction=es("Agree"))
    mine.first.get_by_role("button", name=es("Change your reaction to “{text}”", text=FROM_STRATEGY[0])).tap()
    progress.get_by_text(es("Statement {n} of {m}", n=1, m=3), exact=True).wait_for()
    assert phone.get_by_role("button", name=es("Agree"), exact=True).get_attribute("aria-pressed") == "true"
    assert phone.get_by_role("button", name=es("Disagree"), exact=True).get_attribute("aria-pressed") == "false"
    phone.get_by_role("button", name=es("Disagree"), exact=True).tap()
    progress.get_by_text(es("You have reacted to every statement."), exact=True).wait_for()
    phone.locator("#vision-status", has_text=es("Saved")).wait_for()
    first = vision_of(fac)[FROM_STRATEGY[0]]
    assert (first["agree"], first["disagree"]) == (0, 1)

    # A statement written later comes up as the next card by itself.
    assert fac.act("vision_moderate", action="add", text=LATE)["ok"]
    progress.get_by_text(es("Statement {n} of {m}", n=4, m=4), exact=True).wait_for()
    assert card.inner_text() == LATE
    phone.get_by_role("button", name=es("Agree"), exact=True).tap()
    progress.get_by_text(es("You have reacted to every statement."), exact=True).wait_for()

    # The facilitator adopts a statement: it heads the phone's screen as the shared vision.
    sid = vision_of(fac)[FROM_STRATEGY[1]]["statement_id"]
    assert fac.act("adopt", statement_id=sid, adopted=True)["ok"]
    adopted = phone.locator("#vision-adopted-box")
    adopted.wait_for()
    assert adopted.get_by_role("heading").inner_text() == es("Our shared vision")
    assert phone.locator("#vision-adopted > li").all_inner_texts() == [FROM_STRATEGY[1]]
    quiet(phone)
    shot(phone, shots / "es-phone-vision-adopted.png", "phone vision, shared vision and reactions (es)")

    # ---------------------------------------------------------------- SWOT in discuss
    fac.phase("discuss")
    phone.wait_for_selector("#view-discuss:not([hidden])")
    other_ctx, other = open_phone(chromium, base, "es-ES", errors, "second phone")
    join(other, ws["code"], "Academia e investigación", button="Unirse")
    other.wait_for_selector("#view-discuss:not([hidden])")

    domain = phone.locator("#discuss-domains > li", has_text=SEEDED[0])
    swot = domain.locator(".swot")
    assert swot.locator(".count").inner_text() == "(0)"
    swot.locator("summary").tap()
    assert swot.get_by_text(es("No SWOT items yet.")).is_visible()
    swot.get_by_label(es("Part of the SWOT")).select_option(label=es("Strengths"))
    swot.get_by_label(es("Your point")).fill("Dos laboratorios universitarios de hidrógeno")
    swot.get_by_role("button", name=es("Add to SWOT")).tap()
    swot.locator(".form-status", has_text=es("Thank you. Added to the SWOT.")).wait_for()
    swot.locator(".swot-q[data-quadrant='strength'] li").wait_for()

    # The second phone gets it live, under Strengths, with the author's group.
    theirs = other.locator("#discuss-domains > li", has_text=SEEDED[0]).locator(".swot")
    theirs.locator(".count", has_text="(1)").wait_for()
    theirs.locator("summary").tap()
    strengths = theirs.locator(".swot-q[data-quadrant='strength']")
    assert strengths.locator(".swot-q-h").inner_text() == f"{es('Strengths')} (1)"
    assert strengths.locator("li").inner_text() == "Dos laboratorios universitarios de hidrógeno — Empresas"
    # No funders' buttons for a participant outside the funding group.
    assert other.locator(".fund").count() == 0
    quiet(other)
    shot(other, shots / "es-phone-discuss-swot.png", "phone discuss, SWOT open (es)")

    # ---------------------------------------------------------------- funders
    funder_ctx, funder = open_phone(chromium, base, "es-ES", errors, "funder phone")
    join(funder, ws["code"], "Entidades financiadoras", button="Unirse")
    funder.wait_for_selector("#view-discuss:not([hidden])")
    fund = funder.locator("#discuss-domains > li", has_text=SEEDED[0]).locator(".fund")
    assert fund.locator(".fund-mine").inner_text() == es("You have not given your signal yet.")
    signals = fund.locator(".fund-signal")
    assert signals.all_inner_texts() == [es("Yes"), es("Maybe"), es("No")]
    tall_enough(signals)
    # The instrument field shows once the funder says yes (or maybe).
    instrument = fund.get_by_label(es("Instrument (optional)"))
    assert instrument.is_hidden()
    fund.get_by_role("button", name=es("Yes"), exact=True).tap()
    fund.locator(".fund-mine", has_text=es("Your signal: {signal}", signal=es("Yes"))).wait_for()
    instrument.fill("FEDER 2028")
    fund.get_by_role("button", name=es("Save instrument")).tap()
    fund.locator(".fund-mine", has_text=es("Your signal: {signal} · instrument: {instrument}",
                                           signal=es("Yes"), instrument="FEDER 2028")).wait_for()
    assert fund.get_by_role("button", name=es("Yes"), exact=True).get_attribute("aria-pressed") == "true"
    assert fund.get_by_role("button", name=es("No"), exact=True).get_attribute("aria-pressed") == "false"
    ids = fac.domain_ids()
    funding = {d["domain_id"]: d["funding"] for d in fac.state()["domains"]}
    assert funding[ids[SEEDED[0]]]["yes"] == 1
    assert funding[ids[SEEDED[0]]]["instruments"] == ["FEDER 2028"]
    quiet(funder)
    shot(funder, shots / "es-phone-discuss-funder.png", "phone discuss, funder (es)")

    # Vote: the SWOT and the funder's saved signal ride on the ballot rows.
    fac.phase("vote")
    funder.wait_for_selector("#view-vote:not([hidden])")
    row = funder.locator("#vote-list > li", has_text=SEEDED[0])
    row.locator(".swot .count", has_text="(1)").wait_for()
    assert row.locator(".fund-signal[data-signal='yes']").get_attribute("aria-pressed") == "true"
    quiet(funder)
    shot(funder, shots / "es-phone-vote-funder.png", "phone vote, funder (es)")

    # Results: no domain cards, so the funder gets a panel; the others do not.
    fac.phase("results")
    panel = funder.locator("#funding-panel")
    panel.wait_for()
    saved = panel.locator("#funding-domains > li", has_text=SEEDED[0])
    assert saved.locator(".fund-signal[data-signal='yes']").get_attribute("aria-pressed") == "true"
    assert saved.get_by_label(es("Instrument (optional)")).input_value() == "FEDER 2028"
    later = panel.locator("#funding-domains > li", has_text=SEEDED[1])
    later.get_by_role("button", name=es("Maybe"), exact=True).tap()
    later.locator(".fund-mine", has_text=es("Your signal: {signal}", signal=es("Maybe"))).wait_for()
    funding = {d["domain_id"]: d["funding"] for d in fac.state()["domains"]}
    assert funding[ids[SEEDED[1]]]["maybe"] == 1
    other.wait_for_selector("#view-results:not([hidden])")
    assert other.locator("#funding-panel").is_hidden()
    quiet(funder)
    shot(funder, shots / "es-phone-results-funder.png", "phone results, funders' panel (es)")

    assert errors == [], errors
    fac.close()
    for c in (ctx, other_ctx, funder_ctx):
        c.close()


def test_reactions_wait_for_the_connection_and_refusals_say_why(live_server, chromium, shots):  # noqa: F811
    """Reactions given while the connection is down say they wait, the phone moves on to the
    next card meanwhile, and they go out after the rejoin; one on a statement the facilitator
    withdrew meanwhile is refused, and the phone says why, in Spanish."""
    ws = seed_spanish(live_server)
    live_server.start()
    base = live_server.url
    errors: list[str] = []
    fac = Facilitator(base, ws["id"])
    for text in FROM_STRATEGY:
        assert fac.act("vision_moderate", action="add", text=text)["ok"]
    fac.phase("vision")
    ctx, phone = open_phone(chromium, base, "es-ES", errors, "offline phone")
    join(phone, ws["code"], "Sociedad civil", button="Unirse")
    progress = phone.locator("#vision-progress")
    progress.get_by_text(es("Statement {n} of {m}", n=1, m=2), exact=True).wait_for()

    phone.evaluate("() => window.edpSocket.disconnect()")
    phone.wait_for_function("() => window.edpReady === false")
    phone.get_by_role("button", name=es("Agree"), exact=True).tap()
    progress.get_by_text(es("Statement {n} of {m}", n=2, m=2), exact=True).wait_for()
    assert phone.locator("#vision-status").inner_text() == es("Not sent yet: waiting for the connection…")
    withdrawn = vision_of(fac)[FROM_STRATEGY[1]]["statement_id"]
    assert fac.act("vision_moderate", action="hide", statement_id=withdrawn)["ok"]
    phone.get_by_role("button", name=es("Disagree"), exact=True).tap()
    progress.get_by_text(es("You have reacted to every statement."), exact=True).wait_for()

    phone.evaluate("() => window.edpSocket.connect()")
    phone.locator("#vision-status[data-kind='error']").wait_for()
    assert phone.locator("#vision-status").inner_text() == es(
        "That statement does not exist or was withdrawn.")
    counts = vision_of(fac)
    assert counts[FROM_STRATEGY[0]]["agree"] == 1
    assert counts[FROM_STRATEGY[1]]["disagree"] == 0
    # The withdrawn statement left the phone's list of reactions too.
    assert phone.locator("#vision-mine-list > li .text").all_text_contents() == [FROM_STRATEGY[0]]
    quiet(phone)
    shot(phone, shots / "es-phone-vision-refused.png", "phone vision, a refused reaction (es)")

    assert errors == [], errors
    fac.close()
    ctx.close()
