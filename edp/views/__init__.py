"""HTTP views, one blueprint per face of the app."""
from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from sqlalchemy.exc import OperationalError

from .. import jobs
from .. import workshop as rules
from ..extensions import db
from ..limits import client_address, join_guard
from ..workshop import is_busy


def register(app: Flask) -> None:
    from . import api, auth, pages, pairing

    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pairing.bp)

    from . import processes as process_pages

    app.register_blueprint(process_pages.bp)

    from . import invitations

    app.register_blueprint(invitations.bp)

    from . import evidence

    app.register_blueprint(evidence.bp)

    # Pages and JSON that look a workshop up by its join code: wrong codes drain the address's
    # guessing bucket (see edp/limits.py), and an empty bucket answers 429 for any code.
    by_code = {"pages.participant", "pages.screen", "api.workshop_info", "evidence.sectors"}

    @app.before_request
    def refuse_code_guessing():
        if request.endpoint in by_code and not join_guard().allowed(None, client_address()):
            if request.endpoint.startswith("api."):
                message = str(rules.MESSAGES["rate_limited"])
                return jsonify({"error": {"code": "rate_limited", "message": message}}), 429
            # A page a person reads, in their language, with the code form (see pages.py).
            target = "screen" if request.endpoint == "pages.screen" else "participant"
            return pages.code_error_page(429, (request.view_args or {}).get("code", ""), target)
        return None

    @app.after_request
    def count_wrong_codes(response):
        if request.endpoint in by_code and response.status_code == 404:
            join_guard().wrong_code(None, client_address())
        return response

    @app.errorhandler(jobs.Busy)
    def busy(exc):
        # Every worker for heavy jobs is taken (edp/jobs.py): say so, and when to come back.
        reason = _("Other exports or imports are being prepared. Try again in a moment.")
        return render_template("busy.html", reason=reason), 503, {"Retry-After": "5"}

    @app.errorhandler(OperationalError)
    def database_busy(exc):
        """A database locked by another process (SQLite) answers 503 at once with a page
        saying to try again, instead of holding the request until the lock goes."""
        db.session.rollback()
        if not is_busy(exc):
            raise exc
        if request.path.startswith("/api/"):
            message = str(rules.MESSAGES["busy"])
            return jsonify({"error": {"code": "busy", "message": message}}), 503, {
                "Retry-After": "2"}
        from flask_babel import get_locale

        html = render_template("busy.html", lang=str(get_locale() or "en"),
                               reason=rules.MESSAGES["busy"])
        return html, 503, {"Retry-After": "2"}

    @app.after_request
    def security_headers(response):
        # No inline scripts anywhere: page data travels in <script type="application/json">.
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; "
            "form-action 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response
