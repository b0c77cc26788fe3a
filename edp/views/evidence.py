"""The region's evidence: the facilitator's upload of the diagnosis data (parsed and computed
in a worker process, edp/jobs.py) and the sectors a phone's picker offers. The rules are in
`edp.evidence`."""
from __future__ import annotations

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import StringField
from wtforms.validators import Length, Optional

from .. import evidence, jobs
from .. import workshop as rules
from ..extensions import csrf
from .pages import _own_workshop

bp = Blueprint("evidence", __name__)

# The largest diagnosis file accepted by upload (50 regions × 300 sectors over several years
# is about 1 MB of CSV).
MAX_BYTES = 16 * 1024 * 1024


class DiagnosisForm(FlaskForm):
    file = FileField(_l("Diagnosis data (CSV or XLSX with the columns region, sector, value "
                        "and, optionally, sector_name and year)"),
                     validators=[FileRequired(_l("Choose the file of diagnosis data."))])
    region = StringField(_l("The workshop's region as the file names it"),
                         validators=[Optional(), Length(max=200)])


@bp.get("/api/workshops/<code>/sectors")
@csrf.exempt
def sectors(code: str):
    """[{code, name}] of the workshop's diagnosis data, for the sector picker."""
    try:
        ws = rules.workshop_by_code(code)
    except rules.EDPError as exc:
        return jsonify({"error": {"code": exc.code, "message": str(exc.message)}}), 404
    return jsonify(evidence.sectors(ws))


@bp.route("/f/w/<int:workshop_id>/diagnosis", methods=["GET", "POST"])
@login_required
def diagnosis(workshop_id: int):
    ws = _own_workshop(workshop_id)
    g.locale = session.get("lang") if session.get("lang") in rules.LANGUAGES else ws.language
    form = DiagnosisForm()
    if request.method == "GET" and not form.region.data:
        current = evidence.diagnosis_of(ws)
        form.region.data = current.region if current else ws.region
    error, status = None, 200
    if form.validate_on_submit():
        upload = form.file.data
        data = upload.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            error, status = _("The file is too large (at most %(mb)s MB).",
                              mb=MAX_BYTES // (1024 * 1024)), 413
        else:
            try:
                found = jobs.run("load_diagnosis", data, upload.filename or "diagnosis.csv",
                                 ws.id, (form.region.data or "").strip() or None, g.locale)
            except evidence.DiagnosisError as exc:
                error, status = str(exc), 400
            else:
                from ..sockets import broadcast_state

                broadcast_state(ws.id)
                flash(_("Diagnosis data loaded for %(region)s: %(sectors)s sectors in "
                        "%(regions)s regions.", region=found["region"],
                        sectors=found["sectors"], regions=found["regions"]), "ok")
                return redirect(url_for("evidence.diagnosis", workshop_id=ws.id))
    elif request.method == "POST":
        status = 400
    summary = evidence.summary(ws)
    rows = []
    if summary:
        diag = evidence.diagnosis_of(ws)
        found = evidence.computed(diag)["sectors"]
        rows = sorted(found.values(), key=lambda s: (-(s["rca"] or 0), s["code"]))
    return render_template("diagnosis.html", ws=ws, form=form, error=error, summary=summary,
                           rows=rows, page={"language": g.locale}), status
