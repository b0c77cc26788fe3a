"""The scaled-out stack on this machine, without containers: nginx in front of several gunicorn
processes sharing PostgreSQL and Redis (`make stack`, `make stack-stop`).

    python deploy/stack.py start      # returns once /healthz answers through nginx
    python deploy/stack.py stop
    python deploy/stack.py status
    python deploy/stack.py compose-conf   # rewrites deploy/nginx.compose.conf from the template

Settings from the environment (the same names as the app's, docs/deployment.md):
EDP_STACK_PORT (8080), EDP_STACK_PROCS (2), EDP_DATABASE_URL (the local PostgreSQL's database
`edp_stack`, created when missing), EDP_MESSAGE_QUEUE (redis://127.0.0.1:6379/0),
EDP_SECRET_KEY (else one kept in the run folder, shared by every process), EDP_STACK_DIR (the
run folder: configuration, pid files and logs; instance/stack). Everything else the app reads
(EDP_LOG_FORMAT, EDP_PUBLIC_URL, ...) passes through to the processes.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
TEMPLATE = DEPLOY / "nginx.conf.in"
COMPOSE_CONF = DEPLOY / "nginx.compose.conf"
DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/edp_stack"
DEFAULT_QUEUE = "redis://127.0.0.1:6379/0"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class StackError(Exception):
    """What went wrong, said so that the person at the terminal knows what to do."""


def render(upstreams: list[str], listen: str, static: str, run: str, error_log: str,
           mime: str = "/etc/nginx/mime.types", access_log: str = "off") -> str:
    """deploy/nginx.conf.in with its @NAMES@ filled in."""
    servers = "\n".join(f"        server {u} max_fails=1 fail_timeout=5s;" for u in upstreams)
    text = TEMPLATE.read_text()
    for name, value in {"UPSTREAMS": servers, "LISTEN": listen, "STATIC": static, "RUN": run,
                        "ERROR_LOG": error_log, "MIME": mime, "ACCESS_LOG": access_log}.items():
        text = text.replace(f"@{name}@", value)
    return text


def compose_conf() -> str:
    """The nginx configuration of compose.yaml's `web` service (two app services)."""
    header = "# Generated from deploy/nginx.conf.in by `python deploy/stack.py compose-conf`.\n"
    return header + render(["app1:8000", "app2:8000"], "8080", "/srv/static", "/tmp",
                           "/dev/stderr", access_log="/dev/stdout")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status == 200 and json.loads(resp.read()).get("ok") is True
    except (OSError, ValueError, urllib.error.URLError):
        return False


def wait_healthy(url: str, seconds: float, proc: subprocess.Popen | None = None,
                 log: Path | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if healthy(url):
            return
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-2000:] if log and log.exists() else ""
            raise StackError(f"{url}: the process exited ({proc.returncode}).\n{tail}")
        time.sleep(0.2)
    raise StackError(f"{url} did not answer /healthz within {seconds:.0f} s"
                     + (f"; see {log}" if log else ""))


def alive(pid: int) -> bool:
    import psutil  # a dependency of the app (edp/network.py)

    return psutil.pid_exists(pid)


def ensure_database(url: str) -> None:
    """Create the stack's PostgreSQL database when it does not exist yet."""
    import sqlalchemy as sa

    engine_url = sa.engine.make_url(url)
    if not engine_url.drivername.startswith("postgresql") or not engine_url.database:
        return
    admin = sa.create_engine(engine_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                 {"n": engine_url.database})
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{engine_url.database}"'))
    except sa.exc.OperationalError as exc:
        raise StackError(f"PostgreSQL does not answer at {engine_url.render_as_string()}: "
                         f"start it, or set EDP_DATABASE_URL. ({exc.orig})") from exc
    finally:
        admin.dispose()


def check_redis(url: str) -> None:
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError as exc:
        raise StackError(f"Redis does not answer at {url}: start it, or set "
                         f"EDP_MESSAGE_QUEUE. ({exc})") from exc


class Stack:
    def __init__(self, env: dict[str, str] | None = None):
        self.env = dict(os.environ if env is None else env)
        self.dir = Path(self.env.get("EDP_STACK_DIR") or ROOT / "instance" / "stack").resolve()
        self.state_file = self.dir / "stack.json"
        self.port = int(self.env.get("EDP_STACK_PORT") or 8080)
        self.procs = max(1, int(self.env.get("EDP_STACK_PROCS") or 2))
        self.bin = Path(sys.executable).parent

    # ------------------------------------------------------------ state

    def state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (FileNotFoundError, ValueError):
            return {}

    def running(self) -> list[int]:
        st = self.state()
        pids = [a["pid"] for a in st.get("apps", [])]
        if st.get("nginx_pid"):
            pids.append(st["nginx_pid"])
        return [p for p in pids if alive(p)]

    # ------------------------------------------------------------ start

    def start(self) -> str:
        if self.running():
            raise StackError(f"the stack is already running ({self.state_file}); "
                             "`make stack-stop` first")
        if not Path(NGINX).exists():
            raise StackError("nginx is not installed: apt-get install -y nginx-light "
                             "(Debian's package)")
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "nginx").mkdir(exist_ok=True)
        env = self._app_env()
        ensure_database(env["EDP_DATABASE_URL"])
        check_redis(env["EDP_MESSAGE_QUEUE"])
        subprocess.run([str(self.bin / "edp"), "init-db"], env=env, cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        state: dict = {"port": self.port, "apps": [], "dir": str(self.dir)}
        try:
            for i in range(self.procs):
                state["apps"].append(self._start_app(i, env))
                self.state_file.write_text(json.dumps(state))
            for app in state["apps"]:
                wait_healthy(f"http://127.0.0.1:{app['port']}/healthz", 60,
                             log=Path(app["log"]))
            state["nginx_pid"] = self._start_nginx(state["apps"])
            self.state_file.write_text(json.dumps(state))
            url = f"http://127.0.0.1:{self.port}"
            wait_healthy(url + "/healthz", 20, log=self.dir / "nginx-error.log")
        except BaseException:
            self.stop(quiet=True)
            raise
        return url

    def _app_env(self) -> dict[str, str]:
        env = dict(self.env)
        env.setdefault("EDP_DATABASE_URL", DEFAULT_DB)
        env["EDP_DATABASE_URL"] = env["EDP_DATABASE_URL"] or DEFAULT_DB
        env["EDP_MESSAGE_QUEUE"] = env.get("EDP_MESSAGE_QUEUE") or DEFAULT_QUEUE
        if not env.get("EDP_SECRET_KEY"):
            key_file = self.dir / "secret_key"
            if not key_file.exists():
                key_file.write_text(secrets.token_hex(32))
                key_file.chmod(0o600)
            env["EDP_SECRET_KEY"] = key_file.read_text().strip()
        env.setdefault("EDP_INSTANCE_PATH", str(self.dir / "instance"))
        env.setdefault("EDP_PROXY_HOPS", "1")  # nginx's X-Forwarded-* are trusted
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        return env

    def _start_app(self, i: int, env: dict[str, str]) -> dict:
        port = free_port()
        log = self.dir / f"app-{i + 1}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [str(self.bin / "gunicorn"), "-c", str(DEPLOY / "gunicorn.conf.py"),
                 "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT), "edp.wsgi:app"],
                env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
        return {"pid": proc.pid, "port": port, "log": str(log)}

    def _start_nginx(self, apps: list[dict]) -> int:
        conf = self.dir / "nginx.conf"
        conf.write_text(render([f"127.0.0.1:{a['port']}" for a in apps],
                               f"127.0.0.1:{self.port}", str(ROOT / "static"),
                               str(self.dir / "nginx"), str(self.dir / "nginx-error.log")))
        base = [NGINX, "-p", str(self.dir / "nginx"), "-e", str(self.dir / "nginx-error.log"),
                "-c", str(conf)]
        test = subprocess.run(base + ["-t", "-q"], capture_output=True, text=True)
        if test.returncode:
            raise StackError(f"nginx refuses {conf}:\n{test.stderr}")
        started = subprocess.run(base, capture_output=True, text=True)
        if started.returncode:
            raise StackError(f"nginx did not start on port {self.port}:\n{started.stderr}")
        pid_file = self.dir / "nginx" / "nginx.pid"
        for _ in range(50):
            if pid_file.exists() and pid_file.read_text().strip():
                return int(pid_file.read_text())
            time.sleep(0.1)
        raise StackError("nginx started but wrote no pid file")

    # ------------------------------------------------------------ stop

    def stop(self, quiet: bool = False) -> int:
        st = self.state()
        pids = [a["pid"] for a in st.get("apps", [])]
        if st.get("nginx_pid"):
            pids.insert(0, st["nginx_pid"])
        stopped = 0
        for pid in pids:
            if alive(pid):
                stopped += 1
                try:  # the app processes lead their own group (gunicorn master + worker)
                    os.killpg(pid, signal.SIGTERM)
                except (ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline and any(alive(p) for p in pids):
            time.sleep(0.1)
        for pid in pids:
            if alive(pid):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        for pid in pids:  # reap our own children (stop right after start, in one process)
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
        self.state_file.unlink(missing_ok=True)
        if not quiet:
            print(f"stopped {stopped} process(es)" if stopped else "the stack was not running")
        return stopped


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "start"
    stack = Stack()
    try:
        if command == "start":
            url = stack.start()
            st = stack.state()
            ports = ", ".join(str(a["port"]) for a in st["apps"])
            print(f"EDP Live stack: {url} (nginx) -> {len(st['apps'])} gunicorn processes "
                  f"on {ports}; logs in {stack.dir}")
        elif command == "stop":
            stack.stop()
        elif command == "status":
            pids = stack.running()
            print(json.dumps({**stack.state(), "alive": pids}, indent=2))
            return 0 if pids else 3
        elif command == "compose-conf":
            COMPOSE_CONF.write_text(compose_conf())
            print(f"wrote {COMPOSE_CONF.relative_to(ROOT)}")
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except StackError as exc:
        print(f"make stack: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
