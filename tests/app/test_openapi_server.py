"""The OpenAPI document against the server (issue 23): what the server answers is what the
document says, for the things an outside check found untrue."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule


def _static_api_rules(app: Flask) -> list[Rule]:
    return [rule for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/api/v1") and not rule.arguments]


def test_options_allows_only_the_methods_of_the_path_itself(app: Flask,
                                                            client: FlaskClient) -> None:
    """Regression: ``OPTIONS /api/v1/clinics/me`` advertised PATCH, the method of
    ``/clinics/<facility_code>``, which matched ``me`` as a facility code."""
    rules = _static_api_rules(app)
    assert any(rule.rule == "/api/v1/clinics/me" for rule in rules)
    for rule in rules:
        response = client.options(rule.rule)
        allowed = set(response.headers["Allow"].split(", "))
        assert allowed == set(rule.methods or ()), rule.rule
    assert "PATCH" not in client.options("/api/v1/clinics/me").headers["Allow"]
    assert "PATCH" in client.options("/api/v1/clinics/27015").headers["Allow"]


def test_the_export_without_a_token_is_401_however_often(app: Flask, client: FlaskClient,
                                                         monkeypatch: Any) -> None:
    """Regression: the export's rate limit counted callers without a token by address, so
    the third such call was 429 before the 401."""
    monkeypatch.setitem(app.config, "EXPORT_RATE_LIMIT", "2 per hour")
    statuses = [client.get("/api/v1/me/export").status_code for _ in range(4)]
    assert statuses == [401] * 4
    bad = {"Authorization": "Bearer not.a.token"}
    assert [client.get("/api/v1/me/export", headers=bad).status_code
            for _ in range(3)] == [401] * 3


@pytest.mark.parametrize("method, path, limits", [
    ("POST", "/api/v1/verify", ["VERIFY_RATE_LIMIT"]),
    ("GET", "/api/v1/pull", ["PULL_RATE_LIMIT", "VERIFY_CARD_RATE_LIMIT"]),
    ("POST", "/api/v1/emergency-access", ["EMERGENCY_RATE_LIMIT"]),
])
def test_clinic_calls_without_a_token_are_401_however_often(
        app: Flask, client: FlaskClient, monkeypatch: Any, method: str, path: str,
        limits: list[str]) -> None:
    """Regression: the clinic endpoints counted callers without a token by address (and a
    pull by the card its grant header names), so they met 429 before 401."""
    for name in limits:
        monkeypatch.setitem(app.config, name, "2 per hour")
    headers = {"X-Pull-Grant": "x.y.z"}
    statuses = [client.open(path, method=method, headers=headers, json={}).status_code
                for _ in range(4)]
    assert statuses == [401] * 4


def _spec(client: FlaskClient) -> dict[str, Any]:
    from openapi_spec_validator import validate

    spec = client.get("/api/v1/openapi.json").get_json()
    validate(spec)
    return dict(spec)


def _extension_members() -> set[str]:
    """Every keyword a domain error of the app is raised with (its problem's extension
    members), found in the source."""
    import ast
    from pathlib import Path

    import app as package
    from app.services import errors
    from app.services.access.tokens import InvalidScope

    classes = {name for name, cls in vars(errors).items()
               if isinstance(cls, type) and issubclass(cls, errors.DomainError)}
    classes.add(InvalidScope.__name__)
    members: set[str] = set()
    for path in Path(package.__path__[0]).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if name in classes or (name == "__init__" and path.name == "errors.py"):
                    members.update(k.arg for k in node.keywords if k.arg)
            elif (isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store)
                  and isinstance(node.value, ast.Attribute) and node.value.attr == "extra"
                  and isinstance(node.slice, ast.Constant)):  # self.extra["reason"] = ...
                members.add(str(node.slice.value))
    return members


def test_the_problem_schema_names_every_extension_member_sent(client: FlaskClient) -> None:
    """Regression: the Problem schema had only type, title, status, detail, instance,
    request_id and errors; the service also sends attempts_left, locked_until, error, ..."""
    from app.edge.problems import ERROR_PROBLEMS

    properties = _spec(client)["components"]["schemas"]["Problem"]["properties"]
    sent = _extension_members() - {"retry_after", "detail"}  # Retry-After is a header
    for answer in ERROR_PROBLEMS.values():  # links replace ids by URLs
        for link in answer.links:
            sent.add(link.member)
            if not link.keep_id:
                sent.discard(link.id_key)
    sent |= {"request_id", "error_description"}
    assert {"attempts_left", "locked_until", "error", "errors", "reason"} <= sent
    assert sent <= set(properties), sorted(sent - set(properties))


def test_the_document_describes_oauth2_the_token_form_and_fhir_bodies(
        client: FlaskClient) -> None:
    spec = _spec(client)
    oauth2 = spec["components"]["securitySchemes"]["oauth2"]
    assert oauth2["type"] == "oauth2"
    assert {"password", "clientCredentials"} <= set(oauth2["flows"])
    assert all(flow["tokenUrl"] == "/api/v1/auth/token" for flow in oauth2["flows"].values())
    assert spec["paths"]["/api/v1/users"]["get"]["security"] == [{"bearerAuth": []},
                                                                  {"oauth2": []}]
    token = spec["paths"]["/api/v1/auth/token"]["post"]
    form = token["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    form = spec["components"]["schemas"][form["$ref"].rsplit("/", 1)[1]]
    assert form["required"] == ["grant_type"]
    assert set(form["properties"]["grant_type"]["enum"]) == {"password", "client_credentials"}
    answer = spec["components"]["schemas"]["Token"]
    assert {"access_token", "token_type", "expires_in", "scope"} <= set(answer["required"])
    for status, response in token["responses"].items():
        if status == "default" or int(status) >= 400:
            assert list(response["content"]) == ["application/json"], status
    for path in ("/api/v1/health-records", "/api/v1/health-records/$batch"):
        body = spec["paths"][path]["post"]["requestBody"]
        assert body["required"] and list(body["content"]) == ["application/fhir+json"]
        assert body["content"]["application/fhir+json"]["schema"]["properties"][
            "resourceType"]["enum"] == ["Bundle"]


def test_every_operation_documents_the_refusals_of_the_edge(client: FlaskClient) -> None:
    """Regression: 400, 415 and 431 (and 413, 414) were documented only under `default`."""
    spec = _spec(client)
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            expected = {"400", "414", "431"} | ({"413", "415"} if "requestBody" in operation
                                                else set())
            assert expected <= set(operation["responses"]), (method, path)


def test_the_edge_answers_what_it_documents(client: FlaskClient, factory) -> None:
    """431 and 415 as documented (problem+json; the token endpoint's application/json)."""
    headers = factory.headers(factory.user("admin"))
    big = {"X-Filler": "x" * 5000}
    assert client.get("/api/v1/users", headers={**headers, **big}).status_code == 431
    assert client.post("/api/v1/users", data="x", content_type="text/plain",
                       headers=headers).status_code == 415
    refused = client.post("/api/v1/auth/token", data="x", headers=big,
                          content_type="application/x-www-form-urlencoded")
    assert refused.status_code == 431 and refused.mimetype == "application/json"


def _property(spec: dict[str, Any], schema: str, name: str) -> dict[str, Any]:
    return dict(spec["components"]["schemas"][schema]["properties"][name])


def test_documented_patterns_and_enums_are_the_servers_rules(client: FlaskClient,
                                                             session: Any) -> None:
    """Regression (schemathesis): requests valid by the document were refused for a username,
    union code, health ID, facility code, PIN, province, facility type or report reason the
    document allowed; each documented rule is now the service's own, both ways."""
    import re

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from sqlalchemy import select

    from app.facility_types import FACILITY_TYPES, is_facility_code
    from app.models import Province
    from app.models.access_report import REPORT_REASONS
    from app.services.access.accounts import USERNAME_RE
    from app.services.access.member_accounts import _PIN_RE
    from app.services.errors import ValidationFailed
    from app.services.health.store import normalise_health_id
    from app.services.registry import identity
    from app.services.registry.unions import UNION_CODE_RE

    spec = _spec(client)

    def accepted(check: Any) -> Any:
        def server(value: str) -> bool:
            try:
                check(value)
            except (ValidationFailed, identity.InvalidField):
                return False
            return True
        return server

    health_id_ok = accepted(normalise_health_id)

    rules = {
        ("CreateUser", "username"): lambda v: bool(USERNAME_RE.match(v.strip().lower())),
        ("CreateUnion", "code"): lambda v: bool(UNION_CODE_RE.match(v.strip().upper())),
        ("HealthLink", "health_id"): health_id_ok,
        ("CreateClinic", "facility_code"): is_facility_code,
        ("Activate", "pin"): lambda v: bool(_PIN_RE.fullmatch(v)),
        ("CreateMember", "sex"): accepted(identity.parse_sex),
        ("CreateMember", "phone"): accepted(identity.normalize_phone),
        ("CreateMember", "insurance_number"): accepted(identity.check_insurance_number),
        ("CreateMember", "personal_id"): accepted(
            lambda v: identity.check_personal_id(v, None, None)),
    }
    #: a pattern that states the form only (the register also checks the date is real)
    form_only = {("CreateMember", "birth_date"): accepted(
        lambda v: identity.parse_date(v, "birth_date"))}
    for (schema, name), server in {**rules, **form_only}.items():
        pattern = _property(spec, schema, name)["pattern"]

        @given(valid=st.from_regex(pattern, fullmatch=True), other=st.text(max_size=24))
        @settings(max_examples=60, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def agree(valid: str, other: str) -> None:
            if (schema, name) in rules:
                assert server(valid), (schema, name, valid)
            if not re.search(pattern, other):
                assert not server(other), (schema, name, other)

        agree()
    provinces = sorted(session.scalars(select(Province.code)))
    assert _property(spec, "CreateUnion", "province_code")["enum"] == provinces
    assert _property(spec, "CreateClinic", "province_code")["enum"] == provinces
    assert _property(spec, "CreateFeed", "provinces")["items"]["enum"] == provinces
    assert _property(spec, "CreateClinic", "facility_type")["enum"] == list(FACILITY_TYPES)
    assert _property(spec, "NewAccessReport", "reason")["enum"] == list(REPORT_REASONS)
    notices = {p["name"]: p["schema"]["enum"] for p in
               spec["paths"]["/api/v1/consent-notices/{version}/{language}"]["get"]["parameters"]}
    assert _property(spec, "NoticeShown", "version")["enum"] == notices["version"]
    for version in notices["version"]:
        for language in notices["language"]:
            assert client.get(f"/api/v1/consent-notices/{version}/{language}").status_code == 200
    assert client.get(f"/api/v1/consent-notices/{notices['version'][0]}/fr").status_code == 422


def test_every_string_of_the_document_refuses_a_nul(client: FlaskClient) -> None:
    """Regression (schemathesis): strings the document allowed with a NUL were refused 400
    (no database text can hold one)."""
    import re

    spec = _spec(client)

    def strings(schema: Any) -> list[dict[str, Any]]:
        if not isinstance(schema, dict):
            return []
        found = [schema] if schema.get("type") == "string" else []
        for key in ("items", "additionalProperties"):
            found += strings(schema.get(key))
        for sub in schema.get("properties", {}).values():
            found += strings(sub)
        return found

    checked = []
    for name, schema in spec["components"]["schemas"].items():
        checked += [(name, s) for s in strings(schema) if not s.get("readOnly")]
    for item in spec["paths"].values():
        for operation in item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) \
                    else []:
                checked += [(parameter["name"], s) for s in strings(parameter.get("schema"))]
    assert len(checked) > 100
    for name, schema in checked:
        if "enum" in schema or "format" in schema:
            continue
        assert "pattern" in schema, name
        assert not re.search(schema["pattern"], "a\x00b"), (name, schema["pattern"])


def test_exactly_one_of_is_documented_as_the_server_checks_it(client: FlaskClient,
                                                              factory) -> None:
    spec = _spec(client)
    schemas = spec["components"]["schemas"]
    assert schemas["StartCardBatch"]["oneOf"] == [{"required": ["union_code"]},
                                                  {"required": ["province_code"]}]
    assert {"required": ["member_number"]} in schemas["TokenRequest"]["oneOf"]
    assert schemas["Verify"]["oneOf"] == [{"required": ["uc1"]}, {"required": ["ndef_base64"]}]
    both = client.post("/api/v1/card-batches", json={"union_code": "X", "province_code": "24"},
                       headers=factory.headers(factory.user("admin")))
    assert both.status_code == 422


@pytest.mark.parametrize("path", ["/api/v1/verify", "/api/v1/imports"])
def test_a_multipart_part_whose_name_cannot_be_read_is_no_500(client: FlaskClient,
                                                              path: str) -> None:
    """Regression (schemathesis): a part named with a line break has no name for werkzeug,
    and the edge's NUL check failed on it (a 500)."""
    boundary = "0df03108069833fd888101eaa45d95b3"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="\n"\r\n\r\nnull\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="p"\r\n'
            f'\r\n\x00\r\n--{boundary}--\r\n').encode()
    response = client.post(path, data=body,
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 401, response.get_data(as_text=True)[:300]
