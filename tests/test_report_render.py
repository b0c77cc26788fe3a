"""The DOCX report as a reader sees it: rendered by LibreOffice to PDF and page images.

A Spanish workshop with long domain names is exported, LibreOffice (Debian's
`libreoffice-writer-nogui`) turns the DOCX into a PDF, `pdftotext` (poppler-utils) reads the
words back line by line, and `pdftoppm` draws the pages (saved under tests/artifacts/ to look
at). No word of a domain title or a column header may be broken across lines, and the first
page must carry the region, the participation by helix and the short list.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, TEMPLATE, World, make_app, missing
from test_exports import export

from edp import workshop as rules
from edp.extensions import db
from edp.models import Workshop

ARTIFACTS = ROOT / "tests" / "artifacts" / "report"
REGION = "Región de Antofagasta"
LONG = [
    "Hidrógeno verde y almacenamiento energético para la industria pesada",
    "Manufactura avanzada para la transición energética",
    "Economía circular de la minería y recuperación de relaves",
    "Turismo de intereses especiales en el desierto de Atacama",
    "Servicios digitales para la salud pública",
]
VISION = "En 2035 la región exporta energía limpia y el conocimiento para producirla."
# The results table's column headers, in Spanish.
HEADERS = ["Dominio", "Puntuación", "Consenso", "Votantes", "Notas"]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if not path:
        package = "libreoffice-writer-nogui" if name == "soffice" else "poppler-utils"
        missing(name, f"apt-get install -y {package}")
    return path


def build_long(app, world) -> dict:
    """Spanish, dot voting, five helices voting, three priorities with long names, an adopted
    vision statement, SWOT items and funders' signals."""
    from edp import method

    world.facilitator()
    info = world.workshop(template=TEMPLATE, language="es", region=REGION,
                          title="Taller de especialización inteligente 2025",
                          domains=[{"title": t, "description": "Descripción breve."} for t in LONG])
    with app.app_context():
        ws = db.session.get(Workshop, info["id"])
        method.adopt(ws, method.facilitator_statement(ws, VISION).id, True)
        rules.set_phase(ws, "propose")
        helices = ["government", "business", "business", "academia", "civil_society",
                   "environment", "funders"]
        people = [rules.join(ws.code, h)[0] for h in helices]
        rules.set_phase(ws, "discuss")
        ids = [d.id for d in rules.domains_of(ws, rules.VOTABLE)]
        method.swot(people[3], ids[0], "strength", "Dos laboratorios universitarios.")
        method.swot(people[1], ids[0], "threat", "Regiones vecinas avanzan más rápido.")
        method.fund(people[6], ids[0], "yes", "Programa regional FEDER")
        rules.set_phase(ws, "vote")
        ballots = [{0: 5, 1: 3, 2: 2}, {0: 4, 1: 4, 3: 2}, {1: 5, 0: 3}, {0: 5, 2: 5},
                   {2: 4, 3: 3, 4: 3}, {2: 5, 0: 5}, {1: 5, 4: 2}]
        for p, ballot in zip(people, ballots):
            for k, points in ballot.items():
                rules.vote(p, ids[k], points)
        db.session.commit()
        rules.set_phase(ws, "results")
        rules.set_phase(ws, "decide")
        for rank, k in enumerate((0, 1, 2), start=1):
            rules.decide(ws, ids[k], rank, "Masa crítica, empresas tractoras y demanda global.",
                         ["Empresas en la cadena de valor"])
        db.session.commit()
    return info


def render(docx: bytes, workdir: Path) -> tuple[list[str], list[Path]]:
    """(text of each page, PNG of each page) of the DOCX as LibreOffice lays it out."""
    soffice, pdftotext, pdftoppm = _tool("soffice"), _tool("pdftotext"), _tool("pdftoppm")
    source = workdir / "report.docx"
    source.write_bytes(docx)
    profile = workdir / "lo-profile"
    subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(workdir), str(source)],
                   check=True, capture_output=True, timeout=120)
    pdf = workdir / "report.pdf"
    assert pdf.exists(), "LibreOffice made no PDF"
    text = subprocess.run([pdftotext, str(pdf), "-"], check=True,
                          capture_output=True, text=True, timeout=60).stdout
    subprocess.run([pdftoppm, "-png", "-r", "60", str(pdf), str(workdir / "page")],
                   check=True, timeout=120)
    return text.split("\f"), sorted(workdir.glob("page-*.png"))


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Rendered once for the module, on SQLite: the layout does not depend on the database."""
    tmp = tmp_path_factory.mktemp("report")
    app = make_app(f"sqlite:///{tmp / 'test.sqlite3'}")
    info = build_long(app, World(app))
    pages, images = render(export(app, info["id"], "docx")[0], tmp)
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    for made in [*images, tmp / "report.pdf"]:
        shutil.copy(made, ARTIFACTS / made.name)
    return pages


def test_no_word_of_a_title_or_header_is_split(rendered):
    tokens = [t.lower() for t in re.findall(r"\w+", "\n".join(rendered))]
    wanted = {w.lower() for t in LONG + HEADERS for w in re.findall(r"\w+", t) if len(w) > 3}
    # Every word appears whole...
    assert not wanted - set(tokens), sorted(wanted - set(tokens))
    # ...and none is cut in two or three pieces on consecutive lines ("Hidróge" / "no").
    for n in (2, 3):
        for parts in zip(*(tokens[k:] for k in range(n))):
            assert "".join(parts) not in wanted, f"split word: {' / '.join(parts)}"


def test_cover_carries_region_participation_and_short_list(rendered):
    cover = " ".join(rendered[0].split())
    assert cover.index(VISION) < cover.index(REGION)  # the adopted vision heads the report
    assert REGION in cover
    for helix in ("Administración pública", "Empresas", "Academia e investigación"):
        assert helix in cover
    assert "Participantes" in cover
    for rank, title in enumerate(LONG[:3], start=1):
        assert str(rank) in cover
        assert all(w in cover for w in title.split()), title
