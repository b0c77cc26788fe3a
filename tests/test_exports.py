"""Exports: a workshop built through the real rules, every format read back, the HTTP route's
access rules and the `edp workshop export` command.

The numbers in every export must be the live results (`workshop.compute_results`), the
priorities must carry their rationale, and no export may name a participant.
"""
from __future__ import annotations

import io
import json
import os
import re
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import AGRI_TEMPLATE, PASSWORD, TEMPLATE, edp_cli

from edp import exports
from edp import workshop as rules
from edp.extensions import db
from edp.models import Comment, Event, Participant, Workshop

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CONTENT_TYPES = {
    "csv": "text/csv",
    "xlsx": XLSX,
    "docx": DOCX,
    "json": "application/json",
    "md": "text/markdown",
}
# A comment a spreadsheet would run as a formula if it were not kept as text.
FORMULA = '=HYPERLINK("http://evil.example","click")'


# ---------------------------------------------------------------- workshops built by the rules


def _people(ws: Workshop, helices: list[str]) -> list[Participant]:
    return [
        rules.join(ws.code, helix, name=f"Secretname{n}x", organisation=f"Secretorg{n}x")[0]
        for n, helix in enumerate(helices)
    ]


def build_dot(app, world) -> dict:
    """English template, dot voting: a proposal, a hidden domain, comments, votes, two priorities."""
    world.facilitator()
    info = world.workshop(template=TEMPLATE)
    with app.app_context():
        ws = db.session.get(Workshop, info["id"])
        rules.set_phase(ws, "propose")
        people = _people(ws, ["government", "business", "business", "academia", "funders"])
        new = rules.propose(people[1], "Agri-tech & água limpa", "Água, riego, sensores.",
                            "Strong cooperatives", sdgs=[2, 6])
        junk = rules.propose(people[2], "Duplicate of tourism", "")
        db.session.commit()
        rules.moderate(ws, junk.id, "hide")
        rules.set_phase(ws, "discuss")
        manufacturing, health, tourism = rules.domains_of(ws, rules.VOTABLE)[:3]
        comments = [
            rules.comment(people[0], manufacturing.id, "support", "Wind suppliers are here."),
            rules.comment(people[1], manufacturing.id, "concern", "Grid access is slow.\nVery."),
            rules.comment(people[3], new.id, "evidence", "Two university labs work on it."),
            rules.comment(people[4], health.id, "question", FORMULA),
        ]
        db.session.commit()
        rules.set_phase(ws, "vote")
        for p, ballot in zip(people, [
            {manufacturing.id: 5, new.id: 3},
            {manufacturing.id: 4, health.id: 4},
            {new.id: 5, tourism.id: 2},
            {manufacturing.id: 2, new.id: 2, health.id: 1},
            {health.id: 5},
        ]):
            for domain_id, points in ballot.items():
                rules.vote(p, domain_id, points)
        db.session.commit()
        rules.set_phase(ws, "results")
        rules.set_phase(ws, "decide")
        rules.decide(ws, manufacturing.id, 1, "Critical mass and export markets.\nFunders agree.",
                     ["Firms in the value chain", "Private R&D spend"])
        rules.decide(ws, new.id, 2, "Water scarcity makes this urgent.", ["Hectares irrigated"])
        db.session.commit()
        return {
            **info,
            "names": [p.name for p in people] + [p.organisation for p in people],
            "tokens": [p.token for p in people],
            "participant_ids": [p.id for p in people],
            "priorities": [
                (1, manufacturing.title, "Critical mass and export markets.\nFunders agree.",
                 ["Firms in the value chain", "Private R&D spend"]),
                (2, new.title, "Water scarcity makes this urgent.", ["Hectares irrigated"]),
            ],
            "comments": [c.text for c in comments],
            "hidden": junk.title,
            "titles": [d.title for d in rules.domains_of(ws)],
        }


def build_agri(app, world) -> dict:
    """The Spanish agri-food template: multi-criteria scoring, accents everywhere."""
    world.facilitator()
    info = world.workshop(template=AGRI_TEMPLATE)
    with app.app_context():
        ws = db.session.get(Workshop, info["id"])
        assert ws.method == "score" and ws.language == "es"
        rules.set_phase(ws, "propose")
        people = _people(ws, ["government", "business", "academia", "civil_society"])
        new = rules.propose(people[0], "Acuicultura sostenible en lagunas", "Peces y algas.")
        db.session.commit()
        rules.set_phase(ws, "discuss")
        riego, bio, _traza, residuos = rules.domains_of(ws, rules.VOTABLE)[:4]
        comments = [
            rules.comment(people[1], riego.id, "support", "Las cooperativas ya miden humedad."),
            rules.comment(people[2], riego.id, "concern", "¿Quién paga los sensores? Costo alto."),
            rules.comment(people[3], residuos.id, "support", "Menos residuos, más empleo rural."),
        ]
        db.session.commit()
        rules.set_phase(ws, "vote")
        keys = [c["key"] for c in ws.criteria]
        for p, domain, values in [
            (people[0], riego, [5, 4, 4, 3]),
            (people[1], riego, [4, 4, 5, 2]),
            (people[1], new, [3, 3, 2, 5]),
            (people[2], residuos, [2, 5, 3, 5]),
            (people[3], residuos, [4, 4, 4, 5]),
            (people[3], bio, [3, 2]),  # partly scored
        ]:
            for key, value in zip(keys, values):
                rules.score(p, domain.id, key, value)
        db.session.commit()
        rules.set_phase(ws, "decide")
        rules.decide(ws, riego.id, 1, "Ahorro de agua en secano; la región ya tiene experiencia.",
                     ["Hectáreas con riego de precisión", "Consumo de agua por tonelada"])
        rules.decide(ws, residuos.id, 2, "Valorización con empleo rural y bioenergía.", [])
        db.session.commit()
        return {
            "language": "es",
            **info,
            "names": [p.name for p in people] + [p.organisation for p in people],
            "tokens": [p.token for p in people],
            "participant_ids": [p.id for p in people],
            "priorities": [
                (1, riego.title, "Ahorro de agua en secano; la región ya tiene experiencia.",
                 ["Hectáreas con riego de precisión", "Consumo de agua por tonelada"]),
                (2, residuos.title, "Valorización con empleo rural y bioenergía.", []),
            ],
            "comments": [c.text for c in comments],
            "hidden": None,
            "titles": [d.title for d in rules.domains_of(ws)],
        }


@pytest.fixture(params=["dot", "agri"])
def built(request, app, world) -> dict:
    return (build_dot if request.param == "dot" else build_agri)(app, world)


def export(app, workshop_id: int, fmt: str) -> tuple[bytes, str, str]:
    with app.app_context():
        return exports.build(db.session.get(Workshop, workshop_id), fmt)


def live_results(app, workshop_id: int) -> dict:
    with app.app_context():
        return rules.compute_results(db.session.get(Workshop, workshop_id))


def assert_anonymous(text: str, built: dict) -> None:
    for secret in built["names"] + built["tokens"]:
        assert secret not in text


# ---------------------------------------------------------------- every format read back


def test_csv_has_titles_ranks_rationale_and_live_scores(app, built):
    data, mimetype, name = export(app, built["id"], "csv")
    assert mimetype.startswith("text/csv")
    assert name.startswith(f"edp-{built['code']}-") and name.endswith(".csv")
    assert data.startswith("\ufeff".encode())  # Excel reads the accents right
    frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", keep_default_na=False)
    for column in ("rank", "title", "status", "score", "balanced_score", "voters", "rationale",
                   "indicators"):
        assert column in frame.columns
    assert sorted(frame["title"]) == sorted(built["titles"])
    # Priorities first, by rank, with their rationale and indicators.
    for row, (rank, title, rationale, indicators) in zip(frame.itertuples(), built["priorities"]):
        assert int(row.rank) == rank
        assert row.title == title
        assert row.rationale == rationale
        assert row.indicators == "; ".join(indicators)
    assert (frame["rank"].iloc[len(built["priorities"]):] == "").all()
    # Scores are the live results, domain by domain.
    results = live_results(app, built["id"])
    by_title = frame.set_index("title")
    for entry in results["ranking"]:
        row = by_title.loc[entry["title"]]
        assert float(row["score"]) == pytest.approx(entry["score"])
        assert float(row["balanced_score"]) == pytest.approx(entry["balanced_score"])
        assert int(row["voters"]) == entry["voters"]
        for helix, value in entry["by_helix"].items():
            assert float(row[f"by_helix_{helix}"]) == pytest.approx(value)
    # Approved non-priorities follow in results order.
    decided = {t for _r, t, _ra, _i in built["priorities"]}
    rest = [e["title"] for e in results["ranking"] if e["title"] not in decided]
    n = len(built["priorities"])
    assert list(frame["title"].iloc[n:n + len(rest)]) == rest
    if built["hidden"]:
        hidden = by_title.loc[built["hidden"]]
        assert hidden["status"] == "hidden" and hidden["score"] == ""
    assert_anonymous(data.decode("utf-8-sig"), built)


def tr(app, built, text: str) -> str:
    """`text` in the workshop's language, as the exports write it."""
    from flask_babel import force_locale, gettext

    with app.test_request_context(), force_locale(built.get("language", "en")):
        return gettext(text)


def test_xlsx_sheets_priorities_and_deliberation(app, built):
    from openpyxl import load_workbook

    data, mimetype, name = export(app, built["id"], "xlsx")
    assert mimetype == XLSX and name.endswith(".xlsx")
    book = load_workbook(io.BytesIO(data))
    assert book.sheetnames[:5] == ["Priorities", "Domains", "Deliberation", "Participation",
                                   "Events"]
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2"
        assert all(cell.font.bold for cell in sheet[1])

    sheets = pd.read_excel(io.BytesIO(data), sheet_name=None)
    # Headers are in the workshop's language: read them back under their English keys.
    with app.test_request_context():
        from flask_babel import force_locale, gettext

        with force_locale(built.get("language", "en")):
            english = {gettext(h): h for h in ("Rank", "Domain", "Rationale", "Score", "Comment")}
    sheets = {name: frame.rename(columns=english) for name, frame in sheets.items()}
    priorities = sheets["Priorities"]
    assert list(priorities["Rank"]) == [p[0] for p in built["priorities"]]
    assert list(priorities["Domain"]) == [p[1] for p in built["priorities"]]
    assert list(priorities["Rationale"]) == [p[2] for p in built["priorities"]]
    results = {e["title"]: e for e in live_results(app, built["id"])["ranking"]}
    for row in priorities.itertuples():
        assert row.Score == pytest.approx(results[row.Domain]["score"])
    assert sorted(sheets["Domains"]["Domain"]) == sorted(built["titles"])
    assert sorted(sheets["Deliberation"]["Comment"]) == sorted(built["comments"])
    with app.app_context():
        n_events = db.session.scalar(
            sa.select(sa.func.count(Event.id)).where(Event.workshop_id == built["id"]))
    assert len(sheets["Events"]) == n_events

    # Every cell is data, never a formula; nobody is named.
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", cell.coordinate
                if isinstance(cell.value, str):
                    assert_anonymous(cell.value, built)


def test_json_record_has_every_event_and_comment_and_no_one_named(app, built):
    data, mimetype, name = export(app, built["id"], "json")
    assert mimetype == "application/json" and name.endswith(".json")
    record = json.loads(data)
    assert record["format"] == "edp-live-record" and record["version"] == exports.RECORD_VERSION == 3
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", record["exported_at"])

    with app.app_context():
        ws = db.session.get(Workshop, built["id"])
        events = db.session.scalars(
            sa.select(Event).where(Event.workshop_id == ws.id).order_by(Event.id)).all()
        comments = db.session.scalars(
            sa.select(Comment).where(Comment.workshop_id == ws.id).order_by(Comment.id)).all()
        assert record["results"] == rules.compute_results(ws)
        workshop = record["workshop"]
        for key in ("code", "title", "region", "language", "phase", "method", "budget", "cap",
                    "max_priorities", "moderation", "results_shown", "helices", "criteria"):
            assert workshop[key] == getattr(ws, key)
        assert len(record["domains"]) == len(rules.domains_of(ws))
        event_rows = [(e.id, e.kind, e.actor_role, e.helix, e.payload) for e in events]
        comment_rows = [(c.id, c.domain_id, c.stance, c.text) for c in comments]

    assert [(e["id"], e["kind"], e["actor_role"], e["helix"], e["payload"])
            for e in record["events"]] == event_rows
    assert [(c["comment_id"], c["domain_id"], c["stance"], c["text"])
            for c in record["comments"]] == comment_rows
    assert all(c["at"].endswith("Z") and c["helix"] for c in record["comments"])

    # Participants are p1, p2, ... everywhere; their database ids, names and tokens are not.
    refs = [p["ref"] for p in record["participants"]]
    assert refs == [f"p{n}" for n in range(1, len(built["tokens"]) + 1)]
    for e in record["events"]:
        assert e["participant"] is None or e["participant"] in refs
        if e["kind"] == "join":
            assert e["participant"] in refs and e["helix"]
    for ballots in (record["votes"], record["scores"], record["rankings"]):
        assert set(ballots) <= set(refs)
    assert record["votes"] or record["scores"]
    assert "participant_id" not in data.decode()
    assert_anonymous(data.decode(), built)

    assert [(p["rank"], p["title"], p["rationale"], p["indicators"])
            for p in record["priorities"]] == [tuple(x) for x in built["priorities"]]


def test_markdown_report_lists_priorities_in_order(app, built):
    data, mimetype, name = export(app, built["id"], "md")
    assert mimetype.startswith("text/markdown") and name.endswith(".md")
    text = data.decode("utf-8")
    assert text.startswith("# ")
    positions = []
    for rank, title, rationale, indicators in built["priorities"]:
        heading = f"### {rank}. {title}"
        assert heading in text
        first_line = rationale.splitlines()[0]
        assert first_line in text
        positions += [text.index(heading), text.index(first_line, text.index(heading))]
        for indicator in indicators:
            assert f"- {indicator}" in text
    assert positions == sorted(positions)
    for comment in built["comments"]:
        assert " ".join(comment.split()).replace("|", "\\|") in text
    helix, people, voters = (tr(app, built, w) for w in ("Helix", "Participants", "Voters"))
    assert f"| {helix} | {people} | {voters} |" in text
    assert_anonymous(text, built)


def test_docx_report_has_chart_priorities_and_tables(app, built):
    from docx import Document

    data, mimetype, name = export(app, built["id"], "docx")
    assert mimetype == DOCX and name.endswith(".docx")
    doc = Document(io.BytesIO(data))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    with app.app_context():
        ws_title = db.session.get(Workshop, built["id"]).title
    assert headings[0] == ws_title
    for expected in (tr(app, built, w) for w in
                     ("Method and participation", "Results", "Priorities", "All domains")):
        assert expected in headings
    body = "\n".join(p.text for p in doc.paragraphs)
    for rank, title, rationale, indicators in built["priorities"]:
        assert f"{rank}. {title}" in headings
        assert rationale in body
        for indicator in indicators:
            assert indicator in body
    assert len(doc.tables) >= 2
    all_domains = doc.tables[-1]
    assert {row.cells[1].text for row in all_domains.rows[1:]} == set(built["titles"])
    assert len(doc.inline_shapes) >= 1
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        assert any(n.startswith("word/media/") and n.endswith(".png") for n in z.namelist())
    assert_anonymous(body, built)


def test_every_format_with_nobody_in_the_room(app, world):
    world.facilitator()
    info = world.workshop(template=AGRI_TEMPLATE)
    for fmt in exports.FORMATS:
        data, _mimetype, name = export(app, info["id"], fmt)
        assert data and name == f"edp-{info['code']}-grupo-focal-edp-agroalimentario.{fmt}"
    record = json.loads(export(app, info["id"], "json")[0])
    assert record["participants"] == [] and record["votes"] == {} and record["priorities"] == []
    assert record["results"]["participation"] == {
        h: 0 for h in ["government", "business", "academia", "civil_society", "environment"]}
    assert len(record["events"]) == 5  # created + four seed domains
    frame = pd.read_csv(io.BytesIO(export(app, info["id"], "csv")[0]), encoding="utf-8-sig")
    assert "Riego de precisión" in set(frame["title"])


def test_text_that_would_break_files_is_made_safe(app, world):
    """Control characters (not allowed in XML) and formula-like text in participants' input."""
    world.facilitator()
    # Helix labels that repeat each other and a column header.
    info = world.workshop(template=TEMPLATE, helices=[
        {"key": "business", "label": "Score"}, {"key": "government", "label": "Score"}])
    with app.app_context():
        ws = db.session.get(Workshop, info["id"])
        rules.set_phase(ws, "propose")
        p, _ = rules.join(ws.code, "business")
        d = rules.propose(p, "-1 jobs\x07 lost", "bell\x07 and\x0b tab")
        rules.comment(p, d.id, "concern", "@SUM(A1:A9)\x01 | pipe <b>bold</b>")
        db.session.commit()
    for fmt in exports.FORMATS:
        assert export(app, info["id"], fmt)[0]
    frame = pd.read_csv(io.BytesIO(export(app, info["id"], "csv")[0]), encoding="utf-8-sig")
    assert "'-1 jobs\x07 lost" in set(frame["title"])
    md = export(app, info["id"], "md")[0].decode()
    assert "<b>" not in md and "\\| pipe" in md
    sheets = pd.read_excel(io.BytesIO(export(app, info["id"], "xlsx")[0]), sheet_name=None)
    assert {"Score", "Score (2)", "Score (3)"} <= set(sheets["Domains"].columns)
    assert list(sheets["Deliberation"]["Comment"]) == ["@SUM(A1:A9) | pipe <b>bold</b>"]


# ---------------------------------------------------------------- the HTTP route


@pytest.mark.parametrize("fmt", exports.FORMATS)
def test_export_route_serves_the_facilitator(app, world, fmt):
    world.facilitator()
    info = world.workshop()
    http = world.login()
    response = http.get(f"/f/w/{info['id']}/export.{fmt}")
    assert response.status_code == 200
    assert response.mimetype == CONTENT_TYPES[fmt]
    assert "attachment" in response.headers["Content-Disposition"]
    assert f"edp-{info['code']}-" in response.headers["Content-Disposition"]
    assert response.data
    if fmt == "csv":  # the only format without a time stamp in it
        assert response.data == export(app, info["id"], fmt)[0]


def test_export_route_refuses_others(app, world):
    world.facilitator()
    world.facilitator("other@example.org")
    info = world.workshop()
    anonymous = app.test_client().get(f"/f/w/{info['id']}/export.csv")
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].split("?")[0].endswith("/login")
    other = world.login("other@example.org").get(f"/f/w/{info['id']}/export.csv")
    assert other.status_code == 403
    owner = world.login()
    assert owner.get(f"/f/w/{info['id']}/export.pdf").status_code == 404


# ---------------------------------------------------------------- the command line


def test_cli_export_writes_every_format(tmp_path):
    env = {
        **os.environ,
        "EDP_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
        "EDP_SECRET_KEY": "cli-test",
        "EDP_PASSWORD": PASSWORD,
    }

    def edp(*args: str) -> str:
        return edp_cli(*args, env=env)

    edp("init-db")
    edp("facilitator", "add", "cli@example.org")
    created = json.loads(edp("workshop", "create", "--template", str(AGRI_TEMPLATE),
                             "--facilitator", "cli@example.org").strip().splitlines()[-1])
    for fmt in exports.FORMATS:
        target = Path(tmp_path / f"out.{fmt}")
        line = json.loads(edp("workshop", "export", created["code"], "--format", fmt,
                              "--output", str(target)).strip().splitlines()[-1])
        assert line["bytes"] == target.stat().st_size > 0
    record = json.loads((tmp_path / "out.json").read_text("utf-8"))
    assert record["workshop"]["code"] == created["code"]
    assert "Riego de precisión" in (tmp_path / "out.csv").read_text("utf-8-sig")
    assert (tmp_path / "out.md").read_text("utf-8").startswith("# Grupo focal")
    for fmt in ("xlsx", "docx"):
        assert zipfile.is_zipfile(tmp_path / f"out.{fmt}")


# ---------------------------------------------------------------- the record a drafter uses

RICH_INDICATORS = [
    "Jobs in irrigation services",
    {"name": "Hectares with precision irrigation", "baseline": "1200", "target": "5000"},
    {"name": "Water use per tonne", "target": "-20%"},
]
RICH_FUNDERS = ["ERDF regional programme", "Regional development bank"]


def build_rich(app, world, anonymity: str = "anonymous") -> dict:
    """Dot voting with the whole life of a deliberation: proposals with SDGs, comments of every
    stance, votes changed, a chain of merges after the vote (points move), a hidden domain,
    reveals, and priorities with indicator objects and funders, one decided twice."""
    world.facilitator()
    info = world.workshop(template=TEMPLATE, anonymity=anonymity)
    with app.app_context():
        ws = db.session.get(Workshop, info["id"])
        rules.set_phase(ws, "propose")
        people = _people(ws, ["government", "business", "academia", "civil_society",
                              "environment", "funders"])
        a = rules.propose(people[1], "Smart irrigation", "Sensors and scheduling.",
                          "Cooperatives already measure soil moisture.", sdgs=[2, 6])
        b = rules.propose(people[2], "Irrigation sensors", "Low-cost sensors.", sdgs=[9])
        c = rules.propose(people[3], "Water reuse", "Treated water for farms.", sdgs=[6, 12])
        d = rules.propose(people[4], "Tourism again", "")
        db.session.commit()
        rules.set_phase(ws, "discuss")
        manufacturing = rules.domains_of(ws, rules.VOTABLE)[0]
        comments = {
            "support": rules.comment(people[0], a.id, "support", "Saves water in dry years."),
            "evidence": rules.comment(people[2], a.id, "evidence", "Pilot cut water use by 18%."),
            "concern": rules.comment(people[5], a.id, "concern", "Who pays for the sensors?"),
            "question": rules.comment(people[4], a.id, "question", "What about smallholders?"),
            "other": rules.comment(people[1], manufacturing.id, "support", "Export markets."),
        }
        db.session.commit()
        rules.set_phase(ws, "vote")
        for p, ballot in zip(people, [
            {a.id: 4, manufacturing.id: 3},
            {a.id: 5, b.id: 2},
            {b.id: 4, c.id: 3},
            {c.id: 5, manufacturing.id: 1},
            {a.id: 2, d.id: 2},
            {manufacturing.id: 5},
        ]):
            for domain_id, points in ballot.items():
                rules.vote(p, domain_id, points)
        rules.vote(people[0], a.id, 5)  # a vote changed
        db.session.commit()
        rules.moderate(ws, c.id, "merge", into=b.id)  # water reuse -> sensors
        rules.moderate(ws, b.id, "merge", into=a.id)  # sensors (with reuse) -> irrigation
        rules.moderate(ws, d.id, "hide")
        rules.reveal(ws, True)
        rules.reveal(ws, False)
        db.session.commit()
        rules.set_phase(ws, "results")
        rules.set_phase(ws, "decide")
        rules.decide(ws, a.id, 1, "Water scarcity; cooperatives ready.", RICH_INDICATORS,
                     RICH_FUNDERS)
        rules.decide(ws, manufacturing.id, 2, "Critical mass.", ["Firms in the value chain"])
        rules.decide(ws, manufacturing.id, 2, "Critical mass and export markets.",
                     ["Firms in the value chain"])  # updated
        db.session.commit()
        return {
            **info,
            "a": a.id, "b": b.id, "c": c.id, "d": d.id, "manufacturing": manufacturing.id,
            "titles": {x.id: x.title for x in rules.domains_of(ws)},
            "names": [p.name for p in people] + [p.organisation for p in people],
            "tokens": [p.token for p in people],
            "people": [(p.name, p.organisation, p.helix) for p in people],
            "comments": {k: v.text for k, v in comments.items()},
        }


def _events(app, workshop_id: int) -> list[Event]:
    with app.app_context():
        rows = db.session.scalars(
            sa.select(Event).where(Event.workshop_id == workshop_id).order_by(Event.id)).all()
        db.session.expunge_all()
        return rows


def test_event_log_records_every_change_with_role_and_helix(app, world):
    rich = build_rich(app, world)
    events = _events(app, rich["id"])
    kinds = [e.kind for e in events]
    for kind in ("workshop_created", "join", "propose", "comment", "vote", "moderate", "phase",
                 "reveal", "decide"):
        assert kind in kinds, kind
    for e in events:
        assert e.at is not None and e.actor_role in ("participant", "facilitator", "system")
        if e.actor_role == "participant":
            assert e.helix and e.participant_id
        assert not {"name", "organisation", "token"} & set(e.payload)
    seeds = [e.payload for e in events if e.kind == "propose" and e.actor_role == "system"]
    assert seeds and all("description" in p and "sdgs" in p for p in seeds)
    proposal = next(e for e in events if e.kind == "propose" and e.payload["domain_id"] == rich["a"])
    assert proposal.payload["sdgs"] == [2, 6] and proposal.payload["description"]
    comment = next(e for e in events if e.kind == "comment")
    assert comment.payload["text"] == rich["comments"]["support"]
    changed = [e.payload for e in events if e.kind == "vote" and e.actor_role == "participant"
               and e.payload["domain_id"] == rich["a"] and e.payload["before"] == 4]
    assert changed == [{"domain_id": rich["a"], "points": 5, "before": 4}]
    assert [(e.payload["before"], e.payload["phase"]) for e in events if e.kind == "phase"][-2:] \
        == [("vote", "results"), ("results", "decide")]
    # Shown, hidden, then shown again on entering the results phase.
    assert [e.payload["shown"] for e in events if e.kind == "reveal"] == [True, False, True]

    # Merges keep their lineage and the points they moved.
    merges = [e.payload for e in events if e.kind == "moderate" and e.payload["action"] == "merge"]
    first, second = merges
    assert first["domain_id"] == rich["c"] and first["into"] == rich["b"]
    # The cap is 5: water reuse's 3 + 5 points land on sensors as 1 + 5 (academia already had
    # 4 there); the other 2 go back to academia's budget.
    assert first["points_moved"] == 6 and first["points_returned"] == 2
    assert first["ballots_moved"] == 2
    assert first["lineage"] == [{"domain_id": rich["c"], "into": rich["b"]}]
    assert second["into_title"] == "Smart irrigation" and second["before"] == "approved"
    assert second["lineage"] == [{"domain_id": rich["b"], "into": rich["a"]},
                                 {"domain_id": rich["c"], "into": rich["b"]}]
    moved = [e for e in events if e.kind == "vote" and e.actor_role == "system"]
    assert moved and all(e.helix and e.payload["reason"] in ("merged", "hidden") for e in moved)

    # Decisions carry rationale, indicators (objects kept), funders, the change and the list.
    decides = [e.payload for e in events if e.kind == "decide"]
    assert decides[0]["indicators"] == RICH_INDICATORS and decides[0]["funders"] == RICH_FUNDERS
    assert decides[0]["before"] is None
    assert decides[-1]["before"]["rationale"] == "Critical mass."
    assert decides[-1]["shortlist"] == [rich["a"], rich["manufacturing"]]


def test_record_never_stores_identities(app, world):
    world.facilitator()
    info = world.workshop()
    with app.app_context():
        ws = db.session.get(Workshop, info["id"])
        ev = rules.record(ws, "join", "participant", name="Ana", organisation="Org", token="t",
                          note="kept")
        assert ev.payload == {"note": "kept"}
        db.session.rollback()


def test_decide_indicator_objects_and_funders_rules(app, world):
    world.facilitator()
    info = world.workshop()
    with app.app_context():
        ws = db.session.get(Workshop, info["id"])
        rules.set_phase(ws, "decide")
        first = rules.domains_of(ws, rules.VOTABLE)[0].id
        pr = rules.decide(ws, first, 1, "Why", [" Jobs ", "", {"name": " Area ", "baseline": 12,
                                                              "target": 2.5, "x": "dropped"},
                                                {"name": "Share", "baseline": ""}],
                          [" ERDF ", "", "ERDF", "Bank"])
        assert pr.indicators == ["Jobs", {"name": "Area", "baseline": "12", "target": "2.5"},
                                 {"name": "Share"}]
        assert pr.funders == ["ERDF", "Bank"]
        pr = rules.decide(ws, first, 1, "Why again", ["Jobs"])  # funders omitted: kept
        assert pr.funders == ["ERDF", "Bank"] and pr.indicators == ["Jobs"]
        pr = rules.decide(ws, first, 1, "Why again", ["Jobs"], [])  # an empty list clears
        assert pr.funders == []
        for bad in ([{"baseline": "1"}], [{"name": "x", "target": True}], [3],
                    [{"name": "x", "target": float("nan")}]):
            with pytest.raises(rules.EDPError) as exc:
                rules.decide(ws, first, 1, "Why", bad)
            assert exc.value.code == "bad_payload"
        with pytest.raises(rules.EDPError):
            rules.decide(ws, first, 1, "Why", [], [7])
        db.session.rollback()


def _read_xlsx(data: bytes) -> dict[str, pd.DataFrame]:
    return pd.read_excel(io.BytesIO(data), sheet_name=None)


def test_exports_attach_evidence_lineage_indicators_and_funders(app, world):
    from docx import Document
    from flask_babel import force_locale

    from edp.sdgs import sdg_label

    rich = build_rich(app, world)
    a, b, c = rich["a"], rich["b"], rich["c"]
    results = live_results(app, rich["id"])
    entry = next(e for e in results["ranking"] if e["domain_id"] == a)
    frames = None
    with app.app_context():
        frames = exports.tables(db.session.get(Workshop, rich["id"]))
    assert list(frames) == list(exports.SHEETS)

    # Priorities: the evidence numbers are the live results.
    prio = frames["Priorities"].set_index("domain_id")
    row = prio.loc[a]
    for key in ("score", "balanced_score", "consensus", "spread"):
        assert row[key] == pytest.approx(entry[key])
    assert bool(row["polarised"]) == entry["polarised"]
    assert bool(row["one_helix"]) == entry["one_helix"]
    assert row["supporting_comments"] == 2 and row["opposing_comments"] == 2
    assert row["funders"] == "; ".join(RICH_FUNDERS)
    assert "Hectares with precision irrigation (baseline 1200, target 5000)" in row["indicators"]

    # Workbook: one sheet per table, read back.
    sheets = _read_xlsx(export(app, rich["id"], "xlsx")[0])
    assert list(sheets)[:len(exports.SHEETS)] == list(exports.SHEETS)
    ind = pd.read_excel(io.BytesIO(export(app, rich["id"], "xlsx")[0]), sheet_name="Indicators",
                        dtype=str)  # baselines and targets are text ("-20%")
    assert list(ind["Indicator"]) == ["Jobs in irrigation services",
                                      "Hectares with precision irrigation",
                                      "Water use per tonne", "Firms in the value chain"]
    assert ind.loc[1, "Baseline"] == "1200" and ind.loc[1, "Target"] == "5000"
    assert ind.loc[2, "Target"] == "-20%" and pd.isna(ind.loc[2, "Baseline"])
    assert list(sheets["Funders"]["Funder or instrument"]) == RICH_FUNDERS
    evidence = sheets["Evidence"]
    first = evidence[evidence["Domain id"] == a].set_index("Helix")
    assert first.loc["Public administration", "Support"] == pytest.approx(
        entry["by_helix"]["government"])
    assert first.loc["Funding bodies", "Concerns and questions"] == 1
    assert first.loc["Academia and research", "Supporting comments"] == 1
    lineage = sheets["Lineage"].set_index("Domain id")
    assert lineage.loc[c, "Merged into (id)"] == b and lineage.loc[c, "Final domain id"] == a
    assert lineage.loc[b, "Final domain"] == "Smart irrigation"
    domains = sheets["Domains"].set_index("Domain id")
    assert domains.loc[a, "Merged from"] == f"#{b} Irrigation sensors; #{c} Water reuse"
    with app.test_request_context(), force_locale("en"):
        expected_sdgs = f"{sdg_label(2)}; {sdg_label(6)}"
    assert domains.loc[a, "Sustainable Development Goals"] == expected_sdgs
    assert expected_sdgs == "SDG 2: Zero hunger; SDG 6: Clean water and sanitation"
    timeline = sheets["Timeline"]
    assert any("Merged: Water reuse into Irrigation sensors" in s for s in timeline["What happened"])
    assert len(sheets["Events"]) == len(_events(app, rich["id"]))

    # JSON: lineage per domain, evidence per priority.
    record = json.loads(export(app, rich["id"], "json")[0])
    by_id = {d["domain_id"]: d for d in record["domains"]}
    assert by_id[c]["merged_into"] == b and by_id[b]["merged_into"] == a
    assert by_id[a]["lineage"] == [
        {"domain_id": b, "title": "Irrigation sensors", "into": a},
        {"domain_id": c, "title": "Water reuse", "into": b}]
    assert by_id[b]["lineage"] == [{"domain_id": c, "title": "Water reuse", "into": b}]
    assert by_id[a]["sdg_names"] == ["SDG 2: Zero hunger", "SDG 6: Clean water and sanitation"]
    top = record["priorities"][0]
    assert top["indicators"] == RICH_INDICATORS and top["funders"] == RICH_FUNDERS
    texts = {cm["comment_id"]: cm["text"] for cm in record["comments"]}
    assert sorted(texts[i] for i in top["evidence"]["supporting"]) == sorted(
        [rich["comments"]["support"], rich["comments"]["evidence"]])
    assert sorted(texts[i] for i in top["evidence"]["opposing"]) == sorted(
        [rich["comments"]["concern"], rich["comments"]["question"]])
    assert top["evidence"]["consensus"] == pytest.approx(entry["consensus"])
    assert all(cm["participant"].startswith("p") for cm in record["comments"])

    # DOCX: a domain sheet per priority with SDG names, lineage, indicators and funders.
    doc = Document(io.BytesIO(export(app, rich["id"], "docx")[0]))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    for expected in ("Domain sheets", "Domain sheet: Smart irrigation", "Below the line",
                     "Deliberation timeline", "Supporters and concerns by helix"):
        assert expected in headings
    body = "\n".join(p.text for p in doc.paragraphs)
    assert "SDG 6: Clean water and sanitation" in body
    assert "Merged from: Irrigation sensors; Water reuse" in body
    for funder in RICH_FUNDERS:
        assert funder in body
    for text in rich["comments"].values():
        assert text in body
    tables: dict[tuple, list] = {}
    for t in doc.tables:
        tables.setdefault(tuple(cell.text for cell in t.rows[0].cells), []).append(t)
    indicators = tables[("Indicator", "Baseline", "Target")][0]  # priority 1's sheet
    assert [tuple(cell.text for cell in r.cells) for r in indicators.rows[1:]] == [
        ("Jobs in irrigation services", "", ""),
        ("Hectares with precision irrigation", "1200", "5000"),
        ("Water use per tonne", "", "-20%")]
    assert ("Helix", "Participants", "Voters") in tables
    assert len(doc.inline_shapes) >= 3  # participation, results, helix split
    assert_anonymous(body, rich)

    # Markdown: the same content.
    md = export(app, rich["id"], "md")[0].decode()
    assert "#### Monitoring indicators" in md
    assert "| Hectares with precision irrigation | 1200 | 5000 |" in md
    assert "**Merged from:** Irrigation sensors; Water reuse" in md
    assert "## Deliberation timeline" in md and "## Below the line" in md
    assert ("Merged: Irrigation sensors into Smart irrigation · 10 points moved · "
            "2 points returned to the voters") in md
    assert_anonymous(md, rich)


def test_named_workshop_shows_names_on_comments_and_proposals_only(app, world):
    from docx import Document

    rich = build_rich(app, world, anonymity="named")
    name, org, _helix = rich["people"][1]  # proposed "Smart irrigation", commented
    commenter = rich["people"][5]  # the concern
    record = json.loads(export(app, rich["id"], "json")[0])
    assert record["workshop"]["settings"]["anonymity"] == "named"
    proposal = next(d for d in record["domains"] if d["domain_id"] == rich["a"])
    assert (proposal["proposer_name"], proposal["proposer_organisation"]) == (name, org)
    concern = next(c for c in record["comments"] if c["stance"] == "concern")
    assert (concern["name"], concern["organisation"]) == commenter[:2]
    # ... never in the event log, never a token.
    events_text = json.dumps(record["events"])
    for secret in rich["names"] + rich["tokens"]:
        assert secret not in events_text
    assert not any(t in json.dumps(record) for t in rich["tokens"])

    sheets = _read_xlsx(export(app, rich["id"], "xlsx")[0])
    authors = set(sheets["Deliberation"]["Author"])
    assert f"{commenter[0]} ({commenter[1]})" in authors
    assert f"{name} ({org})" in set(sheets["Domains"]["Proposed by"].dropna())
    for sheet in ("Events", "Timeline"):
        text = sheets[sheet].to_csv()
        assert not any(secret in text for secret in rich["names"])
    doc = Document(io.BytesIO(export(app, rich["id"], "docx")[0]))
    body = "\n".join(p.text for p in doc.paragraphs)
    assert f"{commenter[0]} ({commenter[1]})" in body
    timeline = body[body.index("Deliberation timeline"):]
    assert not any(secret in timeline for secret in rich["names"])
    md = export(app, rich["id"], "md")[0].decode()
    assert f"{name} ({org})" in md
    assert not any(secret in md[md.index("## Deliberation timeline"):] for secret in rich["names"])


def test_anonymous_workshop_shows_no_identity_anywhere(app, world):
    rich = build_rich(app, world)
    for fmt in exports.FORMATS:
        data = export(app, rich["id"], fmt)[0]
        if fmt in ("xlsx", "docx"):
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                text = "".join(z.read(n).decode("utf-8", "ignore") for n in z.namelist()
                               if n.endswith(".xml"))
        else:
            text = data.decode("utf-8-sig")
        assert_anonymous(text, rich)
    record = json.loads(export(app, rich["id"], "json")[0])
    assert "name" not in record["comments"][0]
    assert all("proposer_name" not in d for d in record["domains"])


def test_exports_are_in_the_workshops_language(app, world):
    info = build_agri(app, world)
    sheets = _read_xlsx(export(app, info["id"], "xlsx")[0])
    assert tr(app, info, "Funders and instruments") in sheets["Priorities"].columns
    md = export(app, info["id"], "md")[0].decode()
    for heading in ("Method and participation", "Domain sheets", "Below the line",
                    "Deliberation timeline"):
        assert f"## {tr(app, info, heading)}" in md
    from flask_babel import force_locale

    from edp.sdgs import sdg_label

    with app.test_request_context(), force_locale("es"):
        expected = sdg_label(6)
    if any(6 in d["sdgs"] for d in json.loads(export(app, info["id"], "json")[0])["domains"]):
        assert expected in md


def test_unknown_anonymity_is_refused(app, world):
    world.facilitator()
    with pytest.raises(ValueError, match="anonymity"):
        world.workshop(anonymity="public")


def test_exports_of_a_thousand_participants_are_complete(sqlite_url):
    """1,000 participants who joined, proposed, commented and voted: every format is whole.
    (Speed is measured by bench/exports.py, not here.)"""
    import random

    from conftest import World, make_app

    app = make_app(sqlite_url)
    world = World(app)
    world.facilitator()
    info = world.workshop(template=TEMPLATE)
    rng = random.Random(1000)
    with app.app_context():
        ws = db.session.get(Workshop, info["id"])
        rules.set_phase(ws, "propose")
        helices = ws.helix_keys()
        people = [rules.join(ws.code, helices[i % len(helices)])[0] for i in range(1000)]
        for i in range(30):
            rules.propose(people[i], f"Domain {i}", "A description " * 5, sdgs=[1 + i % 17])
        rules.set_phase(ws, "discuss")
        domains = rules.domains_of(ws, rules.VOTABLE)
        for p in people[:600]:
            rules.comment(p, rng.choice(domains).id, rng.choice(rules.STANCES), "Text " * 20)
        rules.set_phase(ws, "vote")
        for p in people:
            left = ws.budget
            for d in rng.sample(domains, 4):
                points = rng.randint(0, min(left, 5))
                if points:
                    left = rules.vote(p, d.id, points)
        for d in domains[-3:]:
            rules.moderate(ws, d.id, "merge", into=domains[0].id)
        rules.set_phase(ws, "decide")
        for rank, d in enumerate(domains[:5], start=1):
            rules.decide(ws, d.id, rank, "Because", RICH_INDICATORS, RICH_FUNDERS)
        db.session.commit()
        assert db.session.scalar(sa.select(sa.func.count(Event.id))) > 5000
    for fmt in exports.FORMATS:
        with app.app_context():
            ws = db.session.get(Workshop, info["id"])
            data, _mimetype, _name = exports.build(ws, fmt)
        if fmt in ("csv", "json", "md"):
            text = data.decode("utf-8-sig")
            assert all(f"Domain {i}" in text for i in range(5)), fmt
        else:
            assert data[:2] == b"PK", fmt  # a zip container: xlsx and docx
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# ---------------------------------------------------------------- the method: vision, SWOT, funding

BROAD = "In 2035 the region exports clean energy and the know-how to make it."
NARROW = "In 2035 every farm is a technology start-up."
YOUNG = "A region that keeps its young people."
ADVERT = "Buy cheap watches here."
SWOT_ITEMS = [  # (domain key, quadrant, author index, text)
    ("a", "threat", 3, "Neighbouring regions move faster."),
    ("a", "strength", 2, "Two university labs already work on it."),
    ("a", "weakness", 1, "Few firms can invest in pilots."),
    ("a", "opportunity", 0, "The 2028 EU call fits it."),
    ("b", "strength", 1, "Exporters with a global brand."),
]
HIDDEN_SWOT = "Spam in the SWOT."


def build_method(app, world) -> dict:
    """Dot voting with the method beyond voting: a vision (statements, reactions, two adopted,
    one hidden; one helix of a single reactor), SWOT items on two domains (one hidden) and the
    funders' signals with instruments; two priorities."""
    from edp import method

    world.facilitator()
    info = world.workshop(template=TEMPLATE)
    with app.app_context():
        ws = db.session.get(Workshop, info["id"])
        rules.set_phase(ws, "vision")
        people = _people(ws, ["government", "business", "academia", "civil_society",
                              "business", "academia", "funders", "funders"])
        broad, narrow = (method.statement(people[0], BROAD), method.statement(people[1], NARROW))
        young = method.facilitator_statement(ws, YOUNG)
        advert = method.statement(people[2], ADVERT)
        for n, p in enumerate(people):
            method.react(p, broad.id, "pass" if n == 3 else "agree")
            method.react(p, narrow.id, "agree" if p.helix == "business" else "disagree")
            if n % 2 == 0:
                method.react(p, young.id, "agree")
        method.adopt(ws, young.id, True)
        method.adopt(ws, broad.id, True)
        method.hide_statement(ws, advert.id, True)
        rules.set_phase(ws, "discuss")
        a, b, other = rules.domains_of(ws, rules.VOTABLE)[:3]
        domains = {"a": a, "b": b}
        items = [method.swot(people[k], domains[d].id, q, text) for d, q, k, text in SWOT_ITEMS]
        rules.comment(people[2], a.id, "evidence", "The labs published on it.")
        spam = method.swot(people[4], a.id, "strength", HIDDEN_SWOT)
        method.hide_swot(ws, spam.id, True)
        method.fund(people[6], a.id, "yes", "ERDF 2028 call")
        method.fund(people[7], a.id, "maybe", "Regional development bank")
        method.fund(people[6], b.id, "no")
        method.fund(people[7], other.id, "yes")
        rules.set_phase(ws, "vote")
        for p, ballot in zip(people, [{a.id: 5, b.id: 2}, {b.id: 5}, {a.id: 4, other.id: 3},
                                      {a.id: 5}, {b.id: 4, a.id: 1}, {other.id: 5}]):
            for domain_id, points in ballot.items():
                rules.vote(p, domain_id, points)
        rules.set_phase(ws, "decide")
        rules.decide(ws, a.id, 1, "Labs, firms and funders ready.", ["Pilots running"])
        rules.decide(ws, b.id, 2, "A global brand.", [])
        db.session.commit()
        return {**info, "a": a.id, "b": b.id, "other": other.id,
                "statements": {"broad": broad.id, "narrow": narrow.id, "young": young.id,
                               "advert": advert.id},
                "items": [i.id for i in items], "spam": spam.id,
                "titles": {d.id: d.title for d in rules.domains_of(ws)},
                "names": [p.name for p in people] + [p.organisation for p in people],
                "tokens": [p.token for p in people]}
