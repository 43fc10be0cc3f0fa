"""The clinic scanner: a clinic's desk in the browser — sign in with the clinic API client's
credentials, scan the member's card (camera, photo or pasted text), see the verdict, take the
member's PIN and show what the member shared, or use emergency access. It calls the same
clinic desk service (``app.services.clinic_flow``), access log and checks as
``/api/v1/verify``, ``/api/v1/pull`` and ``/api/v1/emergency-access``."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, redirect, request, url_for
from werkzeug.exceptions import HTTPException

from app.edge.page_auth import page_clinic
from app.services.errors import DomainError
from app.web import csrf
from app.web.pages import error_page, no_store

bp = Blueprint("scanner", __name__, url_prefix="/clinic")
#: Pages open to anyone: signing in.
PUBLIC_ENDPOINTS = {"scanner.login"}


@bp.before_request
def _guard() -> Any:
    """CSRF check on every form, then: the pages need a signed-in clinic client."""
    csrf.protect()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if page_clinic() is None:
        return redirect(url_for("scanner.login"))
    return None


@bp.after_request
def _no_store(response: Response) -> Response:
    return no_store(response)


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError) -> Any:
    return error_page("scanner/error.html", error)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Any:
    return error_page("scanner/error.html", error)


def _register_views() -> None:
    from app.web.scanner import desk, signin  # noqa: F401


_register_views()
