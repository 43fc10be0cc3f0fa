"""The OpenAPI document against the server (issue 23): what the server answers is what the
document says, for the things an outside check found untrue."""

from __future__ import annotations

from typing import Any

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
