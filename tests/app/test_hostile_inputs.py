"""Hostile inputs to every documented operation: huge and negative integers, deeply nested JSON.
None may end in a 5xx; every refusal is problem+json."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.edge.bodies import MAX_JSON_DEPTH
from tests.app.roster_fixtures import people, to_csv
from tests.app.test_errors import PROBLEM, assert_problem

HUGE = 2**63 - 1
NESTED = "[" * 5000 + "]" * 5000
NESTED_OBJECT = '{"a":' * 5000 + "1" + "}" * 5000
METHODS = ("get", "post", "put", "patch", "delete")


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        shared = item.get("parameters", [])
        for method in METHODS:
            if method in item:
                operation = dict(item[method])
                operation["parameters"] = [*shared, *operation.get("parameters", [])]
                yield path, method, operation


def _url(path: str, operation: dict[str, Any], path_value: Any = None) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        param = next((p for p in operation["parameters"]
                      if p["in"] == "path" and p["name"] == name), {})
        if param.get("schema", {}).get("type") == "integer":
            return str(1 if path_value is None else path_value)
        return "x"

    return re.sub(r"\{(\w+)\}", value, path)


def _assert_no_server_error(response: Any, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} " \
        f"{response.get_data(as_text=True)[:300]}"
    if response.status_code >= 400:  # the token endpoint's: RFC 6749 §5.2 application/json
        token = response.request.path == "/api/v1/auth/token"
        assert response.mimetype == ("application/json" if token else PROBLEM), \
            f"{what}: {response.mimetype}"


@pytest.fixture
def spec(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return dict(response.get_json())


@pytest.fixture
def admin_headers(factory: Any) -> dict[str, str]:
    headers: dict[str, str] = factory.headers(factory.user("admin"))
    return headers


def test_every_integer_query_parameter_refuses_huge_and_negative_values(
        client: FlaskClient, spec: dict[str, Any], admin_headers: dict[str, str]) -> None:
    tried = 0
    for path, method, operation in _operations(spec):
        for param in operation["parameters"]:
            if param["in"] != "query" or param.get("schema", {}).get("type") != "integer":
                continue
            for value in (HUGE, -1, 10**30):
                url = _url(path, operation)
                response = client.open(url, method=method.upper(), headers=admin_headers,
                                       query_string={param["name"]: str(value)})
                _assert_no_server_error(response, f"{method} {url} {param['name']}={value}")
                tried += 1
    assert tried >= 12  # page and per_page of the list operations, at least


def test_every_integer_query_parameter_documents_its_bounds(spec: dict[str, Any]) -> None:
    bounds = {(path, method, param["name"]): (param["schema"].get("minimum"),
                                               param["schema"].get("maximum"))
              for path, method, operation in _operations(spec)
              for param in operation["parameters"]
              if param["in"] == "query" and param.get("schema", {}).get("type") == "integer"}
    assert bounds
    for where, (low, high) in bounds.items():
        assert low is not None and high is not None and high <= 2**31 - 1, where


def test_a_huge_report_page_of_a_real_job_is_a_422(
        client: FlaskClient, factory: Any, app: Any, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Any) -> None:
    monkeypatch.setitem(app.config, "JOBS_SYNC", True)
    monkeypatch.setitem(app.config, "IMPORT_DIR", str(tmp_path / "imports"))
    union = factory.union(province="24")
    officer = factory.headers(factory.user("officer", province="24"))
    rows = people(3, union.code)
    rows[1]["birth_date"] = "31/02/1990"
    job = client.post("/api/v1/imports", headers=officer, content_type="multipart/form-data",
                      data={"file": (io.BytesIO(to_csv(rows).encode()), "r.csv"),
                            "dry_run": "true"}).get_json()
    report = f"/api/v1/jobs/{job['id']}/report"
    assert client.get(report, headers=officer).status_code == 200
    for value in (HUGE, 10**30, 1_000_001, 0, -1):
        assert_problem(client.get(report, headers=officer, query_string={"page": value}),
                       422, "validation-error")
        assert_problem(client.get(report, headers=officer, query_string={"per_page": value}),
                       422, "validation-error")


def test_every_integer_path_parameter_refuses_huge_values(
        client: FlaskClient, spec: dict[str, Any], admin_headers: dict[str, str]) -> None:
    tried = 0
    for path, method, operation in _operations(spec):
        if not any(p["in"] == "path" and p.get("schema", {}).get("type") == "integer"
                   for p in operation["parameters"]):
            continue
        for value in (HUGE, 10**30, 2**31):
            url = _url(path, operation, value)
            response = client.open(url, method=method.upper(), headers=admin_headers,
                                   json={} if method != "get" else None)
            _assert_no_server_error(response, f"{method} {url}")
            tried += 1
    assert tried >= 8


def _json_operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, method, operation in _operations(spec):
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            yield path, method, operation


def test_deeply_nested_json_is_a_problem_on_every_json_operation(
        client: FlaskClient, spec: dict[str, Any], admin_headers: dict[str, str]) -> None:
    operations = list(_json_operations(spec))
    assert any(path == "/api/v1/auth/token" for path, _, _ in operations)
    for path, method, operation in operations:
        url = _url(path, operation)
        for body in (NESTED, NESTED_OBJECT):
            response = client.open(url, method=method.upper(), headers=admin_headers,
                                   data=body, content_type="application/json")
            _assert_no_server_error(response, f"{method} {url}")
            if response.status_code not in (404, 405):
                assert_problem(response, 400, "json-too-deep")


def test_nesting_up_to_the_limit_is_ordinary_json(client: FlaskClient) -> None:
    depth = MAX_JSON_DEPTH
    body = '{"username": ' + "[" * (depth - 1) + "]" * (depth - 1) + ', "password": "x"}'
    response = client.post("/api/v1/auth/token", data=body, content_type="application/json")
    assert_problem(response, 400, "invalid-token-request")  # RFC 6749 §5.2
    too_deep = '{"username": ' + "[" * depth + "]" * depth + ', "password": "x"}'
    response = client.post("/api/v1/auth/token", data=too_deep, content_type="application/json")
    assert_problem(response, 400, "json-too-deep")


def test_brackets_inside_strings_do_not_count_as_nesting(client: FlaskClient) -> None:
    body = '{"username": "' + "[{" * 32 + '", "password": "\\"' + "[{" * 500 + '"}'
    response = client.post("/api/v1/auth/token", data=body, content_type="application/json")
    assert_problem(response, 400, "invalid-grant")  # RFC 6749 §5.2


def test_nested_json_on_a_get_is_refused_before_any_parser(client: FlaskClient,
                                                           admin_headers: dict[str, str]) -> None:
    response = client.get("/api/v1/members", data=NESTED, content_type="application/json",
                          headers=admin_headers)
    assert_problem(response, 400, "json-too-deep")


def test_huge_integers_in_every_json_body_field_are_refused(
        client: FlaskClient, spec: dict[str, Any], admin_headers: dict[str, str]) -> None:
    schemas = spec["components"]["schemas"]
    tried = 0
    for path, method, operation in _json_operations(spec):
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
        url = _url(path, operation)
        for name in schema.get("properties", {}):
            for value in (HUGE, 10**30, -(10**30)):
                response = client.open(url, method=method.upper(), headers=admin_headers,
                                       json={name: value})
                _assert_no_server_error(response, f"{method} {url} {name}={value}")
                tried += 1
    assert tried >= 20


def test_a_lone_surrogate_in_any_json_string_field_is_a_400(
        client: FlaskClient, spec: dict[str, Any], admin_headers: dict[str, str]) -> None:
    # "\ud800" is valid JSON text but no UTF-8 string: a database driver fails to encode it
    # (a 500 on /auth/token's username lookup before this check)
    schemas = spec["components"]["schemas"]
    tried = 0
    for path, method, operation in _json_operations(spec):
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
        url = _url(path, operation)
        for name in schema.get("properties", {}):
            response = client.open(url, method=method.upper(), headers=admin_headers,
                                   data='{"%s": "a\\ud800b"}' % name,
                                   content_type="application/json")
            _assert_no_server_error(response, f"{method} {url} {name}")
            if response.status_code not in (404, 405):
                assert_problem(response, 400, "malformed-json")
            tried += 1
    assert tried >= 20
    body = '{"username": "a\\ud800b", "password": "x"}'
    response = client.post("/api/v1/auth/token", data=body, content_type="application/json")
    assert_problem(response, 400, "malformed-json")


def test_a_surrogate_pair_is_an_ordinary_character(client: FlaskClient) -> None:
    body = '{"username": "\\ud83d\\ude00", "password": "x"}'  # one emoji, escaped as a pair
    response = client.post("/api/v1/auth/token", data=body, content_type="application/json")
    assert_problem(response, 400, "invalid-grant")  # RFC 6749 §5.2


class _ChunkError(Exception):
    """Like gunicorn's ``InvalidChunkSize``: neither an OSError nor a ValueError."""


class _BrokenChunks(io.RawIOBase):
    """A server's request input that fails as gunicorn's does on a malformed chunked body."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        raise _ChunkError("Invalid chunk size: 'zz'")


@pytest.mark.parametrize("path,content_type", [
    ("/api/v1/auth/token", "application/json"),
    ("/api/v1/imports", "multipart/form-data; boundary=x"),
])
def test_a_body_the_server_cannot_read_is_a_400(client: FlaskClient, admin_headers: dict[str, str],
                                                path: str, content_type: str) -> None:
    response = client.post(path, headers={**admin_headers, "Content-Type": content_type,
                                          "Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input": io.BufferedReader(_BrokenChunks()),
                                              "wsgi.input_terminated": True})
    assert_problem(response, 400, "bad-request")


@pytest.mark.parametrize("method, url, body", [
    ("get", "/api/v1/unions?q=a%00b", None),
    ("get", "/api/v1/members?member_number=A%00B", None),
    ("get", "/api/v1/cards/A%00B", None),
    ("get", "/api/v1/jobs/a%00b", None),
    ("post", "/api/v1/auth/token", '{"username": "a\\u0000b", "password": "x"}'),
    ("post", "/api/v1/transfers", '{"personal_id": "027090123456", "union_code": "X", '
                                  '"reason": "moved\\u0000"}'),
])
def test_a_nul_character_anywhere_is_a_400(client: FlaskClient, admin_headers: dict[str, str],
                                           method: str, url: str, body: str | None) -> None:
    # PostgreSQL text cannot hold NUL: psycopg raised ValueError (a 500) on every such lookup
    response = client.open(url, method=method.upper(), headers=admin_headers, data=body,
                           content_type="application/json" if body else None)
    assert_problem(response, 400, "malformed-json" if body else "bad-request")


def test_an_escaped_backslash_before_u0000_is_ordinary_text(client: FlaskClient) -> None:
    body = '{"username": "a\\\\u0000b", "password": "x"}'  # the six characters \u0000
    response = client.post("/api/v1/auth/token", data=body, content_type="application/json")
    assert_problem(response, 400, "invalid-grant")  # RFC 6749 §5.2
