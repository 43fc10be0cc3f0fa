"""What the member portal and the clinic scanner share: a service's refusal shown as a page
(the headline and what the refusal means in the page's language), and the cache rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from app.edge.problems import error_problem
from app.services.errors import DomainError, ScanInvalid
from app.web import csrf, wording
from app.web.console import HEADLINES

#: A refusal of the member's PIN: the scanner says the record stayed closed.
PIN_REASONS = ("wrong-pin", "pin-malformed", "locked")


def no_store(response: Response) -> Response:
    """Member data, tokens and health records: no shared or browser cache keeps a page."""
    response.headers["Cache-Control"] = "no-store"
    return response


def error_page(template: str, error: Exception) -> Any:
    """``error`` (a domain error or an HTTP error) as the area's error page, with its status
    (and ``Retry-After`` when the service gave one)."""
    if isinstance(error, DomainError):
        status = error_problem(type(error)).problem.status
        detail, errors = wording.problem(error), wording.field_errors(error.errors)
    else:
        assert isinstance(error, HTTPException)
        status, errors = error.code or 500, []
        detail = wording.http_problem(error)
    headers = {}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if isinstance(error, ScanInvalid):
        headline = _("The card could not be read.")
    elif isinstance(error, DomainError) and error.extra.get("reason") in PIN_REASONS:
        headline = _("The record was not opened.")
    else:
        headline = str(HEADLINES.get(status, _("Something went wrong.")))
    return render_template(template, status=status, headline=headline,
                           detail=detail, errors=errors), status, headers


def guard_blueprint(bp: Blueprint, *, public: set[str], signed_in: Callable[[], object | None],
                    login: str, error_template: str) -> None:
    """The hooks a page blueprint of the member portal or the clinic scanner shares: the CSRF
    check on every form, a sign-in required except on its ``public`` endpoints (else a
    redirect to ``login``), no-store on every page, and refusals shown as ``error_template``."""

    @bp.before_request
    def _guard() -> Any:
        csrf.protect()
        if request.endpoint in public or signed_in() is not None:
            return None
        # back to the page asked for after signing in (a link in an e-mail, a bookmark)
        if request.method == "GET":
            return redirect(url_for(login, next=request.full_path.rstrip("?")))
        return redirect(url_for(login))

    bp.after_request(no_store)

    @bp.errorhandler(DomainError)
    def _domain_error(error: DomainError) -> Any:
        return error_page(error_template, error)

    @bp.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Any:
        return error_page(error_template, error)
