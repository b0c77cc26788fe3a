"""The HTTP server of `edp run`: gevent's WSGI server (what `socketio.run` starts; WebSockets
through python-engineio's simple-websocket driver), plus what a server on a venue's Wi-Fi needs against slow or idle
clients: a deadline for each request's line and headers (slow-loris), the same deadline for an
idle keep-alive connection, and the open-files limit raised to what the system allows.

Why our own handler: gevent's pywsgi waits for headers forever, and a socket timeout would not
help (it bounds each read, and a client dripping a byte every few seconds never trips it).
"""
from __future__ import annotations

import logging
import resource

import gevent
from gevent import pywsgi

try:  # left installed by an older set-up: python-engineio then expects its handler
    from geventwebsocket.handler import WebSocketHandler as BaseHandler
except ImportError:  # simple-websocket (the dependency) takes the socket from the environ
    BaseHandler = pywsgi.WSGIHandler

from config import Config

log = logging.getLogger(__name__)


class HeaderTimeout(TimeoutError):
    """The request line and headers did not arrive in time (an OSError: pywsgi then closes)."""


class TimeoutHandler(BaseHandler):
    """Closes a connection whose request line and headers take longer than `header_timeout`
    seconds, or that stays idle that long between keep-alive requests. Once the headers are
    in, the request (a long-poll, a WebSocket) has all the time it needs."""

    header_timeout: float = Config.HEADER_TIMEOUT
    ws_compression: bool = Config.WS_COMPRESSION
    _header_timer = None

    def handle_one_request(self):
        timer = None
        if self.header_timeout and self.header_timeout > 0:
            timer = gevent.Timeout.start_new(self.header_timeout, HeaderTimeout)
        self._header_timer = timer
        try:
            return super().handle_one_request()
        except HeaderTimeout:
            return None  # close the connection, no response: the client never asked
        finally:
            if timer is not None:
                timer.close()

    def read_request(self, raw_requestline):
        try:
            return super().read_request(raw_requestline)
        finally:
            if self._header_timer is not None:
                self._header_timer.close()

    def run_application(self):
        if BaseHandler is not pywsgi.WSGIHandler or \
                self.environ.get("HTTP_UPGRADE", "").lower() != "websocket":
            return super().run_application()
        # A WebSocket (simple-websocket) answers the upgrade and sends its frames on the socket
        # itself, and the application returns when it has closed. pywsgi must then add nothing
        # (an HTTP response written after the frames reads as "Invalid frame header" in the
        # browser) and must not wait for another request on the connection (a client closing
        # cleanly would wait for it). python-engineio still calls start_response with 200 and
        # an empty body after a WebSocket it served; a refused upgrade (400) is sent as usual.
        self.close_connection = True
        if not self.ws_compression:  # the offer unseen, the WebSocket is not compressed
            self.environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        self.result = self.application(self.environ, self.start_response)
        try:
            status = self.status
            if isinstance(status, bytes):  # pywsgi keeps the status line encoded
                status = status.decode("latin-1")
            if status is not None and not status.startswith("200"):
                self.process_result()
            else:
                self.status, self.response_length = b"101 Switching Protocols", 0
        finally:
            close = getattr(self.result, "close", None)
            self.result = None
            if close is not None:
                close()

    def _handle_client_error(self, ex):
        if isinstance(ex, HeaderTimeout):
            return None
        return super()._handle_client_error(ex)


def raise_open_files_limit() -> tuple[int, int]:
    """Soft limit of open files up to the hard one (every phone is a socket; 1,024, a common
    default, is a third of a big room). Returns (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open files limit from %d to %d: %s", soft, target, exc)
            return soft, soft
        return soft, target
    return soft, soft


def serve(app, host: str, port: int, header_timeout: float) -> None:
    """Serve `app` (Flask with Flask-SocketIO's middleware) until stopped."""
    from .extensions import socketio

    handler = type("Handler", (TimeoutHandler,), {"header_timeout": float(header_timeout)})
    server = pywsgi.WSGIServer((host, port), app, handler_class=handler, log=None)
    socketio.wsgi_server = server  # what `socketio.stop()` stops
    server.serve_forever()


try:  # gunicorn's pywsgi worker, with the same deadline (deploy/gunicorn.conf.py)
    from gunicorn.workers.ggevent import GeventPyWSGIWorker, PyWSGIHandler
except ImportError:  # pragma: no cover - gunicorn not installed
    GeventPyWSGIWorker = None

if GeventPyWSGIWorker is not None:  # pragma: no cover - exercised by the stack

    class Worker(GeventPyWSGIWorker):
        """`gunicorn -k edp.server.Worker`: gevent's WSGI server with `edp run`'s header
        deadline (EDP_HEADER_TIMEOUT) and its WebSocket handling."""

        class wsgi_handler(TimeoutHandler, PyWSGIHandler):  # noqa: N801  (gunicorn's name)
            """gunicorn's handler (its environ, its access log) with the deadline."""
