"""Every error response is RFC 9457 problem+json with a stable type."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

PROBLEM = "application/problem+json"
TOKEN_URL = "/api/v1/auth/token"


def assert_problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    """A problem of ``slug`` answered with ``status``; the token endpoint's problems are also
    RFC 6749 §5.2 errors, ``application/json`` with OAuth 2's ``error``."""
    assert response.status_code == status, response.get_data(as_text=True)
    if response.request.path == TOKEN_URL and response.request.method == "POST":
        assert response.mimetype == "application/json"
        assert response.get_json()["error"] and response.headers["Cache-Control"] == "no-store"
    else:
        assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status
    assert body["title"] and body["detail"]
    assert body["instance"] == response.request.path
    assert body["request_id"] == response.headers["X-Request-ID"]
    return dict(body)


def test_unknown_route_is_404(client: FlaskClient) -> None:
    assert_problem(client.get("/no/such/page"), 404, "not-found")


def test_unknown_api_route_is_404(client: FlaskClient) -> None:
    assert_problem(client.post("/api/v1/nothing", json={}), 404, "not-found")


def test_wrong_method_is_405_with_allow(client: FlaskClient) -> None:
    response = client.delete("/api/v1/auth/token")
    assert_problem(response, 405, "method-not-allowed")
    assert "POST" in response.headers["Allow"]


def test_malformed_json_is_400(client: FlaskClient) -> None:
    response = client.post("/api/v1/auth/token", data=b'{"username": ',
                           content_type="application/json")
    assert_problem(response, 400, "malformed-json")


def test_invalid_utf8_json_is_400(client: FlaskClient) -> None:
    response = client.post("/api/v1/auth/token", data=b'{"username": "\xff"}',
                           content_type="application/json")
    assert_problem(response, 400, "malformed-json")


def test_wrong_content_type_is_415(client: FlaskClient) -> None:
    response = client.post("/api/v1/auth/token", data="username=a", content_type="text/csv")
    body = assert_problem(response, 415, "unsupported-media-type")
    assert "text/csv" in body["detail"]


def test_missing_and_invalid_fields_are_422_per_field(client: FlaskClient, factory) -> None:
    response = client.post("/api/v1/users", json={"username": "", "role": "magic"},
                           headers=factory.headers(factory.user("admin")))
    body = assert_problem(response, 422, "validation-error")
    fields = {e["field"]: e for e in body["errors"]}
    assert {"username", "password", "role"} <= set(fields)
    assert fields["password"]["pointer"] == "#/password"
    assert "Missing" in fields["password"]["detail"]


def test_the_token_endpoint_names_invalid_fields_in_an_oauth_invalid_request(
        client: FlaskClient) -> None:
    """RFC 6749 §5.2: a malformed token request is 400 ``invalid_request`` (it was a 422
    problem+json), still naming each field."""
    response = client.post("/api/v1/auth/token", json={"username": "", "grant_type": "magic"})
    body = assert_problem(response, 400, "invalid-token-request")
    assert body["error"] == "invalid_request"
    fields = {e["field"]: e for e in body["errors"]}
    assert set(fields) == {"username", "password", "grant_type"}
    assert fields["password"]["pointer"] == "#/password"
    assert "Missing" in fields["password"]["detail"]


def test_oversized_json_body_is_413(client: FlaskClient, app: Flask) -> None:
    payload = {"username": "a", "password": "x" * (app.config["JSON_MAX_BYTES"] + 10)}
    assert_problem(client.post("/api/v1/auth/token", json=payload), 413, "payload-too-large")


def test_body_over_global_limit_is_413(client: FlaskClient, app: Flask) -> None:
    data = b"a=" + b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    response = client.post("/api/v1/auth/token", data=data,
                           content_type="application/x-www-form-urlencoded")
    assert_problem(response, 413, "payload-too-large")


def test_missing_token_is_401_with_challenge(client: FlaskClient) -> None:
    response = client.get("/api/v1/users")
    assert_problem(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_wrong_role_is_403(client: FlaskClient, factory) -> None:
    officer = factory.user("officer", "24")
    response = client.post("/api/v1/users", json={"username": "newbie", "password": "x" * 12,
                                                  "role": "admin"},
                           headers=factory.headers(officer))
    assert_problem(response, 403, "forbidden")


def test_duplicate_is_409(client: FlaskClient, factory) -> None:
    admin = factory.user("admin")
    body = {"username": "dup.user", "password": "union office 2026", "role": "officer",
            "province_code": "01"}
    assert client.post("/api/v1/users", json=body, headers=factory.headers(admin)).status_code \
        == 201
    response = client.post("/api/v1/users", json=body, headers=factory.headers(admin))
    assert_problem(response, 409, "conflict")


def test_rate_limit_is_429_with_retry_after(client: FlaskClient, app: Flask) -> None:
    limit = int(str(app.config["LOGIN_RATE_LIMIT"]).split()[0])
    for _ in range(limit):
        client.post("/api/v1/auth/token", json={"username": "ghost", "password": "nope"})
    response = client.post("/api/v1/auth/token", json={"username": "ghost", "password": "nope"})
    assert_problem(response, 429, "rate-limited")
    assert int(response.headers["Retry-After"]) > 0


def test_unhandled_error_is_500_without_internals(make_app) -> None:
    app = make_app({"PROPAGATE_EXCEPTIONS": False})

    @app.get("/__boom")
    def boom() -> str:
        raise RuntimeError("secret internal detail /etc/passwd")

    response = app.test_client().get("/__boom")
    body = assert_problem(response, 500, "internal-error")
    text = response.get_data(as_text=True)
    assert "secret internal" not in text and "Traceback" not in text and "RuntimeError" not in text
    assert body["detail"].startswith("An unexpected error")


def test_problem_types_are_documented(client: FlaskClient) -> None:
    page = client.get("/problems/validation-error")
    assert page.status_code == 200 and "Validation failed" in page.get_data(as_text=True)
    assert_problem(client.get("/problems/no-such-type"), 404, "not-found")


def test_request_id_is_echoed_or_made(client: FlaskClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers[
        "X-Request-ID"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["X-Request-ID"] != "bad id with spaces"
    assert len(made.headers["X-Request-ID"]) == 32


def test_openapi_is_valid_and_documents_problems(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    validate(spec)
    assert spec["openapi"].startswith("3.")
    schemas = spec["components"]["schemas"]
    assert {"type", "title", "status", "detail", "errors"} <= set(schemas["Problem"]["properties"])
    token = spec["paths"]["/api/v1/auth/token"]["post"]["responses"]
    assert {"200", "400", "401", "413", "415", "429"} <= set(token) and "422" not in token
    assert "bearerAuth" in spec["components"]["securitySchemes"]


def test_docs_are_served_without_a_cdn(client: FlaskClient) -> None:
    html = client.get("/docs").get_data(as_text=True)
    assert "/docs/assets/swagger-ui-bundle.js" in html
    assert "cdn" not in html.lower()
    asset = client.get("/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.data) > 100_000
    asset.close()


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_probes(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.get_json()["status"] in ("ok", "ready")


def test_readyz_reports_an_unmigrated_database(test_databases, make_app) -> None:
    app = make_app({"DATABASE_URL": test_databases.new("empty")})
    response = app.test_client().get("/readyz")
    assert_problem(response, 503, "service-unavailable")
    assert "unioncard db upgrade" in response.get_json()["detail"]


def test_access_log_is_one_json_line_without_secrets(client: FlaskClient, caplog) -> None:
    import json
    import logging

    from app.logs import JsonFormatter

    with caplog.at_level(logging.INFO, logger="unioncard.access"):
        client.post("/api/v1/auth/token?cccd=001234567890",
                    json={"username": "someone", "password": "hunter2-very-secret"},
                    headers={"X-Request-ID": "log-test-1"})
    lines = [JsonFormatter().format(r) for r in caplog.records if r.name == "unioncard.access"]
    assert len(lines) == 1 and "\n" not in lines[0]
    record = json.loads(lines[0])
    assert record["event"] == "request" and record["path"] == "/api/v1/auth/token"
    assert record["request_id"] == "log-test-1" and record["status"] == 400
    assert {"method", "endpoint", "duration_ms", "remote_addr", "principal"} <= set(record)
    assert "hunter2" not in lines[0] and "001234567890" not in lines[0]


def test_ids_too_large_for_the_database_are_404_not_500(client: FlaskClient, factory) -> None:
    """Regression (found by schemathesis): an id beyond the key column's range was a 500."""
    headers = factory.headers(factory.user("admin"))
    for path in ("/api/v1/users/74892932392998007949020364800",
                 "/api/v1/members/2147483648", "/api/v1/members/99999999999999999999/cards"):
        assert_problem(client.get(path, headers=headers), 404, "not-found")
    assert client.get("/api/v1/members/2147483647", headers=headers).status_code == 404


def test_every_documented_error_is_problem_json(client: FlaskClient) -> None:
    """Regression (found by schemathesis): errors were documented as application/json."""
    spec = client.get("/api/v1/openapi.json").get_json()
    shared = spec["components"]["responses"]
    checked = 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            for status, response in operation.get("responses", {}).items():
                if status != "default" and int(status) < 400:
                    continue
                if "$ref" in response:
                    response = shared[response["$ref"].rsplit("/", 1)[1]]
                # the token endpoint's errors are RFC 6749 §5.2's application/json
                media = ("application/json" if (method, path) == ("post", TOKEN_URL)
                         else "application/problem+json")
                assert list(response.get("content", {})) == [media], (method, path, status)
                checked += 1
    assert checked > 50


def _domain_error_classes() -> set[type]:
    """Every DomainError subclass defined in a module of ``app.services``, and the token
    service's ``InvalidScope``."""
    import importlib
    import inspect
    import pkgutil

    import app.services
    from app.services.errors import DomainError

    found: set[type] = set()
    for info in [*pkgutil.iter_modules(app.services.__path__, "app.services."),
                 pkgutil.ModuleInfo(None, "app.services.access.tokens", False)]:  # type: ignore[arg-type]
        module = importlib.import_module(info.name)
        found.update(cls for _, cls in inspect.getmembers(module, inspect.isclass)
                     if issubclass(cls, DomainError) and cls.__module__ == module.__name__)
    return found


def test_every_domain_error_has_a_documented_problem_type() -> None:
    from app.edge.problems import CATALOGUE, ERROR_PROBLEMS, error_problem
    from app.services.errors import DomainError, JobBusy, LettersGone, RosterInvalid

    classes = _domain_error_classes()
    assert {DomainError, JobBusy, LettersGone, RosterInvalid} <= classes
    for cls in classes:
        answer = error_problem(cls)
        assert answer.problem in CATALOGUE, cls
        # only the base class may fall back to the generic 400
        assert cls is DomainError or answer is not ERROR_PROBLEMS[DomainError], cls
        assert not hasattr(cls, "status") and not hasattr(cls, "slug"), cls
    assert set(ERROR_PROBLEMS) <= classes


def test_services_import_no_flask_and_no_http_edge() -> None:
    import ast
    from pathlib import Path

    import app.services

    forbidden = ("flask", "werkzeug", "flask_smorest", "app.edge", "app.errors", "app.problems",
                 "app.extensions")
    offenders: dict[str, list[str]] = {}
    for path in Path(app.services.__path__[0]).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if isinstance(node, ast.ImportFrom) and node.module == "app":
                names = [f"app.{a.name}" for a in node.names]
            bad = [n for n in names if any(n == f or n.startswith(f + ".") for f in forbidden)]
            if bad:
                offenders.setdefault(path.name, []).extend(bad)
    assert offenders == {}


def test_problem_pages_list_the_whole_catalogue(client: FlaskClient) -> None:
    from app.edge.problems import CATALOGUE

    page = client.get("/problems/").get_data(as_text=True)
    for problem in CATALOGUE:
        assert f'id="{problem.slug}"' in page
        assert client.get(problem.uri).status_code == 200


@pytest.mark.parametrize("error, status, slug, members", [
    ("busy", 409, "conflict", {"job": "/api/v1/jobs/j-1"}),
    ("duplicate", 409, "conflict", {"existing_member": "/api/v1/members/7",
                                    "existing_member_id": 7}),
    ("roster", 422, "roster-invalid", {}),
    ("gone", 410, "letters-gone", {}),
    ("login", 401, "invalid-credentials", {}),
])
def test_domain_errors_are_answered_by_the_table(make_app, error: str, status: int, slug: str,
                                                 members: dict[str, Any]) -> None:
    from app.services.errors import (
        Conflict,
        InvalidCredentials,
        JobBusy,
        LettersGone,
        RosterInvalid,
    )

    errors = {"busy": JobBusy("Job j-1 is already running.", job_id="j-1"),
              "duplicate": Conflict("Already registered.", existing_member_id=7),
              "roster": RosterInvalid("Unknown column."),
              "gone": LettersGone("Downloaded already."),
              "login": InvalidCredentials("Wrong password.")}
    app = make_app()

    @app.get("/__raise")
    def raise_it() -> str:
        raise errors[error]

    response = app.test_client().get("/__raise")
    body = assert_problem(response, status, slug)
    assert body["detail"] == str(errors[error])
    assert {k: body[k] for k in members} == members
    assert "job_id" not in body
    assert ("WWW-Authenticate" in response.headers) == (status == 401)
