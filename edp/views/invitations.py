"""The facilitator's printable sheet of personal invitations (a QR code per invitee, A4), with
an upload to add invitees from a CSV file (the rules are in `edp.invitations`)."""
from __future__ import annotations

import segno
from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import login_required
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from .. import invitations
from .. import workshop as rules
from ..extensions import db
from .pages import _own_workshop, public_url

bp = Blueprint("invitations", __name__)

# The largest invitee list accepted by upload (5,000 rows of names, organisations and
# e-mails stay well below it).
MAX_BYTES = 2 * 1024 * 1024


class InviteesForm(FlaskForm):
    file = FileField(_l("Invitees (CSV with the columns name, organisation, helix and, "
                        "optionally, email)"),
                     validators=[FileRequired(_l("Choose the CSV file of invitees."))])


def short_link(url: str) -> str:
    """The link as a person types it: without "http://" or "https://"."""
    return url.split("://", 1)[-1]


@bp.route("/f/w/<int:workshop_id>/invitations", methods=["GET", "POST"])
@login_required
def sheet(workshop_id: int):
    ws = _own_workshop(workshop_id)
    g.locale = session.get("lang") if session.get("lang") in rules.LANGUAGES else ws.language
    form = InviteesForm()
    error, status = None, 200
    if form.validate_on_submit():
        data = form.file.data.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            error, status = _("The file is too large (at most %(mb)s MB).",
                              mb=MAX_BYTES // (1024 * 1024)), 413
        else:
            try:
                found = invitations.import_csv(ws, data)
            except invitations.InvitationError as exc:
                db.session.rollback()  # all or nothing
                error, status = str(exc), 400
            else:
                db.session.commit()
                added = sum(1 for _inv, new in found if new)
                flash(ngettext("%(num)s invitee added; %(all)s in the file.",
                               "%(num)s invitees added; %(all)s in the file.",
                               added, all=len(found)), "ok")
                return redirect(url_for("invitations.sheet", workshop_id=ws.id))
    elif request.method == "POST":
        status = 400
    helices = {h["key"]: rules.label_in(h, g.locale) for h in ws.helices}
    cards = []
    for inv in invitations.invitations_of(ws):
        url = public_url(url_for("pages.participant", code=ws.code, invite=inv.token))
        cards.append({"name": inv.name, "organisation": inv.organisation,
                      "helix": helices.get(inv.helix, inv.helix), "url": url,
                      "short": short_link(url),
                      "qr": segno.make(url, error="m").svg_data_uri(
                          scale=4, dark="#000", light="#fff")})
    return render_template("invitations.html", ws=ws, form=form, error=error, cards=cards,
                           summary=invitations.summary(ws), join=rules.join_mode(ws),
                           page={"language": g.locale}), status
