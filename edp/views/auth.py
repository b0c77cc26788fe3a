"""Facilitator log-in (Flask-Login, hashed passwords, CSRF on the form)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, ValidationError
from wtforms.validators import DataRequired, EqualTo, Length

from .. import accounts
from ..extensions import db
from ..limits import client_address
from ..models import Facilitator, check_dummy_password

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class PasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])
    new = PasswordField(_l("New password"), validators=[DataRequired()])
    again = PasswordField(_l("New password again"), validators=[
        DataRequired(), EqualTo("new", message=_l("The two new passwords differ."))])

    def validate_new(self, field) -> None:
        problem = accounts.password_problem(field.data or "", current_user.email)
        if problem:
            raise ValidationError(problem)


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        guard, client = accounts.login_guard(), client_address()
        if not guard.allowed(email, client):
            flash(_("Too many failed attempts. Wait a few minutes and try again."), "error")
            status = 429
        else:
            user = db.session.scalar(sa.select(Facilitator).where(Facilitator.email == email))
            # An unknown e-mail costs the same hashing as a known one (no enumeration by time).
            if (user.check_password(form.password.data) if user is not None
                    else check_dummy_password(form.password.data)):
                guard.succeeded(email, client)
                login_user(user)
                db.session.commit()  # a session token given to an account from before it
                target = request.args.get("next", "")
                # Only local paths: never redirect a facilitator off site after log-in. Browsers
                # read "/\\host" as "//host" and drop tabs and newlines, so refuse those too.
                if (not target.startswith("/") or target.startswith("//") or "\\" in target
                        or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target)):
                    target = url_for("pages.dashboard")
                return redirect(target)
            guard.failed(email, client)
            flash(_("Wrong e-mail or password."), "error")
            status = 401
    elif request.method == "POST":
        status = 400
    return render_template("login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Ends every session of this facilitator, not only this browser's: a cookie copied
    earlier (another computer, a stolen one) stops working too."""
    user = db.session.get(Facilitator, current_user.id)
    notify = accounts.end_sessions(user)
    db.session.commit()
    notify()
    logout_user()
    return redirect(url_for("auth.login"))


@bp.route("/f/password", methods=["GET", "POST"])
@login_required
def change_password():
    """A new password ends the facilitator's other sessions; this one goes on."""
    form = PasswordForm()
    status = 200
    if form.validate_on_submit():
        user = db.session.get(Facilitator, current_user.id)
        if user.check_password(form.current.data):
            user.set_password(form.new.data)
            notify = accounts.end_sessions(user)
            db.session.commit()
            notify()
            login_user(user)  # this browser gets the new token
            flash(_("Password changed. Your other sessions have ended."), "info")
            return redirect(url_for("pages.dashboard"))
        form.current.errors = [*form.current.errors, _("Wrong password.")]
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("password.html", form=form), status
