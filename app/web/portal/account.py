"""Signing in and out of the member portal (the member accounts service with its lockout and
the token endpoint's rate-limit buckets), activating an account with the card letter's code
(the activation endpoint's service and rate limits) with the first sign-in's guidance, and
the member's account settings: the e-mail for emergency notices (``/api/v1/me/notifications``)
and the password and PIN (``/api/v1/me/password``, ``/api/v1/me/pin``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from app.composition import consent_service, data_cipher, member_login_policy
from app.edge.auth import actor, current_member_id
from app.edge.bodies import accepts
from app.edge.database import defers_writes
from app.edge.page_auth import page_member, sign_in_member, sign_out
from app.edge.problems import error_problem
from app.extensions import db, limiter
from app.services.access import member_accounts
from app.services.access.accounts import check_password
from app.services.access.member_accounts import LoginName
from app.services.access_events.addresses import NotificationAddresses
from app.services.errors import (
    DomainError,
    InvalidCredentials,
    LoginLocked,
    NotificationAddressInvalid,
    ValidationFailed,
)
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
        with db.new_session(current_app, write=True) as login_session:
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


#: The activation form's fields a refusal never sends back (type them again).
SECRETS = ("password", "pin", "pin_again")
#: The session key of the first sign-in's guidance (shown once, after activation).
WELCOME_KEY = "welcome"


def _activation_errors(form: Any) -> tuple[dict[str, str], date | None]:
    """Every mistake of the activation form the page can tell before asking the service (each
    beside its field), and the birth date read."""
    errors: dict[str, str] = {}
    number = str(form.get("member_number", "")).strip().upper()
    if not number:
        errors["member_number"] = _("Give your member number, as in the card letter.")
    if not str(form.get("activation_code", "")).strip():
        errors["activation_code"] = _("Give the activation code of the card letter.")
    birth: date | None = None
    try:
        birth = date.fromisoformat(str(form.get("birth_date", "")).strip())
    except ValueError:
        errors["birth_date"] = _("Give the birth date as on your ID card.")
    try:
        check_password(str(form.get("password", "")), number)
    except ValidationFailed as error:
        errors["password"] = wording.message(error.detail)
    pin = str(form.get("pin", ""))
    try:
        member_accounts.check_pin(pin, birth or date(1900, 1, 1))
    except ValidationFailed as error:
        errors["pin"] = wording.message(error.detail)
    if "pin" not in errors and pin != form.get("pin_again", ""):
        errors["pin_again"] = _("The two PINs differ: type the PIN twice again.")
    return errors, birth


def _activation_page(form: Any, status: int, *, error: str | None = None,
                     errors: dict[str, str] | None = None) -> Any:
    """The activation form again with what was typed: a password or PIN refused (or one of
    two PINs that differ) is emptied — a refused secret is never sent back — the others are
    kept."""
    errors = errors or {}
    emptied = {"password"} if "password" in errors else set()
    if "pin" in errors or "pin_again" in errors:
        emptied |= {"pin", "pin_again"}
    kept = {name: str(form.get(name, "")) for name in (
        "member_number", "activation_code", "birth_date", *SECRETS) if name not in emptied}
    return render_template("portal/activate.html", form=kept, error=error, errors=errors,
                           emptied=sorted(emptied)), status


@bp.route("/activate", methods=["GET", "POST"])
# the buckets of POST /api/v1/me/activate (its endpoint is the limits' scope)
@limiter.shared_limit(lambda: _config("ACTIVATION_ADDRESS_RATE_LIMIT"), scope="me.Activate",
                      key_func=_activation_address_key, methods=["POST"])
@limiter.shared_limit(lambda: _config("ACTIVATION_RATE_LIMIT"), scope="me.Activate",
                      key_func=_activation_member_key, methods=["POST"])
@accepts(FORM)
def activate() -> Any:
    """Activate the account with the card letter's one-time code and the birth date, setting
    a password and a 6-digit PIN; then the member is signed in and guided once to what she
    shares (``welcome``). A mistake shows every field's error beside it, keeping what was
    typed (a refused password or PIN excepted)."""
    if request.method == "GET":
        return render_template("portal/activate.html", form={}, errors={}, emptied=[])
    form = request.form
    errors, birth = _activation_errors(form)
    if errors or birth is None:
        return _activation_page(form, 422, error=_("Please correct what is marked below."),
                                errors=errors)
    try:
        activation = member_accounts.Activation(
            member_number=form.get("member_number", ""),
            activation_code=form.get("activation_code", ""),
            birth_date=birth, password=form.get("password", ""), pin=form.get("pin", ""))
        # hashed before the request's session (and its write lock) begins
        secrets = member_accounts.hash_secrets(activation)
        account = member_accounts.activate(db.session, data_cipher(), activation,
                                           secrets=secrets)
    except DomainError as error:  # wrong code or birth date (not said which), a used code...
        db.session.rollback()
        return _activation_page(form, error_problem(type(error)).problem.status,
                                error=wording.problem(error),
                                errors={str(e["field"]): str(e["message"])
                                        for e in wording.field_errors(error.errors)})
    member_id, version = account.member_id, account.token_version
    sign_in_member(member_id, version)
    session[WELCOME_KEY] = True
    return redirect(url_for("portal.welcome"), code=303)


@bp.get("/welcome")
def welcome() -> Any:
    """The first sign-in's guidance, once, right after activation: what she shares now
    (nothing, for a new member) and the way to the sharing page; afterwards, the card."""
    if not session.pop(WELCOME_KEY, False):
        return redirect(url_for("portal.card"))
    states = consent_service(actor()).current(current_member_id())
    return render_template("portal/welcome.html",
                           sharing=sum(1 for s in states if s.status == "active"))


# -- account settings -----------------------------------------------------------------------
def _settings(status: int = 200, *, errors: dict[str, str] | None = None,
              email: str | None = None, form_error: tuple[str, str] | None = None,
              headers: dict[str, str] | None = None) -> Any:
    """The account page: the e-mail for emergency notices, the password and the PIN, and
    what to do after forgetting them; ``errors`` beside their fields, ``email`` as typed."""
    member_id = current_member_id()
    addresses = NotificationAddresses(db.session, data_cipher())
    row = addresses.get(member_id)
    return render_template(
        "portal/account.html", profile=member_accounts.profile(db.session, member_id),
        email=addresses.email(member_id) if email is None else email,
        email_saved=row is not None, email_updated=row.updated_at if row else None,
        errors=errors or {}, form_error=form_error, done=request.args.get("done", "")
    ), status, headers or {}


@bp.get("/account")
def account() -> Any:
    """My account: notice e-mail, password, PIN."""
    return _settings()


@bp.post("/account/email")
@accepts(FORM)
def account_email() -> Any:
    """Set, change or remove the e-mail address told of emergency access (audited); a
    mistake keeps what was typed beside its error."""
    remove = request.form.get("remove") == "yes"
    typed = "" if remove else str(request.form.get("email", ""))[:300]
    try:
        NotificationAddresses(db.session, data_cipher()).set(
            current_member_id(), typed or None, actor=actor())
    except NotificationAddressInvalid:
        db.session.rollback()
        return _settings(422, email=typed, errors={"email": _(
            "This is not an e-mail address: write it as name@example.com, without spaces.")})
    return redirect(url_for("portal.account", done="email" if typed else "email-removed",
                            _anchor="email"), code=303)


def _secret_change(kind: str) -> Any:
    """Change the password or the PIN (the current password required): checked beside each
    field, in a session of the change's own (a wrong password's count outlasts the refusal,
    as for the API); a new password ends every other session and token."""
    form = request.form
    errors: dict[str, str] = {}
    member_id = current_member_id()
    new, again = str(form.get(f"new_{kind}", "")), str(form.get(f"new_{kind}_again", ""))
    profile = member_accounts.profile(db.session, member_id)
    try:
        if kind == "password":
            check_password(new, profile.member_number)
        else:
            member_accounts.check_pin(new, profile.birth_date)
    except ValidationFailed as error:
        errors[f"new_{kind}"] = wording.message(error.detail)
    if f"new_{kind}" not in errors and new != again:
        errors[f"new_{kind}_again"] = (_("The two passwords differ: type the new one twice "
                                         "again.") if kind == "password" else
                                       _("The two PINs differ: type the new PIN twice again."))
    current = str(form.get("password", ""))
    if not current:
        errors[f"{kind}_current"] = _("Type your current password.")
    if errors:
        return _settings(422, errors=errors)
    db.session.rollback()  # no transaction (nor write lock) held while hashing
    policy = member_login_policy(current_app.config)
    try:
        with db.new_session(current_app, write=True) as own:
            if kind == "password":
                changed = member_accounts.change_password(own, member_id, current, new,
                                                          policy=policy)
            else:
                changed = member_accounts.change_pin(own, member_id, current, new,
                                                     policy=policy)
            version = changed.token_version
    except InvalidCredentials:
        return _settings(401, errors={f"{kind}_current": _(
            "The current password is wrong. Too many wrong passwords lock it for a while.")})
    except LoginLocked as locked:
        return _settings(429, form_error=(kind, _(
            "Too many wrong passwords: your password is locked for a while. Try again later.")),
            headers={"Retry-After": str(locked.retry_after)})
    except ValidationFailed as error:
        return _settings(422, errors={f"new_{kind}": wording.message(error.detail)})
    if kind == "password":
        sign_in_member(member_id, version)  # this browser stays signed in; the others end
    return redirect(url_for("portal.account", done=kind, _anchor=kind), code=303)


@bp.post("/account/password")
@defers_writes  # the change commits in a session of its own
@accepts(FORM)
def account_password() -> Any:
    """Change the password (the current one required)."""
    return _secret_change("password")


@bp.post("/account/pin")
@defers_writes  # the change commits in a session of its own
@accepts(FORM)
def account_pin() -> Any:
    """Change the PIN (the password required); a PIN lock ends."""
    return _secret_change("pin")
