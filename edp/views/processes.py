"""The facilitator's pages for a continuous EDP: processes, next rounds, round comparisons.

Only the process's own facilitator sees or changes it (403 for others, 404 for what does not
exist). Forms are Flask-WTF (CSRF); the rules live in `edp.processes`.
"""
from __future__ import annotations

import io
import itertools
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, flash, g, redirect, render_template, send_file, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField, widgets
from wtforms.validators import DataRequired, Length, Optional

from .. import jobs, processes, rounds_export
from .. import workshop as rules
from ..extensions import db
from ..models import Process, Workshop
from .pages import _own_workshop, owned

bp = Blueprint("processes", __name__)


class CreateProcessForm(FlaskForm):
    title = StringField(_l("Process title"), validators=[DataRequired(), Length(max=200)])
    region = StringField(_l("Region"), validators=[Optional(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])


class AddRoundForm(FlaskForm):
    # Any id is accepted here; the view answers 403/404 for what is not the facilitator's.
    workshop = SelectField(_l("Workshop"), coerce=int, validators=[DataRequired()],
                           validate_choice=False)


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class NextRoundForm(FlaskForm):
    title = StringField(_l("Title of the next round"), validators=[Optional(), Length(max=200)])
    carry = CheckboxesField(_l("Domains to carry forward"), coerce=int,
                            validate_choice=False)


# ---------------------------------------------------------------- helpers


def _own_process(process_id: int) -> Process:
    return owned(Process, process_id)


def _use_language(language: str) -> None:
    g.locale = session.get("lang") if session.get("lang") in rules.LANGUAGES else language


def _flash_error(exc: rules.EDPError) -> None:
    flash(str(exc.message), "error")


def _flash_form_errors(form: FlaskForm) -> None:
    for field in form:
        for error in field.errors:
            flash(f"{field.label.text}: {error}", "error")


# ---------------------------------------------------------------- template helpers


@bp.app_template_global()
def my_processes() -> list[dict[str, Any]]:
    """The dashboard's list: the current facilitator's processes with their round count."""
    if not current_user.is_authenticated:
        return []
    found = processes.processes_of(current_user)
    counts = dict(db.session.execute(
        sa.select(Workshop.process_id, sa.func.count(Workshop.id))
        .where(Workshop.process_id.in_([p.id for p in found]))
        .group_by(Workshop.process_id)
    ).all()) if found else {}
    return [{"process": p, "rounds": counts.get(p.id, 0)} for p in found]


@bp.app_template_global()
def create_process_form() -> CreateProcessForm:
    return CreateProcessForm(formdata=None)


@bp.app_template_global()
def next_round_panel(ws: Workshop) -> dict[str, Any]:
    """What the console's "Next round" section shows: the form (decided priorities checked),
    the approved domains, and the process the workshop belongs to, if any."""
    # In the order the round left them: priorities by rank, then the results ranking.
    domains = processes.carried_domains(ws, processes.CARRY_ALL)
    decided = processes.priorities_of(ws)
    form = NextRoundForm(formdata=None)
    form.carry.choices = [(d.id, d.title) for d in domains]
    form.carry.data = [d.id for d in domains if d.id in decided]
    process = db.session.get(Process, ws.process_id) if ws.process_id else None
    return {"form": form, "process": process, "round": ws.round_no, "count": len(domains)}


# ---------------------------------------------------------------- pages


@bp.post("/f/p/new")
@login_required
def create():
    form = CreateProcessForm()
    if not form.validate_on_submit():
        _flash_form_errors(form)
        return redirect(url_for("pages.dashboard"))
    process = processes.create_process(current_user, form.title.data, form.region.data or "",
                                       form.description.data or "")
    db.session.commit()
    return redirect(url_for("processes.show", process_id=process.id))


@bp.get("/f/p/<int:process_id>")
@login_required
def show(process_id: int):
    process = _own_process(process_id)
    items = processes.rounds(process)
    _use_language(items[-1].language if items else "en")
    summaries: dict[int, dict[int, dict[str, Any]]] = {}
    comparisons = []
    for earlier, later in itertools.pairwise(items):
        frame = processes.compare_rounds(earlier, later, summaries)
        table = processes.comparison_rows(frame)
        for row in table:  # the helices with a split in either round
            row["split_helices"] = [
                h for h in frame.attrs["helices"]
                if row[f"split_{h}_earlier"] is not None or row[f"split_{h}_later"] is not None]
        comparisons.append({
            "earlier": earlier, "later": later,
            "rows": table,
            "helices": frame.attrs["helices"],
            "labels": rounds_export.helix_labels(earlier, later),
            "downloads": {fmt: url_for("processes.compare", process_id=process.id,
                                       earlier_id=earlier.id, later_id=later.id, fmt=fmt)
                          for fmt in rounds_export.FORMATS},
        })
    add_form = AddRoundForm(formdata=None)
    add_form.workshop.choices = [
        (w.id, f"{w.title} ({w.code})") for w in db.session.scalars(
            sa.select(Workshop).where(Workshop.facilitator_id == current_user.id,
                                      Workshop.process_id.is_(None))
            .order_by(Workshop.id.desc()))
    ]
    rows = [{"ws": w, "participants": processes.participants_of(w)} for w in items]
    return render_template("process.html", process=process, rounds=rows,
                           comparisons=comparisons, add_form=add_form, fmt=_formatters())


def _formatters() -> dict[str, Any]:
    return {"percent": rounds_export.percent, "points": rounds_export.points,
            "number": rounds_export.number, "status": rounds_export.status_label}


@bp.post("/f/p/<int:process_id>/add")
@login_required
def add_round(process_id: int):
    process = _own_process(process_id)
    form = AddRoundForm()
    if not form.validate_on_submit():
        _flash_form_errors(form)
        return redirect(url_for("processes.show", process_id=process.id))
    ws = _own_workshop(form.workshop.data)
    try:
        number = processes.attach(process, ws)
    except rules.EDPError as exc:
        db.session.rollback()
        _flash_error(exc)
    else:
        db.session.commit()
        flash(_("“%(title)s” is round %(n)s.", title=ws.title, n=number), "ok")
    return redirect(url_for("processes.show", process_id=process.id))


@bp.post("/f/w/<int:workshop_id>/next-round")
@login_required
def next_round(workshop_id: int):
    ws = _own_workshop(workshop_id)
    form = NextRoundForm()
    form.carry.choices = [(d.id, d.title) for d in rules.domains_of(ws, rules.VOTABLE)]
    if not form.validate_on_submit():
        _flash_form_errors(form)
        return redirect(url_for("pages.console", workshop_id=ws.id))
    try:
        new = processes.new_round(ws, current_user, form.title.data or None,
                                  carry=form.carry.data or [])
    except rules.EDPError as exc:
        db.session.rollback()
        _flash_error(exc)
        return redirect(url_for("pages.console", workshop_id=ws.id))
    db.session.commit()
    flash(_("Round %(n)s is ready in the lobby.", n=new.round_no), "ok")
    return redirect(url_for("pages.console", workshop_id=new.id))


@bp.get("/f/p/<int:process_id>/compare/<int:earlier_id>/<int:later_id>.<fmt>")
@login_required
def compare(process_id: int, earlier_id: int, later_id: int, fmt: str):
    process = _own_process(process_id)
    if fmt not in rounds_export.FORMATS or earlier_id == later_id:
        abort(404)
    earlier, later = db.session.get(Workshop, earlier_id), db.session.get(Workshop, later_id)
    if any(w is None or w.process_id != process.id for w in (earlier, later)):
        abort(404)
    data, mimetype, filename = jobs.run("rounds_export", earlier.id, later.id, fmt)
    return send_file(io.BytesIO(data), mimetype=mimetype, as_attachment=True,
                     download_name=filename)
