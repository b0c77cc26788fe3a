"""The application for a WSGI server (gunicorn with one gevent-websocket worker per process).

    gunicorn -k geventwebsocket.gunicorn.workers.GeventWebSocketWorker -w 1 edp.wsgi:app

Unlike `edp:create_app()`, this also freezes what start-up left out of the garbage collector's
reach (see `edp.cli.freeze_startup`), as `edp run` does.
"""
from gevent import monkey

monkey.patch_all()

from edp import create_app  # noqa: E402
from edp.cli import freeze_startup  # noqa: E402

app = create_app()
if app.config.get("GC_FREEZE"):
    freeze_startup()
