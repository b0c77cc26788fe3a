"""Heavy work (exports, record imports, pairing comparisons) in worker processes, off the live
event loop.

The server runs Flask-SocketIO on gevent: one thread serves every phone, so a request that
spends 10 s of CPU building a report holds every vote ack for those 10 s. Here such a request
hands the job to one of HEAVY_WORKERS long-lived worker processes (`python -m edp.jobs`, each
with its own app and database connection) and waits on a pipe, which gevent does cooperatively;
the phones' events go on meanwhile.

- At most HEAVY_WORKERS jobs run at once per server process; a request that finds them all busy
  waits up to HEAVY_WAIT seconds for one, then gets `Busy` (the views answer 503 "busy, try
  again" with Retry-After). A job running longer than HEAVY_TIMEOUT seconds is stopped (its
  worker killed and replaced) and fails with `Busy` as well.
- Workers start on first use and stay; each receives the requesting app's configuration with
  every job and keeps one app per configuration (so tests with many databases share them).
- HEAVY_WORKERS = 0 runs jobs in the calling process (the command line does, being its own
  process already).
- Results larger than a pipe message travel as temporary files.

A job is a function of this module decorated with `@job`; it runs inside an app context and
returns picklable data. Exceptions it raises come back as themselves when they pickle
(`record.RecordError`, `pairing.PairingError`), else as `JobFailed`.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import select
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

JOBS: dict[str, Callable[..., Any]] = {}
READ_ONLY: set[str] = set()
_HEADER = struct.Struct("!Q")


class Busy(RuntimeError):
    """Every worker is busy (or the job ran out of time): try again in a moment."""


class JobFailed(RuntimeError):
    """The job raised something that could not travel back (the message says what)."""


def job(func: Callable[..., Any] | None = None, *, reads_only: bool = True):
    """Register a job; `reads_only` ones run in a deferred (reading) SQLite transaction."""
    def register(f: Callable[..., Any]) -> Callable[..., Any]:
        JOBS[f.__name__] = f
        if reads_only:
            READ_ONLY.add(f.__name__)
        return f

    return register(func) if func else register


# ---------------------------------------------------------------- the jobs (run in a worker)


def _workshop(workshop_id: int):
    from .extensions import db
    from .models import Workshop

    ws = db.session.get(Workshop, workshop_id)
    if ws is None:
        raise JobFailed(f"no workshop {workshop_id}")
    return ws


@job
def export(workshop_id: int, fmt: str) -> tuple[bytes, str, str]:
    from . import exports

    return exports.build(_workshop(workshop_id), fmt)


@job
def rounds_export(earlier_id: int, later_id: int, fmt: str) -> tuple[bytes, str, str]:
    from . import rounds_export as rx

    return rx.build(_workshop(earlier_id), _workshop(later_id), fmt)


@job
def comparison(workshop_id: int, partner_id: int):
    import json

    from . import exports, pairing

    return pairing.compare(json.loads(exports.build(_workshop(workshop_id), "json")[0]),
                           json.loads(exports.build(_workshop(partner_id), "json")[0]))


@job
def brief(workshop_id: int, partner_id: int, fmt: str, language: str):
    from flask_babel import force_locale

    from . import pairing

    with force_locale(language):
        return pairing.brief(comparison(workshop_id, partner_id), fmt, language)


@job(reads_only=False)
def import_partner(data: bytes, workshop_id: int, facilitator_id: int) -> int:
    """Import a partner region's record; commits, and returns the new workshop's id (a refused
    record leaves nothing behind). The record is parsed and checked before the database is
    touched, so SQLite's write lock is held only while the rows go in."""
    from . import pairing, record
    from .extensions import db
    from .models import Facilitator

    loaded = record.load(data)
    record.validate(loaded)
    pairing.side_of(loaded)
    try:
        partner = pairing.import_partner(loaded, _workshop(workshop_id),
                                         db.session.get(Facilitator, facilitator_id),
                                         checked=True)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return partner.id


@job(reads_only=False)
def load_diagnosis(data: bytes, filename: str, workshop_id: int, region: str | None,
                   language: str) -> dict[str, Any]:
    """Parse, check and store a workshop's diagnosis file and compute its indexes; commits
    and returns the summary (a refused file raises `evidence.DiagnosisError`, in `language`,
    and changes nothing)."""
    from flask_babel import force_locale

    from . import evidence
    from .extensions import db

    with force_locale(language):
        table = evidence.parse(data, filename)  # before the database is touched
        try:
            diag = evidence.store(_workshop(workshop_id), table, region, filename)
            summary = evidence.summary(_workshop(workshop_id), diag)
            db.session.commit()
        except BaseException:
            db.session.rollback()
            raise
    return summary


# ---------------------------------------------------------------- the caller's side


def run(name: str, *args: Any) -> Any:
    """Run job `name` off this process's event loop and return its result (see the module)."""
    from flask import current_app

    from .extensions import db

    app = current_app._get_current_object()
    size = int(app.config.get("HEAVY_WORKERS", 2))
    if size <= 0:
        return JOBS[name](*args)
    # End this request's transaction: on SQLite it holds the write lock the worker may need,
    # and the worker must see what the request committed.
    db.session.commit()
    return _pool(size).run(_config_of(app), name, args,
                           wait=float(app.config.get("HEAVY_WAIT", 10)),
                           timeout=float(app.config.get("HEAVY_TIMEOUT", 600)))


def _config_of(app) -> bytes:
    """The app's configuration, as much of it as pickles; without the message queue (a worker
    broadcasts nothing)."""
    kept = {}
    for key, value in app.config.items():
        if key in ("MESSAGE_QUEUE", "HEAVY_WORKERS"):
            continue
        try:
            pickle.dumps(value)
        except (pickle.PicklingError, TypeError, AttributeError):
            continue
        kept[key] = value
    kept["HEAVY_WORKERS"] = 0
    return pickle.dumps(kept)


_pool_lock = threading.Lock()
_the_pool: _Pool | None = None


def _pool(size: int) -> _Pool:
    global _the_pool
    with _pool_lock:
        if _the_pool is None or _the_pool.pid != os.getpid():
            _the_pool = _Pool(size)
        return _the_pool


class _Worker:
    def __init__(self):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        # Its own session: a Ctrl-C in the terminal reaches the server, which closes the pipes.
        self.proc = subprocess.Popen([sys.executable, "-m", "edp.jobs"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, bufsize=0, env=env,
                                     start_new_session=True)
        self.out, self.inp = self.proc.stdin.fileno(), self.proc.stdout.fileno()

    def call(self, message: bytes, deadline: float) -> bytes:
        _write_frame(self.out, message, deadline)
        return _read_frame(self.inp, deadline)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass


class _Pool:
    def __init__(self, size: int):
        self.pid = os.getpid()
        self.size = size
        # Patched by gevent in the server: waiting for a slot yields to the hub.
        self.slots = threading.BoundedSemaphore(size)
        self.idle: list[_Worker] = []
        self.lock = threading.Lock()

    def run(self, config: bytes, name: str, args: tuple, wait: float, timeout: float) -> Any:
        if not self.slots.acquire(timeout=max(wait, 0.001)):
            raise Busy("every worker is busy")
        worker = None
        try:
            with self.lock:
                worker = self.idle.pop() if self.idle else None
            if worker is None or worker.proc.poll() is not None:
                worker = _Worker()
            message = pickle.dumps((config, name, args), protocol=pickle.HIGHEST_PROTOCOL)
            try:
                reply = worker.call(message, time.monotonic() + timeout)
            except TimeoutError:
                worker.kill()
                worker = None
                raise Busy(f"the job ran longer than {timeout:g} s") from None
            except (OSError, EOFError) as exc:
                worker.kill()
                worker = None
                raise JobFailed(f"the worker stopped: {exc}") from exc
            with self.lock:
                self.idle.append(worker)
            worker = None
        finally:
            if worker is not None:  # an exception between pop and a reply
                worker.kill()
            self.slots.release()
        return _unpack(pickle.loads(reply))

    def close(self) -> None:
        with self.lock:
            for worker in self.idle:
                worker.kill()
            self.idle.clear()


def _unpack(reply: tuple) -> Any:
    status, value = reply
    if status == "file":
        try:
            with open(value[1], "rb") as f:
                data = f.read()
        finally:
            os.unlink(value[1])
        return (data, *value[2:]) if value[0] == "tuple" else data
    if status == "error":
        raise value
    return value


def _wait(fd: int, write: bool, deadline: float) -> None:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    ready = select.select([], [fd], [], left) if write else select.select([fd], [], [], left)
    if not (ready[1] if write else ready[0]):
        raise TimeoutError


def _write_frame(fd: int, data: bytes, deadline: float) -> None:
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        _wait(fd, True, deadline)
        try:
            view = view[os.write(fd, view[:65536]):]
        except BlockingIOError:
            continue


def _read_frame(fd: int, deadline: float) -> bytes:
    header = _read_exact(fd, _HEADER.size, deadline)
    return _read_exact(fd, _HEADER.unpack(header)[0], deadline)


def _read_exact(fd: int, n: int, deadline: float) -> bytes:
    chunks, left = [], n
    while left:
        _wait(fd, False, deadline)
        try:
            chunk = os.read(fd, min(left, 1 << 20))
        except BlockingIOError:
            continue
        if not chunk:
            raise EOFError("the worker closed its pipe")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# ---------------------------------------------------------------- the worker's side


_BIG = 1 << 20  # results above this many bytes go through a temporary file


def _pack(result: Any) -> tuple:
    data, rest = None, ()
    if isinstance(result, bytes):
        data, kind = result, "bytes"
    elif isinstance(result, tuple) and result and isinstance(result[0], bytes):
        data, rest, kind = result[0], result[1:], "tuple"
    if data is None or len(data) < _BIG:
        return ("ok", result)
    fd, path = tempfile.mkstemp(prefix="edp-job-", suffix=".bin")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return ("file", (kind, path, *rest))


def _serve() -> None:  # pragma: no cover - runs in the worker process
    """Answer jobs read from stdin until it closes. stdout carries the replies only."""
    # Below the server in the CPU queue: on a small machine the phones' acks come first and
    # the report takes what is left (EDP_HEAVY_NICE, 0 = same priority).
    try:
        os.nice(int(os.environ.get("EDP_HEAVY_NICE", "10")))
    except (OSError, ValueError):
        pass
    out = os.dup(1)
    os.dup2(2, 1)  # anything printed goes to the server's log, not into the pipe
    sys.stdout = sys.stderr
    inp = 0
    apps: dict[str, Any] = {}
    while True:
        try:
            header = _blocking_read(inp, _HEADER.size)
        except EOFError:
            return
        config, name, args = pickle.loads(_blocking_read(inp, _HEADER.unpack(header)[0]))
        app = _app_for(config, apps)
        from .app import sqlite_deferred

        sqlite_deferred(name in READ_ONLY)
        try:
            with app.app_context():
                reply = _pack(JOBS[name](*args))
        except Exception as exc:  # noqa: BLE001 - whatever failed goes back to the request
            try:
                pickle.loads(pickle.dumps(exc))
                reply = ("error", exc)
            except Exception:  # noqa: BLE001 - it does not pickle: send its text
                reply = ("error", JobFailed(f"{type(exc).__name__}: {exc}"))
        data = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(_HEADER.pack(len(data)) + data)
        while view:
            view = view[os.write(out, view):]


def _blocking_read(fd: int, n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _app_for(config: bytes, apps: dict[str, Any]):
    """One app per configuration; the previous one's connections are closed (a test run
    creates a database per test)."""
    key = hashlib.sha256(config).hexdigest()
    if key not in apps:
        from .app import create_app
        from .extensions import db

        for old in apps.values():
            with old.app_context():
                db.session.remove()
                db.engine.dispose()
        apps.clear()
        apps[key] = create_app(pickle.loads(config))
    return apps[key]


if __name__ == "__main__":  # pragma: no cover
    # The jobs and exception classes must be those of `edp.jobs`, not of `__main__`, so that
    # what a worker sends back unpickles in the server.
    from edp.jobs import _serve as serve

    serve()
