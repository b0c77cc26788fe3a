"""The application for a WSGI server (gunicorn with one gevent worker per process).

    gunicorn -c deploy/gunicorn.conf.py --bind 127.0.0.1:8001 edp.wsgi:app

(the configuration picks `edp.server.Worker`: gevent's WSGI server with `edp run`'s header
deadline, EDP_HEADER_TIMEOUT).

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
