"""Exports as a package (issue 15): the words of the pages, a readable timer in the timeline,
one charset per text response, and one writer per format shared by every export."""
from __future__ import annotations

import ast
import io
from pathlib import Path

import pandas as pd
from test_exports import build_agri, build_dot, export

from edp import workshop as rules
from edp.extensions import db
from edp.models import Workshop

ROOT = Path(__file__).resolve().parent.parent


def _words(app, language: str, text: str) -> str:
    from flask_babel import force_locale, gettext

    with app.test_request_context(), force_locale(language):
        return gettext(text)


def test_exports_say_helices_disagree_as_the_pages_do(app, world):
    built = build_dot(app, world)
    with app.app_context():
        ranking = rules.compute_results(db.session.get(Workshop, built["id"]))["ranking"]
    assert any(e.get("polarised") and not e.get("one_helix") for e in ranking)
    md = export(app, built["id"], "md")[0].decode()
    assert "Helices disagree" in md and "Polarised" not in md
    sheets = pd.read_excel(io.BytesIO(export(app, built["id"], "xlsx")[0]), sheet_name=None)
    assert "Helices disagree" in sheets["Priorities"].columns
    assert not any("Polarised" in str(c) for frame in sheets.values() for c in frame.columns)


def test_spanish_exports_use_the_translated_page_words(app, world):
    built = build_agri(app, world)
    words = _words(app, "es", "Helices disagree")
    assert words != "Helices disagree"  # the pages' Spanish words
    sheets = pd.read_excel(io.BytesIO(export(app, built["id"], "xlsx")[0]), sheet_name=None)
    assert words in sheets["Domains"].columns


def test_timeline_tells_the_countdown_in_words(app, world):
    built = build_dot(app, world)
    with app.app_context():
        ws = db.session.get(Workshop, built["id"])
        rules.set_phase(ws, "decide", seconds=300)
        rules.set_phase(ws, "decide", seconds=0)
        db.session.commit()
    md = export(app, built["id"], "md")[0].decode()
    assert "Countdown started (Decide): 5 min" in md
    assert "Countdown stopped (Decide)" in md
    assert "- timer —" not in md
    events = pd.read_excel(io.BytesIO(export(app, built["id"], "xlsx")[0]), sheet_name="Events")
    timers = events[events["Event"] == "timer"]
    assert len(timers) == 2 and not (timers["What happened"] == "timer").any()


def test_text_exports_send_one_charset(app, world):
    world.facilitator()
    info = world.workshop()
    http = world.login()
    for fmt, kind in (("csv", "text/csv"), ("md", "text/markdown")):
        response = http.get(f"/f/w/{info['id']}/export.{fmt}")
        assert response.status_code == 200
        assert response.headers["Content-Type"] == f"{kind}; charset=utf-8"


def _functions(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield node.name, node.end_lineno - node.lineno + 1


def test_exports_are_a_package_of_short_functions():
    package = ROOT / "edp" / "exports"
    assert (package / "__init__.py").exists() and not (ROOT / "edp" / "exports.py").exists()
    longest = max((n, name, p.name) for p in package.glob("*.py") for name, n in _functions(p))
    assert longest[0] <= 60, longest


def test_rounds_and_brief_use_the_public_writers():
    """The comparison of rounds and the cooperation brief write through the shared writers,
    never through private helpers of the workshop export."""
    for name in ("rounds_export.py", "pairing.py"):
        tree = ast.parse((ROOT / "edp" / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("exports"):
                assert not [a.name for a in node.names if a.name.startswith("_")], name
        source = (ROOT / "edp" / name).read_text()
        assert "def _md_" not in source and "ExcelWriter" not in source and "Document()" not in source
