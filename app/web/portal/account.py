"""Signing in and out of the member portal (the member accounts service with its lockout and
the token endpoint's rate-limit buckets) and activating an account with the card letter's
code (the activation endpoint's service and rate limits)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.composition import data_cipher, member_login_policy
from app.edge.bodies import accepts
from app.edge.page_auth import page_member, sign_in_member, sign_out
from app.edge.problems import error_problem
from app.extensions import db, limiter
from app.services.access import member_accounts
from app.services.access.member_accounts import LoginName
from app.services.errors import DomainError, InvalidCredentials, LoginLocked, ValidationFailed
from app.web import wording
from app.web.console import safe_next
from app.web.limits import login_key, login_limits
from app.web.portal import FORM, bp


def _config(name: str) -> str:
    return str(current_app.config[name])


def _login_key() -> str:
    return login_key(_login_kind(), str(request.form.get("login", "")))


def _login_kind() -> LoginName:
    """What the member typed: their member number (the default) or their phone."""
    return "phone" if request.form.get("by") == "phone" else "member_number"


def _activation_address_key() -> str:
    return f"activate-address|{request.remote_addr}"


def _activation_member_key() -> str:
    number = str(request.form.get("member_number", ""))
    return f"activate-member|{number.strip().upper()[:20]}"


@bp.get("/")
def home() -> Any:
    """The portal's start: the member's card."""
    return redirect(url_for("portal.card"))


@bp.route("/login", methods=["GET", "POST"])
@login_limits(_login_key)
@accepts(FORM)
def login() -> Any:
    """Sign in with the member number (or phone) and password; then on to ``next`` (a portal
    page: the access log an e-mail links to), or the card."""
    target = safe_next(request.values.get("next"), url_for("portal.card"),
                       within=f"{bp.url_prefix}/")
    if request.method == "GET":
        if page_member() is not None:
            return redirect(target)
        return render_template("portal/login.html", next=target)
    login_name = request.form.get("login", "")
    try:
        # the login's own session, as for the token endpoint: a failure's count outlasts
        # the refusal
        with db.new_session(current_app) as login_session:
            account = member_accounts.authenticate(
                login_session, login_name, request.form.get("password", ""),
                by=_login_kind(), policy=member_login_policy(current_app.config))
            member_id, version = account.member_id, account.token_version
    except InvalidCredentials:
        return render_template("portal/login.html", login=login_name, by=_login_kind(),
                               next=target,
                               error=_("The member number, phone or password is wrong.")), 401
    except LoginLocked as locked:
        return render_template("portal/login.html", login=login_name, by=_login_kind(),
                               next=target,
                               error=_("Too many wrong passwords: signing in is locked for a "
                                       "while.")), 429, {"Retry-After": str(locked.retry_after)}
    sign_in_member(member_id, version)
    return redirect(target, code=303)


@bp.post("/logout")
@accepts(FORM)
def logout() -> Any:
    """Sign out: this session and every token of the member's account stop working."""
    principal = page_member()
    if principal is not None:
        member_accounts.logout(db.session, principal.id)
    sign_out()
    return redirect(url_for("portal.login"), code=303)


def _birth_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed.field("birth_date", "Give the birth date as on your ID "
                                                   "card.") from None


@bp.route("/activate", methods=["GET", "POST"])
# the buckets of POST /api/v1/me/activate (its endpoint is the limits' scope)
@limiter.shared_limit(lambda: _config("ACTIVATION_ADDRESS_RATE_LIMIT"), scope="me.Activate",
                      key_func=_activation_address_key, methods=["POST"])
@limiter.shared_limit(lambda: _config("ACTIVATION_RATE_LIMIT"), scope="me.Activate",
                      key_func=_activation_member_key, methods=["POST"])
@accepts(FORM)
def activate() -> Any:
    """Activate the account with the card letter's one-time code and the birth date, setting
    a password and a 6-digit PIN; then the member is signed in."""
    if request.method == "GET":
        return render_template("portal/activate.html", form={})
    form = request.form
    try:
        if form.get("pin", "") != form.get("pin_again", ""):
            raise ValidationFailed.field("pin_again", "The two PINs differ.")
        activation = member_accounts.Activation(
            member_number=form.get("member_number", ""),
            activation_code=form.get("activation_code", ""),
            birth_date=_birth_date(form.get("birth_date", "")),
            password=form.get("password", ""), pin=form.get("pin", ""))
        # hashed before the request's session (and its write lock) begins
        secrets = member_accounts.hash_secrets(activation)
        account = member_accounts.activate(db.session, data_cipher(), activation,
                                           secrets=secrets)
    except DomainError as error:  # wrong code or birth date, a weak password or PIN...
        db.session.rollback()
        return render_template("portal/activate.html", form=form, error=wording.problem(error),
                               errors=wording.field_errors(error.errors)
                               ), error_problem(type(error)).problem.status
    member_id, version = account.member_id, account.token_version
    sign_in_member(member_id, version)
    return redirect(url_for("portal.card", activated=1), code=303)
