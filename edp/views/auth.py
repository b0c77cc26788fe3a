"""Facilitator log-in (Flask-Login, hashed passwords, CSRF on the form)."""
from __future__ import annotations

import time

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from ..extensions import db
from ..models import Facilitator

bp = Blueprint("auth", __name__)

# Failed log-ins per e-mail address: a few tries, then a pause (throttles password guessing).
_failures: dict[str, list[float]] = {}
MAX_FAILURES, WINDOW = 5, 300.0


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


def _throttled(email: str) -> bool:
    now = time.monotonic()
    if len(_failures) > 10_000:
        # Guesses at many made-up addresses must not grow this without bound.
        for stale in [e for e, times in _failures.items() if not times or now - times[-1] >= WINDOW]:
            del _failures[stale]
    recent = [t for t in _failures.get(email, []) if now - t < WINDOW]
    _failures[email] = recent
    return len(recent) >= MAX_FAILURES


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        if _throttled(email):
            flash(_("Too many failed attempts. Wait a few minutes and try again."), "error")
            status = 429
        else:
            user = db.session.scalar(sa.select(Facilitator).where(Facilitator.email == email))
            if user and user.check_password(form.password.data):
                _failures.pop(email, None)
                login_user(user)
                target = request.args.get("next", "")
                # Only local paths: never redirect a facilitator off site after log-in. Browsers
                # read "/\\host" as "//host" and drop tabs and newlines, so refuse those too.
                if (not target.startswith("/") or target.startswith("//") or "\\" in target
                        or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target)):
                    target = url_for("pages.dashboard")
                return redirect(target)
            _failures.setdefault(email, []).append(time.monotonic())
            flash(_("Wrong e-mail or password."), "error")
            status = 401
    elif request.method == "POST":
        status = 400
    return render_template("login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    return redirect(url_for("auth.login"))
