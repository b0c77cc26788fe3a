"""Exports of the method beyond voting (issue 16): the shared vision heads the reports, each
priority shows its SWOT and the funders' signal beside support, and the JSON record, the CSV
and the workbook carry all of it (hidden statements and SWOT items kept, marked, in the JSON
record only)."""
from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from test_exports import (
    ADVERT,
    BROAD,
    HIDDEN_SWOT,
    NARROW,
    SWOT_ITEMS,
    YOUNG,
    assert_anonymous,
    build_method,
    export,
    live_results,
    tr,
)

from edp.record_schema import first_error


@pytest.fixture
def built(app, world) -> dict:
    return build_method(app, world)


def words(app, *texts: str) -> list[str]:
    return [tr(app, {}, t) for t in texts]


def test_json_record_holds_the_vision_reactions_swot_and_funding(app, built):
    record = json.loads(export(app, built["id"], "json")[0])
    assert first_error(record) is None, first_error(record)
    assert record["version"] == 3
    ids = built["statements"]
    vision = {s["statement_id"]: s for s in record["vision"]}
    assert [s["statement_id"] for s in record["vision"]] == sorted(vision)
    for s in record["vision"]:
        assert {"statement_id", "text", "agree", "disagree", "pass", "adopted"} <= set(s)
    broad, narrow = vision[ids["broad"]], vision[ids["narrow"]]
    assert (broad["text"], broad["agree"], broad["disagree"], broad["pass"]) == (BROAD, 7, 0, 1)
    assert broad["adopted"] and vision[ids["young"]]["adopted"] and not narrow["adopted"]
    assert (narrow["agree"], narrow["disagree"]) == (2, 6)
    assert broad["agreement"] > narrow["agreement"]
    # The facilitator's record: every helix, even civil society's single reactor.
    assert broad["by_helix"]["civil_society"] == {"agree": 0, "disagree": 0, "pass": 1}
    # A hidden statement stays in the record, marked, never adopted.
    advert = vision[ids["advert"]]
    assert advert["text"] == ADVERT and advert["hidden"] and not advert["adopted"]
    assert vision[ids["young"]]["participant"] is None  # the facilitator's own statement
    # Reactions by participant reference, as the ballots are.
    refs = {p["ref"]: p["helix"] for p in record["participants"]}
    assert set(record["reactions"]) == set(refs)
    assert sum(len(e["statements"]) for e in record["reactions"].values()) == 8 + 8 + 4
    assert record["reactions"]["p2"] == {"helix": "business", "statements": {
        str(ids["broad"]): "agree", str(ids["narrow"]): "agree"}}

    domains = {d["domain_id"]: d for d in record["domains"]}
    a = domains[built["a"]]
    # The domain's own items in the order they were written, each with its author's helix.
    assert [(i["quadrant"], i["text"], i["helix"]) for i in a["swot"] if not i.get("hidden")] == [
        ("threat", SWOT_ITEMS[0][3], "civil_society"), ("strength", SWOT_ITEMS[1][3], "academia"),
        ("weakness", SWOT_ITEMS[2][3], "business"), ("opportunity", SWOT_ITEMS[3][3],
                                                     "government")]
    hidden = [i for i in a["swot"] if i.get("hidden")]
    assert [i["text"] for i in hidden] == [HIDDEN_SWOT]
    assert a["funding"] == {"yes": 1, "maybe": 1, "no": 0,
                            "instruments": ["ERDF 2028 call", "Regional development bank"]}
    assert domains[built["b"]]["funding"]["no"] == 1
    # Each funder's signal by reference; the results carry the counts.
    signals = {ref: e["signals"] for ref, e in record["funding"].items()}
    assert {refs[r] for r in signals} == {"funders"}
    assert sorted(s["signal"] for e in signals.values() for s in e.values()) == [
        "maybe", "no", "yes", "yes"]
    ranking = {e["domain_id"]: e for e in record["results"]["ranking"]}
    assert ranking[built["a"]]["funding"] == {"yes": 1, "maybe": 1, "no": 0}
    assert record["results"] == live_results(app, built["id"])
    # The first priority's evidence: its visible SWOT and the funders' signal beside support.
    first = record["priorities"][0]["evidence"]
    assert HIDDEN_SWOT not in json.dumps(first)
    assert len(first["swot"]) == 4 and first["funding"]["yes"] == 1
    assert_anonymous(json.dumps(record), built)


def test_markdown_report_opens_with_the_vision_and_shows_swot_and_funding(app, built):
    md = export(app, built["id"], "md")[0].decode()
    shared, region, results = words(app, "Shared vision", "Region", "Results")
    lines = md.splitlines()
    assert lines[0].startswith("# ")
    # The adopted statements head the report, before the facts of the cover.
    head = md.index(f"### {shared}")
    assert head < md.index(f"**{region}:**")
    block = md[head:md.index(f"**{region}:**")]
    assert f"- {BROAD}" in block and f"- {YOUNG}" in block
    assert NARROW not in block
    assert ADVERT not in md and HIDDEN_SWOT not in md  # hidden: out of the reports
    # The results table has the funders' column beside support.
    funding, = words(app, "Funders: yes / maybe / no")
    table = md[md.index(f"## {results}"):]
    assert funding in table.splitlines()[2]
    title_a = built["titles"][built["a"]]
    row = next(line for line in table.splitlines() if f"| {title_a} |" in line)
    assert "| 1 / 1 / 0 |" in row
    # The first priority: the funders' signal and its SWOT by quadrant, with helices.
    section = md[md.index(f"### 1. {title_a}"):md.index(f"### 2. {built['titles'][built['b']]}")]
    assert ("Funders' signal: Yes 1 · Maybe 1 · No 0 (instruments: ERDF 2028 call; "
            "Regional development bank)") in section
    order = [section.index(f"**{h}:**") for h in ("Strengths", "Weaknesses", "Opportunities",
                                                   "Threats")]
    assert order == sorted(order)
    assert f"- {SWOT_ITEMS[1][3]} — *Academia and research*" in section
    assert f"- {SWOT_ITEMS[0][3]} — *Civil society*" in section
    # The vision statements with their reactions, adopted first.
    statements = md[md.index("## Vision statements"):md.index(f"## {results}")]
    assert statements.index(NARROW) > statements.index(BROAD)
    assert f"| {NARROW} | 2 | 6 | 0 |" in statements
    # The timeline tells the method's events in words.
    assert "Adopted into the shared vision: " + YOUNG in md
    assert "SWOT items: 6 (" in md  # the hidden one was written too
    assert_anonymous(md, built)


def test_docx_report_opens_with_the_vision(app, built):
    from docx import Document

    doc = Document(io.BytesIO(export(app, built["id"], "docx")[0]))
    headings = [p.text for p in doc.paragraphs if p.style.name.startswith(("Heading", "Title"))]
    assert headings[1] == tr(app, {}, "Shared vision")
    texts = [p.text for p in doc.paragraphs]
    start = texts.index(headings[1])
    assert {BROAD, YOUNG} <= set(texts[start + 1:start + 3])
    body = "\n".join(texts)
    assert "Funders' signal: Yes 1 · Maybe 1 · No 0" in body
    assert SWOT_ITEMS[3][3] in body and HIDDEN_SWOT not in body and ADVERT not in body
    results = next(t for t in doc.tables if t.rows[0].cells[-2].text == "Funders: yes / maybe / no")
    assert {row.cells[-2].text for row in results.rows[1:]} >= {"1 / 1 / 0", "0 / 0 / 1"}


def test_csv_and_workbook_carry_funding_vision_and_swot(app, built):
    frame = pd.read_csv(io.BytesIO(export(app, built["id"], "csv")[0]), encoding="utf-8-sig",
                        keep_default_na=False).set_index("domain_id")
    a = frame.loc[built["a"]]
    assert (a["funding_yes"], a["funding_maybe"], a["funding_no"]) == (1, 1, 0)
    assert a["funding_instruments"] == "ERDF 2028 call; Regional development bank"
    assert frame.loc[built["b"]]["funding_no"] == 1

    sheets = pd.read_excel(io.BytesIO(export(app, built["id"], "xlsx")[0]), sheet_name=None)
    assert list(sheets)[:3] == ["Priorities", "Domains", "Deliberation"]
    assert {"Vision", "SWOT"} <= set(sheets)
    vision = sheets["Vision"]
    assert list(vision["Statement"])[:2] == [YOUNG, BROAD]  # adopted, broadest agreement
    assert ADVERT not in set(vision["Statement"])
    assert list(vision.columns) == ["Statement id", "Statement", "Agree", "Disagree", "Pass",
                                    "Agreement across helices", "Adopted"]
    swot = sheets["SWOT"]
    assert len(swot) == len(SWOT_ITEMS) and HIDDEN_SWOT not in set(swot["Text"])
    assert set(swot["Quadrant"]) == {"Strength", "Weakness", "Opportunity", "Threat"}
    assert "Academia and research" in set(swot["Helix"])
    priorities = sheets["Priorities"].set_index("Domain")
    assert priorities.loc[built["titles"][built["a"]], "Funders: yes"] == 1


def test_a_workshop_without_the_method_reports_as_before(app, world):
    """No statements, no SWOT, no funding helix: no vision heading, no SWOT, no funders'
    column."""
    world.facilitator()
    info = world.workshop(helices=[{"key": "business", "label": "Business"},
                                   {"key": "government", "label": "Government"}])
    md = export(app, info["id"], "md")[0].decode()
    assert "Shared vision" not in md and "Vision statements" not in md
    assert "Funders: yes / maybe / no" not in md and "SWOT" not in md
    record = json.loads(export(app, info["id"], "json")[0])
    assert record["vision"] == [] and record["reactions"] == {} and record["funding"] == {}
    assert all(d["swot"] == [] for d in record["domains"])
