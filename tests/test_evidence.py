"""The region's evidence beside each domain, as a facilitator and participants meet it.

The facilitator loads the region's diagnosis data (`edp workshop diagnosis`, run in-process with
Flask's CLI runner, or the console's upload); a participant proposes a domain with sectors, the
facilitator links others; every linked domain then carries its evidence (RCA, share, density,
complexity, related strengths, with the data's source and year) in the room's state and in the
JSON export. The indexes come from the `economic-complexity` library: RCA is checked by hand on
a 3 × 3 matrix, complexity against the Hidalgo-Hausmann eigenvector definition.
"""
from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import ROOT, csrf_token

from edp import evidence, models
from edp.diagnosis_command import diagnosis_command
from edp.extensions import db

EXAMPLE = ROOT / "workshops" / "example-diagnosis.csv"

# Three regions × three sectors; the workshop's region is "Demo Region".
SMALL = """region,sector,sector_name,value,year
Demo Region,A01,Crops,10,2022
Demo Region,C10,Food products,20,2022
Demo Region,J62,Software,70,2022
North,A01,Crops,30,2022
North,C10,Food products,30,2022
North,J62,Software,40,2022
South,A01,Crops,5,2022
South,C10,Food products,80,2022
South,J62,Software,15,2022
"""


def ok(ack):
    assert ack["ok"] is True, ack
    return ack


def err(ack, code: str):
    assert ack["ok"] is False, ack
    assert ack["error"]["code"] == code, ack
    return ack


def load(app, code: str, path, *extra: str):
    return app.test_cli_runner().invoke(diagnosis_command, [code, "--file", str(path), *extra])


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# ---------------------------------------------------------------- the indexes


def test_rca_by_hand_on_a_three_by_three_matrix():
    """RCA = (the region's share of the sector in its own total) / (the sector's share in all
    regions' total): Demo Region's software is 70/100 of its total, 125/300 of everyone's."""
    table = pd.DataFrame([[10, 20, 70], [30, 30, 40], [5, 80, 15]], dtype=float,
                         index=["Demo Region", "North", "South"], columns=["A01", "C10", "J62"])
    found = evidence.indexes(table, "Demo Region")["sectors"]
    by_hand = {"A01": (10 / 100) / (45 / 300), "C10": (20 / 100) / (130 / 300),
               "J62": (70 / 100) / (125 / 300)}
    for code, rca in by_hand.items():
        assert found[code]["rca"] == pytest.approx(rca, abs=0.005)
        assert found[code]["share"] == pytest.approx(table.at["Demo Region", code] / 100)
    assert found["J62"]["rca"] == 1.68 and found["A01"]["rca"] == 0.67
    # With three regions there is no complexity to speak of; each sector is held by one
    # region only, so no sector is related to another (density undefined).
    assert all(s["complexity"] is None and s["density"] is None for s in found.values())


def test_complexity_agrees_with_the_eigenvector_definition_and_the_library():
    """The library's reflections (its own reference example only checks the sizes of the ECI
    and PCI series: one value per location and per sector) against the Hidalgo-Hausmann
    definition the OEC documents: PCI is the eigenvector of the second largest eigenvalue of
    M̃ = U⁻¹ Mᵀ D⁻¹ M, standardised, with the sign that makes ubiquitous sectors less complex."""
    import economic_complexity as ec

    n = 6
    m = pd.DataFrame([[1.0 if j <= i else 0.0 for j in range(n)] for i in range(n)],
                     index=[f"r{i}" for i in range(n)], columns=[f"p{j}" for j in range(n)])
    m.iloc[1, 4], m.iloc[5, 1] = 1.0, 0.0  # not perfectly nested
    eci, pci = ec.complexity(m)
    assert eci.size == n and pci.size == n  # the library's reference test, on this matrix
    a = m.to_numpy()
    kc, kp = a.sum(axis=1), a.sum(axis=0)
    values, vectors = np.linalg.eig(np.diag(1 / kp) @ a.T @ np.diag(1 / kc) @ a)
    v = vectors[:, np.argsort(-values.real)[1]].real
    v = (v - v.mean()) / v.std(ddof=1)
    if np.corrcoef(v, kp)[0, 1] > 0:
        v = -v
    assert np.allclose(pci.to_numpy(), v, atol=0.02), (pci.round(3).tolist(), v.round(3))
    assert pci.idxmax() == "p5"  # held by the most diverse region only: the most complex

    # Our evidence reports the library's PCI for the sectors some region specialises in.
    rng = np.random.default_rng(3)
    table = pd.DataFrame(rng.lognormal(3, 1.5, (8, 12)), index=[f"R{i}" for i in range(8)],
                         columns=[f"S{j:02d}" for j in range(12)])
    found = evidence.indexes(table, "R0")
    rca = ec.rca(table)
    core = rca.loc[rca.ge(1).any(axis=1), rca.ge(1).any(axis=0)]
    _eci, library_pci = ec.complexity(core)
    for code, item in found["sectors"].items():
        assert item["complexity"] == pytest.approx(library_pci[code], abs=0.005)
        assert item["rca"] == pytest.approx(rca.at["R0", code], abs=0.005)
    assert found["complexity"] is True and found["eci"] is not None
    # Related strengths are sectors where R0 is specialised, closest first.
    for item in found["sectors"].values():
        assert all(r["rca"] >= 1 and r["code"] != item["code"] for r in item["related"])
        closeness = [r["proximity"] for r in item["related"]]
        assert closeness == sorted(closeness, reverse=True)


def test_density_uses_the_library_proximity():
    """Relatedness density of a sector: the proximity to the region's specialisations over
    the proximity to all sectors (Hidalgo et al.)."""
    import economic_complexity as ec

    table = pd.DataFrame([[9, 1, 8, 1], [8, 2, 9, 1], [1, 9, 1, 8], [2, 8, 1, 9], [5, 5, 5, 5]],
                         dtype=float, index=list("ABCDE"), columns=["s1", "s2", "s3", "s4"])
    found = evidence.indexes(table, "A")["sectors"]
    rca = ec.rca(table)
    held = rca.ge(1).astype(float)
    phi = pd.DataFrame(0.0, index=table.columns, columns=table.columns)
    for i in table.columns:  # by hand: both / the more ubiquitous of the two
        for j in table.columns:
            if i != j:
                phi.at[i, j] = (held[i] * held[j]).sum() / max(held[i].sum(), held[j].sum())
    density = held.loc["A"] @ phi / phi.sum()
    for code in table.columns:
        assert found[code]["density"] == pytest.approx(density[code], abs=0.001)
    assert found["s1"]["related"][0]["code"] == "s3"


# ---------------------------------------------------------------- loading a file


def test_the_command_loads_the_example_file(world, tmp_path):
    world.facilitator()
    ws = world.workshop()  # the first template's region is "Demo Region"
    out = load(world.app, ws["code"], EXAMPLE)
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output)
    assert summary["region"] == "Demo Region" and summary["year"] == 2023
    assert summary["source"] == "example-diagnosis.csv"
    assert summary["regions"] == 20 and summary["sectors"] == 40
    assert summary["complexity"] is True
    with world.app.app_context():
        ev = db.session.scalars(sa.select(models.Event).where(
            models.Event.kind == "diagnosis")).one()
        assert ev.payload["region"] == "Demo Region" and ev.payload["sectors"] == 40
    # --region picks another region of the file; a new load replaces the earlier one.
    out = load(world.app, ws["code"], EXAMPLE, "--region", "región de demostración",
               "--source", "Illustrative survey")
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["region"] == "Región de demostración"
    assert count(world.app, models.Diagnosis) == 1
    # The sectors a phone can pick.
    sectors = world.app.test_client().get(f"/api/workshops/{ws['code']}/sectors").json
    assert len(sectors) == 40 and {"code": "62", "name": "Computer programming and consultancy"} \
        in sectors
    assert world.app.test_client().get("/api/workshops/NOPE22/sectors").status_code == 404


def test_an_xlsx_file_loads_like_a_csv(world, tmp_path):
    world.facilitator()
    ws = world.workshop()
    path = tmp_path / "diagnosis.xlsx"
    frame = pd.read_csv(io.StringIO(SMALL), dtype={"sector": str})
    frame.columns = [c.upper() for c in frame.columns]  # header names in any case
    frame.to_excel(path, index=False)
    out = load(world.app, ws["code"], path)
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["sectors"] == 3


@pytest.mark.parametrize("content, needles", [
    (SMALL.replace("North,C10,Food products,30", "North,C10,Food products,lots"),
     ["Row 6", "value", "lots"]),
    (SMALL.replace("South,A01,Crops,5", "South,A01,Crops,-5"), ["Row 8", "value", "below 0"]),
    (SMALL.replace("North,J62,Software,40", ",J62,Software,40"), ["Row 7", "region", "empty"]),
    (SMALL.replace("2022\nSouth,C10", "20x2\nSouth,C10"), ["Row 8", "year"]),
    (SMALL.replace("value", "amount"), ["no column", "value"]),
    ("region,sector,value\n", ["no rows"]),
    ("region,sector,value\nDemo Region,A01,3\nDemo Region,B02,4\n", ["one region"]),
    (SMALL.replace("Demo Region", "Elsewhere"), ["Demo Region", "not in the file"]),
])
def test_a_bad_file_is_refused_whole_naming_the_row_and_column(world, tmp_path, content,
                                                               needles):
    world.facilitator()
    ws = world.workshop()
    good = tmp_path / "good.csv"
    good.write_text(SMALL, encoding="utf-8")
    assert load(world.app, ws["code"], good).exit_code == 0
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    out = load(world.app, ws["code"], path)
    assert out.exit_code != 0
    for needle in needles:
        assert needle in out.output, (needle, out.output)
    assert "Traceback" not in out.output
    # Nothing half-loaded: the earlier data stands, whole.
    with world.app.app_context():
        diag = db.session.scalars(sa.select(models.Diagnosis)).one()
        assert diag.source == "good.csv" and len(diag.data["values"]) == 9


def test_blank_lines_and_semicolons_keep_the_row_numbers_right(world, tmp_path):
    world.facilitator()
    ws = world.workshop()
    path = tmp_path / "semicolons.csv"
    text = SMALL.replace(",", ";").replace("North;A01", "\nNorth;A01")
    path.write_text("\ufeff" + text.replace("South;C10;Food products;80", "South;C10;Food products;8 0,x"),
                    encoding="utf-8")
    out = load(world.app, ws["code"], path)
    assert out.exit_code != 0 and "Row 10" in out.output, out.output
    assert count(world.app, models.Diagnosis) == 0


# ---------------------------------------------------------------- the room


@pytest.fixture
def room(world, tmp_path):
    world.facilitator()
    ws = world.workshop()
    assert load(world.app, ws["code"], EXAMPLE).exit_code == 0
    console = world.console(ws["id"])
    ok(console.act("phase", phase="propose"))
    phone = world.phone(ws["code"], helix="business")
    return world, ws, console, phone


def test_a_proposal_with_sectors_carries_the_regions_evidence(room):
    world, ws, console, phone = room
    ack = ok(phone.emit("propose", {"title": "Smart grids", "sectors": ["27", "35"]}))
    state = ok(console.act("facilitate"))["state"]
    assert state["workshop"]["diagnosis"]["region"] == "Demo Region"
    assert state["workshop"]["diagnosis"]["year"] == 2023
    domain = next(d for d in state["domains"] if d["domain_id"] == ack["domain_id"])
    assert domain["sectors"] == ["27", "35"]
    ev = domain["evidence"]
    assert ev["region"] == "Demo Region" and ev["year"] == 2023
    assert ev["source"] == "example-diagnosis.csv"
    assert [s["code"] for s in ev["sectors"]] == ["27", "35"]
    table = pd.read_csv(EXAMPLE, dtype={"sector": str})
    mine = table[table.region == "Demo Region"].set_index("sector")["value"]
    everyone = table.groupby("sector")["value"].sum()
    for item in ev["sectors"]:
        code = item["code"]
        by_hand = (mine[code] / mine.sum()) / (everyone[code] / everyone.sum())
        assert item["rca"] == pytest.approx(by_hand, abs=0.005)
        assert item["share"] == pytest.approx(mine[code] / mine.sum(), abs=0.0001)
        assert item["name"] == "Manufacture of electrical equipment" if code == "27" else True
        assert set(item) >= {"code", "name", "rca", "share", "density", "complexity", "related"}
    assert ev["sectors"][0]["rca"] > 1  # the illustrative region is strong in it
    # The phones see it too; seed domains without sectors carry none.
    public = ok(world.phone(ws["code"], helix="government").emit(
        "join", {"code": ws["code"], "helix": "government"}))
    del public
    fresh = world.phone(ws["code"], helix="academia")
    shown = {d["domain_id"]: d for d in fresh.joined["state"]["domains"]}
    assert shown[ack["domain_id"]]["evidence"]["sectors"][0]["code"] == "27"
    assert all(d["evidence"] is None for i, d in shown.items() if i != ack["domain_id"])
    assert fresh.joined["state"]["workshop"]["diagnosis"]["sectors"] == 40
    with world.app.app_context():
        ev = db.session.scalars(sa.select(models.Event).where(
            models.Event.kind == "propose", models.Event.actor_role == "participant")).one()
        assert ev.payload["sectors"] == ["27", "35"]


def test_unknown_sectors_are_refused_naming_the_code(room):
    _world, _ws, _console, phone = room
    ack = err(phone.emit("propose", {"title": "Space", "sectors": ["27", "99X"]}), "bad_payload")
    assert "99X" in ack["error"]["message"]
    err(phone.emit("propose", {"title": "Space", "sectors": "27"}), "bad_payload")
    err(phone.emit("propose", {"title": "Space", "sectors": [str(i) for i in range(21)]}),
        "bad_payload")


def test_the_facilitator_links_a_domain_to_sectors(room):
    world, ws, console, phone = room
    state = ok(console.act("facilitate"))["state"]
    seed = state["domains"][0]
    assert seed["evidence"] is None
    console.received()
    ack = ok(console.act("moderate", domain_id=seed["domain_id"], action="link",
                         sectors=["86", "62"]))
    assert ack["sectors"] == ["86", "62"]
    pushed = console.received("state")[-1]
    linked = next(d for d in pushed["domains"] if d["domain_id"] == seed["domain_id"])
    assert [s["code"] for s in linked["evidence"]["sectors"]] == ["86", "62"]
    assert linked["evidence"]["sectors"][0]["name"] == "Human health activities"
    # Not for participants; not without sectors; unknown codes named.
    err(phone.emit("moderate", {"workshop_id": ws["id"], "domain_id": seed["domain_id"],
                                "action": "link", "sectors": ["86"]}), "forbidden")
    err(console.act("moderate", domain_id=seed["domain_id"], action="link"), "bad_payload")
    bad = err(console.act("moderate", domain_id=seed["domain_id"], action="link",
                          sectors=["86", "nope"]), "bad_payload")
    assert "nope" in bad["error"]["message"]
    # An empty list unlinks.
    ok(console.act("moderate", domain_id=seed["domain_id"], action="link", sectors=[]))
    state = ok(console.act("facilitate"))["state"]
    assert next(d for d in state["domains"]
                if d["domain_id"] == seed["domain_id"])["evidence"] is None
    with world.app.app_context():
        events = db.session.scalars(sa.select(models.Event).where(
            models.Event.kind == "link").order_by(models.Event.id)).all()
        assert [e.payload["sectors"] for e in events] == [["86", "62"], []]
        assert events[1].payload["before"] == ["86", "62"]


def test_the_json_export_carries_each_linked_domains_evidence(room):
    world, ws, _console, phone = room
    ack = ok(phone.emit("propose", {"title": "Smart grids", "sectors": ["35"]}))
    http = world.login()
    record = http.get(f"/f/w/{ws['id']}/export.json").json
    domain = next(d for d in record["domains"] if d["domain_id"] == ack["domain_id"])
    assert domain["sectors"] == ["35"]
    assert domain["evidence"]["sectors"][0]["code"] == "35"
    assert domain["evidence"]["sectors"][0]["rca"] > 0
    assert domain["evidence"]["source"] == "example-diagnosis.csv"
    assert domain["evidence"]["year"] == 2023
    assert record["diagnosis"]["region"] == "Demo Region"


# ---------------------------------------------------------------- the console's upload


def test_the_console_upload_loads_or_names_the_problem(world):
    world.facilitator()
    ws = world.workshop()
    http = world.login()
    page = http.get(f"/f/w/{ws['id']}/diagnosis")
    assert page.status_code == 200 and "No data loaded yet" in page.text
    bad = http.post(f"/f/w/{ws['id']}/diagnosis", data={
        "csrf_token": csrf_token(page.text), "region": "",
        "file": (io.BytesIO(SMALL.replace("30,2022\nNorth,J62", "x,2022\nNorth,J62").encode()),
                 "bad.csv")}, content_type="multipart/form-data")
    assert bad.status_code == 400 and "Row 6" in bad.text and "value" in bad.text
    assert count(world.app, models.Diagnosis) == 0
    good = http.post(f"/f/w/{ws['id']}/diagnosis", data={
        "csrf_token": csrf_token(page.text), "region": "Demo Region",
        "file": (io.BytesIO(EXAMPLE.read_bytes()), "example-diagnosis.csv")},
        content_type="multipart/form-data", follow_redirects=True)
    assert good.status_code == 200, good.text
    assert "Demo Region among 20 regions" in good.text
    assert count(world.app, models.Diagnosis) == 1
    # Without the CSRF token, or not the owner: refused.
    http.post(f"/f/w/{ws['id']}/diagnosis", data={
        "file": (io.BytesIO(SMALL.encode()), "x.csv")}, content_type="multipart/form-data")
    assert world.app.test_client().get(f"/f/w/{ws['id']}/diagnosis").status_code in (302, 401)


def test_a_record_import_restores_the_diagnosis_and_the_links(room):
    """Continuous EDP and partner regions import the record: the same evidence comes back."""
    from edp import record as records
    from edp.exports import json_record, snapshot
    from edp.models import Facilitator, Workshop

    world, ws, _console, phone = room
    ack = ok(phone.emit("propose", {"title": "Smart grids", "sectors": ["35", "27"]}))
    http = world.login()
    exported = http.get(f"/f/w/{ws['id']}/export.json").json
    records.validate(exported)  # the published schema holds
    with world.app.test_request_context():
        user = db.session.scalars(sa.select(Facilitator)).first()
        copy = records.import_record(json.loads(json.dumps(exported)), user)
        db.session.commit()
        again = json_record.record_dict(snapshot.read(db.session.get(Workshop, copy.id)))
    assert again["diagnosis"]["values"] == exported["diagnosis"]["values"]
    before = next(d for d in exported["domains"] if d["domain_id"] == ack["domain_id"])
    after = next(d for d in again["domains"] if d["title"] == "Smart grids")
    assert after["sectors"] == ["35", "27"]
    assert after["evidence"] == before["evidence"]
    assert records.canonical(again)["diagnosis"] == records.canonical(exported)["diagnosis"]
    # A record whose diagnosis breaks the schema is refused, naming the field.
    broken = json.loads(json.dumps(exported))
    broken["diagnosis"]["values"][0] = [0, 1]
    with world.app.test_request_context(), pytest.raises(records.RecordError) as refused:
        records.import_record(broken, db.session.scalars(sa.select(Facilitator)).first())
    assert "diagnosis.values[0]" in str(refused.value) or "diagnosis" in str(refused.value)


def test_every_export_carries_the_evidence_with_source_and_year(room, tmp_path):
    """CSV (the Domains table), XLSX (a Regional data sheet), Markdown and DOCX (a line per
    priority) beside the JSON record."""
    from openpyxl import load_workbook

    world, ws, console, phone = room
    ack = ok(phone.emit("propose", {"title": "Smart grids", "sectors": ["35", "27"]}))
    ok(console.act("phase", phase="decide"))
    ok(console.act("decide", domain_id=ack["domain_id"], rank=1,
                   rationale="The region already leads in electrical equipment."))
    http = world.login()
    csv_text = http.get(f"/f/w/{ws['id']}/export.csv").data.decode("utf-8-sig")
    table = pd.read_csv(io.StringIO(csv_text), dtype=str, keep_default_na=False)
    row = table[table.title == "Smart grids"].iloc[0]
    assert row["sectors"] == "35, 27"
    assert "RCA" in row["regional_data"] and "example-diagnosis.csv, 2023" in row["regional_data"]
    path = tmp_path / "export.xlsx"
    path.write_bytes(http.get(f"/f/w/{ws['id']}/export.xlsx").data)
    sheet = load_workbook(path)["Regional data"]
    rows = list(sheet.values)
    head = rows[0]
    body = [dict(zip(head, r)) for r in rows[1:]]
    assert [r["Sector"] for r in body] == ["35", "27"]
    assert all(r["Specialisation (RCA)"] > 0 and r["Source"] == "example-diagnosis.csv"
               and r["Year"] == 2023 for r in body)
    md = http.get(f"/f/w/{ws['id']}/export.md").data.decode()
    line = next(x for x in md.splitlines() if x.startswith("Regional data"))
    assert "Demo Region; source: example-diagnosis.csv, 2023" in line
    assert "35 Electricity, gas and steam supply: RCA" in line
    from docx import Document

    doc = Document(io.BytesIO(http.get(f"/f/w/{ws['id']}/export.docx").data))
    assert any(p.text.startswith("Regional data (Demo Region; source: example-diagnosis.csv, "
                                 "2023)") for p in doc.paragraphs)


def test_pairing_uses_the_sectors_and_strengths_of_both_regions():
    """Partner regions whose domains rest on the same sectors are complementary even without
    common SDG tags, and the brief names the sectors both are specialised in."""
    from edp import pairing

    def record(region: str, title: str, sectors: list[str], rcas: list[float]) -> dict:
        evidence = {"sectors": [{"code": c, "name": c, "rca": r} for c, r in zip(sectors, rcas)],
                    "region": region, "source": "s", "year": 2023}
        return {"workshop": {"region": region, "title": region, "code": "X", "language": "en",
                             "max_priorities": 5},
                "domains": [{"domain_id": 1, "title": title, "sdgs": [], "sectors": sectors,
                             "evidence": evidence}],
                "priorities": [{"domain_id": 1, "rank": 1, "title": title, "rationale": "r"}]}

    ours = record("Demo Region", "Smart grids for industrial parks", ["35", "27"], [1.8, 2.2])
    theirs = record("Partner", "Offshore wind supply chain", ["27", "30"], [1.4, 0.6])
    c = pairing.compare(ours, theirs)
    assert [comp.entry.title for comp in c.complementary] == [
        "Smart grids for industrial parks", "Offshore wind supply chain"]
    assert c.complementary[0].partners[0].common_sectors == ["27"]
    assert c.common_strengths == ["27"]
    out = c.to_dict()
    assert out["common_strengths"] == ["27"]
    assert out["ours"]["entries"][0]["strengths"] == ["35", "27"]
    from flask import Flask
    from flask_babel import Babel

    app = Flask(__name__)
    Babel(app)
    with app.app_context():
        steps = pairing.next_steps(c)
    assert any("same sectors (27)" in s for s in steps)
    assert any("specialised" in s and "27" in s for s in steps)


# ---------------------------------------------------------------- the schema


def test_the_migration_upgrades_and_downgrades_on_both_databases(db_url):
    """The diagnosis table and the domains' sectors: upgrade, no drift, down one step (gone),
    up again — and the real command loads a file there."""
    import os
    import subprocess

    from conftest import BIN, POSTGRES_URL, reset_postgres

    def edp(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / "edp"), *args], env=env, capture_output=True, text=True,
                              timeout=120, stdin=subprocess.DEVNULL, check=False)

    if db_url == POSTGRES_URL:
        reset_postgres(POSTGRES_URL)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDP_")}
    env.update({"EDP_DATABASE_URL": db_url, "EDP_SECRET_KEY": "cli-test",
                "EDP_PUBLIC_URL": "http://edp.example"})
    migrations = str(ROOT / "migrations")
    assert edp("init-db").returncode == 0
    check = edp("db", "check", "-d", migrations)
    assert check.returncode == 0, check.stdout + check.stderr
    down = edp("db", "downgrade", "-d", migrations, "0904dacc9c20")
    assert down.returncode == 0, down.stderr
    engine = sa.create_engine(db_url)
    try:
        inspector = sa.inspect(engine)
        assert "diagnosis" not in inspector.get_table_names()
        assert "sectors" not in {c["name"] for c in inspector.get_columns("domain")}
    finally:
        engine.dispose()
    assert edp("init-db").returncode == 0
    assert edp("db", "check", "-d", migrations).returncode == 0
    env["EDP_PASSWORD"] = "a-long-password-1"
    assert edp("facilitator", "add", "m@example.org").returncode == 0
    made = edp("workshop", "create", "--template", str(ROOT / "workshops" /
                                                       "01-s3-priority-setting.toml"),
               "--facilitator", "m@example.org")
    code = json.loads(made.stdout)["code"]
    loaded = edp("workshop", "diagnosis", code, "--file", str(EXAMPLE))
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout)["sectors"] == 40
    bad = edp("workshop", "diagnosis", code, "--file", str(EXAMPLE), "--region", "Atlantis")
    assert bad.returncode != 0 and "Atlantis" in bad.stderr and "Traceback" not in bad.stderr


def test_the_next_round_keeps_the_diagnosis_and_the_carried_domains_sectors(room):
    """Continuous EDP: the region's data and each carried domain's sectors go on."""
    from edp import processes
    from edp import workshop as rules
    from edp.models import Workshop

    world, ws, console, _phone = room
    seed = ok(console.act("facilitate"))["state"]["domains"][0]
    ok(console.act("moderate", domain_id=seed["domain_id"], action="link", sectors=["27"]))
    with world.app.test_request_context():
        nxt = processes.new_round(db.session.get(Workshop, ws["id"]))
        db.session.commit()
        carried = next(d for d in rules.domains_of(nxt) if d.title == seed["title"])
        assert carried.sectors == ["27"]
        state = rules.public_state(nxt)
        assert state["workshop"]["diagnosis"]["region"] == "Demo Region"
        item = next(d for d in state["domains"] if d["domain_id"] == carried.id)
        assert item["evidence"]["sectors"][0]["code"] == "27"
        assert item["evidence"]["sectors"][0]["rca"] > 0


def test_a_merge_brings_the_merged_proposals_sectors_along(room):
    world, ws, console, phone = room
    a = ok(phone.emit("propose", {"title": "Smart grids", "sectors": ["35"]}))["domain_id"]
    b = ok(phone.emit("propose", {"title": "Grid equipment", "sectors": ["27", "35"]}))["domain_id"]
    ok(console.act("moderate", domain_id=b, action="merge", into=a))
    state = ok(console.act("facilitate"))["state"]
    target = next(d for d in state["domains"] if d["domain_id"] == a)
    assert target["sectors"] == ["35", "27"]
    assert [s["code"] for s in target["evidence"]["sectors"]] == ["35", "27"]
    with world.app.app_context():
        ev = db.session.scalars(sa.select(models.Event).where(
            models.Event.kind == "moderate")).all()[-1]
        assert ev.payload["sectors_added"] == ["27"]
