"""Public JSON for join pages, and the health check."""
import sqlalchemy as sa
from flask import Blueprint, jsonify

from .. import workshop as rules
from ..extensions import csrf, db

bp = Blueprint("api", __name__)


@bp.get("/api/workshops/<code>")
@csrf.exempt
def workshop_info(code: str):
    try:
        ws = rules.workshop_by_code(code)
    except rules.EDPError as exc:
        return jsonify({"error": {"code": exc.code, "message": str(exc.message)}}), 404
    return jsonify(
        {
            "code": ws.code,
            "title": ws.title,
            "region": ws.region,
            "phase": ws.phase,
            "method": ws.method,
            "language": ws.language,
            "budget": ws.budget,
            "helices": [{"key": h["key"], "label": h["label"]} for h in ws.helices],
            "criteria": [
                {"key": c["key"], "label": c["label"], "weight": c["weight"]} for c in ws.criteria
            ],
        }
    )


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(sa.text("SELECT 1"))
    except Exception:
        return jsonify({"ok": False}), 503
    return jsonify({"ok": True})
