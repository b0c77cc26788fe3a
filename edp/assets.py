"""Static files under a content-hashed URL, so that after an upgrade no phone runs old JavaScript
from its cache.

`url_for('static', filename=...)` builds `/static/v/<version>/<filename>`, where `<version>` is
the first 12 hex digits of a SHA-256 over the whole static tree (every file's relative path and
content), computed once at start. Those URLs never change content, so browsers may keep them a
year without asking again; an upgrade that changes any file changes every URL. ES modules import
each other by relative path ("./socket.js"), which resolve under the same versioned prefix.

The plain `/static/<filename>` keeps working for links from before, with a short cache. A
reverse proxy may serve `/static/v/<anything>/` straight from static/ (docs/protocol.md).
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from flask import Flask, Response, send_from_directory

VERSION_LENGTH = 12
# A versioned URL's content never changes: cached for a year, never revalidated.
IMMUTABLE_SECONDS = 365 * 24 * 3600
# Unversioned URLs (links from before this scheme, a version another process started with):
# kept briefly, so an upgrade reaches them within minutes.
SHORT_SECONDS = 300


def static_version(folder: str | Path) -> str:
    """The content hash of every file under `folder` (sorted relative paths and contents)."""
    root = Path(folder)
    digest = hashlib.sha256()
    files = {p.relative_to(root).as_posix(): p for p in root.rglob("*") if p.is_file()}
    for name in sorted(files):
        data = files[name].read_bytes()
        # Path and length delimit each file, so moving bytes between files changes the hash.
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:VERSION_LENGTH]


class VersionedStaticFlask(Flask):
    """Flask whose `url_for('static', ...)` (in templates too) builds the versioned URL."""

    static_version: str = ""

    def url_for(self, endpoint: str, /, **values: Any) -> str:
        if endpoint == "static" and self.static_version:
            endpoint = "static_versioned"
            values = {"version": self.static_version, **values}
        return super().url_for(endpoint, **values)

    def send_static_file(self, filename: str) -> Response:
        """The plain `/static/<filename>`: revalidated after a few minutes."""
        return _send(self, filename, fresh=False)


def register(app: VersionedStaticFlask) -> None:
    """Compute the static tree's version and serve `/static/v/<version>/<filename>`."""
    app.static_version = static_version(app.static_folder)

    def versioned(version: str, filename: str) -> Response:
        # Another version (a process started before or after this one, during an upgrade) gets
        # this process's file with the short cache: never a year of the wrong content.
        return _send(app, filename, fresh=version == app.static_version)

    app.add_url_rule("/static/v/<version>/<path:filename>", endpoint="static_versioned",
                     view_func=versioned)


def _send(app: Flask, filename: str, fresh: bool) -> Response:
    response = send_from_directory(app.static_folder, filename,
                                   max_age=IMMUTABLE_SECONDS if fresh else SHORT_SECONDS)
    response.cache_control.public = True
    if fresh:
        response.cache_control.immutable = True
    return response
