"""Response headers: pages may not be framed and run only this origin's files; no referrer
leaves; authenticated API responses (member data, personal IDs, tokens) are never cached."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.edge.hooks import PAGE_CSP

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "web" / "templates"
PAGES = ["/", "/problems/", "/problems/not-found", "/docs"]


def _directives(csp: str) -> dict[str, str]:
    return {part.split()[0]: part.split(" ", 1)[1] for part in csp.split("; ")}


@pytest.mark.parametrize("path", PAGES)
def test_pages_may_not_be_framed_and_run_no_inline_code(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    csp = _directives(response.headers["Content-Security-Policy"])
    assert csp["frame-ancestors"] == "'none'"
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["default-src"] == "'none'"
    html = response.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert "<style" not in html and " style=" not in html, "inline style"
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"


def test_the_card_status_page_has_the_page_headers(client: FlaskClient, factory: Any) -> None:
    union = factory.union()
    member = factory.member(union)
    headers = factory.headers(factory.user(province="24"))
    card = client.post(f"/api/v1/members/{member.id}/cards", headers=headers).get_json()
    response = client.get(f"/v/{card['serial']}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Content-Security-Policy"] == PAGE_CSP
    assert 'class="card status status-active"' in response.get_data(as_text=True)


def test_no_template_holds_inline_script_or_style() -> None:
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template.name
        assert "<style" not in text and "style=" not in text, template.name


def test_the_page_assets_are_served(client: FlaskClient) -> None:
    for path in ("/site/site.css", "/site/swagger-init.js"):
        response = client.get(path)
        assert response.status_code == 200, path
        response.close()


def test_authenticated_api_responses_are_not_stored(client: FlaskClient, factory: Any) -> None:
    union = factory.union()
    member = factory.member(union)
    officer = factory.headers(factory.user(province="24"))
    admin = factory.headers(factory.user("admin"))
    responses = [
        client.get("/api/v1/members", headers=officer),
        client.get(f"/api/v1/members/{member.id}", headers=officer),
        client.post(f"/api/v1/members/{member.id}/personal-id", headers=officer,
                    json={"reason": "kiểm tra"}),
        client.get("/api/v1/unions", headers=officer),
        client.get("/api/v1/audit", headers=admin),
        client.get("/api/v1/members/999999", headers=officer),  # a 404 problem, too
    ]
    for response in responses:
        assert response.status_code < 500, response.get_data(as_text=True)
        assert "no-store" in response.headers["Cache-Control"], response.request.path
        assert response.headers["X-Frame-Options"] == "DENY"
        assert _directives(response.headers["Content-Security-Policy"]) == {
            "default-src": "'none'", "frame-ancestors": "'none'"}


def test_the_token_response_is_not_stored(client: FlaskClient, factory: Any) -> None:
    from tests.conftest import PASSWORD

    user = factory.user(province="24")
    response = client.post("/api/v1/auth/token",
                           json={"username": user.username, "password": PASSWORD})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_public_api_documents_keep_their_own_caching(client: FlaskClient,
                                                    factory: Any) -> None:
    member = factory.member(factory.union())
    headers = factory.headers(factory.user(province="24"))
    card = client.post(f"/api/v1/members/{member.id}/cards", headers=headers).get_json()
    for path in (f"/api/v1/status-lists/{card['status_list_id']}", "/api/v1/trust-bundle"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"].startswith("public"), path
