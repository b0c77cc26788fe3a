"""The three faces: participant (phone), screen (projector), console (facilitator)."""
from __future__ import annotations

import io
from pathlib import Path

import segno
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
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from .. import exports
from .. import workshop as rules
from ..extensions import db
from ..models import Workshop
from ..ui_strings import ui_strings

bp = Blueprint("pages", __name__)

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "workshops"


def public_url(path: str) -> str:
    base = current_app.config.get("PUBLIC_URL") or request.url_root
    return base.rstrip("/") + path


def _workshop_or_404(code: str) -> Workshop:
    try:
        return rules.workshop_by_code(code)
    except rules.EDPError:
        abort(404)


def _browser_language(default: str) -> str:
    """The workshop's language, unless the browser does not accept it at all: then the
    browser's best match among ours (an English-only phone in a Spanish workshop gets English;
    the join page's language picker changes it either way)."""
    accepted = request.accept_languages
    if not accepted or any(
        value.split("-")[0].lower() in (default, "*") for value, quality in accepted if quality > 0
    ):
        return default
    return accepted.best_match(rules.LANGUAGES) or default


def _use_language(ws: Workshop, browser: bool = False) -> str:
    """?lang= (remembered in the session), else the session's choice, else the workshop's
    language (the participant page also weighs the browser's, see `_browser_language`)."""
    lang = request.args.get("lang")
    if lang in rules.LANGUAGES:
        session["lang"] = lang
    if session.get("lang") in rules.LANGUAGES:
        g.locale = session["lang"]
    else:
        g.locale = _browser_language(ws.language) if browser else ws.language
    return g.locale


@bp.app_context_processor
def inject_language() -> dict[str, str]:
    """`<html lang>` for pages without a workshop (log-in, dashboard, join-code form)."""
    return {"current_language": str(get_locale() or "en")}


@bp.get("/")
def index():
    code = request.args.get("code", "").strip().upper()
    if code:
        return redirect(url_for("pages.participant", code=code))
    return render_template("index.html")


@bp.get("/w/<code>")
def participant(code: str):
    ws = _workshop_or_404(code)
    lang = _use_language(ws, browser=True)
    page = {
        "code": ws.code,
        "title": ws.title,
        "language": lang,
        "helices": ws.helices,
        "strings": ui_strings(),
    }
    return render_template("participant.html", ws=ws, page=page)


@bp.get("/screen/<code>")
def screen(code: str):
    ws = _workshop_or_404(code)
    lang = _use_language(ws)
    join_url = public_url(url_for("pages.participant", code=ws.code))
    qr_svg = segno.make(join_url, error="m").svg_inline(
        scale=8, dark="#000", light="#fff", omitsize=True  # a viewBox, so CSS can size it
    )
    page = {"code": ws.code, "title": ws.title, "language": lang, "join_url": join_url,
            "helices": ws.helices, "strings": ui_strings()}
    return render_template("screen.html", ws=ws, page=page, qr_svg=qr_svg, join_url=join_url)


class CreateWorkshopForm(FlaskForm):
    template = SelectField(_l("Template"), validators=[DataRequired()])
    title = StringField(_l("Title"), validators=[Optional(), Length(max=200)])
    method = SelectField(
        _l("Voting method"),
        choices=[("", _l("As the template says")), ("dot", _l("Dot voting")),
                 ("score", _l("Multi-criteria scoring")), ("rank", _l("Ranking"))],
        validators=[Optional()],
    )


def template_choices() -> list[tuple[str, str]]:
    choices = []
    for path in sorted(TEMPLATES_DIR.glob("*.toml")):
        try:
            title = rules.load_template(path)["title"]
        except (ValueError, OSError):
            continue
        choices.append((path.name, title))
    return choices


@bp.route("/f/", methods=["GET", "POST"])
@login_required
def dashboard():
    form = CreateWorkshopForm()
    form.template.choices = template_choices()
    if form.validate_on_submit():
        template = rules.load_template(TEMPLATES_DIR / form.template.data)
        ws = rules.create_workshop(template, current_user, form.title.data or None,
                                   form.method.data or None)
        db.session.commit()
        return redirect(url_for("pages.console", workshop_id=ws.id))
    workshops = db.session.scalars(
        sa.select(Workshop).where(Workshop.facilitator_id == current_user.id)
        .order_by(Workshop.id.desc())
    ).all()
    return render_template("dashboard.html", form=form, workshops=workshops)


def owned(model, row_id: int):
    """The logged-in facilitator's row of `model` (a workshop, a process): 404 when there is
    none, 403 when it is another facilitator's."""
    row = db.session.get(model, row_id)
    if row is None:
        abort(404)
    if row.facilitator_id != current_user.id:
        abort(403)
    return row


def _own_workshop(workshop_id: int) -> Workshop:
    return owned(Workshop, workshop_id)


@bp.get("/f/w/<int:workshop_id>")
@login_required
def console(workshop_id: int):
    ws = _own_workshop(workshop_id)
    g.locale = session.get("lang") if session.get("lang") in rules.LANGUAGES else ws.language
    join_url = public_url(url_for("pages.participant", code=ws.code))
    page = {"workshop_id": ws.id, "code": ws.code, "title": ws.title, "language": g.locale,
            "join_url": join_url, "screen_url": public_url(url_for("pages.screen", code=ws.code)),
            "phases": rules.PHASES, "helices": ws.helices, "strings": ui_strings(),
            "exports": {f: url_for("pages.export", workshop_id=ws.id, fmt=f)
                        for f in exports.FORMATS}}
    return render_template("console.html", ws=ws, page=page, join_url=join_url)


@bp.get("/f/w/<int:workshop_id>/export.<fmt>")
@login_required
def export(workshop_id: int, fmt: str):
    ws = _own_workshop(workshop_id)
    if fmt not in exports.FORMATS:
        abort(404)
    data, mimetype, filename = exports.build(ws, fmt)
    return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True,
                     download_name=filename)
