"""Issue #16, end to end: a Spanish workshop runs vision → propose → discuss (with SWOT and
the funders' signal) → vote → results → decide with the facilitator's console and two phones
in Chromium, the rest of the room on python-socketio; then the report opens with the adopted
vision and shows the priority's SWOT and funders' signal, and `edp workshop verify` agrees
with the log.

Texts are looked up in the Spanish catalogue the server uses (as in
test_browser_method_phone.py), so the test reads what a Spanish facilitator reads.
"""
from __future__ import annotations

import io
import json
import subprocess
import urllib.request

import pytest
from conftest import BIN, login_cookie
from docx import Document
from test_browser import READY, assert_accessible, chromium  # noqa: F401  (the fixture)
from test_browser_console import Facilitator, Phone, next_phase, open_console
from test_browser_method_phone import es, seed_spanish
from test_browser_phone import join, open_phone

pytestmark = [pytest.mark.browser, pytest.mark.server]

HELICES = ["government", "business", "academia", "civil_society", "environment"]
BROAD = "En 2035 la región exporta energía limpia y la tecnología para producirla."
NARROW = "En 2035 cada empresa tiene un laboratorio propio."
FROM_PHONE = "En 2035 los jóvenes encuentran empleo cualificado sin emigrar."
STRENGTH = "Dos universidades con grupos de energía eólica"
THREAT = "Competencia de regiones con puertos más grandes"
RATIONALE = "Viento, puerto y dos universidades: la región ya tiene la masa crítica."


def fetch(base: str, path: str) -> bytes:
    request = urllib.request.Request(base + path, headers={"Cookie": login_cookie(base)})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()


def wait_state(fac: Facilitator, page, predicate, what: str, tries: int = 100) -> dict:
    for _ in range(tries):
        state = fac.state()
        if predicate(state):
            return state
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out: {what}")


def test_a_spanish_workshop_runs_the_whole_method_in_the_browser(live_server, chromium):  # noqa: F811
    ws = seed_spanish(live_server)
    live_server.start()
    base, code = live_server.url, ws["code"]
    errors: list[str] = []
    room = {h: [Phone(base, code, h) for _ in range(3)] for h in HELICES}
    funders = [Phone(base, code, "funders") for _ in range(2)]
    fac = Facilitator(base, ws["id"])
    ctx, console = open_console(chromium, base, ws["id"], errors)
    phone_ctx, phone = open_phone(chromium, base, "es-ES", errors, "phone")
    funder_ctx, funder = open_phone(chromium, base, "es-ES", errors, "funder phone")
    try:
        join(phone, code, "Empresas", button=es("Join"))
        join(funder, code, "Entidades financiadoras", button=es("Join"))

        # ------------------------------------------------------------ vision
        next_phase(console, "vision")
        phone.wait_for_selector("#view-vision:not([hidden])")
        room["government"][0].call("statement", {"text": BROAD})
        room["business"][0].call("statement", {"text": NARROW})
        phone.get_by_label(es("Your statement"), exact=True).fill(FROM_PHONE)
        phone.get_by_role("button", name=es("Add statement")).tap()
        phone.locator("#statement-status",
                      has_text=es("Thank you. Your statement was added.")).wait_for()
        ids = {s["text"]: s["statement_id"] for s in wait_state(
            fac, console, lambda s: len(s["vision"]) == 3, "three statements")["vision"]}
        # Every helix agrees with the broad statement; only business with the narrow one.
        for helix, phones in room.items():
            for p in phones:
                p.call("react", {"statement_id": ids[BROAD], "reaction": "agree"})
                p.call("react", {"statement_id": ids[NARROW],
                                 "reaction": "agree" if helix == "business" else "disagree"})
                p.call("react", {"statement_id": ids[FROM_PHONE], "reaction": "pass"})
        progress = phone.locator("#vision-progress")
        for _ in range(3):  # the phone answers its three cards one at a time
            progress.wait_for()
            phone.get_by_role("button", name=es("Agree"), exact=True).tap()
        progress.get_by_text(es("You have reacted to every statement."), exact=True).wait_for()
        vision = wait_state(fac, console, lambda s: s["vision"][0]["agree"] == 16,
                            "the phone's reactions counted")["vision"]
        assert vision[0]["statement_id"] == ids[BROAD]  # broadest agreement first
        assert vision[0]["agreement"] > next(s for s in vision if s["statement_id"] == ids[
            NARROW])["agreement"]
        # The facilitator adopts the broad statement from the console.
        adopt = console.locator(f'#statements > li[data-key="{ids[BROAD]}"] button.adopt')
        adopt.click()
        console.wait_for_function(
            "(id) => document.querySelector(`#statements > li[data-key='${id}']`)"
            "?.dataset.adopted === 'yes'", arg=ids[BROAD])
        assert adopt.get_attribute("aria-pressed") == "true"
        phone.locator("#vision-adopted > li", has_text=BROAD).wait_for()
        assert_accessible(console, "console vision (es)")

        # ------------------------------------------------------------ propose
        next_phase(console, "propose")
        proposal = room["academia"][0].call("propose", {
            "title": "Energía eólica marina", "description": "Puerto y astilleros."})
        wind = proposal["domain_id"]

        # ------------------------------------------------------------ discuss: SWOT, funders
        next_phase(console, "discuss")
        phone.wait_for_selector("#view-discuss:not([hidden])")
        card = phone.locator("#discuss-domains > li", has_text="Energía eólica marina")
        swot = card.locator(".swot")
        swot.locator("summary").tap()
        swot.get_by_label(es("Part of the SWOT")).select_option(label=es("Strengths"))
        swot.get_by_label(es("Your point")).fill(STRENGTH)
        swot.get_by_role("button", name=es("Add to SWOT")).tap()
        swot.locator(".form-status", has_text=es("Thank you. Added to the SWOT.")).wait_for()
        room["civil_society"][0].call("swot", {"domain_id": wind, "quadrant": "threat",
                                                "text": THREAT})
        funder.wait_for_selector("#view-discuss:not([hidden])")
        fund = funder.locator("#discuss-domains > li", has_text="Energía eólica marina").locator(
            ".fund")
        fund.get_by_role("button", name=es("Yes"), exact=True).tap()
        fund.get_by_label(es("Instrument (optional)")).fill("FEDER 2028")
        fund.get_by_role("button", name=es("Save instrument")).tap()
        fund.locator(".fund-mine", has_text="FEDER 2028").wait_for()
        funders[0].call("fund", {"domain_id": wind, "signal": "maybe"})
        funders[1].call("fund", {"domain_id": wind, "signal": "no"})
        # A participant outside the funding helices is refused.
        assert room["business"][1].sio.call("fund", {"domain_id": wind, "signal": "yes"},
                                            timeout=10)["error"]["code"] == "forbidden"
        domain = next(d for d in wait_state(
            fac, console, lambda s: any(d["domain_id"] == wind and len(d["swot"]) == 2
                                        for d in s["domains"]), "two SWOT items")["domains"]
            if d["domain_id"] == wind)
        assert [(i["quadrant"], i["helix"]) for i in domain["swot"]] == [
            ("strength", "business"), ("threat", "civil_society")]
        assert (domain["funding"]["yes"], domain["funding"]["maybe"],
                domain["funding"]["no"]) == (1, 1, 1)

        # ------------------------------------------------------------ vote and results
        next_phase(console, "vote")
        others = [d["domain_id"] for d in fac.state()["domains"] if d["domain_id"] != wind]
        for helix, phones in room.items():
            for n, p in enumerate(phones):
                p.call("vote", {"domain_id": wind, "points": 5})
                p.call("vote", {"domain_id": others[n % len(others)], "points": 3})
        next_phase(console, "results")
        console.locator("#results-body tr", has_text="Energía eólica marina").first.wait_for()
        row = console.locator("#results-body tr", has_text="Energía eólica marina").first
        # The funders' signal sits in its own column beside support, never inside the score.
        cell = row.locator(".funding-cell")
        for signal, label in (("yes", "Yes"), ("maybe", "Maybe"), ("no", "No")):
            assert cell.locator(f'.fund[data-signal="{signal}"]').inner_text() == f"{es(label)} 1"

        # ------------------------------------------------------------ decide in the console
        next_phase(console, "decide")
        item = console.locator("#decide-list > li", has_text="Energía eólica marina")
        item.locator("summary").click()
        item.get_by_label(es("Rank")).fill("1")
        item.get_by_label(es("Rationale (required)")).fill(RATIONALE)
        item.get_by_role("button", name=es("Save priority")).click()
        console.locator("#shortlist li", has_text="Energía eólica marina").wait_for()
        assert_accessible(console, "console decide (es)")
        assert errors == [], errors

        # ------------------------------------------------------------ the report
        md = fetch(base, f"/f/w/{ws['id']}/export.md").decode()
        lines = [line for line in md.splitlines() if line.strip()]
        vision_at = next(i for i, line in enumerate(lines)
                         if line.startswith("#") and es("Shared vision") in line)
        assert vision_at <= 2, lines[:5]  # right under the title
        assert BROAD in lines[vision_at + 1]
        assert md.index(BROAD) < md.index(RATIONALE)
        section = md[md.rindex("#", 0, md.index(RATIONALE)):]
        for text in (STRENGTH, THREAT, "FEDER 2028", es("Strengths"), es("Threats")):
            assert text in section, (text, section[:1500])
        docx = Document(io.BytesIO(fetch(base, f"/f/w/{ws['id']}/export.docx")))
        paragraphs = [p.text for p in docx.paragraphs if p.text.strip()]
        head = paragraphs[:6]
        assert any(es("Shared vision") in p for p in head) and any(BROAD in p for p in head), head
        body = "\n".join(paragraphs + [c.text for t in docx.tables for r in t.rows
                                       for c in r.cells])
        for text in (STRENGTH, THREAT, "FEDER 2028"):
            assert text in body, text
        record = json.loads(fetch(base, f"/f/w/{ws['id']}/export.json"))
        adopted = [s["text"] for s in record["vision"] if s["adopted"]]
        assert adopted == [BROAD]
        wind_record = next(d for d in record["domains"] if d["domain_id"] == wind)
        assert wind_record["funding"]["yes"] == 1
        assert {(i["quadrant"], i["text"]) for i in wind_record["swot"]} == {
            ("strength", STRENGTH), ("threat", THREAT)}
        # The results recomputed from the event log agree with the stored ones.
        out = subprocess.run([str(BIN / "edp"), "workshop", "verify", code],
                             env=live_server.env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
    finally:
        for c in (ctx, phone_ctx, funder_ctx):
            c.close()
        fac.close()
        for p in [*funders, *(p for ps in room.values() for p in ps)]:
            p.close()
