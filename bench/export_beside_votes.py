#!/usr/bin/env python3
"""Vote acks while a big export runs: a real `edp run` server, a 3,000-participant workshop
exported as XLSX and then DOCX by the facilitator, and meanwhile a burst of votes from many
Socket.IO phones in another workshop of the same server.

    .venv/bin/python bench/export_beside_votes.py                 # 3,000 participants, 40 phones
    .venv/bin/python bench/export_beside_votes.py --participants 3000 --phones 80 --formats xlsx docx

The big workshop comes from a synthetic JSON record (`big_record`: participants of every helix,
15 domains, comments, four votes each, five priorities, the whole event log), imported with
`edp workshop import`. Exports run in worker processes (edp/jobs.py); the phones vote in a
loop (each waits for its ack, then votes again) for as long as each export runs.

Target (issue 14): vote acks p95 < 250 ms during the export. Prints, per format, the export
time and the vote ack p50/p95/max during it; exits non-zero only when it cannot run.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TEMPLATE = sorted((ROOT / "workshops").glob("*.toml"))[0]
PASSWORD = "bench password 123"
TARGET_P95_MS = 250

WORDS = ("regional value chains with anchor firms and a university group; pilot plants, skills "
         "programmes and public procurement could scale it; risks: water, energy prices and "
         "the small size of local suppliers").split()


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def big_record(participants: int = 3000, domains: int = 15, comments: int = 3000,
               seed: int = 1) -> dict:
    """A realistic EDP Live record (version 2) of a dot-voting workshop in `decide`."""
    rng = random.Random(seed)
    template = tomllib.loads(TEMPLATE.read_text(encoding="utf-8"))
    helices = [{"key": h["key"], "label": h["label"]} for h in template["helices"]]
    keys = [h["key"] for h in helices]
    at = "2025-05-06T10:00:00Z"
    events: list[dict] = []

    def event(kind: str, role: str, ref: str | None, **payload) -> None:
        helix = people[ref] if ref else None
        events.append({"id": len(events) + 1, "at": at, "kind": kind, "actor_role": role,
                       "helix": helix, "participant": ref, "payload": payload})

    people = {f"p{i + 1}": keys[i % len(keys)] for i in range(participants)}
    for ref in people:
        event("join", "participant", ref)
    domain_items = []
    for d in range(1, domains + 1):
        ref = f"p{(d * 37) % participants + 1}"
        domain_items.append({"domain_id": d, "title": f"Domain {d}: {_sentence(rng, 4)}"[:200],
                             "description": _sentence(rng, 30), "rationale": _sentence(rng, 20),
                             "sdgs": [1 + d % 17], "status": "approved", "proposed_by": ref,
                             "created_at": at})
        event("propose", "participant", ref, domain_id=d, title=domain_items[-1]["title"])
    comment_items = []
    for c in range(1, comments + 1):
        ref = f"p{rng.randrange(participants) + 1}"
        item = {"comment_id": c, "domain_id": rng.randrange(domains) + 1,
                "stance": rng.choice(["support", "concern", "question", "evidence"]),
                "text": _sentence(rng, 25), "participant": ref, "at": at}
        comment_items.append(item)
        event("comment", "participant", ref, comment_id=c, domain_id=item["domain_id"],
              stance=item["stance"], text=item["text"])
    votes = {}
    for ref, helix in people.items():
        left, points = 10, {}
        for d in rng.sample(range(1, domains + 1), k=4):
            if left <= 0:
                break
            n = rng.randint(1, min(left, 4))
            points[str(d)] = n
            left -= n
            event("vote", "participant", ref, domain_id=d, points=n, before=0)
        votes[ref] = {"helix": helix, "points": points}
    priorities = [{"domain_id": d, "rank": d, "rationale": _sentence(rng, 40),
                   "indicators": [_sentence(rng, 6), _sentence(rng, 6)], "decided_at": at}
                  for d in range(1, 6)]
    return {
        "format": "edp-live-record", "version": 2, "exported_at": at,
        "workshop": {"title": "Synthetic 3,000-participant workshop", "region": "Maule",
                     "language": "en", "method": "dot", "phase": "decide", "budget": 10,
                     "max_priorities": 5, "helices": helices,
                     "criteria": template.get("criteria", []), "settings": {},
                     "created_at": at},
        "domains": domain_items, "comments": comment_items,
        "participants": [{"ref": ref, "helix": helix, "joined_at": at}
                         for ref, helix in people.items()],
        "votes": votes, "scores": {}, "rankings": {}, "priorities": priorities,
        "events": events,
    }


# ---------------------------------------------------------------- the server


def cli(env: dict, *args: str) -> str:
    out = subprocess.run([str(BIN / "edp"), *args], env=env, capture_output=True, text=True,
                         timeout=600, check=False)
    if out.returncode:
        raise RuntimeError(f"edp {' '.join(args)}: {out.stderr[-2000:]}")
    return out.stdout


def login(base: str, email: str) -> str:
    import http.cookiejar
    import re

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base + "/login").read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"email": email, "password": PASSWORD,
                                   "csrf_token": token}).encode()
    opener.open(base + "/login", data=data)
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def fetch(url: str, cookie: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Cookie": cookie})
    try:
        with urllib.request.urlopen(request, timeout=900) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Phone:
    """A participant voting in a loop; records (sent, acked) times."""

    def __init__(self, base: str, code: str, helix: str, domains: list[int]):
        import socketio

        self.sio = socketio.Client(reconnection=False)
        self.sio.connect(base, transports=["websocket"], wait_timeout=20)
        ack = self.sio.call("join", {"code": code, "helix": helix}, timeout=30)
        if not ack.get("ok"):
            raise RuntimeError(f"join refused: {ack}")
        self.domains = domains
        self.samples: list[tuple[float, float]] = []
        self.errors = 0

    def run(self, stop: threading.Event) -> None:
        rng = random.Random(id(self))
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                ack = self.sio.call("vote", {"domain_id": rng.choice(self.domains),
                                             "points": rng.randint(0, 3)}, timeout=60)
            except Exception:
                self.errors += 1
                continue
            t1 = time.perf_counter()
            if ack.get("ok"):
                self.samples.append((t0, t1))
            else:
                self.errors += 1
            time.sleep(rng.uniform(0.05, 0.25))  # a person taps, not a loop

    def close(self) -> None:
        try:
            self.sio.disconnect()
        except Exception:
            pass


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--participants", type=int, default=3000)
    ap.add_argument("--phones", type=int, default=40)
    ap.add_argument("--formats", nargs="+", default=["xlsx", "docx"])
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args(argv)

    import socket

    tmp = Path(tempfile.mkdtemp(prefix="edp-bench-heavy-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "EDP_DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
           "EDP_SECRET_KEY": "bench", "EDP_PASSWORD": PASSWORD, "EDP_PUBLIC_URL": base,
           "EDP_RATE_BURST": "1000", "EDP_RATE_PER_SECOND": "1000",
           "EDP_JOIN_RATE": "100000 per 10 seconds"}
    email = "bench@example.org"
    server = None
    phones: list[Phone] = []
    try:
        cli(env, "init-db")
        cli(env, "facilitator", "add", email)
        room = json.loads(cli(env, "workshop", "create", "--template", str(TEMPLATE),
                              "--facilitator", email).strip().splitlines()[-1])
        t0 = time.perf_counter()
        record = big_record(args.participants, comments=args.participants)
        path = tmp / "big.json"
        path.write_text(json.dumps(record), encoding="utf-8")
        big = json.loads(cli(env, "workshop", "import", str(path), "--facilitator",
                             email).strip().splitlines()[-1])
        print(f"record: {args.participants} participants, {len(record['events'])} events, "
              f"{path.stat().st_size / 1e6:.1f} MB, imported in {time.perf_counter() - t0:.1f} s")

        server = subprocess.Popen([str(BIN / "edp"), "run", "--host", "127.0.0.1", "--port",
                                   str(port)], env=env, stdout=open(tmp / "server.log", "ab"),
                                  stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)
        cookie = login(base, email)
        import socketio

        console = socketio.Client(reconnection=False)
        console.connect(base, headers={"Cookie": cookie}, transports=["websocket"])
        state = console.call("facilitate", {"workshop_id": room["id"]}, timeout=30)["state"]
        console.call("phase", {"workshop_id": room["id"], "phase": "vote"}, timeout=30)
        domains = [d["domain_id"] for d in state["domains"]
                   if d.get("status", "approved") == "approved"]
        helices = [h["key"] for h in state["workshop"]["helices"]]
        phones = [Phone(base, room["code"], helices[i % len(helices)], domains)
                  for i in range(args.phones)]
        # Warm the export workers (their first job starts them) on the small workshop.
        fetch(f"{base}/f/w/{room['id']}/export.csv", cookie)

        failures = 0
        for fmt in ["baseline", *args.formats]:
            stop = threading.Event()
            for p in phones:
                p.samples.clear()
            threads = [threading.Thread(target=p.run, args=(stop,), daemon=True)
                       for p in phones]
            for t in threads:
                t.start()
            time.sleep(1.0)  # the burst is under way
            start = time.perf_counter()
            if fmt == "baseline":  # the same burst with no export, to compare
                time.sleep(8)
                status, data = 200, b""
            else:
                status, data = fetch(f"{base}/f/w/{big['id']}/export.{fmt}", cookie)
            end = time.perf_counter()
            time.sleep(0.5)
            stop.set()
            for t in threads:
                t.join(60)
            during = [(t1 - t0) * 1000 for p in phones for t0, t1 in p.samples
                      if t0 >= start and t1 <= end]
            # Acks that were waiting while the export ran (sent before its end, back after its
            # start): with the export on the event loop they all wait for it.
            waited = [(t1 - t0) * 1000 for p in phones for t0, t1 in p.samples
                      if t0 < end and t1 > start]
            if status != 200:
                print(f"{fmt}: export failed with HTTP {status}")
                failures += 1
                continue
            line = (f"{fmt}: export {end - start:.2f} s ({len(data) / 1e6:.1f} MB); "
                    f"{len(during)} vote acks during it") if data else (
                f"no export ({end - start:.0f} s): {len(during)} vote acks")
            if during:
                p95 = percentile(during, 0.95)
                line += (f": p50 {statistics.median(during):.0f} ms, p95 {p95:.0f} ms, "
                         f"max {max(during):.0f} ms "
                         f"({'meets' if p95 < TARGET_P95_MS else 'misses'} the "
                         f"{TARGET_P95_MS} ms target)")
            if waited and data:
                line += f"; longest wait of an ack overlapping it: {max(waited):.0f} ms"
            print(line, flush=True)
        errors = sum(p.errors for p in phones)
        if errors:
            print(f"vote errors: {errors}")
        console.disconnect()
        return 1 if failures else 0
    finally:
        for p in phones:
            p.close()
        if server is not None:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")


if __name__ == "__main__":
    sys.exit(main())
