"""The application for a WSGI server (gunicorn with one gevent-websocket worker per process).

    gunicorn -k geventwebsocket.gunicorn.workers.GeventWebSocketWorker -w 1 edp.wsgi:app

(`-k edp.server.Worker` is the same worker with `edp run`'s header deadline, EDP_HEADER_TIMEOUT.)

Unlike `edp:create_app()`, this also freezes what start-up left out of the garbage collector's
reach (see `edp.cli.freeze_startup`), as `edp run` does.
"""
from gevent import monkey

monkey.patch_all()

from edp import create_app  # noqa: E402
from edp.cli import freeze_startup  # noqa: E402
from edp.server import raise_open_files_limit  # noqa: E402

raise_open_files_limit()  # every connection is a file: up to the hard limit, as `edp run` does
app = create_app()
if app.config.get("GC_FREEZE"):
    freeze_startup()
