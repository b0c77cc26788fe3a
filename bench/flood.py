"""Floods against a real server (issue #14, items 2 and 3): what the limits let through.

1. Comment flood: five phones with the join code each send a ~5,000-character comment every
   0.1 s for --seconds (acks not awaited): comments accepted and refused (by code).
2. Twenty phones then join at once: join ack size (JSON bytes) and time; also the projector's
   `watch` and the console's `facilitate` sizes.
3. A venue of --venue phones (default 200) join at once, each trying again after the
   `retry_after` a rate_limited ack gives (as the phone page does): how long until all are in.

Everything runs on 127.0.0.1 against `edp run` on a fresh SQLite file with the shipped
defaults (override any with EDP_* variables in the environment). Prints figures; exits
non-zero only when it cannot run.

    .venv/bin/python bench/flood.py [--seconds 60] [--venue 200]
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import EMAIL, TEMPLATE, Server, cli, hostport, login
from wsclient import Conn

HELICES = ["government", "business", "academia", "civil_society", "environment", "funders"]
LONG = ("Evidence from the regional survey. " * 142)[:4990]


async def connect(host: str, port: int, cookie: str | None = None) -> Conn:
    conn = Conn()
    await conn.open(host, port, cookie=cookie)
    return conn


async def flood(host, port, code, seeds, seconds: float) -> Counter:
    phones = [await connect(host, port) for _ in range(5)]
    for i, phone in enumerate(phones):
        ack, _t0, _t1 = await phone.call("join", {"code": code, "helix": HELICES[i]})
        assert ack.get("ok"), ack
    outcome: Counter = Counter()
    pending: list[asyncio.Task] = []

    async def one(phone, payload):
        try:
            ack, _t0, _t1 = await phone.call("comment", payload, timeout=60)
            outcome["accepted" if ack.get("ok") else ack["error"]["code"]] += 1
        except (TimeoutError, ConnectionError):
            outcome["no ack"] += 1

    end = time.monotonic() + seconds
    k = 0
    while time.monotonic() < end:
        for i, phone in enumerate(phones):
            payload = {"domain_id": seeds[(i + k) % len(seeds)], "stance": "evidence",
                       "text": f"{k} {LONG}"}
            pending.append(asyncio.create_task(one(phone, payload)))
        k += 1
        await asyncio.sleep(0.1)
    await asyncio.gather(*pending)
    for phone in phones:
        phone.close()
    return outcome


async def join_all(host, port, code, n: int, patience: float = 300) -> dict:
    """`n` phones join at once; a rate_limited phone waits `retry_after` and tries again."""
    started = time.monotonic()
    sizes, times, tries = [], [], Counter()

    async def phone(i):
        conn = await connect(host, port)
        client_id = secrets.token_hex(16)
        while time.monotonic() - started < patience:
            ack, t0, t1 = await conn.call("join", {"code": code, "helix": HELICES[i % 6],
                                                   "client_id": client_id}, timeout=120)
            tries[ack["error"]["code"] if not ack.get("ok") else "ok"] += 1
            if ack.get("ok"):
                sizes.append(len(json.dumps(ack)))
                times.append(t1 - t0)
                return conn, time.monotonic() - started
            if ack["error"]["code"] != "rate_limited":
                return conn, None
            await asyncio.sleep(ack["error"].get("retry_after", 1))
        return conn, None

    done = await asyncio.gather(*(phone(i) for i in range(n)))
    for conn, _t in done:
        conn.close()
    ins = [t for _c, t in done if t is not None]
    return {"in": len(ins), "all_in_s": max(ins) if ins else None, "sizes": sizes,
            "times": times, "tries": dict(tries)}


async def scenario(args, url: str, info: dict, cookie: str) -> None:
    host, port = hostport(url)
    fac = await connect(host, port, cookie=cookie)
    ack, _t0, _t1 = await fac.call("facilitate", {"workshop_id": info["id"]})
    seeds = [d["domain_id"] for d in ack["state"]["domains"]]
    await fac.call("phase", {"workshop_id": info["id"], "phase": "discuss"})

    print(f"1. comment flood: 5 phones, a ~5,000-character comment each every 0.1 s "
          f"for {args.seconds:g} s")
    outcome = await flood(host, port, info["code"], seeds, args.seconds)
    total = sum(outcome.values())
    print(f"   sent {total}: accepted {outcome['accepted']}, refused "
          f"{total - outcome['accepted']} ({', '.join(f'{k} {v}' for k, v in outcome.items() if k != 'accepted')})")

    print("2. twenty phones join after the flood (at once)")
    joined = await join_all(host, port, info["code"], 20)
    kb = [s / 1024 for s in joined["sizes"]]
    print(f"   joined {joined['in']}/20; join ack {statistics.median(kb):.1f} KB median, "
          f"{max(kb):.1f} KB max; ack time {statistics.median(joined['times']) * 1000:.0f} ms "
          f"median, {max(joined['times']) * 1000:.0f} ms max")
    screen = await connect(host, port)
    t = time.monotonic()
    watch, _t0, _t1 = await screen.call("watch", {"code": info["code"]})
    print(f"   projector watch {len(json.dumps(watch)) / 1024:.1f} KB in "
          f"{(time.monotonic() - t) * 1000:.0f} ms; ", end="")
    t = time.monotonic()
    state, _t0, _t1 = await fac.call("facilitate", {"workshop_id": info["id"]})
    print(f"console facilitate {len(json.dumps(state)) / 1024:.1f} KB in "
          f"{(time.monotonic() - t) * 1000:.0f} ms")
    screen.close()

    print(f"3. a venue of {args.venue} phones joins at once (retrying after retry_after)")
    venue = await join_all(host, port, info["code"], args.venue)
    print(f"   {venue['in']}/{args.venue} in; the last after {venue['all_in_s']:.1f} s; "
          f"attempts {venue['tries']}; ack time "
          f"{statistics.median(venue['times']) * 1000:.0f} ms median")
    fac.close()


class _kept:
    def __init__(self, path: str):
        self.path = path
        Path(path).mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> str:
        return self.path

    def __exit__(self, *exc) -> None:
        return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60, help="length of the comment flood")
    ap.add_argument("--venue", type=int, default=200, help="phones joining at once in step 3")
    args = ap.parse_args(argv)
    keep = os.environ.get("EDP_BENCH_KEEP")  # keep the server's log and database there
    with (tempfile.TemporaryDirectory(prefix="edp-flood-") if not keep
          else _kept(keep)) as tmp:
        password = os.environ.get("EDP_PASSWORD") or secrets.token_urlsafe(18)
        env = {**os.environ, "EDP_DATABASE_URL": f"sqlite:///{Path(tmp) / 'flood.sqlite3'}",
               "EDP_SECRET_KEY": secrets.token_hex(16), "EDP_PASSWORD": password}
        cli(env, "init-db")
        cli(env, "facilitator", "add", EMAIL)
        info = json.loads(cli(env, "workshop", "create", "--template", str(TEMPLATE),
                              "--facilitator", EMAIL).strip().splitlines()[-1])
        server = Server(env, Path(tmp)).start()
        env["EDP_PUBLIC_URL"] = server.url
        try:
            cookie = login(server.url, EMAIL, password)
            asyncio.run(scenario(args, server.url, info, cookie))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
