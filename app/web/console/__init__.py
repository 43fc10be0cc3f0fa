"""The union office console: pages for officers and administrators, signed in with a session
cookie, using the same services and scope checks as the API."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from app.edge.auth import STAFF
from app.edge.page_auth import page_principal
from app.edge.problems import error_problem
from app.services.errors import DomainError
from app.web import csrf, wording

bp = Blueprint("console", __name__, url_prefix="/console")
#: The media type of the console's forms.
FORM = "application/x-www-form-urlencoded"

#: Pages open to anyone (the sign-in form and the language switch).
PUBLIC_ENDPOINTS = {"console.login", "console.set_language"}

#: Headlines of failures by HTTP status (the service's own detail follows them).
HEADLINES = {
    400: _l("The request could not be used."),
    401: _l("Please sign in."),
    403: _l("You may not do this."),
    404: _l("Not found in your area."),
    409: _l("This cannot be done in the record's present state."),
    410: _l("This is no longer available."),
    413: _l("The file is too large."),
    422: _l("Some details are not valid."),
    429: _l("Too many attempts: wait a little and try again."),
    503: _l("The service is busy: try again in a moment."),
}


def safe_next(target: str | None, default: str | None = None, *, within: str = "/") -> str:
    """Where to go after signing in: a path on this site under ``within`` (the pages of the
    same part: console, portal or desk), never another site; else ``default`` (the console's
    members page)."""
    if target and target.startswith("/") and target.startswith(within) \
            and not target.startswith("//") and not urlsplit(target).netloc \
            and "\\" not in target and target.isprintable():
        return target
    return default or url_for("console.members")


@bp.before_request
def _guard() -> Any:
    """CSRF check on every form, then: the pages need a signed-in staff member."""
    csrf.protect()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    principal = page_principal()
    if principal is None:
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    if principal.role not in STAFF:
        return render_template("console/error.html", status=403,
                               headline=_("You may not do this."), detail=""), 403
    return None


@bp.after_request
def _no_store(response: Response) -> Response:
    """Console pages show member data: no shared or browser cache keeps them."""
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError) -> Any:
    """A service's refusal as a page: the headline, what it means and the field errors in
    the page's language (``app.web.wording``)."""
    status = error_problem(type(error)).problem.status
    headers = {}
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return render_template("console/error.html", status=status,
                           headline=str(HEADLINES.get(status, _("Something went wrong."))),
                           detail=wording.problem(error),
                           errors=wording.field_errors(error.errors)), status, headers


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Any:
    status = error.code or 500
    return render_template("console/error.html", status=status,
                           headline=str(HEADLINES.get(status, _("Something went wrong."))),
                           detail=wording.http_problem(error)), status


def _register_views() -> None:
    from app.web.console import (  # noqa: F401
        access_reports,
        cards,
        dashboard,
        exam_rounds,
        imports,
        members,
        signin,
    )


_register_views()
