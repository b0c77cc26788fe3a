"""Slow-loris against a real `edp run`: N connections that drip header lines and never finish
them, beside a /healthz probe. Prints /healthz latency (median, max), failures, and how many
dripping connections the server had closed by the end.

    .venv/bin/python bench/slow_loris.py [--connections 1100] [--seconds 20] [--nofile 1024]
        [--header-timeout 10]

The server runs with its open-files limit set to --nofile (soft and hard: what `ulimit -n`
does), so the raise to the hard limit at start-up cannot help and the header deadline
(EDP_HEADER_TIMEOUT) is what keeps it answering. Issue 14 measured, before the deadline,
1,100 connections under `ulimit -n 1024`: "Too many open files" and a 7.7 s /healthz.
"""
from __future__ import annotations

import argparse
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from conftest import LiveServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", type=int, default=1100)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--nofile", type=int, default=1024)
    ap.add_argument("--header-timeout", default="10")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.connections + 512), hard))

    tmp = Path(tempfile.mkdtemp(prefix="edp-loris-"))
    srv = LiveServer(f"sqlite:///{tmp / 'loris.sqlite3'}", log_dir=tmp)
    srv.env["EDP_HEADER_TIMEOUT"] = args.header_timeout
    srv.cli("init-db")
    limit = args.nofile

    def cap():  # in the server's child process, before exec
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    srv.log = open(srv.log_path, "ab")
    srv.proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "edp"), "run", "--host", "127.0.0.1",
         "--port", str(srv.port)], env=srv.env, stdout=srv.log, stderr=subprocess.STDOUT,
        preexec_fn=cap)
    for _ in range(300):
        try:
            urllib.request.urlopen(srv.url + "/healthz", timeout=1).read()
            break
        except OSError:
            time.sleep(0.1)
    socks: list[socket.socket] = []
    refused = 0
    lat: list[float] = []
    failures = 0
    try:
        for _ in range(args.connections):
            try:
                s = socket.create_connection(("127.0.0.1", srv.port), timeout=2)
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
            except OSError:
                refused += 1
        end = time.monotonic() + args.seconds
        k = 0
        while time.monotonic() < end:
            k += 1
            for s in socks:
                try:
                    s.sendall(f"X-{k}: {k}\r\n".encode())
                except OSError:
                    pass
            t = time.monotonic()
            try:
                urllib.request.urlopen(srv.url + "/healthz", timeout=15).read()
                lat.append(time.monotonic() - t)
            except OSError:
                failures += 1
            time.sleep(0.5)
        closed = 0
        for s in socks:
            s.setblocking(False)
            try:
                closed += s.recv(64) == b""
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
    finally:
        for s in socks:
            s.close()
        srv.stop()
    log = srv.log_path.read_text(errors="replace")
    print(f"connections opened: {len(socks)} (refused {refused}); server nofile {limit}; "
          f"EDP_HEADER_TIMEOUT={args.header_timeout}")
    if lat:
        print(f"/healthz: {len(lat)} answers, median {statistics.median(lat) * 1000:.0f} ms, "
              f"max {max(lat) * 1000:.0f} ms, {failures} failed")
    else:
        print(f"/healthz: no answer, {failures} failed")
    print(f"dripping connections closed by the server: {closed} of {len(socks)}")
    print(f"'Too many open files' in the server log: {log.count('Too many open files')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
