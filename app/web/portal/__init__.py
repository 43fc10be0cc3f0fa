"""The member portal (phone first): activation, sign-in, my card with its QR and the presence
QR, consents, my access log and my data — signed in with a session cookie and calling the same
services and scope checks as the member's API (``/api/v1/me``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, request, url_for
from werkzeug.exceptions import HTTPException

from app.edge.page_auth import page_member
from app.services.errors import DomainError
from app.web import csrf
from app.web.pages import error_page, no_store

bp = Blueprint("portal", __name__, url_prefix="/me")
#: The media type of the portal's forms.
FORM = "application/x-www-form-urlencoded"
#: Pages open to anyone: signing in and activating an account.
PUBLIC_ENDPOINTS = {"portal.login", "portal.activate"}


@bp.before_request
def _guard() -> Any:
    """CSRF check on every form, then: the pages need a signed-in member."""
    csrf.protect()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if page_member() is None:
        return redirect(url_for("portal.login"))
    return None


@bp.after_request
def _no_store(response: Response) -> Response:
    return no_store(response)


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError) -> Any:
    return error_page("portal/error.html", error)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Any:
    return error_page("portal/error.html", error)


def _register_views() -> None:
    from app.web.portal import account, card, consents, records  # noqa: F401


_register_views()
