"""Benchmark probe, loaded into the *server* process only by `bench/load.py --probe`.

It is not part of EDP Live and is never on the path of a normal run: `load.py --probe` puts this
folder on the server's PYTHONPATH, so Python imports it at start-up as `sitecustomize`.

1. Always (when EDP_BENCH_PROBE_OUT is set): garbage-collector pauses per generation, written as
   JSON to that file every two seconds.
2. With EDP_BENCH_PROTO="flag,flag,...": prototypes of the changes proposed in
   docs/performance.md, monkey-patched over edp.sockets / edp.workshop / edp.cli right after they
   are imported, so that their gain can be measured before anyone writes them properly:

   counts     `counts` broadcasts coalesced to at most one per second per workshop
   light      phones get a light `results` (domain_id, score, balanced_score, voters; no titles,
              by_helix, consensus or warnings); the projector joins its own room `s<id>` and
              keeps the full payload
   phonerate  phones get `results` at most once per EDP_BENCH_PHONE_INTERVAL seconds (default
              1.0, trailing edge, from the latest computed results); console and projector keep
              the 0.2 s cadence
   core       ballot_frames reads the ballots through a Core connection (no ORM row objects)
   joinstate  the public part of the join ack is cached per workshop (refreshed after 1 s, and
              dropped on every `state` broadcast); only counts and the ballot are read per join
   freeze     gc.freeze() after the app is built and before serving (warm-up objects leave the
              collector's generations)
   refreeze   gc.freeze() again whenever the facilitator changes the phase (the connections of
              everyone who joined so far are then frozen too)
   tally      dot method: the ballots kept in memory per workshop (loaded once from the database,
              then updated after each committed vote; dropped on moderation), so compute_results
              no longer reads every ballot row; one process only
"""
from __future__ import annotations

import gc
import importlib.abc
import json
import os
import sys
import time

OUT = os.environ.get("EDP_BENCH_PROBE_OUT")
FLAGS = {f.strip() for f in os.environ.get("EDP_BENCH_PROTO", "").split(",") if f.strip()}
PHONE_INTERVAL = float(os.environ.get("EDP_BENCH_PHONE_INTERVAL", "1.0"))

# ---------------------------------------------------------------- 1. GC pauses

_gc = {g: {"n": 0, "total_s": 0.0, "max_s": 0.0, "collected": 0} for g in (0, 1, 2)}
_gc_start = [0.0]
_last_write = [0.0]
_gen2: list[tuple[float, float]] = []
# Group commits (edp.sockets.GroupCommit): how many transactions carried how many votes.
_group = {"batches": 0, "items": 0, "max": 0}


def _write(now: float) -> None:
    _last_write[0] = now
    data = {"gc": _gc, "gen2_pauses": _gen2[-200:], "flags": sorted(FLAGS),
            "frozen": gc.get_freeze_count(), "tracked": None, "group_commit": _group}
    tmp = OUT + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, json.dumps(data).encode())
    finally:
        os.close(fd)
    os.replace(tmp, OUT)


def _on_gc(phase: str, info: dict) -> None:
    now = time.perf_counter()
    if phase == "start":
        _gc_start[0] = now
        return
    dt = now - _gc_start[0]
    s = _gc[info["generation"]]
    s["n"] += 1
    s["total_s"] += dt
    s["max_s"] = max(s["max_s"], dt)
    s["collected"] += info.get("collected", 0)
    if info["generation"] == 2:
        _gen2.append((time.monotonic(), dt))
    if now - _last_write[0] > 2.0:
        _write(now)


if OUT:
    gc.callbacks.append(_on_gc)

# ---------------------------------------------------------------- 2. prototypes


def _light(results: dict) -> dict:
    return {
        "method": results["method"],
        "ranking": [{"domain_id": e["domain_id"], "score": round(e["score"], 3),
                     "balanced_score": round(e["balanced_score"], 3), "voters": e["voters"]}
                    for e in results["ranking"]],
        "participation": results["participation"],
        "totals": results.get("totals"),
    }


def patch_sockets(m) -> None:
    from flask import current_app, session
    from flask_socketio import join_room

    sio, db, rules = m.socketio, m.db, m.rules

    if hasattr(m, "GroupCommit"):
        original_write = m.GroupCommit._write

        def _write_counted(self, items):
            _group["batches"] += 1
            _group["items"] += len(items)
            _group["max"] = max(_group["max"], len(items))
            return original_write(self, items)

        m.GroupCommit._write = _write_counted

    if "counts" in FLAGS:
        pending: set[int] = set()
        original_counts = m.broadcast_counts

        def broadcast_counts(wid: int) -> None:
            if wid in pending:
                return
            pending.add(wid)
            app = current_app._get_current_object()

            def later():
                sio.sleep(1.0)
                pending.discard(wid)
                with app.app_context():
                    try:
                        original_counts(wid)
                    finally:
                        db.session.remove()

            sio.start_background_task(later)

        m.broadcast_counts = broadcast_counts

    if "joinstate" in FLAGS:
        original_state = m.broadcast_state

        def broadcast_state(wid: int) -> None:
            _STATE_CACHE.pop(wid, None)
            original_state(wid)

        m.broadcast_state = broadcast_state

    if FLAGS & {"light", "phonerate"}:
        latest: dict[int, dict] = {}
        last_sent: dict[int, float] = {}
        phone_pending: set[int] = set()
        interval = PHONE_INTERVAL if "phonerate" in FLAGS else 0.0

        def send_phones(wid: int) -> None:
            payload = latest.get(wid)
            if payload is None:
                return
            last_sent[wid] = time.monotonic()
            sio.emit("results", _light(payload) if "light" in FLAGS else payload, to=m.room(wid))

        def schedule_phones(wid: int) -> None:
            if interval <= 0:
                send_phones(wid)
                return
            if wid in phone_pending:
                return
            phone_pending.add(wid)

            def later():
                wait = last_sent.get(wid, 0.0) + interval - time.monotonic()
                if wait > 0:
                    sio.sleep(wait)
                phone_pending.discard(wid)
                send_phones(wid)

            sio.start_background_task(later)

        def emit_results(wid: int) -> None:
            ws = rules.workshop_by_id(wid)
            results = rules.compute_results(ws)
            shown = ws.results_shown
            m.end_read()
            sio.emit("results", results, to=m.facilitator_room(wid))
            if shown:
                sio.emit("results", results, to=f"s{wid}")
                latest[wid] = results
                schedule_phones(wid)

        m.emit_results = emit_results

        # The projector also joins its own room, where the full results go at the fast cadence.
        @m.event("watch", {"code": m.Field(str, max_len=16)})
        def on_watch(d):
            ws = rules.workshop_by_code(d["code"])
            session["lang"] = ws.language
            join_room(m.room(ws.id))
            join_room(f"s{ws.id}")
            return {"state": rules.public_state(ws)}


_STATE_CACHE: dict[int, tuple[float, dict]] = {}


def patch_workshop(w) -> None:
    import sqlalchemy as sa

    from edp import analysis
    from edp.extensions import db
    from edp.models import Participant, Ranking, Score, Vote

    if "core" in FLAGS:
        import pandas as pd

        def ballot_frames(ws):
            frames = analysis.empty_frames()
            conn = db.session.connection()
            helix = Participant.helix
            votes = conn.execute(
                sa.select(Vote.participant_id, helix, Vote.domain_id, Vote.points)
                .join(Participant, Participant.id == Vote.participant_id)
                .where(Vote.workshop_id == ws.id)).all()
            if votes:
                frames["votes"] = pd.DataFrame(votes, columns=analysis.VOTE_COLUMNS)
            scores = conn.execute(
                sa.select(Score.participant_id, helix, Score.domain_id, Score.criterion,
                          Score.value)
                .join(Participant, Participant.id == Score.participant_id)
                .where(Score.workshop_id == ws.id)).all()
            if scores:
                frames["scores"] = pd.DataFrame(scores, columns=analysis.SCORE_COLUMNS)
            rows = conn.execute(
                sa.select(Ranking.participant_id, helix, Ranking.order)
                .join(Participant, Participant.id == Ranking.participant_id)
                .where(Ranking.workshop_id == ws.id)).all()
            ranked = [(pid, hx, d, pos) for pid, hx, order in rows
                      for pos, d in enumerate(order, start=1)]
            if ranked:
                frames["rankings"] = pd.DataFrame(ranked, columns=analysis.RANK_COLUMNS)
            return frames

        w.ballot_frames = ballot_frames

    if "tally" in FLAGS:
        import pandas as pd
        from flask import g

        tallies: dict[int, dict] = {}  # workshop id -> {(participant, domain): (helix, points)}
        original_frames = w.ballot_frames
        original_vote = w.vote
        original_moderate = w.moderate

        def ballot_frames(ws):
            if ws.method != "dot":
                return original_frames(ws)
            tally = tallies.get(ws.id)
            if tally is None:
                frames = original_frames(ws)
                v = frames["votes"]
                tally = {(int(a), int(c)): (b, int(d)) for a, b, c, d in
                         zip(v["participant_id"], v["helix"], v["domain_id"], v["points"])}
                tallies[ws.id] = tally
                return frames
            frames = analysis.empty_frames()
            if tally:
                keys = list(tally.keys())
                vals = list(tally.values())
                frames["votes"] = pd.DataFrame({
                    "participant_id": [k[0] for k in keys], "helix": [x[0] for x in vals],
                    "domain_id": [k[1] for k in keys], "points": [x[1] for x in vals]})
            return frames

        def vote(p, domain_id, points):
            remaining = original_vote(p, domain_id, points)
            wid, key, helix = p.workshop_id, (p.id, domain_id), p.helix

            def apply():
                tally = tallies.get(wid)
                if tally is not None:
                    if points:
                        tally[key] = (helix, points)
                    else:
                        tally.pop(key, None)

            g.setdefault("after_commit", []).insert(0, apply)
            return remaining

        def moderate(ws, *args, **kwargs):
            tallies.pop(ws.id, None)
            return original_moderate(ws, *args, **kwargs)

        w.ballot_frames, w.vote, w.moderate = ballot_frames, vote, moderate

    if "refreeze" in FLAGS:
        original_set_phase = w.set_phase

        def set_phase(*args, **kwargs):
            changed = original_set_phase(*args, **kwargs)
            gc.freeze()
            return changed

        w.set_phase = set_phase

    if "joinstate" in FLAGS:
        def participant_state(p):
            ws = w.workshop_by_id(p.workshop_id)
            now = time.monotonic()
            hit = _STATE_CACHE.get(ws.id)
            if hit is None or now - hit[0] > 1.0:
                state = w.public_state(ws)
                _STATE_CACHE[ws.id] = (now, state)
            else:
                state = dict(hit[1])
                counts = w.helix_counts(ws)
                state["counts"], state["total"] = counts, sum(counts.values())
            state = dict(state)
            state["me"] = w.my_ballot(p, ws)
            return state

        w.participant_state = participant_state


def patch_cli(c) -> None:
    if "freeze" in FLAGS:
        original = c._serve

        def _serve(host, port):
            gc.collect()
            gc.freeze()
            original(host, port)

        c._serve = _serve


PATCHES = {"edp.sockets": patch_sockets, "edp.workshop": patch_workshop, "edp.cli": patch_cli}


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs PATCHES[name](module) right after the module's own code has run."""

    def find_spec(self, name, path=None, target=None):
        if name not in PATCHES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        run = loader.exec_module

        def exec_module(module, _run=run, _name=name):
            _run(module)
            PATCHES[_name](module)

        loader.exec_module = exec_module
        return spec


if FLAGS or OUT:  # OUT alone: the counts (group commits) need the patch too
    sys.meta_path.insert(0, _AfterImport())
