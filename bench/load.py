#!/usr/bin/env python3
"""Load benchmark: thousands of simulated phones in one workshop against a real EDP Live server.

    .venv/bin/python bench/load.py                       # 500 phones, one `edp run`, SQLite
    .venv/bin/python bench/load.py --phones 3000 --procs 4
    .venv/bin/python bench/load.py --phones 2000 --server-procs 2 \\
        --redis redis://127.0.0.1:6379/0 --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/load.py --url http://127.0.0.1:5000 --code ABC234 --workshop-id 1 \\
        --email fac@example.org          # password from EDP_PASSWORD; a running server

What it does (all traffic to 127.0.0.1; every loop is bounded in count and time):
 1. starts the server itself (`edp init-db`, `edp facilitator add`, `edp workshop create` from the
    first template, then `edp run` on a free port with a temporary database), unless `--url`;
 2. logs the facilitator in over HTTP, connects the console (`facilitate`) and a projector
    (`watch`); with two server processes the projector sits on the other process;
 3. lobby: N phones (spread over `--procs` load processes and over the server processes) connect
    and `join`, at `--join-rate` per second, helices assigned round-robin;
 4. propose: one extra participant proposes `--proposals` domains (each broadcasts the full state);
 5. vote: the facilitator opens the vote and reveals the results (so every phone receives every
    tally, the worst case; `--hidden` keeps them hidden), then each phone casts `--votes` votes
    (dot method: sets points on a random domain, raising only, within the budget and the cap) at
    `--vote-rate` votes per second in total;
 6. waits until the projector's totals include every acked vote, checks the database
    (acked = stored), and prints the figures.

Exit status is non-zero only when the benchmark cannot run (server does not start, log-in fails).
"""
from __future__ import annotations

import argparse
import asyncio
import bisect
import http.cookiejar
import json
import multiprocessing as mp
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from wsclient import Conn  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = sorted((ROOT / "workshops").glob("*.toml"))[0]
CLK_TCK = os.sysconf("SC_CLK_TCK")
EMAIL = "bench@example.org"


def edp_bin() -> str:
    for candidate in (Path(sys.executable).parent / "edp", ROOT / ".venv" / "bin" / "edp"):
        if candidate.exists():
            return str(candidate)
    found = shutil.which("edp")
    if not found:
        raise SystemExit("cannot find the `edp` command: run `make setup` first")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values, q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(q / 100 * (len(s) - 1)))))
    return s[k]


def ms(x) -> str:
    return "-" if x is None else f"{x * 1000:.0f}"


# ====================================================================== server processes


class Proc:
    """CPU and memory of a process, from /proc (no psutil needed)."""

    def __init__(self, pid: int):
        self.pid = pid

    def cpu(self) -> float | None:
        try:
            with open(f"/proc/{self.pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime
        except (OSError, IndexError):
            return None

    def mem(self) -> tuple[int | None, int | None]:
        """(VmRSS, VmHWM) in bytes."""
        rss = hwm = None
        try:
            with open(f"/proc/{self.pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        rss = int(line.split()[1]) * 1024
                    elif line.startswith("VmHWM:"):
                        hwm = int(line.split()[1]) * 1024
        except OSError:
            pass
        return rss, hwm


class Server:
    """One `edp run` subprocess."""

    def __init__(self, env: dict, log_dir: Path, floor_db: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.log_path = log_dir / f"server-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self.floor_db = floor_db  # the bare floor server (bench/floor.py) instead of edp run

    def command(self) -> list[str]:
        if self.floor_db is not None:
            return [sys.executable, str(Path(__file__).resolve().parent / "floor.py"),
                    "--port", str(self.port), "--db", str(self.floor_db)]
        return [edp_bin(), "run", "--host", "127.0.0.1", "--port", str(self.port)]

    def start(self) -> Server:
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.command(),
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"server exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if json.load(r).get("ok"):
                        return self
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"server did not answer /healthz in 60 s (log: {self.log_path})")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "log", None):
            self.log.close()


def cli(env: dict, *args: str) -> str:
    out = subprocess.run([edp_bin(), *args], env=env, capture_output=True, text=True, timeout=180)
    if out.returncode != 0:
        raise SystemExit(f"edp {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return out.stdout


def machine_busy() -> float:
    """CPU seconds all processes of the machine have used (from /proc/stat)."""
    with open("/proc/stat") as fh:
        f = fh.readline().split()[1:]
    # user nice system idle iowait irq softirq steal
    return sum(int(f[i]) for i in (0, 1, 2, 5, 6, 7)) / CLK_TCK


def wait_quiet(own: list[int], limit_s: float, threshold: float = 0.25) -> float:
    """Waits (at most limit_s) until other processes use less than `threshold` of a core over
    three seconds; returns what they used last."""
    procs = [Proc(p) for p in own]
    deadline = time.monotonic() + limit_s
    while True:
        t0, m0, o0 = time.monotonic(), machine_busy(), sum(p.cpu() or 0 for p in procs)
        time.sleep(3)
        t1, m1, o1 = time.monotonic(), machine_busy(), sum(p.cpu() or 0 for p in procs)
        other = ((m1 - m0) - (o1 - o0)) / (t1 - t0)
        if other < threshold or time.monotonic() > deadline:
            return other
        print(f"  other processes use {100 * other:.0f}% of a core; waiting...", flush=True)


class Sampler(threading.Thread):
    """Samples CPU seconds and RSS of the server processes every `every` seconds, and the CPU
    the whole machine and the load generator use (to tell how much other work was running)."""

    def __init__(self, pids: list[int], own: list[int], every: float = 0.25):
        super().__init__(daemon=True)
        self.procs = [Proc(p) for p in pids]
        self.own = [Proc(p) for p in own]
        self.every = every
        # (t, cpu per server proc, rss per server proc, machine busy s, load generator s)
        self.samples: list[tuple] = []
        self.stop_flag = threading.Event()

    def snap(self):
        return (time.monotonic(), [p.cpu() for p in self.procs], [p.mem()[0] for p in self.procs],
                machine_busy(), sum(p.cpu() or 0 for p in self.own))

    def run(self) -> None:
        while not self.stop_flag.is_set():
            self.samples.append(self.snap())
            self.stop_flag.wait(self.every)

    def window(self, t0: float, t1: float) -> dict:
        """CPU % (per process) and peak RSS over [t0, t1]."""
        inside = [s for s in self.samples if t0 <= s[0] <= t1]
        if len(inside) < 2:
            return {"cpu_pct": [None] * len(self.procs), "rss_peak_mb": [None] * len(self.procs),
                    "machine_pct": None, "loadgen_pct": None, "others_pct": None}
        a, b = inside[0], inside[-1]
        cpu = []
        for i in range(len(self.procs)):
            if a[1][i] is None or b[1][i] is None:
                cpu.append(None)
            else:
                cpu.append(100 * (b[1][i] - a[1][i]) / (b[0] - a[0]))
        peak = []
        for i in range(len(self.procs)):
            vals = [s[2][i] for s in inside if s[2][i] is not None]
            peak.append(max(vals) / 2**20 if vals else None)
        dt = b[0] - a[0]
        machine = 100 * (b[3] - a[3]) / dt
        load = 100 * (b[4] - a[4]) / dt
        others = machine - load - sum(x for x in cpu if x is not None)
        return {"cpu_pct": cpu, "rss_peak_mb": peak, "machine_pct": machine,
                "loadgen_pct": load, "others_pct": max(0.0, others)}


# ====================================================================== load processes


class Phone:
    __slots__ = ("index", "host", "port", "helix", "conn", "pid", "ballot", "uncertain")

    def __init__(self, index: int, host: str, port: int, helix: str):
        self.index, self.host, self.port, self.helix = index, host, port, helix
        self.conn: Conn | None = None
        self.pid: int | None = None
        self.ballot: dict[int, int] = {}
        self.uncertain: dict[int, tuple[int, int]] = {}  # domain -> (acked points, tried points)


class Worker:
    """One load process: its share of the phones, driven by commands over a pipe."""

    def __init__(self, pipe, wid: int):
        self.pipe, self.wid = pipe, wid
        self.phones: list[Phone] = []
        self.results_seen: dict[bytes, list] = {}  # totals key -> [first t, last t, n]
        self.track_results = True

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                cmd, params = await loop.run_in_executor(None, self.pipe.recv)
            except (EOFError, OSError):
                return
            if cmd == "join":
                res = await self.join(params)
            elif cmd == "vote":
                res = await self.vote(params)
            elif cmd == "close":
                self.pipe.send(self.close())
                await asyncio.sleep(0.2)
                return
            else:
                res = {"error": f"unknown command {cmd}"}
            self.pipe.send(res)

    def on_results(self, data: bytes, t: float) -> None:
        i = data.rfind(b'"totals"')
        if i < 0:
            return
        key = data[i:data.find(b"}", i)]
        seen = self.results_seen.get(key)
        if seen is None:
            self.results_seen[key] = [t, t, 1]
        else:
            seen[1] = t
            seen[2] += 1

    # ------------------------------------------------------------------ join

    async def join(self, p: dict) -> dict:
        self.stats = {"connect_ok": 0, "connect_fail": Counter(), "join_ok": 0,
                      "join_err": Counter(), "connect_lat": [], "join_lat": [],
                      "join_ack_bytes": 0}
        for index, host, port, helix in p["phones"]:
            self.phones.append(Phone(index, host, port, helix))
        t_start, rate, timeout = p["start_at"], p["rate"], p["timeout"]
        tasks = [self._join_one(ph, t_start + ph.index / rate, p["code"], timeout)
                 for ph in self.phones]
        try:
            await asyncio.wait_for(asyncio.gather(*tasks), p["deadline"] - time.monotonic())
        except TimeoutError:
            self.stats["join_err"]["stage_deadline"] += 1
        out = dict(self.stats)
        out["connect_fail"] = dict(out["connect_fail"])
        out["join_err"] = dict(out["join_err"])
        out["cpu_s"] = self._cpu()
        return out

    async def _join_one(self, ph: Phone, at: float, code: str, timeout: float) -> None:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        conn = Conn()
        if self.track_results:
            conn.raw_handlers["results"] = self.on_results
        t0 = time.monotonic()
        try:
            await conn.open(ph.host, ph.port, timeout=timeout)
        except Exception as exc:  # refused, reset, timed out: counted, never raised
            self.stats["connect_fail"][type(exc).__name__] += 1
            return
        ph.conn = conn
        self.stats["connect_ok"] += 1
        self.stats["connect_lat"].append(time.monotonic() - t0)
        try:
            ack, ts, ta = await conn.call(
                "join", {"code": code, "helix": ph.helix, "name": f"Phone {ph.index}"}, timeout)
        except Exception as exc:
            self.stats["join_err"][type(exc).__name__] += 1
            return
        if ack.get("ok"):
            ph.pid = ack["participant_id"]
            self.stats["join_ok"] += 1
            self.stats["join_lat"].append(ta - ts)
            self.stats["join_ack_bytes"] += len(json.dumps(ack))
        else:
            self.stats["join_err"][ack.get("error", {}).get("code", "?")] += 1

    # ------------------------------------------------------------------ vote

    async def vote(self, p: dict) -> dict:
        self.vstats = {"acked": [], "err": Counter(), "sent": 0}
        rng = random.Random(p["seed"] + self.wid)
        tasks = []
        for ph in self.phones:
            if ph.pid is None or ph.conn is None:
                continue
            phone_rng = random.Random(p["seed"] * 7919 + ph.index)
            if p.get("method") == "score":
                tasks.append(self._score_phone(ph, p, rng, phone_rng))
                continue
            times = sorted(rng.uniform(0, p["duration"]) for _ in range(p["votes"]))
            tasks.append(self._vote_phone(ph, times, p, phone_rng))
        try:
            await asyncio.wait_for(asyncio.gather(*tasks), p["deadline"] - time.monotonic())
        except TimeoutError:
            self.vstats["err"]["stage_deadline"] += 1
        ballots = {ph.pid: dict(ph.ballot) for ph in self.phones if ph.pid is not None}
        uncertain = {ph.pid: dict(ph.uncertain) for ph in self.phones if ph.uncertain}
        dropped = sum(1 for ph in self.phones if ph.conn is not None and ph.conn.closed.is_set())
        return {"acked": self.vstats["acked"], "err": dict(self.vstats["err"]),
                "sent": self.vstats["sent"], "ballots": ballots, "uncertain": uncertain,
                "dropped": dropped, "cpu_s": self._cpu()}

    async def _vote_phone(self, ph: Phone, times: list[float], p: dict, rng: random.Random):
        budget, cap, domains = p["budget"], p["cap"], p["domains"]
        for offset in times:
            await asyncio.sleep(max(0.0, p["start_at"] + offset - time.monotonic()))
            spent = sum(ph.ballot.values())
            room = budget - spent
            open_ = [d for d in domains if ph.ballot.get(d, 0) < cap]
            if (room <= 0 or not open_) and not p.get("taps"):
                return
            if p.get("taps"):
                # One tap: a domain one point up (while there is room) or down (if it has any).
                d = rng.choice(domains)
                cur = ph.ballot.get(d, 0)
                up = cur < cap and room > 0
                if cur > 0 and (not up or rng.random() < 0.35):
                    new = cur - 1
                elif up:
                    new = cur + 1
                else:
                    continue
            else:
                d = rng.choice(open_)
                cur = ph.ballot.get(d, 0)
                new = cur + rng.randint(1, min(cap - cur, room, 3))
            self.vstats["sent"] += 1
            try:
                ack, ts, ta = await ph.conn.call("vote", {"domain_id": d, "points": new},
                                                 p["timeout"])
            except Exception as exc:
                # Unknown outcome: the stored value may be the old or the new one. This phone stops
                # voting so that what it expects stays exact.
                self.vstats["err"][type(exc).__name__ or "timeout"] += 1
                ph.uncertain[d] = (cur, new)
                return
            if ack.get("ok"):
                ph.ballot[d] = new
                self.vstats["acked"].append((ta, new - cur, ta - ts))
            else:
                self.vstats["err"][ack.get("error", {}).get("code", "?")] += 1

    async def _score_phone(self, ph: Phone, p: dict, rng: random.Random,
                           phone_rng: random.Random):
        """Score method: every domain on every criterion, a card (one event) per domain, or one
        event per value with `single`, at random moments over the stage."""
        cards = [(d, {c: phone_rng.randint(1, 5) for c in p["criteria"]}) for d in p["domains"]]
        sends = ([(d, {c: v}) for d, card in cards for c, v in card.items()] if p["single"]
                 else cards)
        times = sorted(rng.uniform(0, p["duration"]) for _ in sends)
        for offset, (d, values) in zip(times, sends, strict=True):
            await asyncio.sleep(max(0.0, p["start_at"] + offset - time.monotonic()))
            payload = ({"domain_id": d, "criterion": next(iter(values)),
                        "value": next(iter(values.values()))} if p["single"]
                       else {"domain_id": d, "scores": values})
            self.vstats["sent"] += 1
            try:
                ack, ts, ta = await ph.conn.call("score", payload, p["timeout"])
            except Exception as exc:
                self.vstats["err"][type(exc).__name__ or "timeout"] += 1
                for c, v in values.items():
                    ph.uncertain[f"{d}:{c}"] = (ph.ballot.get(f"{d}:{c}"), v)
                return
            if ack.get("ok"):
                for c, v in values.items():
                    ph.ballot[f"{d}:{c}"] = v
                self.vstats["acked"].append((ta, len(values), ta - ts))
            else:
                self.vstats["err"][ack.get("error", {}).get("code", "?")] += 1

    # ------------------------------------------------------------------ close

    def close(self) -> dict:
        counts, nbytes = Counter(), Counter()
        dropped = 0
        for ph in self.phones:
            if ph.conn is None:
                continue
            counts.update(ph.conn.counts)
            nbytes.update(ph.conn.bytes)
            if ph.conn.closed.is_set():
                dropped += 1
            ph.conn.close()
        return {"counts": dict(counts), "bytes": dict(nbytes), "dropped": dropped,
                "results_seen": {k.decode(): v for k, v in self.results_seen.items()},
                "cpu_s": self._cpu(), "phones": sum(1 for ph in self.phones if ph.pid)}

    @staticmethod
    def _cpu() -> float:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return ru.ru_utime + ru.ru_stime


def worker_main(pipe, wid: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(Worker(pipe, wid).run())


# ====================================================================== the scenario


def login(base_url: str, email: str, password: str) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(base_url + "/login", timeout=30).read().decode()
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    if not match:
        raise SystemExit("the log-in form has no csrf_token")
    data = urllib.parse.urlencode(
        {"email": email, "password": password, "csrf_token": match.group(1)}).encode()
    opener.open(base_url + "/login", data=data, timeout=30)
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    if "session=" not in cookie:
        raise SystemExit("log-in failed: no session cookie (check --email / EDP_PASSWORD)")
    return cookie


def hostport(url: str) -> tuple[str, int]:
    u = urllib.parse.urlsplit(url)
    return u.hostname, u.port or 80


class Projector:
    """The projector's client: decodes every `results` and `state` it receives."""

    def __init__(self) -> None:
        self.conn = Conn()
        self.results: list[tuple[float, float, str, int]] = []  # (t, total points, key, bytes)
        self.states: list[tuple[float, set[int]]] = []
        self.comments: dict[int, float] = {}  # comment id -> when it arrived
        self.conn.raw_handlers["results"] = self.on_results
        self.conn.raw_handlers["state"] = self.on_state
        self.conn.raw_handlers["comment"] = self.on_comment

    def on_results(self, data: bytes, t: float) -> None:
        payload = json.loads(data[2:])[1]
        total = sum(float(e.get("score", 0)) for e in payload.get("ranking", []))
        i = data.rfind(b'"totals"')
        key = data[i:data.find(b"}", i)].decode() if i >= 0 else ""
        self.results.append((t, total, key, len(data)))

    def on_state(self, data: bytes, t: float) -> None:
        payload = json.loads(data[2:])[1]
        self.states.append((t, {d["domain_id"] for d in payload.get("domains", [])}))

    def on_comment(self, data: bytes, t: float) -> None:
        payload = json.loads(data[2:])[1]
        self.comments.setdefault(int(payload["comment_id"]), t)

    def total(self) -> float:
        return self.results[-1][1] if self.results else 0.0


async def recv(pipe):
    return await asyncio.get_running_loop().run_in_executor(None, pipe.recv)


async def scenario(args, urls: list[str], info: dict, cookie: str, pipes, sampler) -> dict:
    report: dict = {"phones": args.phones, "procs": args.procs, "server_procs": len(urls)}
    stage_t: dict[str, tuple[float, float]] = {}
    wid, code = info["id"], info["code"]
    fac_host, fac_port = hostport(urls[0])
    proj_host, proj_port = hostport(urls[-1])

    fac = Conn()
    await fac.open(fac_host, fac_port, cookie=cookie)
    ack, _, _ = await fac.call("facilitate", {"workshop_id": wid})
    if not ack.get("ok"):
        raise SystemExit(f"facilitate failed: {ack}")
    ws = ack["state"]["workshop"]
    if ws["method"] != args.method:
        raise SystemExit(f"the benchmark votes with the {args.method} method; the workshop "
                         f"uses {ws['method']} (--method)")
    criteria = [c["key"] for c in ws.get("criteria") or []]
    helices = [h["key"] for h in ws["helices"]]
    budget, cap = int(ws["budget"]), int(ws.get("cap") or ws["budget"])

    async def phase(name: str) -> None:
        a, _, _ = await fac.call("phase", {"workshop_id": wid, "phase": name}, 60)
        if not a.get("ok"):
            raise SystemExit(f"phase {name} failed: {a}")

    projector = Projector()
    await projector.conn.open(proj_host, proj_port)
    a, _, _ = await projector.conn.call("watch", {"code": code})
    if not a.get("ok"):
        raise SystemExit(f"watch failed: {a}")
    await phase("lobby")
    if not args.hidden:
        await fac.call("reveal", {"workshop_id": wid, "shown": False})

    # ------------------------------------------------------------------ 1. lobby: joins
    print(f"joining {args.phones} phones at {args.join_rate}/s over {args.procs} load processes"
          f" and {len(urls)} server process(es)...", flush=True)
    per_worker: list[list] = [[] for _ in pipes]
    servers = [hostport(u) for u in urls]
    for i in range(args.phones):
        host, port = servers[i % len(servers)]
        per_worker[i % len(pipes)].append((i, host, port, helices[i % len(helices)]))
    t0 = time.monotonic() + 0.5
    deadline = t0 + args.phones / args.join_rate + args.stage_timeout
    for pipe, phones in zip(pipes, per_worker):
        pipe.send(("join", {"phones": phones, "start_at": t0, "rate": args.join_rate,
                            "code": code, "timeout": args.ack_timeout, "deadline": deadline}))
    joins = await asyncio.gather(*(recv(p) for p in pipes))
    t1 = time.monotonic()
    stage_t["join"] = (t0, t1)
    join = {
        "connect_ok": sum(j["connect_ok"] for j in joins),
        "join_ok": sum(j["join_ok"] for j in joins),
        "connect_fail": sum((Counter(j["connect_fail"]) for j in joins), Counter()),
        "join_err": sum((Counter(j["join_err"]) for j in joins), Counter()),
        "seconds": t1 - t0,
    }
    jl = [x for j in joins for x in j["join_lat"]]
    cl = [x for j in joins for x in j["connect_lat"]]
    join.update({"join_p50": pct(jl, 50), "join_p95": pct(jl, 95), "join_p99": pct(jl, 99),
                 "connect_p95": pct(cl, 95),
                 "join_ack_kb": (sum(j["join_ack_bytes"] for j in joins) / max(1, join["join_ok"])
                                 / 1024)})
    report["join"] = join
    print(f"  joined {join['join_ok']}/{args.phones} in {join['seconds']:.1f} s", flush=True)
    await asyncio.sleep(args.settle)

    # ------------------------------------------------------------------ 2. proposals
    t0 = time.monotonic()
    prop_lat, prop_to_proj = [], []
    if args.proposals:
        await phase("propose")
        proposer = Conn()
        await proposer.open(fac_host, fac_port)
        a, _, _ = await proposer.call("join", {"code": code, "helix": helices[0],
                                               "name": "Proposer"}, args.ack_timeout)
        for j in range(args.proposals):
            try:
                a, ts, ta = await proposer.call("propose", {
                    "title": f"Bench domain {j + 1}",
                    "description": "A candidate domain proposed by the load benchmark. " * 3,
                    "rationale": "Existing firms, a university group and regional funding.",
                    "sdgs": [1 + j % 17]}, args.ack_timeout)
            except Exception:
                continue
            if a.get("ok"):
                prop_lat.append(ta - ts)
                did = a["domain_id"]
                for _ in range(int(args.ack_timeout * 20)):
                    hit = next((t for t, ids in projector.states if did in ids and t >= ts), None)
                    if hit:
                        prop_to_proj.append(hit - ts)
                        break
                    await asyncio.sleep(0.05)
            await asyncio.sleep(args.propose_interval)
        proposer.close()
    t1 = time.monotonic()
    stage_t["propose"] = (t0, t1)
    report["propose"] = {"n": len(prop_lat), "ack_p50": pct(prop_lat, 50),
                         "ack_p95": pct(prop_lat, 95), "to_projector_p95": pct(prop_to_proj, 95),
                         "seconds": t1 - t0}
    await asyncio.sleep(args.settle)

    # ------------------------------------------------------------------ 2b. discussion
    t0 = time.monotonic()
    com_lat, com_to_proj = [], []
    if args.comments:
        await phase("discuss")
        a, _, _ = await fac.call("facilitate", {"workshop_id": wid}, 60)
        targets = [d["domain_id"] for d in a["state"]["domains"] if d["status"] == "approved"]
        talker = Conn()
        await talker.open(fac_host, fac_port)
        await talker.call("join", {"code": code, "helix": helices[1 % len(helices)],
                                   "name": "Talker"}, args.ack_timeout)
        sent: list[tuple[int, float]] = []
        for j in range(args.comments):
            try:
                a, ts, ta = await talker.call("comment", {
                    "domain_id": targets[j % len(targets)],
                    "stance": ("support", "concern", "question", "evidence")[j % 4],
                    "text": f"Comment {j + 1} from the load benchmark: " + "evidence " * 20},
                    args.ack_timeout)
            except Exception:
                continue
            if a.get("ok"):
                com_lat.append(ta - ts)
                sent.append((a["comment_id"], ts))
            await asyncio.sleep(1.0 / args.comment_rate)
        await asyncio.sleep(2.0)
        com_to_proj = [projector.comments[c] - ts for c, ts in sent if c in projector.comments]
        talker.close()
    t1 = time.monotonic()
    stage_t["discuss"] = (t0, t1)
    report["discuss"] = {"n": len(com_lat), "ack_p50": pct(com_lat, 50),
                         "ack_p95": pct(com_lat, 95), "to_projector_p50": pct(com_to_proj, 50),
                         "to_projector_p95": pct(com_to_proj, 95),
                         "reached_projector": len(com_to_proj), "seconds": t1 - t0}
    if args.comments:
        await asyncio.sleep(args.settle)

    # ------------------------------------------------------------------ 3. vote
    await phase("vote")
    if not args.hidden:
        await fac.call("reveal", {"workshop_id": wid, "shown": True}, 60)
    a, _, _ = await fac.call("facilitate", {"workshop_id": wid}, 60)
    domains = [d["domain_id"] for d in a["state"]["domains"] if d["status"] == "approved"]
    await asyncio.sleep(1.0)
    baseline = projector.total() if not args.hidden else 0.0
    if args.hidden:
        # Hidden results reach only the console; use it to follow the totals.
        fac_results: list = []
        fac.raw_handlers["results"] = lambda d, t: fac_results.append((t, d))
    per_phone = args.votes
    if args.method == "score":
        per_phone = len(domains) * (len(criteria) if args.score_single else 1)
    n_votes = join["join_ok"] * per_phone
    duration = n_votes / args.vote_rate if args.vote_rate > 0 else 0.0
    what = ("score events (one per value)" if args.score_single else "score cards") \
        if args.method == "score" else "votes"
    print(f"voting: {join['join_ok']} phones x {per_phone} {what} on {len(domains)} domains,"
          f" {args.vote_rate}/s for {duration:.0f} s...", flush=True)
    t0 = time.monotonic() + 0.5
    deadline = t0 + duration + args.stage_timeout
    for pipe in pipes:
        pipe.send(("vote", {"start_at": t0, "duration": duration, "votes": args.votes,
                            "budget": budget, "cap": cap, "domains": domains,
                            "timeout": args.ack_timeout, "deadline": deadline,
                            "seed": args.seed, "taps": args.taps, "method": args.method,
                            "criteria": criteria, "single": args.score_single}))
    votes = await asyncio.gather(*(recv(p) for p in pipes))
    t_last_ack = time.monotonic()

    acked = sorted(x for v in votes for x in v["acked"])
    added = sum(x[1] for x in acked)
    expected = baseline + added
    # Wait until the projector (or console) shows every acked point.
    source = projector
    if args.hidden:
        source = Projector()
        for t, d in fac_results:
            source.on_results(d, t)
    settle_deadline = time.monotonic() + (0 if args.method == "score" else args.stage_timeout)
    while time.monotonic() < settle_deadline:
        if args.hidden:
            source = Projector()
            for t, d in fac_results:
                source.on_results(d, t)
        if abs(source.total() - expected) < 1e-6:
            break
        await asyncio.sleep(0.1)
    t1 = time.monotonic()
    stage_t["vote"] = (t0, t_last_ack)

    # vote-to-projector: the first results whose total reaches the running sum of acked points
    res = [(t, tot) for t, tot, _, _ in source.results if t >= t0 - 1]
    best, times = [], []
    for t, tot in res:  # running maximum: totals only ever grow in this scenario
        if not best or tot > best[-1]:
            best.append(tot)
            times.append(t)
    v2p, unseen, cum = [], 0, baseline
    # (With --taps totals also go down: the running maximum no longer tells which results
    # carried which vote, so only the settling time is reported.)
    for t_ack, delta, _ in ([] if args.taps or args.method == "score" else acked):
        cum += delta
        k = bisect.bisect_left(best, cum - 1e-6)
        if k >= len(best):
            unseen += 1
        else:
            v2p.append(max(0.0, times[k] - t_ack))
    lat = [x[2] for x in acked]
    sent = sum(v["sent"] for v in votes)
    span = (acked[-1][0] - acked[0][0]) if len(acked) > 1 else 0.0
    vote = {
        "sent": sent, "acked": len(acked), "errors": dict(sum((Counter(v["err"]) for v in votes),
                                                              Counter())),
        "ack_p50": pct(lat, 50), "ack_p95": pct(lat, 95), "ack_p99": pct(lat, 99),
        "ack_max": max(lat) if lat else None,
        "v2p_p50": pct(v2p, 50), "v2p_p95": pct(v2p, 95), "v2p_p99": pct(v2p, 99),
        "v2p_unseen": unseen, "votes_per_s": len(acked) / span if span else None,
        "points_acked": added, "projector_total": source.total() - baseline,
        "settle_s": t1 - t_last_ack, "dropped": sum(v["dropped"] for v in votes),
        "domains": len(domains),
    }
    report["vote"] = vote
    ballots: dict[int, dict] = {}
    uncertain: dict[int, dict] = {}
    for v in votes:
        key = str if args.method == "score" else int
        ballots.update({int(k): {key(d): p for d, p in b.items()} for k, b in v["ballots"].items()})
        uncertain.update({int(k): {key(d): tuple(x) for d, x in u.items()}
                          for k, u in v["uncertain"].items()})
    report["_ballots"], report["_uncertain"] = ballots, uncertain
    report["_stage_t"] = stage_t
    report["_projector"] = source.results

    # ------------------------------------------------------------------ close
    for pipe in pipes:
        pipe.send(("close", None))
    closes = await asyncio.gather(*(recv(p) for p in pipes))
    counts, nbytes = Counter(), Counter()
    seen: dict[str, list] = {}
    for c in closes:
        counts.update(c["counts"])
        nbytes.update(c["bytes"])
        for k, (a_, b_, n_) in c["results_seen"].items():
            s = seen.setdefault(k, [a_, b_, 0])
            s[0], s[1], s[2] = min(s[0], a_), max(s[1], b_), s[2] + n_
    report["load_cpu_s"] = [c["cpu_s"] for c in closes]
    report["received"] = {k: {"messages": counts[k], "kb": nbytes[k] / 1024,
                              "avg_bytes": nbytes[k] / counts[k] if counts[k] else 0}
                          for k in sorted(counts)}
    report["dropped_at_end"] = sum(c["dropped"] for c in closes)
    # results fan-out: projector receipt -> the last phone's receipt of the same broadcast
    fan = []
    for t, _, key, _ in projector.results:
        s = seen.get(key)
        if s and s[2] >= max(1, int(0.9 * join["join_ok"])) and s[1] >= t - 5:
            fan.append(s[1] - min(t, s[0]))
    report["fanout_p50"], report["fanout_p95"] = pct(fan, 50), pct(fan, 95)
    report["projector_results"] = {
        "messages": len(projector.results),
        "avg_kb": (sum(x[3] for x in projector.results) / len(projector.results) / 1024
                   if projector.results else 0),
    }
    fac.close()
    projector.conn.close()
    return report


# ====================================================================== database check


def check_db(db_url: str, workshop_id: int, ballots: dict, uncertain: dict) -> dict:
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT participant_id, domain_id, points FROM vote WHERE workshop_id = :w"),
            {"w": workshop_id}).all()
        events = conn.execute(sa.text(
            "SELECT count(*) FROM event WHERE workshop_id = :w AND kind = 'vote'"),
            {"w": workshop_id}).scalar()
    engine.dispose()
    stored = {(int(p), int(d)): int(x) for p, d, x in rows}
    lost = wrong = 0
    examples = []
    for pid, ballot in ballots.items():
        for d, pts in ballot.items():
            if d in uncertain.get(pid, {}):
                continue  # a later vote on this domain has an unknown outcome: checked below
            got = stored.get((pid, d), 0)
            if got < pts:
                lost += 1
                examples.append({"participant": pid, "domain": d, "acked": pts, "stored": got})
            elif got != pts:
                wrong += 1
                examples.append({"participant": pid, "domain": d, "acked": pts, "stored": got})
    for pid, u in uncertain.items():
        for d, (old, new) in u.items():
            got = stored.get((pid, d), 0)
            if got not in (old, new):
                wrong += 1
                examples.append({"participant": pid, "domain": d, "acked": old, "tried": new,
                                 "stored": got})
    expected_points = sum(sum(b.values()) for b in ballots.values())
    stored_points = sum(x for (p, _), x in stored.items() if p in ballots)
    return {"lost": lost, "wrong": wrong, "stored_points": stored_points,
            "acked_points": expected_points, "vote_events": int(events or 0),
            "uncertain": sum(len(u) for u in uncertain.values()), "examples": examples[:10]}


def check_scores(db_url: str, workshop_id: int, ballots: dict, uncertain: dict) -> dict:
    """Score method: every acked value stored (ballot keys "domain:criterion")."""
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT participant_id, domain_id, criterion, value FROM score "
            "WHERE workshop_id = :w"), {"w": workshop_id}).all()
        events = conn.execute(sa.text(
            "SELECT count(*) FROM event WHERE workshop_id = :w AND kind = 'score'"),
            {"w": workshop_id}).scalar()
    engine.dispose()
    stored = {(int(p), f"{d}:{c}"): int(v) for p, d, c, v in rows}
    lost = wrong = 0
    for pid, ballot in ballots.items():
        for key, value in ballot.items():
            if key in uncertain.get(pid, {}):
                continue
            got = stored.get((pid, key))
            lost += got is None
            wrong += got is not None and got != value
    for pid, u in uncertain.items():
        for key, (old, new) in u.items():
            if stored.get((pid, key)) not in (old, new):
                wrong += 1
    acked = sum(len(b) for b in ballots.values())
    return {"lost": lost, "wrong": wrong, "stored_points": len(stored), "acked_points": acked,
            "vote_events": int(events or 0),
            "uncertain": sum(len(u) for u in uncertain.values()), "examples": []}


# ====================================================================== profiling


def start_profile(pid: int, out: Path, seconds: int) -> subprocess.Popen | None:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("py-spy not found: `pip install py-spy` into the venv to profile", file=sys.stderr)
        return None
    return subprocess.Popen(
        # EDP_BENCH_SPY_IDLE=0: busy samples only (what the CPU figures count, including
        # the C work of gevent's loop that shows as Hub.run).
        [spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "100", "--nonblocking",
         *(["--idle"] if os.environ.get("EDP_BENCH_SPY_IDLE", "1") != "0" else []),
         "--duration", str(seconds), "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def summarise_profile(path: Path, top: int = 25) -> str:
    """Inclusive and self shares per function from py-spy's collapsed stacks."""
    if not path.exists():
        return f"(no profile at {path})"
    inclusive, own, total = Counter(), Counter(), 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        n = int(n)
        total += n
        frames = [re.sub(r" \((/.*/)?(site-packages/)?", " (", f) for f in stack.split(";")]
        # inclusive per function (line numbers dropped), self per line
        for f in {re.sub(r":\d+\)$", ")", f) for f in frames}:
            inclusive[f] += n
        own[frames[-1]] += n
    # the hub waiting in libev, and gevent's resolver thread waiting for work, are idle
    idle = sum(n for f, n in own.items()
               if f.startswith(("Hub.run (gevent/hub.py", "acquire_with_timeout (gevent/")))
    if not total:
        return "(empty profile)"
    busy = total - idle
    lines = [f"{total} samples, {100 * idle / total:.0f}% idle in the gevent hub (shares below"
             " are of all samples; for shares of busy time multiply by"
             f" {total / max(busy, 1):.2f})",
             "inclusive:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top)]
    lines.append("self:")
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines)


# ====================================================================== main


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phones", type=int, default=500)
    ap.add_argument("--procs", type=int, default=4, help="load processes")
    ap.add_argument("--votes", type=int, default=3, help="votes per phone")
    ap.add_argument("--join-rate", type=float, default=100.0, help="joins per second in total")
    ap.add_argument("--vote-rate", type=float, default=100.0, help="votes per second in total")
    ap.add_argument("--proposals", type=int, default=9,
                    help="domains proposed after the joins (the template seeds 3)")
    ap.add_argument("--propose-interval", type=float, default=0.5)
    ap.add_argument("--comments", type=int, default=0,
                    help="comments made in a discussion stage after the proposals")
    ap.add_argument("--comment-rate", type=float, default=5.0, help="comments per second")
    ap.add_argument("--hidden", action="store_true",
                    help="keep results hidden from phones (only the console gets them)")
    ap.add_argument("--ack-timeout", type=float, default=30.0)
    ap.add_argument("--stage-timeout", type=float, default=120.0,
                    help="extra seconds a stage may take past its schedule")
    ap.add_argument("--settle", type=float, default=2.0, help="pause between stages (s)")
    ap.add_argument("--max-seconds", type=int, default=1200, help="hard limit for the whole run")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--priority", type=int, default=0, metavar="NICE",
                    help="run the server and load processes at this nice value (negative needs "
                         "root): keeps other work on a shared machine from distorting the figures")
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                    help="first wait up to SECONDS for other processes on the machine to go quiet")
    ap.add_argument("--template", default=str(TEMPLATE))
    ap.add_argument("--server-procs", type=int, default=1)
    ap.add_argument("--redis", help="message queue URL for --server-procs > 1")
    ap.add_argument("--postgres", help="PostgreSQL URL; a fresh database is created beside it")
    ap.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra environment for the server (e.g. EDP_RESULTS_INTERVAL=0.5)")
    ap.add_argument("--url", action="append", default=[],
                    help="target a running server instead (repeat for several processes)")
    ap.add_argument("--code")
    ap.add_argument("--workshop-id", type=int)
    ap.add_argument("--email", default=EMAIL)
    ap.add_argument("--db-url", help="with --url: the server's database, for the lost-vote check")
    ap.add_argument("--server-pid", action="append", type=int, default=[],
                    help="with --url: pids to sample for CPU and RSS")
    ap.add_argument("--profile", metavar="DIR",
                    help="record py-spy profiles of the server (join and vote stages) into DIR")
    ap.add_argument("--probe", action="store_true",
                    help="load bench/probe/sitecustomize.py into the server: GC pause statistics")
    ap.add_argument("--proto", default="", metavar="FLAGS",
                    help="with --probe: prototypes of the proposed changes to switch on, e.g. "
                         "counts,light,phonerate,core,joinstate,freeze (see bench/probe)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    ap.add_argument("--taps", action="store_true",
                    help="phones adjust their points as people tap + and -: each vote event "
                         "moves one domain by one point up or down (within budget and cap), "
                         "not only upwards")
    ap.add_argument("--baseline", action="store_true",
                    help="run the same scenario twice, against EDP Live and then against the "
                         "bare floor server (bench/floor.py), and print the server CPU per "
                         "vote of both and their ratio")
    ap.add_argument("--floor", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--method", choices=("dot", "score"), default="dot",
                    help="score: every phone scores every domain on every criterion, a card "
                         "(one event of all criteria) per domain; --vote-rate is events/s")
    ap.add_argument("--score-single", action="store_true",
                    help="with --method score: one event per criterion value (the old way)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return ap.parse_args(argv)


def baseline(argv: list[str]) -> int:
    """--baseline: the same scenario against EDP Live, then against the floor server, each in
    its own run of this script; then the CPU per vote of both and their ratio."""
    argv = [a for a in argv if a != "--baseline"]
    out = Path(tempfile.mkdtemp(prefix="edp-baseline-"))
    figures = {}
    for kind in ("edp", "floor"):
        path = out / f"{kind}.json"
        extra = ["--json", str(path)] + (["--floor"] if kind == "floor" else [])
        done = subprocess.run([sys.executable, __file__, *argv, *extra])
        if done.returncode != 0 or not path.exists():
            print(f"the {kind} run failed", file=sys.stderr)
            return 1
        figures[kind] = json.loads(path.read_text())
    shutil.rmtree(out, ignore_errors=True)
    edp, floor = figures["edp"], figures["floor"]
    print("\n== EDP Live against the floor (the same scenario, the same machine) ==")
    for name, r in (("EDP Live", edp), ("floor", floor)):
        v = r["vote"]
        print(f"{name:<10} {r['cpu_per_vote_ms']:.2f} ms of server CPU per vote; vote ack p50/p95 "
              f"{ms(v['ack_p50'])}/{ms(v['ack_p95'])} ms; {v['acked']}/{v['sent']} acked; "
              f"lost {r.get('db', {}).get('lost', '-')}")
    if edp.get("cpu_per_vote_ms") and floor.get("cpu_per_vote_ms"):
        print(f"ratio      {edp['cpu_per_vote_ms'] / floor['cpu_per_vote_ms']:.2f}x the floor's "
              "CPU per vote (target: at most 1.3x)")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--baseline" in argv:
        return baseline(argv)
    args = parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.phones + 1000
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < need:
        print(f"warning: open-file limit {soft} is below {need}", file=sys.stderr)

    if args.priority:
        try:  # inherited by the load processes and the server processes started below
            os.setpriority(os.PRIO_PROCESS, 0, args.priority)
        except OSError as exc:
            print(f"warning: cannot set priority {args.priority}: {exc}", file=sys.stderr)
    ctx = mp.get_context("fork")
    pipes, workers = [], []
    for w in range(args.procs):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=worker_main, args=(child, w), daemon=True)
        proc.start()
        pipes.append(parent)
        workers.append(proc)

    tmp = Path(tempfile.mkdtemp(prefix="edp-bench-"))
    servers: list[Server] = []
    pg_db = None
    password = os.environ.get("EDP_PASSWORD") or "bench-password-" + uuid.uuid4().hex[:8]

    def cleanup():
        for s in servers:
            s.stop()
        for w in workers:
            if w.is_alive():
                w.terminate()
        if pg_db:
            drop_pg(*pg_db)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    def on_alarm(signum, frame):
        raise TimeoutError(f"the benchmark passed --max-seconds={args.max_seconds}")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(args.max_seconds)
    try:
        if args.url:
            urls = args.url
            if not (args.code and args.workshop_id):
                raise SystemExit("--url needs --code and --workshop-id")
            info = {"id": args.workshop_id, "code": args.code}
            db_url = args.db_url
            pids = args.server_pid
        elif args.floor:
            db_url = f"sqlite:///{tmp / 'floor.sqlite3'}"
            info = {"id": 1, "code": "FLOOR1"}
            servers.append(Server(dict(os.environ), tmp, floor_db=tmp / "floor.sqlite3"))
            servers[0].start()
            urls, pids = [servers[0].url], [servers[0].proc.pid]
        else:
            if args.postgres:
                db_url, pg_db = make_pg(args.postgres)
            else:
                db_url = f"sqlite:///{tmp / 'bench.sqlite3'}"
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith("EDP_MESSAGE_QUEUE")}
            env.update({"EDP_DATABASE_URL": db_url, "EDP_SECRET_KEY": uuid.uuid4().hex,
                        "EDP_PASSWORD": password})
            if args.server_procs > 1:
                if not args.redis:
                    raise SystemExit("--server-procs > 1 needs --redis")
                env["EDP_MESSAGE_QUEUE"] = args.redis
                env["EDP_MESSAGE_QUEUE_CHANNEL"] = f"edp-bench-{os.getpid()}-{uuid.uuid4().hex[:6]}"
            if args.probe or args.proto:
                probe_dir = str(Path(__file__).resolve().parent / "probe")
                env["PYTHONPATH"] = os.pathsep.join(
                    x for x in (probe_dir, env.get("PYTHONPATH", "")) if x)
                env["EDP_BENCH_PROTO"] = args.proto
            for kv in args.server_env:
                k, _, v = kv.partition("=")
                env[k] = v
            cli(env, "init-db")
            cli(env, "facilitator", "add", args.email)
            info = json.loads(cli(env, "workshop", "create", "--template", args.template,
                                  "--facilitator", args.email, "--method", args.method)
                              .strip().splitlines()[-1])
            for _ in range(args.server_procs):
                servers.append(Server({**env}, tmp))
            for s in servers:
                s.env["EDP_PUBLIC_URL"] = s.url
                if args.probe or args.proto:
                    s.env["EDP_BENCH_PROBE_OUT"] = str(tmp / f"probe-{s.port}.json")
                s.start()
            urls = [s.url for s in servers]
            pids = [s.proc.pid for s in servers]
        cookie = login(urls[0], args.email, password)
        own = [os.getpid()] + [w.pid for w in workers]
        if args.wait_quiet:
            other = wait_quiet(own + pids, args.wait_quiet)
            print(f"other processes use {100 * other:.0f}% of a core at the start", flush=True)
        sampler = Sampler(pids, own)
        sampler.start()
        t_begin = time.monotonic()

        profilers = []
        if args.profile and pids:
            Path(args.profile).mkdir(parents=True, exist_ok=True)
            join_s = int(args.phones / args.join_rate + 10)
            profilers.append(start_profile(pids[0], Path(args.profile) / "join.txt", join_s))

        report = asyncio.run(run_with_vote_profile_wrapper(args, urls, info, cookie, pipes,
                                                            sampler, pids, profilers))
        sampler.stop_flag.set()
        sampler.join(2)
        for p in profilers:
            if p is not None:
                try:
                    p.wait(60)
                except subprocess.TimeoutExpired:
                    p.kill()
        stage_t = report.pop("_stage_t")
        ballots, uncertain = report.pop("_ballots"), report.pop("_uncertain")
        report.pop("_projector")
        report["server"] = {}
        for stage, (a, b) in stage_t.items():
            report["server"][stage] = sampler.window(a, b)
        report["server"]["whole"] = sampler.window(t_begin, time.monotonic())
        # Server CPU per acked vote over the vote stage (every process summed): the figure
        # --baseline compares with the floor.
        vote_cpu = [x for x in report["server"]["vote"]["cpu_pct"] if x is not None]
        a_, b_ = stage_t["vote"]
        report["cpu_per_vote_ms"] = (10 * sum(vote_cpu) * (b_ - a_)
                                     / max(1, report["vote"]["acked"]) if vote_cpu else None)
        report["server"]["rss_hwm_mb"] = [
            (Proc(p).mem()[1] or 0) / 2**20 for p in pids]
        if db_url:
            report["db"] = (check_scores if args.method == "score" else check_db)(
                db_url, info["id"], ballots, uncertain)
        if args.probe or args.proto:
            time.sleep(2.5)  # the probe writes every two seconds
            report["probe"] = []
            for s in servers:
                try:
                    report["probe"].append(json.loads(Path(s.env["EDP_BENCH_PROBE_OUT"]).read_text()))
                except (OSError, ValueError, KeyError):
                    report["probe"].append(None)
        print_report(report, args)
        if args.profile:
            for name in ("join", "vote"):
                print(f"\n--- py-spy profile of the server, {name} stage ---")
                print(summarise_profile(Path(args.profile) / f"{name}.txt"))
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2, default=str))
        return 0
    finally:
        signal.alarm(0)
        cleanup()


async def run_with_vote_profile_wrapper(args, urls, info, cookie, pipes, sampler, pids, profilers):
    """Runs the scenario; with --profile, starts a py-spy recording when the vote stage starts."""
    if not (args.profile and pids):
        return await scenario(args, urls, info, cookie, pipes, sampler)
    original = Conn.call
    started = {"done": False}

    async def call(self, event, data, timeout=30.0):
        if (event == "phase" and isinstance(data, dict) and data.get("phase") == "vote"
                and not started["done"]):
            started["done"] = True
            seconds = int(args.phones * args.votes / max(args.vote_rate, 1) + 15)
            profilers.append(start_profile(pids[0], Path(args.profile) / "vote.txt", seconds))
        return await original(self, event, data, timeout)

    Conn.call = call
    try:
        return await scenario(args, urls, info, cookie, pipes, sampler)
    finally:
        Conn.call = original


def make_pg(admin_url: str) -> tuple[str, tuple[str, str]]:
    import sqlalchemy as sa

    name = f"edp_bench_{os.getpid()}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name, (admin_url, name)


def drop_pg(admin_url: str, name: str) -> None:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()
    except Exception as exc:
        print(f"could not drop the benchmark database {name}: {exc}", file=sys.stderr)


def print_report(r: dict, args) -> None:
    j, v, s = r["join"], r["vote"], r["server"]

    def cpu(stage):
        return " + ".join("-" if x is None else f"{x:.0f}%" for x in s[stage]["cpu_pct"])

    def rss(stage):
        return " + ".join("-" if x is None else f"{x:.0f}" for x in s[stage]["rss_peak_mb"])

    print()
    print(f"== {'the floor (bench/floor.py)' if args.floor else 'EDP Live'} load: {r['phones']} phones, {r['server_procs']} server process(es), "
          f"{r['procs']} load processes, {v['domains']} domains, results "
          f"{'hidden' if args.hidden else 'shown to phones'} ==")
    print(f"connect           {j['connect_ok']}/{r['phones']} ok"
          + (f"  failures {dict(j['connect_fail'])}" if j["connect_fail"] else "")
          + f"  (connect p95 {ms(j['connect_p95'])} ms)")
    print(f"join              {j['join_ok']}/{r['phones']} ok in {j['seconds']:.1f} s; "
          "ack p50/p95/p99 "
          f"{ms(j['join_p50'])}/{ms(j['join_p95'])}/{ms(j['join_p99'])} ms; join ack "
          f"{j['join_ack_kb']:.1f} KB"
          + (f"  errors {dict(j['join_err'])}" if j["join_err"] else ""))
    p = r["propose"]
    if p["n"]:
        print(f"propose           {p['n']} proposals; ack p50/p95 "
              f"{ms(p['ack_p50'])}/{ms(p['ack_p95'])} ms;"
              f" new state on the projector p95 {ms(p['to_projector_p95'])} ms after sending")
    c = r.get("discuss") or {}
    if c.get("n"):
        print(f"discuss           {c['n']} comments; ack p50/p95 "
              f"{ms(c['ack_p50'])}/{ms(c['ack_p95'])} ms; on the projector p50/p95 "
              f"{ms(c['to_projector_p50'])}/{ms(c['to_projector_p95'])} ms after sending "
              f"({c['reached_projector']}/{c['n']} arrived)")
    print(f"votes             {v['acked']}/{v['sent']} acked"
          + (f"  errors {v['errors']}" if v["errors"] else ""))
    print(f"vote ack          p50 {ms(v['ack_p50'])} ms  p95 {ms(v['ack_p95'])} ms  "
          f"p99 {ms(v['ack_p99'])} ms  max {ms(v['ack_max'])} ms")
    print(f"vote->projector   p50 {ms(v['v2p_p50'])} ms  p95 {ms(v['v2p_p95'])} ms  "
          f"p99 {ms(v['v2p_p99'])} ms"
          + (f"  (never seen: {v['v2p_unseen']})" if v["v2p_unseen"] else ""))
    print(f"results fan-out   projector -> last phone p50 {ms(r['fanout_p50'])} ms, "
          f"p95 {ms(r['fanout_p95'])} ms; {r['projector_results']['messages']} results at the "
          f"projector, {r['projector_results']['avg_kb']:.1f} KB each")
    vps = v["votes_per_s"]
    print(f"throughput        {vps:.0f} votes/s acked (target rate {args.vote_rate:.0f}/s)"
          if vps else "throughput        -")
    print(f"server CPU        join {cpu('join')}, vote {cpu('vote')}, whole run {cpu('whole')}"
          + (f"; {r['cpu_per_vote_ms']:.2f} ms per vote" if r.get("cpu_per_vote_ms") else ""))
    print(f"server RSS (MB)   peak join {rss('join')}, vote {rss('vote')}; high-water "
          + " + ".join(f"{x:.0f}" for x in s["rss_hwm_mb"]))
    print("load CPU (s)      " + ", ".join(f"{x:.1f}" for x in r["load_cpu_s"]))

    def pc(x):
        return "-" if x is None else f"{x:.0f}%"

    print(f"machine CPU       (2 cores = 200%) join {pc(s['join']['machine_pct'])}, vote "
          f"{pc(s['vote']['machine_pct'])}; load generator {pc(s['vote']['loadgen_pct'])} and "
          f"OTHER processes {pc(s['vote']['others_pct'])} during the vote "
          f"({pc(s['whole']['others_pct'])} over the run)")
    if "db" in r:
        d = r["db"]
        print(f"lost votes        {d['lost']} (acked points {d['acked_points']}, stored "
              f"{d['stored_points']}; wrong {d['wrong']}, unknown-outcome {d['uncertain']}; "
              f"vote events {d['vote_events']})")
        for e in d["examples"][:5]:
            print(f"  mismatch: {e}")
    print(f"projector totals  {v['projector_total']:.0f} points vs {v['points_acked']} acked "
          f"(settled {v['settle_s']:.1f} s after the last ack)")
    recv_ = ", ".join(f"{k} {x['messages']} ({x['avg_bytes'] / 1024:.1f} KB avg)"
                      for k, x in r["received"].items())
    print(f"phones received   {recv_}")
    for i, pr in enumerate(r.get("probe") or []):
        if not pr:
            continue
        g = pr["gc"]
        print(f"server {i} GC       " + "; ".join(
            f"gen{k}: {g[k]['n']} runs, {g[k]['total_s']:.2f} s total, "
            f"max {1000 * g[k]['max_s']:.0f} ms" for k in ("0", "1", "2"))
            + (f"; prototypes {','.join(pr['flags'])}" if pr["flags"] else "")
            + f"; frozen {pr['frozen']}")
        gcm = pr.get("group_commit")
        if gcm and gcm["batches"]:
            print(f"server {i} commits  {gcm['items']} votes in {gcm['batches']} group commits "
                  f"({gcm['items'] / gcm['batches']:.1f} per transaction, at most {gcm['max']})")
    if r["dropped_at_end"]:
        print(f"dropped           {r['dropped_at_end']} phone connections closed before the end")


if __name__ == "__main__":
    sys.exit(main())
