"""Where phones can reach this server: the machine's network addresses, what the running server
listens on, and the base of the join links and QR codes.

The join link follows, in order (docs/venue.md):
1. `EDP_PUBLIC_URL` when it is set;
2. when the server listens on a non-loopback address (0.0.0.0, ::, a LAN address), one of the
   machine's network addresses (or that LAN address) with the server's real port, never a
   loopback address, whatever address the page was opened on;
3. otherwise (listening on loopback only, or not knowing where the server listens) the address
   the page was opened on, with a warning when that is a loopback address phones cannot reach.

`edp run` records where it listens in `instance/servers/<pid>.json`, so that command-line tools
run meanwhile (`edp workshop create`, ...) print links that follow the running server; a record
whose process is gone is ignored and removed.

The interfaces are read with psutil (the standard library cannot list them portably): IPv4 first,
the one that carries the default route first among them, virtual interfaces (Docker bridges,
VPNs, virtual machines) last; loopback and link-local addresses are left out.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil

DEFAULT_PORT = 5000
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost",
                            "ip6-loopback"})
WILDCARDS = frozenset({"", "0.0.0.0", "::", "*"})
# Interfaces that phones on the venue Wi-Fi do not reach (bridges for containers and virtual
# machines, VPN tunnels): their addresses come last.
VIRTUAL_PREFIXES = ("docker", "br-", "veth", "virbr", "vmnet", "vboxnet", "vnic", "lxc", "lxd",
                    "cni", "flannel", "podman", "kube", "tun", "tap", "utun", "wg", "tailscale",
                    "zt", "ham", "ipsec", "ppp", "vethernet", "virtualbox", "vmware", "hyper-v",
                    "awdl", "llw", "anpi", "bridge", "ifb", "dummy", "nordlynx", "proton")
# A documentation address (TEST-NET-2): connecting a UDP socket to it sends nothing, but the
# kernel picks the source address of the default route.
_ROUTE_PROBE = ("198.51.100.1", 9)
_CACHE_SECONDS = 5.0
_cache: tuple[float, list[str]] | None = None
_cache_lock = threading.Lock()


# ---------------------------------------------------------------- addresses


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return None


def is_loopback(host: str | None) -> bool:
    """localhost, 127.0.0.0/8, ::1 (and IPv4-mapped loopback)."""
    host = (host or "").strip().lower().rstrip(".")
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    ip = _ip(host)
    if ip is None:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or bool(mapped and mapped.is_loopback)


def is_wildcard(host: str | None) -> bool:
    """0.0.0.0 or :: : every address of the machine."""
    return (host or "").strip().strip("[]") in WILDCARDS


def url_host(host: str) -> str:
    """An address as it goes into a URL (IPv6 in brackets)."""
    host = host.strip()
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


def _route_address(family: int, probe: tuple[str, int]) -> str | None:
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.connect(probe)
            return s.getsockname()[0]
    except OSError:
        return None


def _virtual(name: str) -> bool:
    return name.lower().startswith(VIRTUAL_PREFIXES)


def _scan() -> list[str]:
    try:
        interfaces = psutil.net_if_addrs()
        stats = psutil.net_if_stats()
    except (OSError, RuntimeError):  # pragma: no cover - a sandbox without /proc or sysfs
        interfaces, stats = {}, {}
    default_v4 = _route_address(socket.AF_INET, _ROUTE_PROBE)
    default_v6 = _route_address(socket.AF_INET6, ("2001:db8::1", 9))
    found: dict[str, tuple] = {}
    for name, addrs in interfaces.items():
        if name in stats and not stats[name].isup:
            continue
        for addr in addrs:
            if addr.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            ip = _ip(addr.address or "")
            if ip is None or ip.is_loopback or ip.is_link_local or ip.is_multicast \
                    or ip.is_unspecified:
                continue
            text = str(ip)
            default = text in (default_v4, default_v6)
            # IPv4 first; then physical interfaces before virtual ones; the default route's
            # address first among equals; then the order the system lists them in.
            found.setdefault(text, (ip.version, _virtual(name), not default, len(found)))
    if not found:
        # No interface listing (or a platform psutil cannot read): the route's own address.
        for text in (default_v4, default_v6):
            ip = _ip(text or "")
            if ip is not None and not (ip.is_loopback or ip.is_unspecified or ip.is_link_local):
                found[str(ip)] = (ip.version, False, False, len(found))
    return sorted(found, key=found.__getitem__)


def network_addresses(refresh: bool = False) -> list[str]:
    """The machine's addresses that other devices can use, best first (IPv4 first). Empty when
    the machine is on no network. Cached for a few seconds (the origin check asks on every
    connection); a laptop that changes Wi-Fi gets its new address within that time."""
    global _cache
    now = time.monotonic()
    with _cache_lock:
        if not refresh and _cache is not None and now - _cache[0] < _CACHE_SECONDS:
            return list(_cache[1])
    addresses = _scan()
    with _cache_lock:
        _cache = (now, addresses)
    return list(addresses)


def served_addresses(host: str, addresses: list[str] | None = None) -> list[str]:
    """The network addresses a server listening on `host` answers on (of `addresses`, default
    the machine's): 0.0.0.0 is IPv4 only, :: every address (dual stack); one address itself."""
    host = (host or "").strip().strip("[]")
    if addresses is None:
        addresses = network_addresses()
    if host == "::":
        return list(addresses)
    if is_wildcard(host):
        return [a for a in addresses if ":" not in a]
    return [host] if not is_loopback(host) else []


def host_names() -> set[str]:
    """The machine's own names (lower case): its hostname and, for a short one, the name that
    multicast DNS (Bonjour, Avahi) gives it on the local network."""
    try:
        name = socket.gethostname().strip().lower().rstrip(".")
    except OSError:  # pragma: no cover
        return set()
    if not name:
        return set()
    names = {name}
    if "." not in name:
        names.add(f"{name}.local")
    return names


# ---------------------------------------------------------------- the join link


LOOPBACK_ONLY = "loopback"      # the server listens on a loopback address only
NO_NETWORK = "no_network"       # it listens on every address, but the machine has none
LOOPBACK_PAGE = "loopback_page"  # where it listens is unknown; the page was opened on loopback


def local_url(listen: dict) -> str:
    """The server's address for a browser on this computer (console, projector)."""
    host, port = str(listen.get("host") or ""), int(listen.get("port") or DEFAULT_PORT)
    if is_wildcard(host):
        host = "::1" if host.strip("[]") == "::" else "127.0.0.1"
    return f"http://{url_host(host)}:{port}"


def join_base(public_url: str | None, listen: dict | None, page_root: str | None = None,
              addresses: list[str] | None = None) -> tuple[str, str | None]:
    """(base URL of the join link and QR code, why phones may not reach it or None).

    `listen` is {"host", "port"} of the running server (None when unknown, e.g. under gunicorn);
    `page_root` the address the page was opened on (`request.url_root`), None on the command
    line; `addresses` the machine's network addresses (default: read them)."""
    if public_url:
        return public_url.strip().rstrip("/"), None
    page = urlsplit(page_root) if page_root else None
    page_base = f"{page.scheme}://{page.netloc}" if page and page.netloc else None
    if listen:
        host, port = str(listen.get("host") or "").strip(), int(listen.get("port") or 0)
        if not is_loopback(host) and not is_wildcard(host):
            return f"http://{url_host(host.strip('[]'))}:{port}", None  # one LAN address
        if is_wildcard(host):
            addresses = served_addresses(host, addresses)
            if page and page.hostname and page.hostname in addresses:
                # Opened at one of the machine's addresses: phones are on that network.
                return f"http://{url_host(page.hostname)}:{port}", None
            if addresses:
                return f"http://{url_host(addresses[0])}:{port}", None
            return page_base or local_url(listen), NO_NETWORK
        return page_base or local_url(listen), LOOPBACK_ONLY
    if page_base:
        return page_base, LOOPBACK_PAGE if is_loopback(page.hostname) else None
    if addresses is None:
        addresses = network_addresses()
    host = url_host(addresses[0]) if addresses else "127.0.0.1"
    return f"http://{host}:{DEFAULT_PORT}", None if addresses else NO_NETWORK


def command_line_base(warn) -> str:
    """The base of the links the command line prints: EDP_PUBLIC_URL; else the running
    server's (its port, its network address; see instance/servers/); else a network address of
    this computer on port 5000. `warn(text)` is told when phones could not open them."""
    from flask import current_app

    app = current_app
    public = app.config.get("PUBLIC_URL")
    listen = app.config.get("LISTEN")
    if not public and not listen:
        listen = running_server(app.instance_path, str(app.config["SQLALCHEMY_DATABASE_URI"]))
    base, reason = join_base(public, listen, None)
    if reason == LOOPBACK_ONLY:
        warn(f"warning: the server listens on {listen['host']} only, so phones cannot "
             "open these links: restart it with `edp run --host 0.0.0.0` or set "
             "EDP_PUBLIC_URL (see docs/venue.md)")
    elif reason == NO_NETWORK:
        warn("warning: this computer is not connected to any network, so phones cannot "
             "open these links: connect it to the venue Wi-Fi or a hotspot, or set "
             "EDP_PUBLIC_URL (see docs/venue.md)")
    return base


# ---------------------------------------------------------------- the running server's record


def database_key(database_url: str) -> str:
    """Which database a server serves, without writing its URL (it may hold a password)."""
    return hashlib.sha256(str(database_url).encode()).hexdigest()[:16]


def _records_dir(instance_path: str | os.PathLike) -> Path:
    return Path(instance_path) / "servers"


def _process_start(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return None


def record_server(instance_path: str | os.PathLike, host: str, port: int,
                  database_url: str) -> Path:
    """Write this process's record (atomically); returns its path for `forget_server`."""
    folder = _records_dir(instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    _forget_dead(folder)
    pid = os.getpid()
    data = {"host": host, "port": port, "addresses": network_addresses(refresh=True),
            "pid": pid, "started": _process_start(pid), "database": database_key(database_url)}
    path = folder / f"{pid}.json"
    tmp = folder / f".{pid}.json.tmp"
    tmp.write_text(json.dumps(data), "utf-8")
    os.replace(tmp, path)
    return path


def forget_server(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _alive(data: dict) -> bool:
    """The record's process still runs (and is the same process, not a reused pid)."""
    try:
        pid, started = int(data["pid"]), data.get("started")
    except (KeyError, TypeError, ValueError):
        return False
    now_started = _process_start(pid)
    return now_started is not None and (started is None or abs(now_started - started) <= 1)


def _forget_dead(folder: Path) -> None:
    for path in folder.glob("*.json"):
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and not _alive(data):
            forget_server(path)


def running_server(instance_path: str | os.PathLike, database_url: str) -> dict | None:
    """The most recently started live server serving this database, or None. Records of
    processes that are gone (killed, crashed) are removed on the way."""
    folder = _records_dir(instance_path)
    if not folder.is_dir():
        return None
    key = database_key(database_url)
    best = None
    for path in folder.glob("*.json"):
        try:
            data = json.loads(path.read_text("utf-8"))
            int(data["port"])
            started = data.get("started")
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
        if not _alive(data):
            forget_server(path)  # that process is gone (or its pid now belongs to another)
            continue
        if data.get("database") != key:
            continue
        if best is None or (started or 0) > (best.get("started") or 0):
            best = data
    return best
