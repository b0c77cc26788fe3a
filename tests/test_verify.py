"""`edp workshop verify CODE`: the event log replayed against the stored tables.

Run in-process with Flask's CLI runner on SQLite and PostgreSQL (the `app` fixture). A workshop
driven through the rules verifies; a row changed in the database behind the rules' back (no
event) makes the command exit 1 and name what differs; an unknown code exits 2.
"""
from __future__ import annotations

import json
import os
import subprocess

import pytest
import sqlalchemy as sa
from conftest import BIN

from edp import workshop as rules
from edp.extensions import db
from edp.models import Facilitator, Workshop
from edp.verify import EXIT_DIFFERENT, EXIT_UNKNOWN, verify_command

HELICES = ["government", "business", "business", "academia", "civil_society", "funders",
           "government", "academia"]


def build(app, world, method: str) -> dict:
    """A whole workshop through the rules: proposals, ballots changed, a hide and a merge
    after the vote (dot points given back and moved), priorities decided, re-ranked and one
    taken back."""
    world.facilitator()
    info = world.workshop(method=method, cap=6)
    with app.app_context():
        ws = db.session.get(Workshop, info["id"])
        rules.set_phase(ws, "propose")
        people = [rules.join(ws.code, h, name=f"P{k}")[0] for k, h in enumerate(HELICES)]
        rules.propose(people[1], "Hidrógeno verde", "Electrolizadores.")
        rules.propose(people[3], "Green hydrogen", "Duplicate.")
        db.session.commit()
        rules.set_phase(ws, "vote")
        ids = [d.id for d in rules.domains_of(ws, rules.VOTABLE)]
        for k, p in enumerate(people):
            mine = ids[k % len(ids):] + ids[: k % len(ids)]
            if method == "dot":
                rules.vote(p, mine[0], 3)
                rules.vote(p, mine[1], 2)
                rules.vote(p, mine[0], 4)  # changed
                rules.vote(p, ids[-1], 3)
            elif method == "score":
                for c in ws.criteria:
                    rules.score(p, mine[0], c["key"], 1 + k % 5)
                rules.score(p, mine[1], ws.criteria[0]["key"], 5)
            else:
                rules.rank(p, mine)
                rules.rank(p, mine[:3])  # changed
        db.session.commit()
        rules.moderate(ws, ids[-1], "merge", into=ids[-2])
        rules.moderate(ws, ids[0], "hide")
        rules.set_phase(ws, "decide")
        rules.decide(ws, ids[1], 1, "Strong everywhere.", ["Patents"], ["Horizon Europe"])
        rules.decide(ws, ids[2], 1, "Funders ready.", [{"name": "Jobs", "baseline": "10"}])
        rules.decide(ws, ids[3], 3, "Third.")
        rules.undecide(ws, ids[2])
        db.session.commit()
        info["ids"] = ids
    return info


def verify(app, code: str):
    return app.test_cli_runner().invoke(verify_command, [code], catch_exceptions=False)


def execute(app, sql: str, **params) -> None:
    """A change made directly in the database, with no event: what verify must catch."""
    with app.app_context():
        db.session.execute(sa.text(sql), params)
        db.session.commit()


def domain_title(app, domain_id: int) -> str:
    from edp.models import Domain

    with app.app_context():
        return db.session.get(Domain, domain_id).title


@pytest.mark.parametrize("method", ["dot", "score", "rank"])
def test_a_workshop_run_through_the_rules_verifies(app, world, method):
    info = build(app, world, method)
    out = verify(app, info["code"])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[0].startswith(f"Workshop {info['code']} ")
    assert "events replayed" in out.output
    assert ("OK: the domains, ballots, results, priorities, vision, SWOT items and funders' "
            "signals match the event log.") in out.output


def test_a_vote_changed_in_the_database_is_named(app, world):
    info = build(app, world, "dot")
    ids = info["ids"]
    with app.app_context():
        pid, did, points = db.session.execute(sa.text(
            "SELECT participant_id, domain_id, points FROM vote WHERE workshop_id = :w "
            "ORDER BY id LIMIT 1"), {"w": info["id"]}).one()
    assert did in ids
    execute(app, "UPDATE vote SET points = :p WHERE participant_id = :pid AND domain_id = :d",
            p=points + 5, pid=pid, d=did)
    out = verify(app, info["code"])
    assert out.exit_code == EXIT_DIFFERENT == 1, out.output
    title = domain_title(app, did)
    assert "DIFFERENT" in out.output
    ballot = f'ballots: participant {pid}, domain {did} "{title}": stored {points + 5}, ' \
             f"event log {points}"
    assert ballot in out.output, out.output
    # The published numbers differ too, and say for which domain.
    assert f'results: domain {did} "{title}": score' in out.output, out.output
    assert "OK:" not in out.output


def test_a_deleted_ballot_a_moved_domain_and_a_rewritten_priority_are_named(app, world):
    info = build(app, world, "rank")
    ids = info["ids"]
    execute(app, "DELETE FROM ranking WHERE id = (SELECT min(id) FROM ranking "
                 "WHERE workshop_id = :w)", w=info["id"])
    execute(app, "UPDATE domain SET status = 'approved' WHERE id = :d", d=ids[0])
    execute(app, "UPDATE priority SET rationale = 'Rewritten.' WHERE domain_id = :d", d=ids[1])
    out = verify(app, info["code"])
    assert out.exit_code == 1, out.output
    first, second = domain_title(app, ids[0]), domain_title(app, ids[1])
    assert (f'domains: domain {ids[0]} "{first}": stored {{\'title\': {first!r}, '
            f"'status': 'approved'}}, event log {{'title': {first!r}, 'status': 'hidden'}}"
            in out.output), out.output
    assert ", ranking: stored nothing, event log [" in out.output
    assert f'priorities: domain {ids[1]} "{second}": stored' in out.output
    assert "'Rewritten.'" in out.output and "'Strong everywhere.'" in out.output
    # A hidden domain back in the stored ranking: the results name it too.
    assert f'results: domain {ids[0]} "{first}" in the ranking' in out.output


def test_a_participant_moved_to_another_helix_is_named(app, world):
    info = build(app, world, "score")
    with app.app_context():
        pid = db.session.execute(sa.text(
            "SELECT id FROM participant WHERE workshop_id = :w AND helix = 'academia' "
            "ORDER BY id LIMIT 1"), {"w": info["id"]}).scalar_one()
    execute(app, "UPDATE participant SET helix = 'business' WHERE id = :p", p=pid)
    out = verify(app, info["code"])
    assert out.exit_code == 1, out.output
    assert f"participants: participant {pid} helix: stored 'business', event log 'academia'" \
        in out.output, out.output
    assert "results: participation" in out.output


def test_the_vision_swot_and_funders_signals_verify_and_changes_are_named(app, world):
    """The method's rows replay from their events; each changed behind the rules' back is
    named, and a funder's signal changed shows in the published results too."""
    from test_exports import build_method

    built = build_method(app, world)
    out = verify(app, built["code"])
    assert out.exit_code == 0, out.output
    assert "Note:" not in out.output  # every kind of event is known
    a, statements = built["a"], built["statements"]
    with app.app_context():
        funder = db.session.execute(sa.text(
            "SELECT participant_id FROM funding WHERE domain_id = :d AND signal = 'yes'"),
            {"d": a}).scalar_one()
        reactor = db.session.execute(sa.text(
            "SELECT participant_id FROM reaction WHERE statement_id = :s ORDER BY id LIMIT 1"),
            {"s": statements["narrow"]}).scalar_one()
    execute(app, "UPDATE funding SET signal = 'no' WHERE domain_id = :d AND participant_id = :p",
            d=a, p=funder)
    execute(app, "UPDATE reaction SET reaction = 'pass' WHERE statement_id = :s "
                 "AND participant_id = :p", s=statements["narrow"], p=reactor)
    execute(app, "UPDATE statement SET adopted = :t WHERE id = :s", t=True,
            s=statements["narrow"])
    execute(app, "UPDATE swot_item SET text = 'Rewritten.' WHERE id = :i", i=built["items"][0])
    out = verify(app, built["code"])
    assert out.exit_code == EXIT_DIFFERENT, out.output
    title = domain_title(app, a)
    assert (f'funding: participant {funder}, domain {a} "{title}": stored '
            "{'signal': 'no', 'instrument': 'ERDF 2028 call'}, event log "
            "{'signal': 'yes', 'instrument': 'ERDF 2028 call'}") in out.output, out.output
    assert (f'results: domain {a} "{title}": funding: stored '
            "{'yes': 0, 'maybe': 1, 'no': 1}, event log {'yes': 1, 'maybe': 1, 'no': 0}"
            ) in out.output, out.output
    assert (f"vision: participant {reactor}, reaction to statement {statements['narrow']}: "
            "stored 'pass', event log ") in out.output
    assert f"vision: statement {statements['narrow']}: stored " in out.output
    assert f'swot: item {built["items"][0]} on domain {a} "{title}": stored ' in out.output
    assert "'Rewritten.'" in out.output


def test_events_of_a_later_version_are_noted_not_counted(app, world):
    info = build(app, world, "dot")
    execute(app, "INSERT INTO event (workshop_id, at, kind, actor_role, payload) "
                 "VALUES (:w, :at, 'hologram', 'system', '{}')", w=info["id"],
            at="2030-01-01 00:00:00")
    out = verify(app, info["code"])
    assert out.exit_code == 0, out.output
    assert "Note: events of kinds this version does not replay: hologram (1)" in out.output


def test_an_unknown_code_exits_2(app, world):
    world.facilitator()
    out = verify(app, "NOPE99")
    assert out.exit_code == EXIT_UNKNOWN == 2
    assert "no workshop with code NOPE99" in out.output
    assert "Traceback" not in out.output


def test_an_imported_record_verifies(app, world):
    """A workshop recreated from its JSON record (`edp workshop import`) replays to itself."""
    from edp import exports, record

    info = build(app, world, "dot")
    with app.app_context():
        data = exports.build(db.session.get(Workshop, info["id"]), "json")[0]
        user = db.session.scalar(sa.select(Facilitator))
        copy = record.import_record(record.load(data), user)
        db.session.commit()
        code = copy.code
    assert json.loads(data)["events"]
    out = verify(app, code)
    assert out.exit_code == 0, out.output
    assert "OK:" in out.output


def test_the_edp_command_runs_it(app, world):
    """`edp workshop verify` as a user types it (a subprocess: `edp.cli` patches gevent)."""
    info = build(app, world, "score")
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDP_")}
    env.update({"EDP_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
                "EDP_SECRET_KEY": "verify-test"})

    def edp(*args):
        return subprocess.run([str(BIN / "edp"), "workshop", "verify", *args], env=env,
                              capture_output=True, text=True, timeout=120, check=False)

    ok, unknown = edp(info["code"]), edp("NOPE99")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.rstrip().endswith("match the event log."), ok.stdout
    assert unknown.returncode == 2
    assert "no workshop with code NOPE99" in unknown.stderr
    execute(app, "UPDATE score SET value = 6 - value WHERE workshop_id = :w", w=info["id"])
    changed = edp(info["code"])
    assert changed.returncode == 1, changed.stdout
    assert "ballots: participant" in changed.stdout and "criterion" in changed.stdout


# --------------------------------------------------------------------------- the protocol page


def test_protocol_page_names_every_event_error_and_event_kind():
    """docs/protocol.md documents every Socket.IO event a client can send, every broadcast, every
    error code and every kind of `Event` the rules record (found in the code, not listed here)."""
    import re

    from conftest import ROOT

    from edp import processes, sockets

    doc = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    code = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "edp").rglob("*.py"))
    rows = set(re.findall(r"^\| `([a-z_]+)`", doc, flags=re.M))  # first cells of the tables
    client_events = set(sockets.SCHEMAS) - {"*"}
    broadcasts = set(re.findall(r'socketio\.emit\(\s*"([a-z_]+)"', code))
    errors = set(rules.MESSAGES) | set(processes.MESSAGES)
    kinds = set(re.findall(r'record\(\s*\w+,\s*"([a-z_]+)"', code))
    assert {"join", "vote", "decide"} <= client_events and "timer" in kinds
    assert "ballots_exist" in errors and "session_ended" in broadcasts
    missing = {name: sorted(found - rows) for name, found in (
        ("client events", client_events), ("broadcasts", broadcasts),
        ("event kinds", kinds))}
    missing["error codes"] = sorted(e for e in errors if f"`{e}`" not in doc)
    assert not any(missing.values()), missing
