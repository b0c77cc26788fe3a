#!/usr/bin/env python3
"""The floor: a bare Flask-SocketIO + SQLite server that does only what a vote must do, so
that `bench/load.py --baseline` can say what EDP Live costs per vote above it.

    python bench/floor.py --port 5050 --db /tmp/floor.sqlite3

It speaks just enough of EDP Live's protocol for `bench/load.py`'s scenario: a log-in page,
`facilitate`, `phase`, `reveal`, `watch`, `propose`, `join` and `vote`. What it keeps, as the
real server does:
- gevent (as `edp run`), SQLite in WAL mode with synchronous=NORMAL, one transaction per vote
  with its event row, committed before the ack (acked = durable);
- the budget and per-domain cap checked against the participant's stored votes;
- the same broadcast cadence: `results` to the projector at most every 0.2 s (the first at
  once, the last always sent), to phones at most once a second once revealed; `counts` after
  joins at most once a second.
What it leaves out is everything else: helices, phases and their rules, privacy pooling,
consensus and balanced scores, rate limits, sessions, translations, moderation.
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import sqlite3  # noqa: E402
import time  # noqa: E402

from flask import Flask, make_response, request  # noqa: E402
from flask_socketio import SocketIO, join_room  # noqa: E402

WORKSHOP, CODE, BUDGET, CAP = 1, "FLOOR1", 10, 5
HELICES = ["government", "business", "academia", "civil_society", "environment", "funders"]
RESULTS_INTERVAL, PHONE_INTERVAL, COUNTS_INTERVAL = 0.2, 1.0, 1.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS participant (id INTEGER PRIMARY KEY, workshop_id INTEGER, helix TEXT,
                                        name TEXT);
CREATE TABLE IF NOT EXISTS domain (id INTEGER PRIMARY KEY, workshop_id INTEGER, title TEXT);
CREATE TABLE IF NOT EXISTS vote (id INTEGER PRIMARY KEY, workshop_id INTEGER,
                                 participant_id INTEGER, domain_id INTEGER, points INTEGER,
                                 UNIQUE (participant_id, domain_id));
CREATE TABLE IF NOT EXISTS event (id INTEGER PRIMARY KEY, workshop_id INTEGER, kind TEXT,
                                  participant_id INTEGER, payload TEXT, at REAL);
"""

app = Flask(__name__)
socketio = SocketIO(app, async_mode="gevent", cors_allowed_origins="*")
state = {"shown": False, "db": None}


def db() -> sqlite3.Connection:
    conn = state["db"]
    if conn is None:
        conn = state["db"] = sqlite3.connect(state["path"], isolation_level=None,
                                             check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class Throttle:
    """At most one run per `interval` seconds; the first at once, the last always."""

    def __init__(self, interval: float, fn):
        self.interval, self.fn, self.pending, self.last = interval, fn, False, -1e9

    def __call__(self) -> None:
        if self.pending:
            return
        self.pending = True
        wait = self.last + self.interval - time.monotonic()

        def later():
            if wait > 0:
                socketio.sleep(wait)
            self.pending = False
            self.last = time.monotonic()
            self.fn()

        socketio.start_background_task(later)


def results_payload() -> dict:
    rows = db().execute("SELECT domain_id, SUM(points) FROM vote WHERE workshop_id = ? "
                        "GROUP BY domain_id", (WORKSHOP,)).fetchall()
    totals = {str(d): int(n) for d, n in rows}
    ranking = sorted(({"domain_id": int(d), "score": n} for d, n in totals.items()),
                     key=lambda e: -e["score"])
    return {"ranking": ranking, "totals": totals}


def send_screen_results() -> None:
    socketio.emit("results", results_payload(), to="screen")


def send_phone_results() -> None:
    if state["shown"]:
        socketio.emit("results", results_payload(), to="phones")


def send_counts() -> None:
    total = db().execute("SELECT count(*) FROM participant").fetchone()[0]
    socketio.emit("counts", {"total": total}, to="room")


screen_results = Throttle(RESULTS_INTERVAL, send_screen_results)
phone_results = Throttle(PHONE_INTERVAL, send_phone_results)
counts = Throttle(COUNTS_INTERVAL, send_counts)


def domains() -> list[dict]:
    return [{"domain_id": d, "title": t, "status": "approved"}
            for d, t in db().execute("SELECT id, title FROM domain ORDER BY id")]


def public_state() -> dict:
    return {"workshop": {"id": WORKSHOP, "code": CODE, "method": "dot", "budget": BUDGET,
                         "cap": CAP, "helices": [{"key": h, "label": h} for h in HELICES]},
            "domains": domains()}


@app.get("/healthz")
def healthz():
    db().execute("SELECT 1")
    return {"ok": True}


@app.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return '<form method="post"><input name="csrf_token" value="floor"></form>'
    resp = make_response("ok")
    resp.set_cookie("session", "floor")
    return resp


@socketio.on("facilitate")
def on_facilitate(data):
    join_room("room")
    return {"ok": True, "state": public_state()}


@socketio.on("phase")
def on_phase(data):
    return {"ok": True}


@socketio.on("reveal")
def on_reveal(data):
    state["shown"] = bool(data.get("shown"))
    return {"ok": True}


@socketio.on("watch")
def on_watch(data):
    join_room("room")
    join_room("screen")
    return {"ok": True, "state": public_state()}


@socketio.on("propose")
def on_propose(data):
    conn = db()
    conn.execute("BEGIN IMMEDIATE")
    cur = conn.execute("INSERT INTO domain (workshop_id, title) VALUES (?, ?)",
                       (WORKSHOP, str(data.get("title", ""))[:120]))
    conn.execute("INSERT INTO event (workshop_id, kind, payload, at) VALUES (?, 'propose', ?, ?)",
                 (WORKSHOP, json.dumps(data), time.time()))
    conn.execute("COMMIT")
    socketio.emit("state", public_state(), to="room")
    return {"ok": True, "domain_id": cur.lastrowid}


@socketio.on("join")
def on_join(data):
    conn = db()
    conn.execute("BEGIN IMMEDIATE")
    cur = conn.execute("INSERT INTO participant (workshop_id, helix, name) VALUES (?, ?, ?)",
                       (WORKSHOP, data.get("helix"), data.get("name")))
    pid = cur.lastrowid
    conn.execute("INSERT INTO event (workshop_id, kind, participant_id, payload, at) "
                 "VALUES (?, 'join', ?, '{}', ?)", (WORKSHOP, pid, time.time()))
    conn.execute("COMMIT")
    state.setdefault("sids", {})[request.sid] = pid
    join_room("room")
    join_room("phones")
    counts()
    return {"ok": True, "participant_id": pid, "state": public_state()}


@socketio.on("vote")
def on_vote(data):
    pid = state.get("sids", {}).get(request.sid)
    if pid is None:
        return {"ok": False, "error": {"code": "not_joined"}}
    domain_id, points = int(data["domain_id"]), int(data["points"])
    if not 0 <= points <= CAP:
        return {"ok": False, "error": {"code": "over_cap"}}
    conn = db()
    conn.execute("BEGIN IMMEDIATE")
    mine = conn.execute("SELECT domain_id, points FROM vote WHERE participant_id = ?",
                        (pid,)).fetchall()
    others = sum(p for d, p in mine if d != domain_id)
    if others + points > BUDGET:
        conn.execute("ROLLBACK")
        return {"ok": False, "error": {"code": "over_budget"}}
    conn.execute("INSERT INTO vote (workshop_id, participant_id, domain_id, points) "
                 "VALUES (?, ?, ?, ?) ON CONFLICT (participant_id, domain_id) "
                 "DO UPDATE SET points = excluded.points", (WORKSHOP, pid, domain_id, points))
    conn.execute("INSERT INTO event (workshop_id, kind, participant_id, payload, at) "
                 "VALUES (?, 'vote', ?, ?, ?)",
                 (WORKSHOP, pid, json.dumps({"domain_id": domain_id, "points": points}),
                  time.time()))
    conn.execute("COMMIT")
    screen_results()
    phone_results()
    return {"ok": True, "remaining": BUDGET - others - points}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=5050)
    ap.add_argument("--db", required=True)
    args = ap.parse_args()
    state["path"] = args.db
    conn = db()
    conn.executescript(SCHEMA)
    if not conn.execute("SELECT count(*) FROM domain").fetchone()[0]:
        for title in ("Seed domain one", "Seed domain two", "Seed domain three"):
            conn.execute("INSERT INTO domain (workshop_id, title) VALUES (?, ?)",
                         (WORKSHOP, title))
    socketio.run(app, host=args.host, port=args.port, log_output=False)


if __name__ == "__main__":
    main()
