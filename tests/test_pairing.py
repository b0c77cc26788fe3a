"""Interregional pairing: two regions' workshops recorded through the real rules, exported to
JSON by the real exporter, then compared (edp.pairing), on the command line and on the console.

The regions: Maule (Chile), an agri-food EDP in Spanish scored by criteria, and Alentejo
(Portugal), a dot-voting EDP in Portuguese. They share precision irrigation and agro-industrial
residues, complement each other on bio-inputs and solar energy for farms (common SDGs, other
domains), and keep digital rural health and nature tourism to themselves.
"""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
from html import unescape
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import AGRI_TEMPLATE, BIN, TEMPLATE, csrf_token
from markupsafe import escape
from test_browser import chromium  # noqa: F401  (the fixture)
from test_exports import export

from edp import pairing
from edp import record as rec
from edp import workshop as rules
from edp.extensions import db
from edp.models import Workshop

MAULE = "Región del Maule (Chile)"
ALENTEJO = "Alentejo (Portugal)"
RIEGO = "Riego de precisión"
RESIDUOS = "Valorización de residuos agroindustriales"
BIO = "Bioinsumos y control biológico"
SALUD = "Salud digital rural"
REGA = "Rega de precisão e gestão da água"
RESIDUOS_PT = "Valorização de resíduos agroindustriais"
SOLAR = "Energia solar para a agricultura"
TURISMO = "Turismo de natureza e património"
RATIONALE_RIEGO = "Ahorro de agua en secano; las cooperativas ya miden la humedad."
RATIONALE_REGA = "A seca obriga a regar melhor; o Alqueva já tem dados de consumo."

ALENTEJO_DOMAINS = [
    {"title": REGA, "sdgs": [2, 6],
     "description": "Sensores de humidade do solo, dados de satélite e gestão inteligente da "
                    "água no regadio."},
    {"title": RESIDUOS_PT, "sdgs": [7, 12],
     "description": "Biogás, bioplásticos e rações a partir dos resíduos do olival e da vinha."},
    {"title": SOLAR, "sdgs": [7, 13],
     "description": "Agrivoltaica, bombagem solar e armazenamento de energia em explorações "
                    "agrícolas."},
    {"title": TURISMO, "sdgs": [8, 11],
     "description": "Rotas de natureza, enoturismo e património cultural do interior."},
]


# ---------------------------------------------------------------- two regions, recorded


def build_maule(app, world, email: str = "fac@example.org") -> dict:
    """Spanish agri-food workshop (criteria scoring) with four decided priorities."""
    info = world.workshop(email, template=AGRI_TEMPLATE, region=MAULE, max_priorities=4,
                          title="EDP agroalimentario del Maule")
    with app.app_context():
        ws = db.session.get(Workshop, info["id"])
        rules.set_phase(ws, "propose")
        people = [rules.join(ws.code, h)[0] for h in
                  ("government", "business", "academia", "civil_society", "environment")]
        salud = rules.propose(people[3], SALUD, "Telemedicina y datos de salud para "
                              "comunidades rurales dispersas.", sdgs=[3])
        db.session.commit()
        riego, bio, _traza, residuos = rules.domains_of(ws, rules.VOTABLE)[:4]
        assert (riego.title, bio.title, residuos.title) == (RIEGO, BIO, RESIDUOS)
        rules.set_phase(ws, "vote")
        keys = [c["key"] for c in ws.criteria]
        for p, domain, values in [
            (people[0], riego, [5, 4, 4, 3]), (people[1], riego, [4, 4, 5, 2]),
            (people[1], residuos, [3, 4, 4, 5]), (people[2], bio, [4, 5, 3, 5]),
            (people[4], salud, [3, 3, 2, 4]), (people[4], residuos, [4, 3, 4, 5]),
        ]:
            for key, value in zip(keys, values):
                rules.score(p, domain.id, key, value)
        db.session.commit()
        rules.set_phase(ws, "decide")
        rules.decide(ws, riego.id, 1, RATIONALE_RIEGO, ["Hectáreas con riego de precisión"])
        rules.decide(ws, residuos.id, 2, "Bioenergía y empleo rural con los residuos.", [])
        rules.decide(ws, bio.id, 3, "Biodiversidad local y exportación orgánica.", [])
        rules.decide(ws, salud.id, 4, "Población rural envejecida y dispersa.", [])
        db.session.commit()
    return info


def build_alentejo(app, world, email: str = "fac@example.org", decide: bool = True) -> dict:
    """Portuguese dot-voting workshop with four decided priorities (or none yet)."""
    info = world.workshop(email, template=TEMPLATE, region=ALENTEJO, language="pt",
                          title="Descoberta empreendedora do Alentejo", max_priorities=4,
                          domains=ALENTEJO_DOMAINS)
    with app.app_context():
        ws = db.session.get(Workshop, info["id"])
        rules.set_phase(ws, "vote")
        rega, residuos, solar, turismo = rules.domains_of(ws, rules.VOTABLE)
        people = [rules.join(ws.code, h)[0] for h in
                  ("government", "business", "academia", "environment", "funders")]
        for p, ballot in zip(people, [
            {rega.id: 5, solar.id: 3}, {residuos.id: 4, rega.id: 4}, {solar.id: 5, turismo.id: 2},
            {rega.id: 3, residuos.id: 2}, {turismo.id: 4, solar.id: 1},
        ]):
            for domain_id, points in ballot.items():
                rules.vote(p, domain_id, points)
        db.session.commit()
        rules.set_phase(ws, "decide")
        if decide:
            rules.decide(ws, rega.id, 1, RATIONALE_REGA, ["Hectares com rega de precisão"])
            rules.decide(ws, residuos.id, 2, "Resíduos do olival e da vinha em biogás.", [])
            rules.decide(ws, solar.id, 3, "Sol abundante e custos de bombagem altos.", [])
            rules.decide(ws, turismo.id, 4, "Paisagem e património atraem visitantes.", [])
        db.session.commit()
    return info


@pytest.fixture
def regions(app, world) -> dict:
    world.facilitator()
    maule, alentejo = build_maule(app, world), build_alentejo(app, world)
    return {"maule": maule, "alentejo": alentejo,
            "maule_record": json.loads(export(app, maule["id"], "json")[0]),
            "alentejo_record": json.loads(export(app, alentejo["id"], "json")[0])}


def titles(entries) -> set[str]:
    return {e.title for e in entries}


# ---------------------------------------------------------------- the comparison


def test_two_recorded_regions_share_complement_and_differ(regions):
    c = pairing.compare(regions["maule_record"], regions["alentejo_record"])
    assert (c.ours.region, c.theirs.region) == (MAULE, ALENTEJO)
    assert c.ours.basis == c.theirs.basis == "priorities"
    assert [e.title for e in c.ours.entries] == [RIEGO, RESIDUOS, BIO, SALUD]
    assert [e.title for e in c.theirs.entries] == [REGA, RESIDUOS_PT, SOLAR, TURISMO]

    # Shared, one to one: the near-identical Spanish/Portuguese titles on text alone, the
    # irrigation pair on similar texts confirmed by common goals.
    pairs = {(p.ours.title, p.theirs.title): p for p in c.shared}
    assert set(pairs) == {(RIEGO, REGA), (RESIDUOS, RESIDUOS_PT)}
    irrigation, residues = pairs[(RIEGO, REGA)], pairs[(RESIDUOS, RESIDUOS_PT)]
    assert residues.why == "text" and residues.similarity >= pairing.STRONG_TEXT
    assert irrigation.why == "text_and_sdgs"
    assert pairing.MODERATE_TEXT <= irrigation.similarity < pairing.STRONG_TEXT
    assert irrigation.common_sdgs == [2, 6] and irrigation.sdg_overlap == pytest.approx(2 / 3, abs=1e-3)
    assert residues.common_sdgs == [7, 12]

    # Complementary: unmatched, but the partner pursues the same goals with other domains.
    comps = {x.entry.title: x for x in c.complementary}
    assert set(comps) == {BIO, SOLAR}
    assert {(x.entry.title, tuple(x.common_sdgs)) for x in comps[BIO].partners} == {
        (REGA, (2,)), (RESIDUOS_PT, (12,))}
    assert {(x.entry.title, tuple(x.common_sdgs)) for x in comps[SOLAR].partners} == {
        (RESIDUOS, (7, 13))}
    # Distinct: no match, no common goal.
    assert titles(c.distinct) == {SALUD, TURISMO}
    assert {e.title: e.status for e in c.ours.entries} == {
        RIEGO: "shared", RESIDUOS: "shared", BIO: "complementary", SALUD: "distinct"}
    assert c.common_sdgs == [2, 6, 7, 12, 13]

    # The other way round gives the same pairs.
    back = pairing.compare(regions["alentejo_record"], regions["maule_record"])
    assert {(p.theirs.title, p.ours.title) for p in back.shared} == set(pairs)
    assert titles(back.distinct) == {SALUD, TURISMO}


def test_thresholds_near_duplicates_match_unrelated_do_not():
    sim = pairing.text_similarity
    assert sim("Riego de precisión", "Riego de precision") == 100
    assert sim("Precision irrigation", "Irrigation, precision") >= pairing.STRONG_TEXT
    assert sim(RESIDUOS, RESIDUOS_PT) >= pairing.STRONG_TEXT
    # One common generic word, or look-alike words, stay below the moderate threshold.
    assert sim("Sustainable tourism", "Sustainable aquaculture") < pairing.MODERATE_TEXT
    assert sim("Energia solar para a agricultura", "Acuicultura en lagunas",
               "Agrivoltaica, bombagem solar e armazenamento de energia.",
               "Peces y algas.") < pairing.MODERATE_TEXT
    assert sim("Green hydrogen", RIEGO) < pairing.MODERATE_TEXT


def test_thresholds_on_the_recorded_lists(regions):
    maule, alentejo = regions["maule_record"], regions["alentejo_record"]
    domains = {d["title"]: d for d in alentejo["domains"]}
    by_title = {p["title"]: p for p in alentejo["priorities"]}

    # A near-duplicate title (a typo) matches on text alone, even with no common goal.
    typo = json.loads(json.dumps(alentejo))
    twin = {d["domain_id"]: d for d in typo["domains"]}[domains[TURISMO]["domain_id"]]
    twin["title"], twin["sdgs"], twin["description"] = "Salud digitl rural", [9], ""
    next(p for p in typo["priorities"] if p["title"] == TURISMO)["title"] = "Salud digitl rural"
    c = pairing.compare(maule, typo)
    assert ("Salud digital rural", "Salud digitl rural", "text") in {
        (p.ours.title, p.theirs.title, p.why) for p in c.shared}

    # Moderate similarity without a common goal is not enough.
    dry = json.loads(json.dumps(alentejo))
    {d["domain_id"]: d for d in dry["domains"]}[domains[REGA]["domain_id"]]["sdgs"] = [14]
    c = pairing.compare(maule, dry)
    assert (RIEGO, REGA) not in {(p.ours.title, p.theirs.title) for p in c.shared}
    assert REGA in titles(c.distinct)  # SDG 14 is nobody else's goal

    # An unrelated title with a common goal is complementary, never shared.
    other = json.loads(json.dumps(alentejo))
    solar = {d["domain_id"]: d for d in other["domains"]}[domains[SOLAR]["domain_id"]]
    solar["title"], solar["description"] = "Green hydrogen", "Electrolysers for ports."
    next(p for p in other["priorities"]
         if p["domain_id"] == by_title[SOLAR]["domain_id"])["title"] = "Green hydrogen"
    c = pairing.compare(maule, other)
    assert "Green hydrogen" not in {p.theirs.title for p in c.shared}
    assert "Green hydrogen" in {x.entry.title for x in c.complementary}


def test_a_region_without_priorities_is_compared_by_its_top_ranked_domains(app, world):
    world.facilitator()
    maule = build_maule(app, world)
    undecided = build_alentejo(app, world, decide=False)
    record = json.loads(export(app, undecided["id"], "json")[0])
    assert record["priorities"] == []
    c = pairing.compare(json.loads(export(app, maule["id"], "json")[0]), record)
    assert c.theirs.basis == "top_ranked"
    # Results order (points): rega 12, solar 9, residuos 6, turismo 6.
    assert [e.title for e in c.theirs.entries][:2] == [REGA, SOLAR]
    assert {(p.ours.title, p.theirs.title) for p in c.shared} == {
        (RIEGO, REGA), (RESIDUOS, RESIDUOS_PT)}
    with app.app_context():
        text = pairing.brief_md(c, "en").decode()
    assert "no priorities decided yet: its 4 top-ranked domains in the results" in text
    assert f"{ALENTEJO} has not decided its priorities yet" in text


def test_a_record_too_incomplete_to_compare_is_refused(regions):
    broken = dict(regions["alentejo_record"])
    del broken["workshop"]
    with pytest.raises(pairing.PairingError):
        pairing.compare(regions["maule_record"], broken)


# ---------------------------------------------------------------- the cooperation brief


def test_brief_markdown_names_both_regions_the_shared_domains_and_next_steps(app, regions):
    c = pairing.compare(regions["maule_record"], regions["alentejo_record"])
    with app.app_context():
        text = pairing.brief_md(c, "en").decode()
        spanish = pairing.brief_md(c, "es").decode()
    assert text.startswith(f"# Cooperation brief: {MAULE} – {ALENTEJO}\n")
    side_by_side = text.split("## The two priority lists side by side")[1].split("## ")[0]
    assert f"| # | {MAULE} | SDGs | {ALENTEJO} | SDGs |" in side_by_side
    assert f"| 1 | {RIEGO} (Shared) | 2, 6, 9 | {REGA} (Shared) | 2, 6 |" in side_by_side
    assert f"| 4 | {SALUD} (Distinct) | 3 | {TURISMO} (Distinct) | 8, 11 |" in side_by_side
    shared = text.split("## Shared domains")[1].split("## ")[0]
    assert f"| {RIEGO} | {REGA} |" in shared
    assert "SDG 2: Zero hunger; SDG 6: Clean water and sanitation" in shared
    assert f"| {RESIDUOS} | {RESIDUOS_PT} |" in shared
    complementary = text.split("## Complementary domains")[1].split("## ")[0]
    assert BIO in complementary and SOLAR in complementary and SALUD not in complementary
    distinct = text.split("## Distinct domains")[1].split("## ")[0]
    assert SALUD in distinct and TURISMO in distinct
    # Each side's rationale, and next steps drawn from the data.
    assert RATIONALE_RIEGO in text and RATIONALE_REGA in text
    steps = text.split("## Suggested next steps")[1].split("## ")[0]
    assert f"joint call or a joint project on “{RIEGO}” ({MAULE}) and “{REGA}”" in steps
    assert f"exchange of experience: “{SOLAR}” ({ALENTEJO})" in steps
    # In the workshop's language: catalogued labels and SDG names come out in Spanish.
    with app.test_request_context():
        from flask_babel import force_locale
        from flask_babel import gettext as _

        with force_locale("es"):
            title = _("Cooperation brief: %(a)s – %(b)s", a=MAULE, b=ALENTEJO)
    assert spanish.startswith(f"# {title}\n")
    assert "ODS 2: Hambre cero" in spanish and "**Fecha:**" in spanish
    assert "Zero hunger" not in spanish


def test_brief_docx_opens_with_the_side_by_side_table(app, regions):
    import docx

    c = pairing.compare(regions["maule_record"], regions["alentejo_record"])
    with app.app_context():
        data, mimetype, name = pairing.brief(c, "docx", "en")
    assert mimetype.endswith("wordprocessingml.document")
    assert name == "edp-brief-region-del-maule-chile-alentejo-portugal.docx"
    doc = docx.Document(io.BytesIO(data))
    assert doc.paragraphs[0].text == f"Cooperation brief: {MAULE} – {ALENTEJO}"
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith("Heading")]
    for heading in ("Shared domains", "Complementary domains", "Distinct domains",
                    "Suggested next steps"):
        assert heading in headings
    table = doc.tables[0]
    assert [cell.text for cell in table.rows[0].cells] == ["#", MAULE, "SDGs", ALENTEJO, "SDGs"]
    assert [cell.text for cell in table.rows[1].cells][1::2] == [
        f"{RIEGO} (Shared)", f"{REGA} (Shared)"]
    shared_table = doc.tables[1]
    assert [cell.text for cell in shared_table.rows[1].cells][:2] == [RIEGO, REGA]
    body = "\n".join(p.text for p in doc.paragraphs)
    assert RATIONALE_RIEGO in body and RATIONALE_REGA in body


# ---------------------------------------------------------------- the command line


def cli(db_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDP_")}
    env.update({"EDP_DATABASE_URL": db_url, "EDP_SECRET_KEY": "cli-test"})
    return subprocess.run([str(BIN / "edp"), *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_cli_compares_with_a_record_file_and_with_a_code(app, regions, db_url, tmp_path):
    partner = tmp_path / "alentejo.json"
    partner.write_bytes(export(app, regions["alentejo"]["id"], "json")[0])
    code = regions["maule"]["code"]

    out = tmp_path / "brief.md"
    done = cli(db_url, "workshop", "compare", code, str(partner), "--output", str(out),
               "--language", "en")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert summary == {"code": code, "partner": ALENTEJO, "format": "md", "output": str(out),
                       "bytes": out.stat().st_size, "shared": 2, "complementary": 2,
                       "distinct": 2}
    assert out.read_text("utf-8").startswith(f"# Cooperation brief: {MAULE} – {ALENTEJO}")

    docx_out = tmp_path / "brief.docx"
    by_code = cli(db_url, "workshop", "compare", code, regions["alentejo"]["code"],
                  "--format", "docx", "--output", str(docx_out))
    assert by_code.returncode == 0, by_code.stderr
    assert json.loads(by_code.stdout)["shared"] == 2
    import docx

    assert docx.Document(str(docx_out)).tables[0].rows[0].cells[1].text == MAULE

    json_out = tmp_path / "comparison.json"
    as_json = cli(db_url, "workshop", "compare", code, str(partner), "--format", "json",
                  "--output", str(json_out))
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(json_out.read_text("utf-8"))
    assert {(p["ours_title"], p["theirs_title"]) for p in data["shared"]} == {
        (RIEGO, REGA), (RESIDUOS, RESIDUOS_PT)}
    assert {x["title"] for x in data["distinct"]} == {SALUD, TURISMO}

    # Wrong partners: clean errors, no file written.
    junk = tmp_path / "junk.json"
    junk.write_text("[1, 2, 3]")
    for partner_arg, needle in ((str(junk), "not an EDP Live record"),
                                ("NOPE99", "neither a record file nor a workshop code")):
        refused = cli(db_url, "workshop", "compare", code, partner_arg,
                      "--output", str(tmp_path / "never.md"))
        assert refused.returncode != 0
        assert needle in refused.stderr and "Traceback" not in refused.stderr
        assert not (tmp_path / "never.md").exists()


# ---------------------------------------------------------------- the console


def _upload(http, workshop_id: int, data: bytes, name: str = "partner.json", token=True):
    page = http.get(f"/f/w/{workshop_id}/partners")
    assert page.status_code == 200
    form = {"record": (io.BytesIO(data), name)}
    if token:
        form["csrf_token"] = csrf_token(page.text)
    return http.post(f"/f/w/{workshop_id}/partners", data=form,
                     content_type="multipart/form-data")


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count(Workshop.id)))


def _message(app, language: str, text: str, **kw) -> str:
    """The message as the page shows it in `language` (translated once the catalogue has it)."""
    from flask_babel import force_locale
    from flask_babel import gettext as _

    with app.test_request_context(), force_locale(language):
        return str(_(text, **kw))


def test_console_upload_view_and_brief_downloads(app, world):
    world.facilitator()
    world.facilitator("alentejo@example.org")
    maule = build_maule(app, world)
    # The partner's record comes from the partner's own facilitator (another installation).
    alentejo = build_alentejo(app, world, email="alentejo@example.org")
    data = export(app, alentejo["id"], "json")[0]
    http = world.login()

    console = http.get(f"/f/w/{maule['id']}")
    assert f'href="/f/w/{maule["id"]}/partners"' in console.text

    response = _upload(http, maule["id"], data)
    assert response.status_code == 302, response.text
    with app.app_context():
        partner = db.session.scalars(sa.select(Workshop).order_by(Workshop.id.desc())).first()
        assert partner.region == ALENTEJO and partner.facilitator.email == "fac@example.org"
        assert partner.settings["partner_of"] == maule["id"]
        partner_id = partner.id
    pair_url = f"/f/w/{maule['id']}/pair/{partner_id}"
    assert response.headers["Location"].endswith(pair_url)

    page = http.get(pair_url)
    assert page.status_code == 200
    html = page.text
    assert str(escape(MAULE)) in html and ALENTEJO in html
    assert '<strong id="n-shared">2</strong>' in html
    assert '<strong id="n-complementary">2</strong>' in html
    shared = html.split('id="shared-table"')[1].split("</table>")[0]
    assert str(escape(RIEGO)) in shared and str(escape(REGA)) in shared
    assert str(escape(RESIDUOS_PT)) in shared and str(escape(SALUD)) not in shared
    ours = html.split('data-side="ours"')[1].split("</section>")[0]
    theirs = html.split('data-side="theirs"')[1].split("</section>")[0]
    assert str(escape(SALUD)) in ours and str(escape(SALUD)) not in theirs
    assert str(escape(TURISMO)) in theirs and str(escape(TURISMO)) not in ours
    assert str(escape(SOLAR)) in html.split('id="complementary-list"')[1].split("</ul>")[0]
    assert str(escape(TURISMO)) in html.split('id="distinct-list"')[1].split("</ul>")[0]

    md = http.get(f"{pair_url}/brief.md")
    assert md.status_code == 200 and md.mimetype == "text/markdown"
    assert "attachment" in md.headers["Content-Disposition"]
    assert MAULE in md.text and ALENTEJO in md.text and REGA in md.text
    docx_response = http.get(f"{pair_url}/brief.docx")
    assert docx_response.status_code == 200
    import docx

    doc = docx.Document(io.BytesIO(docx_response.data))
    assert doc.tables[0].rows[0].cells[1].text == MAULE
    assert http.get(f"{pair_url}/brief.pdf").status_code == 404

    # The imported partner can be picked again from the list.
    listing = http.get(f"/f/w/{maule['id']}/partners").text
    assert f'href="{pair_url}"' in listing


def test_console_refuses_a_file_that_is_not_a_record(app, world):
    world.facilitator()
    maule = build_maule(app, world)
    http = world.login()
    before = _count(app)
    expected = _message(app, "es", "This file is not an EDP Live record: export the partner "
                        "workshop's “Full record (JSON)” and upload that file.")
    for junk in (b"not json at all", b'{"format": "something-else"}',
                 b'{"format": "edp-live-record", "version": 2, "workshop": {}}', b"\xff\xfe"):
        response = _upload(http, maule["id"], junk)
        assert response.status_code == 400
        assert expected in unescape(response.text) and "Traceback" not in response.text
    assert _count(app) == before

    # No file chosen, or no CSRF token: refused, nothing imported.
    page = http.get(f"/f/w/{maule['id']}/partners")
    empty = http.post(f"/f/w/{maule['id']}/partners",
                      data={"csrf_token": csrf_token(page.text)},
                      content_type="multipart/form-data")
    assert empty.status_code == 400
    assert _message(app, "es", "Choose the partner region's record file.") in unescape(empty.text)
    data = export(app, maule["id"], "json")[0]
    assert _upload(http, maule["id"], data, token=False).status_code == 400
    assert _count(app) == before

    # Too large: a clear message, not a bare error page.
    app.config["PARTNER_RECORD_MAX_BYTES"] = 1024
    try:
        big = _upload(http, maule["id"], data)
    finally:
        del app.config["PARTNER_RECORD_MAX_BYTES"]
    assert big.status_code == 413
    assert _message(app, "es", "The file is too large (at most %(mb)s MB).", mb=1) in unescape(big.text)
    assert _count(app) == before


def test_console_pairing_is_for_the_owner_only(app, world):
    world.facilitator()
    world.facilitator("other@example.org")
    maule = build_maule(app, world)
    theirs = build_alentejo(app, world, email="other@example.org")
    mine = world.workshop()  # another of fac's own workshops
    other = world.login("other@example.org")
    owner = world.login()
    base = f"/f/w/{maule['id']}"
    for url in (f"{base}/partners", f"{base}/pair/{mine['id']}",
                f"{base}/pair/{mine['id']}/brief.md", f"{base}/pair/{mine['id']}/brief.docx"):
        assert other.get(url).status_code == 403, url
        assert owner.get(url).status_code == 200, url
    # The owner cannot compare with someone else's workshop either; unknown ids are 404.
    assert owner.get(f"{base}/pair/{theirs['id']}").status_code == 403
    assert owner.get(f"{base}/pair/{theirs['id']}/brief.md").status_code == 403
    assert owner.get(f"{base}/pair/999999").status_code == 404
    assert owner.get("/f/w/999999/partners").status_code == 404
    # Uploading into someone else's workshop is refused before anything is read.
    data = export(app, theirs["id"], "json")[0]
    page = other.get(f"/f/w/{theirs['id']}/partners")
    refused = other.post(f"{base}/partners",
                         data={"record": (io.BytesIO(data), "r.json"),
                               "csrf_token": csrf_token(page.text)},
                         content_type="multipart/form-data")
    assert refused.status_code == 403
    # Logged out: to the log-in page.
    anonymous = app.test_client().get(f"{base}/partners")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    # The pick list shows the owner's own workshops only.
    listing = owner.get(f"{base}/partners").text
    assert f"/pair/{mine['id']}" in listing and f"/pair/{theirs['id']}" not in listing


def test_record_loaded_from_a_file_compares_like_the_live_export(app, regions, tmp_path):
    path = tmp_path / "alentejo.json"
    path.write_bytes(export(app, regions["alentejo"]["id"], "json")[0])
    from_file = pairing.compare(regions["maule_record"], rec.load(path)).to_dict()
    live = pairing.compare(regions["maule_record"], regions["alentejo_record"]).to_dict()
    for key in ("shared", "complementary", "distinct", "common_sdgs"):
        assert from_file[key] == live[key]


@pytest.mark.browser
@pytest.mark.server
def test_partner_upload_and_side_by_side_view_in_a_browser(
    live_server, chromium, tmp_path  # noqa: F811  (the fixture from test_browser)
):
    """A facilitator uploads a partner region's record from the console and reads the side by
    side comparison; axe-core checks both pages; the brief downloads."""
    from conftest import AGRI_TEMPLATE
    from test_browser import ARTIFACTS, assert_accessible, log_in

    ws = live_server.seed()
    partner = json.loads(live_server.cli(
        "workshop", "create", "--template", str(AGRI_TEMPLATE), "--facilitator",
        "fac@example.org").strip().splitlines()[-1])
    record_file = tmp_path / "partner.json"
    live_server.cli("workshop", "export", partner["code"], "--format", "json",
                    "--output", str(record_file))
    live_server.start()
    context = chromium.new_context(viewport={"width": 390, "height": 844},
                                   base_url=live_server.url, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    log_in(page)
    page.goto(f"/f/w/{ws['id']}")
    page.wait_for_function("() => window.edpReady === true")
    page.locator("#tab-closed").click()  # the panel with the exports and the partner region
    page.get_by_role("link", name="Choose the partner region").click()
    page.wait_for_url(f"**/f/w/{ws['id']}/partners")
    assert_accessible(page, "partners page")
    # A file that is not a record is refused with a message, and nothing is imported.
    bad = tmp_path / "notes.json"
    bad.write_text('{"hello": 1}')
    page.get_by_label("The partner region's record (JSON export of its workshop)").set_input_files(str(bad))
    page.get_by_role("button", name="Import and compare").click()
    assert page.get_by_role("alert").first.is_visible()
    page.get_by_label("The partner region's record (JSON export of its workshop)").set_input_files(str(record_file))
    page.get_by_role("button", name="Import and compare").click()
    page.wait_for_url(re.compile(rf".*/f/w/{ws['id']}/pair/\d+$"))
    body = page.locator("main").inner_text()
    assert "Smart Specialisation priority-setting workshop" in body
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "pairing-phone.png"), full_page=True)
    assert_accessible(page, "pairing page")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Markdown")).first.click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.startswith("# ") and "Cooperation brief" in text
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert errors == []
    context.close()
