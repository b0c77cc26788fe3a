#!/usr/bin/env python3
"""Page weight: what a phone downloads to open the participant page, gzip-compressed.

    .venv/bin/python bench/page_weight.py                 # starts its own server
    .venv/bin/python bench/page_weight.py --page screen   # the projector page instead
    .venv/bin/python bench/page_weight.py --url http://127.0.0.1:5000 --code ABC234

Starts `edp run` on a free port with a temporary SQLite database and a workshop from the first
template (unless `--url`), fetches `/w/<code>`, then every script and stylesheet the page loads:
`<script src>`, `<link href>` (stylesheets, preloads, module preloads, icons that are files), and,
recursively, the ES-module imports (`import ... from "..."`, `import "..."`, `import("...")`) of
every JavaScript file. Each response body is gzip-compressed (level 6, as nginx or a CDN would
send it) and the per-file and total sizes are printed against the 120 KB target.

Exits non-zero only when it cannot run.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import sys
import tempfile
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import EMAIL, TEMPLATE, Server, cli  # noqa: E402

TARGET_KB = 120.0

SCRIPT_SRC = re.compile(r"<script\b[^>]*\bsrc=[\"']([^\"']+)[\"']", re.I)
LINK_TAG = re.compile(r"<link\b[^>]*>", re.I)
HREF = re.compile(r"\bhref=[\"']([^\"']+)[\"']", re.I)
REL = re.compile(r"\brel=[\"']([^\"']+)[\"']", re.I)
# static imports/re-exports, side-effect imports and dynamic imports with a literal specifier
JS_IMPORT = re.compile(
    r"""(?:\bimport\s*(?:[\w*${}\s,]+?\s*from\s*)?|\bexport\s*[\w*${}\s,]+?\s*from\s*|\bimport\s*\(\s*)"""
    r"""[\"']([^\"']+\.m?js(?:\?[^\"']*)?)[\"']""")
CSS_URL = re.compile(r"url\(\s*[\"']?([^\"')]+)[\"']?\s*\)")
CSS_IMPORT = re.compile(r"@import\s+[\"']([^\"']+)[\"']")


def fetch(url: str) -> tuple[bytes, str]:
    with urllib.request.urlopen(url, timeout=30) as r:
        return r.read(), r.headers.get("Content-Type", "")


def gz(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=6))


def assets_of_html(html: str, base: str) -> list[str]:
    found = [urllib.parse.urljoin(base, s) for s in SCRIPT_SRC.findall(html)]
    for tag in LINK_TAG.findall(html):
        href = HREF.search(tag)
        rel = (REL.search(tag).group(1) if REL.search(tag) else "").lower()
        if not href or href.group(1).startswith("data:"):
            continue
        if any(k in rel for k in ("stylesheet", "preload", "modulepreload", "icon", "manifest")):
            found.append(urllib.parse.urljoin(base, href.group(1)))
    return found


def crawl(page_url: str) -> list[tuple[str, int, int, str]]:
    """[(url, raw bytes, gzip bytes, kind)] for the page and everything it loads."""
    html_bytes, _ = fetch(page_url)
    rows = [(page_url, len(html_bytes), gz(html_bytes), "html")]
    queue = assets_of_html(html_bytes.decode("utf-8", "replace"), page_url)
    seen: set[str] = set()
    while queue:
        url = queue.pop(0)
        key = url.split("#")[0]
        if key in seen or not key.startswith(("http://", "https://")):
            continue
        seen.add(key)
        try:
            body, ctype = fetch(key)
        except OSError as exc:
            print(f"  could not fetch {key}: {exc}", file=sys.stderr)
            continue
        path = urllib.parse.urlsplit(key).path
        if path.endswith((".js", ".mjs")) or "javascript" in ctype:
            kind = "js"
            text = body.decode("utf-8", "replace")
            queue += [urllib.parse.urljoin(key, m) for m in JS_IMPORT.findall(text)]
        elif path.endswith(".css") or "css" in ctype:
            kind = "css"
            text = body.decode("utf-8", "replace")
            queue += [urllib.parse.urljoin(key, m) for m in CSS_IMPORT.findall(text)]
            queue += [urllib.parse.urljoin(key, m) for m in CSS_URL.findall(text)
                      if not m.startswith("data:")]
        else:
            kind = ctype.split(";")[0] or "other"
        rows.append((key, len(body), gz(body), kind))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--page", choices=("participant", "screen"), default="participant")
    ap.add_argument("--url", help="a running server instead of starting one")
    ap.add_argument("--code", help="with --url: the workshop's join code")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)

    server, tmp = None, Path(tempfile.mkdtemp(prefix="edp-bench-page-"))
    try:
        if args.url:
            if not args.code:
                raise SystemExit("--url needs --code")
            base, code = args.url.rstrip("/"), args.code
        else:
            env = {k: v for k, v in os.environ.items() if not k.startswith("EDP_MESSAGE_QUEUE")}
            env.update({"EDP_DATABASE_URL": f"sqlite:///{tmp / 'page.sqlite3'}",
                        "EDP_SECRET_KEY": uuid.uuid4().hex, "EDP_PASSWORD": "bench-password"})
            cli(env, "init-db")
            cli(env, "facilitator", "add", EMAIL)
            info = json.loads(cli(env, "workshop", "create", "--template", str(TEMPLATE),
                                  "--facilitator", EMAIL).strip().splitlines()[-1])
            server = Server(env, tmp)
            server.env["EDP_PUBLIC_URL"] = server.url
            server.start()
            base, code = server.url, info["code"]
        path = {"participant": f"/w/{code}", "screen": f"/screen/{code}"}[args.page]
        rows = crawl(base + path)
    finally:
        if server:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"== {args.page} page {path}: gzip -6 sizes ==")
    print(f"{'file':60s} {'raw KB':>8s} {'gzip KB':>8s}")
    for url, raw, packed, kind in rows:
        name = urllib.parse.urlsplit(url).path
        print(f"{name[-60:]:60s} {raw / 1024:8.1f} {packed / 1024:8.1f}  {kind}")
    total_raw = sum(r[1] for r in rows)
    total = sum(r[2] for r in rows)
    assets = sum(r[2] for r in rows if r[3] != "html")
    verdict = "within" if total / 1024 <= TARGET_KB else "OVER"
    print(f"{'total':60s} {total_raw / 1024:8.1f} {total / 1024:8.1f}  "
          f"({verdict} the {TARGET_KB:.0f} KB target; "
          f"scripts and styles alone {assets / 1024:.1f} KB)")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"page": path, "files": [{"url": u, "raw": r, "gzip": g, "kind": k}
                                     for u, r, g, k in rows],
             "total_gzip": total, "total_raw": total_raw}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
