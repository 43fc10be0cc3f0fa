"""Web pages: landing page, problem-type documentation, the locally served API docs assets, and
the union office console (``app.web.console``) with its sessions, CSRF protection and
languages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    render_template,
    send_from_directory,
    url_for,
)

from app.edge.problems import CATALOGUE, PROBLEM_TYPES

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/site")  # /static is the (empty) app static folder


@bp.get("/")
def index() -> str:
    """The landing page with links to every part of the service."""
    return render_template("index.html")


@bp.get("/problems/")
def problem_index() -> str:
    """Every problem type the API can answer with."""
    return render_template("problems.html",
                           problems=sorted(CATALOGUE, key=lambda p: (p.status, p.slug)))


@bp.get("/problems/<slug>")
def problem_type(slug: str) -> Any:
    """Documentation of one problem type (the target of a problem's ``type`` URI)."""
    problem = PROBLEM_TYPES.get(slug)
    if problem is None:
        abort(404)
    return render_template("problems.html", problems=[problem])


@bp.get("/v/<serial>")
def card_status_page(serial: str) -> Any:
    """Where a phone lands from the card's NFC link: the card's status, nothing personal."""
    from app import clock
    from app.extensions import db
    from app.services.issuing import public_card

    card = public_card.public_status(db.session, serial, now=clock.now())
    if card is None:
        abort(404)
    response = current_app.make_response(render_template("card_status.html", card=card))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/docs/assets/<path:filename>")
def docs_assets(filename: str) -> Any:
    """Swagger UI's files, served from the installed package (no CDN needed)."""
    import swagger_ui_bundle

    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)


def docs_page() -> str:
    """Swagger UI, started by a script file rather than flask-smorest's inline script, so that
    pages need no ``'unsafe-inline'`` in their Content-Security-Policy."""
    config = current_app.config
    return render_template("docs.html", title=config.get("API_TITLE", "API"),
                           spec_url=url_for("api-docs.openapi_json"),
                           swagger_ui_url=config["OPENAPI_SWAGGER_UI_URL"],
                           swagger_ui_config=config.get("OPENAPI_SWAGGER_UI_CONFIG", {}))


def _configure_sessions(app: Flask) -> None:
    """Page sessions: a signed cookie, HttpOnly, SameSite=Lax, Secure when the service is
    reached over HTTPS, ending after a working day."""
    app.config["SESSION_COOKIE_NAME"] = "unioncard_session"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = str(
        app.config.get("PUBLIC_BASE_URL", "")).lower().startswith("https://")
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=8)


def init_app(app: Flask) -> None:
    """Register the pages (after the API, whose Swagger UI view this replaces)."""
    from app.web import compression, console, csrf, forms, i18n, portal, scanner

    _configure_sessions(app)
    compression.init_app(app)
    i18n.init_app(app)
    app.jinja_env.globals["csrf_token"] = csrf.token
    app.jinja_env.globals["form_token_field"] = forms.form_token_field
    app.register_blueprint(bp)
    app.register_blueprint(console.bp)
    app.register_blueprint(portal.bp)
    app.register_blueprint(scanner.bp)
    if "api-docs.openapi_swagger_ui" in app.view_functions:
        app.view_functions["api-docs.openapi_swagger_ui"] = docs_page
