"""Signing in and out of the console (the accounts service, its lockout and the login rate
limits of the token endpoint), and the language switch."""

from __future__ import annotations

from typing import Any

from flask import current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from app.composition import login_policy
from app.edge.auth import STAFF
from app.edge.bodies import accepts
from app.edge.page_auth import page_principal, sign_in, sign_out
from app.extensions import db
from app.services.access import accounts
from app.services.errors import InvalidCredentials, LoginLocked
from app.web.console import FORM, bp, safe_next
from app.web.i18n import LANGUAGES
from app.web.i18n import SESSION_KEY as LANGUAGE_KEY
from app.web.limits import login_key, login_limits


def _login_key() -> str:
    return login_key("username", str(request.form.get("username", "")))


@bp.route("/login", methods=["GET", "POST"])
@login_limits(_login_key)
@accepts(FORM)
def login() -> Any:
    """The sign-in form; a right password opens a session for an officer or administrator."""
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if page_principal() is not None:
            return redirect(target)
        return render_template("console/login.html", next=target)
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    try:
        # the login's own session, as for the token endpoint: a failure's count outlasts
        # the refusal
        with db.new_session(current_app, write=True) as login_session:
            user = accounts.authenticate(login_session, username, password,
                                         policy=login_policy(current_app.config))
            if user.role.value not in STAFF:
                raise InvalidCredentials("The username or password is wrong.")
            sign_in(user)  # a fresh session; the language chosen before signing in stays
    except InvalidCredentials:
        return render_template("console/login.html", next=target, username=username,
                               error=_("The username or password is wrong.")), 401
    except LoginLocked as locked:
        return render_template("console/login.html", next=target, username=username,
                               error=_("Too many wrong passwords: this account is locked "
                                       "for a while.")), 429, {
            "Retry-After": str(locked.retry_after)}
    return redirect(target, code=303)


@bp.post("/logout")
@accepts(FORM)
def logout() -> Any:
    """Sign out: this session and every token of the account stop working at once."""
    principal = page_principal()
    if principal is not None:
        accounts.revoke_tokens(db.session, principal.id)
    sign_out()
    return redirect(url_for("console.login"), code=303)


@bp.post("/language")
@accepts(FORM)
def set_language() -> Any:
    """Switch the pages' language (kept in the session) and go back to the page."""
    chosen = request.form.get("lang", "")
    if chosen in LANGUAGES:
        session[LANGUAGE_KEY] = chosen
    return redirect(safe_next(request.form.get("next")), code=303)
