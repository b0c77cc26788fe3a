#!/usr/bin/env python3
"""Per-call cost of the server's hot paths at a given workshop size, in one process.

    .venv/bin/python bench/hotpaths.py                    # 3,000 participants, 12 domains
    .venv/bin/python bench/hotpaths.py --participants 1000 --domains 40

Builds a dot-voting workshop through `edp.workshop` (as bench/exports.py does) on a temporary
SQLite database and times, best of `--repeat`:

- `compute_results` (what every `results` broadcast costs), split into `ballot_frames` (reading
  the ballots through the ORM) and `analysis.results` (pandas);
- the same ballots read through a Core connection instead (no ORM rows);
- one SQL aggregate per (domain, helix), the input an aggregate or incremental tally needs;
- `public_state` (every `state` broadcast computes it twice) and `participant_state` (every join
  ack);
- `helix_counts` (every join's `counts` broadcast);
- a whole `vote` (rules + commit), as the handler runs it;
- the JSON size of the full `results` payload and of a light one for phones.

Prints milliseconds; exits non-zero only when it cannot run.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from exports import build_workshop  # noqa: E402


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def light(results: dict) -> dict:
    return {"method": results["method"],
            "ranking": [{"domain_id": e["domain_id"], "score": round(e["score"], 3),
                         "balanced_score": round(e["balanced_score"], 3), "voters": e["voters"]}
                        for e in results["ranking"]],
            "participation": results["participation"], "totals": results.get("totals")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--participants", type=int, default=3000)
    ap.add_argument("--domains", type=int, default=12)
    ap.add_argument("--comments", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--method", choices=("dot", "score"), default="dot",
                    help="score: 4 domains x 5 criteria scored per participant; the dot-only "
                         "checks (Core read, aggregate, vote) are left out")
    args = ap.parse_args(argv)

    import pandas as pd
    import sqlalchemy as sa

    from edp import analysis, create_app
    from edp import workshop as rules
    from edp.extensions import db
    from edp.models import Participant, Score, Vote

    tmp = Path(tempfile.mkdtemp(prefix="edp-bench-hot-"))
    try:
        app = create_app({"TESTING": True, "SECRET_KEY": "bench",
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'hot.sqlite3'}"})
        info = build_workshop(app, args.participants, args.domains, args.comments,
                              args.method, 5)
        rows: list[tuple[str, float, str]] = []
        with app.app_context():
            ws = rules.workshop_by_id(info["id"])
            wid = ws.id
            rules.set_phase(ws, "vote")
            rules.reveal(ws, True)
            db.session.commit()
            ws = rules.workshop_by_id(wid)
            n_votes = db.session.scalar(sa.select(sa.func.count(Vote.id))
                                        .where(Vote.workshop_id == wid)) + db.session.scalar(
                sa.select(sa.func.count(Score.id)).where(Score.workshop_id == wid))

            def results_full():
                db.session.expire_all()
                rules.compute_results(rules.workshop_by_id(wid))

            frames = rules.ballot_frames(ws)
            domains = pd.DataFrame([(d.id, d.title) for d in rules.domains_of(ws, rules.VOTABLE)],
                                   columns=["domain_id", "title"])

            def pandas_only():
                analysis.results(ws.method, domains, frames["votes"], frames["scores"],
                                 frames["rankings"], ws.helix_keys(),
                                 {c["key"]: c["weight"] for c in ws.criteria},
                                 present=rules.helix_counts(ws))

            stmt = (sa.select(Vote.participant_id, Participant.helix, Vote.domain_id, Vote.points)
                    .join(Participant, Participant.id == Vote.participant_id)
                    .where(Vote.workshop_id == wid))

            def core_read():
                pd.DataFrame(db.session.connection().execute(stmt).all(),
                             columns=analysis.VOTE_COLUMNS)

            agg = (sa.select(Vote.domain_id, Participant.helix, sa.func.sum(Vote.points),
                             sa.func.count(sa.distinct(Vote.participant_id)))
                   .join(Participant, Participant.id == Vote.participant_id)
                   .where(Vote.workshop_id == wid, Vote.points > 0)
                   .group_by(Vote.domain_id, Participant.helix))

            def aggregate():
                db.session.connection().execute(agg).all()

            p = db.session.scalars(sa.select(Participant)
                                   .where(Participant.workshop_id == wid)).first()
            pid = p.id

            def vote_once():
                # alternate 1 and 2 points on a domain the participant may still move
                me = db.session.get(Participant, pid)
                ballot = rules.my_ballot(me, rules.workshop_by_id(wid))["votes"]
                d = int(next(iter(ballot))) if ballot else rules.domains_of(ws, rules.VOTABLE)[0].id
                # 1 and 0 alternately: within the budget whatever the rest of the ballot holds
                rules.vote(me, d, 0 if ballot.get(str(d)) == 1 else 1)
                db.session.commit()

            checks = [
                ("compute_results (ORM read + pandas)", results_full),
                ("  ballot_frames: read of the ballots", lambda: rules.ballot_frames(ws)),
                ("  analysis.results: pandas only", pandas_only),
                ("ballots through a Core connection", core_read),
                ("SQL aggregate per (domain, helix)", aggregate),
                ("public_state (phones' view)", lambda: rules.public_state(ws)),
                ("public_state (facilitator's view)", lambda: rules.public_state(ws, True)),
                ("participant_state (join ack)", lambda: rules.participant_state(p)),
                ("helix_counts (each join's counts)", lambda: rules.helix_counts(ws)),
                ("vote: rules + commit", vote_once),
            ]
            if args.method != "dot":
                checks = [c for c in checks if not c[0].startswith(
                    ("ballots through", "SQL aggregate", "vote:"))]
            for name, fn in checks:
                rows.append((name, best(fn, args.repeat), ""))
            full = rules.compute_results(ws)
            size_full = len(json.dumps(full, separators=(",", ":")))
            size_default = len(json.dumps(full))
            size_light = len(json.dumps(light(full), separators=(",", ":")))
            state_size = len(json.dumps(rules.public_state(ws)))
            db.session.remove()
        print(f"== hot paths: {args.participants} participants, {info['domains']} domains, "
              f"{args.method} method, {n_votes} ballot rows (best of {args.repeat}) ==")
        for name, seconds, _ in rows:
            print(f"  {name:42s} {seconds * 1000:8.2f} ms")
        print(f"  results payload JSON: {size_default / 1024:.1f} KB as sent "
              f"({size_full / 1024:.1f} KB compact); light phone payload "
              f"{size_light / 1024:.2f} KB; public state {state_size / 1024:.1f} KB")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
