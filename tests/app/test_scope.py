"""Scope enforcement: one check, used everywhere; outside the scope is 404, never 403."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import column, select, table
from werkzeug.routing import Rule

from app.services.access.scope import Scope
from app.services.access.tokens import Principal


def test_scope_rules() -> None:
    admin = Scope(Principal("user", 1, "admin"))
    province = Scope(Principal("user", 2, "officer", "24"))
    union = Scope(Principal("user", 3, "officer", "24", "CD-24-001"))
    assert admin.allows("79") and admin.allows(None)
    assert province.allows("24", "anything") and not province.allows("79")
    assert not province.allows(None)
    assert union.allows("24", "CD-24-001")
    assert not union.allows("24", "CD-24-002") and not union.allows("79", "CD-24-001")


def test_scope_condition_filters_sql() -> None:
    t = table("members", column("province_code"), column("union_code"))
    stmt = Scope(Principal("user", 3, "officer", "24", "CD-24-001")).filter(
        select(t), t.c.province_code, t.c.union_code)
    sql = str(stmt.compile(compile_kwargs={"literal_binds": True}))
    assert "province_code = '24'" in sql and "union_code = 'CD-24-001'" in sql


def test_officer_sees_only_accounts_in_scope(client: FlaskClient, factory) -> None:
    me = factory.user("officer", "24")
    colleague = factory.user("officer", "24", union="CD-24-009")
    stranger = factory.user("officer", "79")
    admin = factory.user("admin")
    headers = factory.headers(me)
    names = {u["username"] for u in client.get("/api/v1/users", headers=headers).get_json()}
    assert me.username in names and colleague.username in names
    assert stranger.username not in names and admin.username not in names
    assert client.get(f"/api/v1/users/{colleague.id}", headers=headers).status_code == 200
    for hidden in (stranger, admin):
        response = client.get(f"/api/v1/users/{hidden.id}", headers=headers)
        assert response.status_code == 404
        assert response.get_json()["detail"] == client.get(
            "/api/v1/users/999999", headers=headers).get_json()["detail"]


def test_union_scoped_officer_sees_only_their_union(client: FlaskClient, factory) -> None:
    me = factory.user("officer", "24", union="CD-24-001")
    same = factory.user("officer", "24", union="CD-24-001")
    other = factory.user("officer", "24", union="CD-24-002")
    headers = factory.headers(me)
    assert client.get(f"/api/v1/users/{same.id}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/users/{other.id}", headers=headers).status_code == 404


def test_admin_sees_everything(client: FlaskClient, factory) -> None:
    admin = factory.user("admin")
    somewhere = factory.user("officer", "96")
    assert client.get(f"/api/v1/users/{somewhere.id}",
                      headers=factory.headers(admin)).status_code == 200


def _example_path(rule: Rule) -> str:
    """A concrete URL matching ``rule`` (its converters' first choices or simple values)."""
    path = rule.rule
    for arg in rule.arguments:
        path = path.replace(f"<int:{arg}>", "1").replace(f"<{arg}>", "x").replace(
            f"<path:{arg}>", "x").replace(f"<string:{arg}>", "x")
        path = re.sub(r"<any\(([^)]*)\):" + arg + ">",
                      lambda m: m.group(1).split(",")[0].strip("'\""), path)
        path = re.sub(r"<string\(length=(\d+)\):" + arg + ">",
                      lambda m: "1" * int(m.group(1)), path)
    return path


def test_every_api_endpoint_requires_auth_except_public_ones(app) -> None:
    """A guard against an endpoint that forgets the scope check."""
    public = {"auth.TokenView", "system.Healthz", "system.Readyz", "api-docs.openapi_json",
              "api-docs.openapi_swagger_ui", "static", "publication.StatusListView",
              "publication.TrustBundleView", "me.Activate", "consent_notices.Notice"}
    client = app.test_client()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1") or rule.endpoint in public:
            continue
        path = _example_path(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method)
            assert response.status_code == 401, f"{method} {path} answered {response.status_code}"


def test_openapi_documents_bearer_security_on_exactly_the_secured_operations(
        client: FlaskClient) -> None:
    """``requires`` documents itself: every operation that answers 401 without a token has
    the bearer security and a documented 401; the public ones have no security."""
    spec = client.get("/api/v1/openapi.json").get_json()
    secured, public = set(), set()
    for rule in client.application.url_map.iter_rules():
        operations = spec["paths"].get(re.sub(r"<(?:[^:>]+:)?([^:>]+)>", r"{\1}", rule.rule))
        if operations is None:  # pages, static files and the docs themselves
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operation = operations[method.lower()]
            name = f"{method} {rule.rule}"
            answer = client.open(_example_path(rule), method=method).status_code
            if "security" in operation:
                assert operation["security"] == [{"bearerAuth": []}, {"oauth2": []}], name
                assert "401" in operation["responses"], name
                assert answer == 401, name
                secured.add(name)
            else:
                assert answer != 401, name
                public.add(name)
    assert public == {"GET /healthz", "GET /readyz", "POST /api/v1/auth/token",
                      "GET /.well-known/jwks.json", "GET /.well-known/unioncard-root.jwk",
                      "GET /api/v1/status-lists/<int:list_id>", "GET /api/v1/trust-bundle",
                      "POST /api/v1/me/activate",
                      "GET /api/v1/consent-notices/<string:version>/<string:language>"}
    assert "GET /api/v1/auth/me" in secured and len(secured) >= 33
    documented = sum(len(set(ops) - {"parameters"}) for ops in spec["paths"].values())
    assert len(secured) + len(public) == documented  # every documented operation was checked
