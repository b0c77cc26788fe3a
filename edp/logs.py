"""Log output for operators: plain text (the default), or one JSON object a line on stderr for
log collectors (EDP_LOG_FORMAT=json, docs/operations.md "Logs").

In JSON every line carries `level`, `timestamp` (ISO 8601, UTC), `logger` and `message`, plus the
fields a call passes in `extra`; the Socket.IO handlers add one line per event handled
(`EVENTS`: workshop, event, outcome, latency_ms; see edp/sockets.py).
"""
from __future__ import annotations

import logging
import sys

from flask import Flask
from flask.logging import default_handler

FORMATS = ("text", "json")

# One INFO line per Socket.IO event. Only enabled when the root logger passes INFO (JSON format):
# in text format the handlers do not even build the line.
EVENTS = logging.getLogger("edp.events")

_JSON_HANDLER = "_edp_json_handler"


def configure(app: Flask) -> None:
    """Apply LOG_FORMAT. Text leaves Python's logging as it is (warnings and errors on stderr);
    JSON sends every logger's records at INFO and above to stderr as JSON lines."""
    fmt = str(app.config.get("LOG_FORMAT") or "text").strip().lower()
    if fmt not in FORMATS:
        raise RuntimeError(f"EDP_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt != "json":
        return
    root = logging.getLogger()
    # Once per process, however many apps it creates (tests, command-line tools).
    if not any(getattr(h, _JSON_HANDLER, False) for h in root.handlers):
        root.addHandler(json_handler())
    if root.getEffectiveLevel() > logging.INFO:
        root.setLevel(logging.INFO)
    # Python's warnings too, which would otherwise print plain text among the JSON lines.
    logging.captureWarnings(True)
    # Flask's own plain-text handler would print its records a second time.
    app.logger.removeHandler(default_handler)


def json_handler() -> logging.Handler:
    from pythonjsonlogger.json import JsonFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(
        "%(levelname)s %(name)s %(message)s",
        rename_fields={"levelname": "level", "name": "logger"},
        timestamp=True,
    ))
    setattr(handler, _JSON_HANDLER, True)
    return handler
