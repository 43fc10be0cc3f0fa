"""Issue 19: a NUL character (``%00``) in a form body was a 500 on PostgreSQL (psycopg refuses
NUL in text) on nine endpoints, the token endpoint and the three sign-in pages among them. The
edge refuses it as a 400 before any view reads the form: problem+json on the API, the page's
own error page on pages. Every endpoint that reads a form is found from the URL map, so a new
one is covered without touching this test; query strings and JSON bodies are checked alike."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.edge.bodies import FORM_TYPES, JSON_TYPES
from tests.app.test_errors import PROBLEM, assert_problem
from tests.web.test_console import csrf

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
#: The field names the forms read, each with a NUL: whichever the view reads first holds one.
FIELDS = ("username", "password", "login", "by", "client_id", "client_secret", "grant_type",
          "member_number", "activation_code", "birth_date", "pin", "pin_again", "text",
          "reason", "scope", "grantee", "purpose", "q", "next", "lang", "device_id", "uc1",
          "presence", "practitioner", "dry_run", "note", "decision", "sections", "card_serial")
NUL_TEXT = "a\x00b"


def _app_for_collection() -> Flask:
    """The app, built once at collection only to read its URL map (no database is opened)."""
    from app import create_app
    from tests.conftest import TEST_CONFIG

    return create_app({**TEST_CONFIG, "DATABASE_URL": "sqlite://"})


def _form_endpoints(app: Flask) -> Iterator[tuple[str, str, str]]:
    """Every (method, URL rule, form media type) whose view accepts a form body."""
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS", "GET"}):
            handler = getattr(view_class, method.lower(), None) if view_class else view
            for media in getattr(handler, "_accepts", JSON_TYPES):
                if media in FORM_TYPES:
                    yield method, rule.rule, media


FORM_ENDPOINTS = sorted(set(_form_endpoints(_app_for_collection())))


def _url(rule: str) -> str:
    """The rule with a plausible value for each variable (an id, a word, a choice's first)."""
    def value(match: re.Match[str]) -> str:
        converter, choices = match.group(1), match.group(2)
        if choices:
            return choices.split(",")[0].strip().strip("'\"")
        return "1" if converter == "int" else "x"

    return re.sub(r"<(?:(\w+)(?:\(([^)]*)\))?:)?\w+>", value, rule)


@pytest.fixture
def admin_headers(factory: Any) -> dict[str, str]:
    headers: dict[str, str] = factory.headers(factory.user("admin"))
    return headers


def _headers(client: FlaskClient, path: str, api: dict[str, str]) -> dict[str, str]:
    """The API's headers, or the session's CSRF token for a page (so that without the edge's
    check the request would get past the CSRF check to its view)."""
    return api if path.startswith("/api/") else {"X-CSRF-Token": csrf(client, "/me/login")}


def _assert_refused(response: Any, path: str, detail: str) -> None:
    if path.startswith("/api/"):
        assert_problem(response, 400, "bad-request")
        assert response.get_json()["detail"] == detail
    else:  # the page's own error page, in the page's language
        assert response.status_code == 400, response.get_data(as_text=True)[:300]
        assert response.mimetype == "text/html"
        assert "<html" in response.get_data(as_text=True).lower()


def test_the_form_endpoints_are_found() -> None:
    found = {(method, rule) for method, rule, _ in FORM_ENDPOINTS}
    # the nine of the review, among them the token endpoint and the three sign-in pages
    assert {("POST", "/api/v1/auth/token"), ("POST", "/console/login"),
            ("POST", "/me/login"), ("POST", "/clinic/login")} <= found
    assert len(found) >= 9


@pytest.mark.parametrize("method, rule, media", FORM_ENDPOINTS)
def test_a_nul_in_a_form_value_is_a_400_at_the_edge(
        client: FlaskClient, admin_headers: dict[str, str], method: str, rule: str,
        media: str) -> None:
    path = _url(rule)
    data: dict[str, Any] = {name: NUL_TEXT for name in FIELDS}
    if media == MULTIPART:
        data["file"] = (io.BytesIO(b"member_number\n"), "roster.csv")
    response = client.open(path, method=method, data=data, content_type=media,
                           headers=_headers(client, path, admin_headers))
    _assert_refused(response, path, "The form holds a NUL character (%00).")


@pytest.mark.parametrize("method, rule, media", FORM_ENDPOINTS)
def test_a_nul_in_a_form_field_name_or_file_name_is_a_400(
        client: FlaskClient, method: str, rule: str, media: str) -> None:
    path = _url(rule)
    data: dict[str, Any] = {"user\x00name": "x"}
    if media == MULTIPART:
        data = {"file": (io.BytesIO(b"x"), "roster\x00.csv")}
    response = client.open(path, method=method, data=data, content_type=media,
                           headers=_headers(client, path, {}))
    _assert_refused(response, path, "The form holds a NUL character (%00).")


def test_a_form_without_nul_still_reaches_the_view(client: FlaskClient) -> None:
    response = client.post("/api/v1/auth/token", content_type=FORM,
                           data={"grant_type": "password", "username": "nobody.here",
                                 "password": "not the password"})
    assert_problem(response, 400, "invalid-grant")  # RFC 6749 §5.2
    page = client.post("/console/login", data={"username": "nobody", "password": "x",
                                                "csrf_token": csrf(client, "/console/login")})
    assert page.status_code == 401


@pytest.mark.parametrize("path", ["/api/v1/unions?q=a%00b", "/me/login?next=%00",
                                  "/console/login?n%00=1"])
def test_a_nul_in_a_query_string_is_a_400(client: FlaskClient, admin_headers: dict[str, str],
                                          path: str) -> None:
    response = client.get(path, headers=admin_headers)
    _assert_refused(response, path, "The URL holds a NUL character (%00).")


@pytest.mark.parametrize("body", ['{"q": "a\\u0000b"}', '{"a\\u0000": 1}'])
def test_a_nul_in_a_json_body_of_any_method_is_a_400(client: FlaskClient,
                                                      admin_headers: dict[str, str],
                                                      body: str) -> None:
    for method in ("POST", "GET", "DELETE"):
        response = client.open("/api/v1/transfers", method=method, headers=admin_headers,
                               data=body, content_type="application/json")
        assert_problem(response, 400, "malformed-json")
        assert "NUL" in response.get_json()["detail"]
    assert PROBLEM == "application/problem+json"
