"""Signing the clinic scanner in and out with the clinic API client's id and secret (the
client service of the token endpoint's client credentials grant, under its rate limits)."""

from __future__ import annotations

from typing import Any

from flask import current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.composition import data_cipher
from app.edge.bodies import accepts
from app.edge.page_auth import page_clinic, sign_in_clinic, sign_out
from app.extensions import db
from app.services.clinics import clients as clinic_clients
from app.services.errors import ClinicNotAccredited, InvalidClient
from app.web.console import FORM, safe_next
from app.web.limits import login_key, login_limits
from app.web.scanner import bp


def _login_key() -> str:
    return login_key("client", str(request.form.get("client_id", "")))


@bp.route("/login", methods=["GET", "POST"])
@login_limits(_login_key)
@accepts(FORM)
def login() -> Any:
    """Sign the desk in with the clinic's API client id and secret; then on to ``next`` (a
    desk page), or the scan page."""
    target = safe_next(request.values.get("next"), url_for("scanner.scan"),
                       within=f"{bp.url_prefix}/")
    if request.method == "GET":
        if page_clinic() is not None:
            return redirect(target)
        return render_template("scanner/login.html", next=target)
    client_id = request.form.get("client_id", "").strip()
    try:
        with db.new_session(current_app, write=True) as login_session:
            if not clinic_clients.is_clinic_client_id(client_id):
                raise InvalidClient("Not a clinic client id.")
            principal = clinic_clients.principal(clinic_clients.authenticate(
                login_session, data_cipher(), client_id, request.form.get("client_secret", "")))
    except InvalidClient:
        return render_template("scanner/login.html", client_id=client_id, next=target,
                               error=_("The client id or secret is wrong.")), 401
    except ClinicNotAccredited:
        return render_template("scanner/login.html", client_id=client_id, next=target,
                               error=_("This clinic is not accredited at the moment.")), 403
    sign_in_clinic(principal)
    return redirect(target, code=303)


@bp.post("/logout")
@accepts(FORM)
def logout() -> Any:
    """Sign out: this session and every token of the client stop working."""
    principal = page_clinic()
    if principal is not None:
        clinic_clients.revoke_tokens(db.session, principal.id)
    sign_out()
    return redirect(url_for("scanner.login"), code=303)
