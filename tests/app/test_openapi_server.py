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
