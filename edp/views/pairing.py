"""Interregional pairing on the console: import a partner region's record, compare the two
priority lists side by side, download the cooperation brief (see `edp.pairing`)."""
from __future__ import annotations

import io

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge

from .. import jobs, pairing, record
from .. import workshop as rules
from ..extensions import csrf, db
from ..models import Workshop
from .pages import _own_workshop

bp = Blueprint("pairing", __name__)

# The largest record accepted by upload (config PARTNER_RECORD_MAX_BYTES, else RECORD_MAX_MB,
# env EDP_RECORD_MAX_MB): a workshop of 3,000 participants with its whole event log stays well
# below it.
PARTNER_RECORD_MAX_BYTES = 50 * 1024 * 1024


class PartnerForm(FlaskForm):
    record = FileField(_l("The partner region's record (JSON export of its workshop)"),
                       validators=[FileRequired(_l("Choose the partner region's record file."))])


def _max_bytes() -> int:
    config = current_app.config
    if config.get("PARTNER_RECORD_MAX_BYTES"):
        return int(config["PARTNER_RECORD_MAX_BYTES"])
    if config.get("RECORD_MAX_MB"):
        return int(config["RECORD_MAX_MB"]) * 1024 * 1024
    return PARTNER_RECORD_MAX_BYTES


def _language(ws: Workshop) -> str:
    """The console's rule: the facilitator's chosen language, else the workshop's."""
    g.locale = session.get("lang") if session.get("lang") in rules.LANGUAGES else ws.language
    return g.locale


def _partners(ws: Workshop) -> list[Workshop]:
    """The facilitator's other workshops: those imported as partners of this one first."""
    others = db.session.scalars(
        sa.select(Workshop).where(Workshop.facilitator_id == current_user.id,
                                  Workshop.id != ws.id).order_by(Workshop.id.desc())
    ).all()
    return sorted(others, key=lambda w: (w.settings or {}).get("partner_of") != ws.id)


def _comparison(ws: Workshop, partner: Workshop) -> pairing.Comparison:
    # Both records are built in a worker process (edp/jobs.py): they can be large.
    return jobs.run("comparison", ws.id, partner.id)


def _record_problem(exc: record.RecordError) -> tuple[str, int]:
    """The message and status for a refused record: 413 naming the limit it passes, else 400
    naming the field at fault when there is one."""
    if isinstance(exc, record.RecordTooLarge):
        what = {"events": _("events"), "participants": _("participants"),
                "domains": _("domains"), "comments": _("comments")}.get(exc.what, exc.what)
        return _("The record holds %(count)s %(what)s; this server accepts at most %(limit)s "
                 "(setting %(setting)s).", count=exc.count, what=what, limit=exc.limit,
                 setting=exc.setting), 413
    message = _("This file is not an EDP Live record: export the partner workshop's “Full "
                "record (JSON)” and upload that file.")
    if exc.path:
        message += " " + _("The problem is in %(field)s: %(problem)s",
                           field=exc.path, problem=exc.problem)
    return message, 400


@bp.route("/f/w/<int:workshop_id>/partners", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own token, after the size limit is in place
@login_required
def partners(workshop_id: int):
    ws = _own_workshop(workshop_id)
    lang = _language(ws)
    error, status = None, 200
    limit = _max_bytes()
    request.max_content_length = limit + 64 * 1024  # the record plus the form around it
    try:
        if request.content_length and request.content_length > request.max_content_length:
            raise RequestEntityTooLarge()
        form = PartnerForm()
        submitted = form.validate_on_submit()
    except RequestEntityTooLarge:
        form, submitted = PartnerForm(formdata=None), False
        error, status = _("The file is too large (at most %(mb)s MB).",
                          mb=limit // (1024 * 1024) or 1), 413
    if submitted:
        data = form.record.data.read(limit + 1)
        if len(data) > limit:
            error, status = _("The file is too large (at most %(mb)s MB).",
                              mb=limit // (1024 * 1024) or 1), 413
        else:
            try:
                # Parsed, checked and written in a worker process (edp/jobs.py), which
                # commits; a refused record leaves nothing behind.
                partner_id = jobs.run("import_partner", data, ws.id, current_user.id)
            except record.RecordError as exc:
                error, status = _record_problem(exc)
            except pairing.PairingError:
                error, status = _("This file is not an EDP Live record: export the partner "
                                  "workshop's “Full record (JSON)” and upload that file."), 400
            else:
                return redirect(url_for("pairing.pair", workshop_id=ws.id,
                                        partner_id=partner_id))
    elif request.method == "POST" and error is None:
        status = 400
    return render_template("partners.html", ws=ws, form=form, error=error,
                           partners=_partners(ws), page={"language": lang}), status


@bp.get("/f/w/<int:workshop_id>/pair/<int:partner_id>")
@login_required
def pair(workshop_id: int, partner_id: int):
    ws = _own_workshop(workshop_id)
    partner = _own_workshop(partner_id)
    lang = _language(ws)
    comparison = _comparison(ws, partner)
    downloads = {fmt: url_for("pairing.brief", workshop_id=ws.id, partner_id=partner.id,
                              fmt=fmt) for fmt in pairing.FORMATS}
    return render_template("pairing.html", ws=ws, partner=partner, c=comparison,
                           title=pairing.brief_title(comparison),
                           steps=pairing.next_steps(comparison), downloads=downloads, pairing=pairing,
                           page={"language": lang})


@bp.get("/f/w/<int:workshop_id>/pair/<int:partner_id>/brief.<fmt>")
@login_required
def brief(workshop_id: int, partner_id: int, fmt: str):
    ws = _own_workshop(workshop_id)
    partner = _own_workshop(partner_id)
    if fmt not in pairing.FORMATS:
        abort(404)
    lang = _language(ws)
    data, mimetype, filename = jobs.run("brief", ws.id, partner.id, fmt, lang)
    return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True,
                     download_name=filename)
