"""Interregional pairing on the console: import a partner region's record, compare the two
priority lists side by side, download the cooperation brief (see `edp.pairing`)."""
from __future__ import annotations

import io
import json

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

from .. import exports, pairing, record
from .. import workshop as rules
from ..extensions import csrf, db
from ..models import Workshop
from .pages import _own_workshop

bp = Blueprint("pairing", __name__)

# The largest record accepted by upload (config PARTNER_RECORD_MAX_BYTES): a workshop of
# 3,000 participants with its whole event log stays well below it.
PARTNER_RECORD_MAX_BYTES = 32 * 1024 * 1024


class PartnerForm(FlaskForm):
    record = FileField(_l("The partner region's record (JSON export of its workshop)"),
                       validators=[FileRequired(_l("Choose the partner region's record file."))])


def _max_bytes() -> int:
    return int(current_app.config.get("PARTNER_RECORD_MAX_BYTES") or PARTNER_RECORD_MAX_BYTES)


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
    return pairing.compare(json.loads(exports.build(ws, "json")[0]),
                           json.loads(exports.build(partner, "json")[0]))


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
                partner = pairing.import_partner(data, ws, current_user)
            except (record.RecordError, pairing.PairingError):
                db.session.rollback()
                error, status = _("This file is not an EDP Live record: export the partner "
                                  "workshop's “Full record (JSON)” and upload that file."), 400
            else:
                db.session.commit()
                return redirect(url_for("pairing.pair", workshop_id=ws.id,
                                        partner_id=partner.id))
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
    data, mimetype, filename = pairing.brief(_comparison(ws, partner), fmt, lang)
    return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True,
                     download_name=filename)
