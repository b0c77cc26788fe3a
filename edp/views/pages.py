"""The three faces: participant (phone), screen (projector), console (facilitator)."""
from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import urlsplit

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
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import refresh as refresh_locale
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from .. import exports, jobs, network
from .. import workshop as rules
from ..extensions import db
from ..i18n import LANGUAGE_NAMES
from ..models import Domain, Priority, Workshop
from ..sdgs import sdg_items
from ..ui_strings import ui_strings

bp = Blueprint("pages", __name__)

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "workshops"


def _join_base() -> tuple[str, str | None]:
    """The base of the links phones open, and why phones may not reach it (edp/network.py)."""
    return network.join_base(current_app.config.get("PUBLIC_URL"),
                             current_app.config.get("LISTEN"), request.url_root)


def public_url(path: str) -> str:
    """`path` on an address phones can open: EDP_PUBLIC_URL; else, when the server listens on
    the network, one of the machine's network addresses (never loopback, whatever address this
    page was opened on); else the page's own address."""
    return _join_base()[0] + path


def join_warning() -> str | None:
    """Translated, when phones cannot reach the join link: what is wrong and what to do."""
    base, reason = _join_base()
    host = urlsplit(base).hostname or base
    if reason == network.LOOPBACK_ONLY:
        listen = str((current_app.config.get("LISTEN") or {}).get("host") or host)
        return _("Phones cannot reach this join link: the server only listens on this computer "
                 "(%(host)s). Restart it with “edp run --host 0.0.0.0”, or set "
                 "EDP_PUBLIC_URL to an address that phones can reach.", host=listen)
    if reason == network.NO_NETWORK:
        return _("Phones cannot reach this join link: this computer is not connected to any "
                 "network. Connect it to the venue Wi-Fi or a phone hotspot, then reload this "
                 "page (or set EDP_PUBLIC_URL).")
    if reason == network.LOOPBACK_PAGE:
        return _("Phones cannot reach this join link: %(host)s is this computer's own address. "
                 "Open this page at the computer's network address, or set EDP_PUBLIC_URL to "
                 "an address that phones can reach.", host=host)
    return None


def origin_notes() -> dict[str, str | None]:
    """`origin_warning` (translated) when this page's address is one the Socket.IO origin check
    refuses, so the page says so instead of waiting for live updates forever; `origin_url`: the
    same page at an address that works."""
    from ..app import normal_origin, origin_check

    opened = normal_origin(request.host_url)
    if opened is not None and origin_check(current_app)(opened, request.environ):
        return {"origin_warning": None, "origin_url": None}
    base = (current_app.config.get("PUBLIC_URL") or _join_base()[0]).rstrip("/")
    target = base + request.full_path.rstrip("?")
    return {"origin_warning": _("This page was opened at %(opened)s, which the server does not "
                                "accept for live updates. Open %(url)s instead.",
                                opened=opened or request.host_url, url=target),
            "origin_url": target}


def _workshop_or_404(code: str) -> Workshop:
    """The workshop with this join code; else a 404 page in the visitor's language with a form
    to type the code again (the projector's page leads back to a projector page)."""
    try:
        return rules.workshop_by_code(code)
    except rules.EDPError:
        target = "screen" if request.endpoint == "pages.screen" else "participant"
        abort(code_error_page(404, code, target))


def _visitor_language() -> str:
    """A page without a workshop: ?lang=, else the language picked earlier on this device,
    else the browser's best match among ours (Accept-Language), else English."""
    lang = request.args.get("lang")
    if lang in rules.LANGUAGES:
        return lang
    if session.get("lang") in rules.LANGUAGES:
        return session["lang"]
    return request.accept_languages.best_match(rules.LANGUAGES) or "en"


def clean_code(code: str) -> str:
    """A join code as people type or paste it: any case, spaces or dashes, or the whole link."""
    code = (code or "").strip().rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    return "".join(ch for ch in code.upper() if ch.isalnum())[:16]


def code_error_page(status: int, code: str = "", target: str = "participant"):
    """The phone-sized page for a join code that leads nowhere: 404 (no such workshop) or 429
    (too many wrong codes from this address), in the visitor's language, with the code form."""
    g.locale = _visitor_language()
    refresh_locale()  # the language may have been looked up already in this request
    chosen = request.args.get("lang") if request.args.get("lang") in rules.LANGUAGES else ""
    page = {"language": g.locale}
    html = render_template("unknown_code.html", page=page, status=status,
                           code=clean_code(code), target=target, chosen=chosen)
    response = current_app.make_response((html, status))
    if status == 429:
        response.headers["Retry-After"] = "30"
    return response


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


@bp.app_template_filter("label_in")
def label_in(item: dict | None, language: str | None = None) -> str:
    """`{{ helix|label_in(page.language) }}`: a helix's or criterion's label in that language
    when the template translated it."""
    return rules.label_in(item, language or str(get_locale() or ""))


@bp.app_context_processor
def inject_language() -> dict[str, object]:
    """`<html lang>` for pages without a workshop (log-in, dashboard, join-code form), and the
    languages the pickers offer (`_lang_picker.html`)."""
    return {"current_language": str(get_locale() or "en"), "languages": LANGUAGE_NAMES}


@bp.get("/")
def index():
    """The join-code form; `?code=` goes to that workshop's phone page (or, with
    `to=screen`, its projector page), keeping a language picked on the way (`lang`)."""
    code = clean_code(request.args.get("code", ""))
    if code:
        endpoint = "pages.screen" if request.args.get("to") == "screen" else "pages.participant"
        lang = request.args.get("lang")
        extra = {"lang": lang} if lang in rules.LANGUAGES else {}
        return redirect(url_for(endpoint, code=code, **extra))
    g.locale = _visitor_language()
    chosen = request.args.get("lang") if request.args.get("lang") in rules.LANGUAGES else ""
    return render_template("index.html", page={"language": g.locale}, chosen=chosen)


def _priorities(ws: Workshop) -> list[dict]:
    """The agreed priorities, as the room's `state` carries them (for a closed workshop's
    page, which a newcomer sees without joining)."""
    titles = dict(db.session.execute(
        sa.select(Domain.id, Domain.title).where(Domain.workshop_id == ws.id)).all())
    rows = db.session.scalars(
        sa.select(Priority).where(Priority.workshop_id == ws.id).order_by(Priority.rank))
    return [{"domain_id": p.domain_id, "title": titles.get(p.domain_id, ""), "rank": p.rank,
             "rationale": p.rationale, "indicators": p.indicators or []} for p in rows]


@bp.get("/w/<code>")
def participant(code: str):
    ws = _workshop_or_404(code)
    lang = _use_language(ws, browser=True)
    page = {
        "code": ws.code,
        "title": ws.title,
        "language": lang,
        "phase": ws.phase,
        # Labels in the phone's language (socket.js's helixLabel and countRows read `label`).
        "helices": [{**h, "label": rules.label_in(h, lang)} for h in ws.helices],
        "sdgs": sdg_items(),
        "strings": ui_strings(),
    }
    if ws.phase == "closed":
        page["priorities"] = _priorities(ws)
    page.update(origin_notes())
    invitation = _invitation(ws, page)
    return render_template("participant.html", ws=ws, page=page, invitation=invitation)


def _invitation(ws: Workshop, page: dict) -> dict | None:
    """`?invite=TOKEN`: the invitee's greeting (name, organisation, helix) and, for the page's
    script, the token (`page.invite`). A wrong one is counted like a wrong join code."""
    from .. import invitations
    from ..limits import client_address, join_guard

    page["join"] = rules.join_mode(ws)
    token = request.args.get("invite", "").strip()
    if not token:
        return None
    found = invitations.invitation_by_token(ws, token)
    if found is None:
        join_guard().wrong_code(None, client_address())
        page["invite_bad"] = True
        return None
    page["invite"] = found.token
    helix = next((h for h in page["helices"] if h["key"] == found.helix), None)
    return {"name": found.name, "organisation": found.organisation,
            "helix": helix["label"] if helix else found.helix}


@bp.get("/screen/<code>")
def screen(code: str):
    ws = _workshop_or_404(code)
    lang = _use_language(ws)
    join_url = public_url(url_for("pages.participant", code=ws.code))
    qr = segno.make(join_url, error="m")
    # The lobby's big code, and the corner's small one on every other stage (a narrower quiet
    # zone: the header around it is white). A viewBox, so CSS sizes them.
    qr_svg = qr.svg_inline(scale=8, dark="#000", light="#fff", omitsize=True)
    qr_corner_svg = qr.svg_inline(scale=8, border=2, dark="#000", light="#fff", omitsize=True)
    # Seconds between two pages of a long list (`?turn=1` keeps the tests fast).
    try:
        turn = min(120.0, max(1.0, float(request.args.get("turn", 8))))
    except ValueError:
        turn = 8.0
    page = {"code": ws.code, "title": ws.title, "language": lang, "join_url": join_url,
            # Labels in the projector's language (the scripts read `label`).
            "helices": [{**h, "label": rules.label_in(h, lang)} for h in ws.helices],
            "turn": turn, "strings": ui_strings(), **origin_notes()}
    host, sep, rest = join_url.rpartition("/w/")
    return render_template("screen.html", ws=ws, page=page, qr_svg=qr_svg,
                           qr_corner_svg=qr_corner_svg, join_url=join_url,
                           join_parts=(host, sep + rest) if sep else (join_url, ""))


class CreateWorkshopForm(FlaskForm):
    template = SelectField(_l("Template"), validators=[DataRequired()])
    title = StringField(_l("Title"), validators=[Optional(), Length(max=200)])
    region = StringField(_l("Region"), validators=[Optional(), Length(max=200)],
                         description=_l("As the template says when left empty"))
    language = SelectField(
        _l("Language of the workshop"),
        choices=[("", _l("As the template says")), *LANGUAGE_NAMES.items()],
        validators=[Optional()],
    )
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
                                   form.method.data or None,
                                   region=(form.region.data or "").strip() or None,
                                   language=form.language.data or None)
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
    # The lobby panel shows the same QR code as the projector (a viewBox, so CSS sizes it).
    qr_svg = segno.make(join_url, error="m").svg_inline(
        scale=4, dark="#000", light="#fff", omitsize=True)
    page = {"workshop_id": ws.id, "code": ws.code, "title": ws.title, "language": g.locale,
            "join_url": join_url, "screen_url": public_url(url_for("pages.screen", code=ws.code)),
            "phases": rules.PHASES, "moderation": ws.moderation,
            # Labels in the console's language (socket.js's helixLabel and countRows read them).
            "helices": [{**h, "label": rules.label_in(h, g.locale)} for h in ws.helices],
            "strings": ui_strings(),
            # A translated warning when phones cannot reach the join link, else None.
            "join_warning": join_warning(), **origin_notes(),
            "exports": {f: url_for("pages.export", workshop_id=ws.id, fmt=f)
                        for f in exports.FORMATS}}
    return render_template("console.html", ws=ws, page=page, join_url=join_url, qr_svg=qr_svg)


@bp.get("/f/w/<int:workshop_id>/export.<fmt>")
@login_required
def export(workshop_id: int, fmt: str):
    ws = _own_workshop(workshop_id)
    if fmt not in exports.FORMATS:
        abort(404)
    # In a worker process: building a report must not hold up the phones (edp/jobs.py).
    data, mimetype, filename = jobs.run("export", ws.id, fmt)
    return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True,
                     download_name=filename)
