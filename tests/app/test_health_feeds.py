"""Health-record feed clients: administrators manage them (API and CLI, audited); they get
tokens by OAuth 2 client credentials (RFC 6749 §4.4) on the token endpoint."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote_plus

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.models import AuditEntry, HealthFeed
from tests.conftest import PASSWORD, invoke

TOKEN_URL = "/api/v1/auth/token"


def create_feed(client: FlaskClient, factory: Any, provinces: list[str] | None = None,
                name: str = "Hệ thống hồ sơ sức khỏe Bắc Ninh") -> dict[str, Any]:
    admin = factory.user("admin")
    response = client.post("/api/v1/health-feeds", headers=factory.headers(admin),
                           json={"name": name, "provinces": provinces or ["24"]})
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def feed_token(client: FlaskClient, feed: dict[str, Any]) -> str:
    response = client.post(TOKEN_URL, data={"grant_type": "client_credentials"},
                           headers=basic(feed["client_id"], feed["client_secret"]))
    assert response.status_code == 200, response.get_json()
    return str(response.get_json()["access_token"])


def test_an_administrator_creates_a_feed_whose_secret_is_shown_once(client, factory,
                                                                    session) -> None:
    feed = create_feed(client, factory, ["79", "24"])
    assert feed["client_id"].startswith("feed-") and len(feed["client_secret"]) >= 40
    assert feed["provinces"] == ["24", "79"] and feed["active"] is True
    stored = session.scalar(select(HealthFeed).where(HealthFeed.client_id == feed["client_id"]))
    assert feed["client_secret"] not in stored.secret_hash
    admin = factory.user("admin")
    listed = client.get("/api/v1/health-feeds", headers=factory.headers(admin)).get_json()
    assert [f["client_id"] for f in listed] == [feed["client_id"]]
    assert "client_secret" not in listed[0] and "secret_hash" not in listed[0]
    shown = client.get(f"/api/v1/health-feeds/{feed['id']}", headers=factory.headers(admin))
    assert shown.status_code == 200 and "client_secret" not in shown.get_json()
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "health-feed.create"))
    assert entry.object_id == str(feed["id"]) and feed["client_secret"] not in str(entry.details)


@pytest.mark.parametrize("body, field", [
    ({"name": "x", "provinces": []}, "provinces"),
    ({"name": "x", "provinces": ["99"]}, "provinces"),
    ({"name": "", "provinces": ["24"]}, "name"),
])
def test_a_feed_needs_a_name_and_known_provinces(client, factory, body, field) -> None:
    admin = factory.user("admin")
    response = client.post("/api/v1/health-feeds", headers=factory.headers(admin), json=body)
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == field


def test_officers_cannot_manage_feeds(client, factory) -> None:
    officer = factory.headers(factory.user("officer"))
    assert client.get("/api/v1/health-feeds", headers=officer).status_code == 403
    assert client.post("/api/v1/health-feeds", headers=officer,
                       json={"name": "x", "provinces": ["24"]}).status_code == 403


def test_client_credentials_by_basic_and_by_form(client, factory) -> None:
    feed = create_feed(client, factory)
    response = client.post(TOKEN_URL, data={"grant_type": "client_credentials"},
                           headers=basic(feed["client_id"], feed["client_secret"]))
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["scope"] == "health-feed"
    assert response.headers["Cache-Control"] == "no-store"
    token = body["access_token"]
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.get_json()["subject"] == f"feed:{feed['id']}"
    assert me.get_json()["role"] == "health-feed"
    form = client.post(TOKEN_URL, data={"grant_type": "client_credentials",
                                        "client_id": feed["client_id"],
                                        "client_secret": feed["client_secret"]})
    assert form.status_code == 200 and form.get_json()["token_type"] == "Bearer"


def test_the_password_grant_still_works_as_json_and_form(client, factory) -> None:
    factory.user("admin", username="still.admin")
    as_json = client.post(TOKEN_URL, json={"username": "still.admin", "password": PASSWORD})
    as_form = client.post(TOKEN_URL, data={"grant_type": "password", "username": "still.admin",
                                           "password": PASSWORD})
    assert as_json.status_code == as_form.status_code == 200
    assert as_json.headers["Cache-Control"] == "no-store"


def assert_oauth_error(response: Any, status: int, slug: str, error: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/json"  # RFC 6749 §5.2
    body = dict(response.get_json())
    assert body["type"] == f"/problems/{slug}" and body["error"] == error
    return body


@pytest.mark.parametrize("credentials", ["wrong-secret", "unknown-client", "none"])
def test_wrong_client_credentials_are_invalid_client(client, factory, credentials) -> None:
    feed = create_feed(client, factory)
    headers = {"wrong-secret": basic(feed["client_id"], "not-the-secret"),
               "unknown-client": basic("feed-000000", feed["client_secret"]),
               "none": {}}[credentials]
    response = client.post(TOKEN_URL, data={"grant_type": "client_credentials"},
                           headers=headers)
    body = assert_oauth_error(response, 401, "invalid-client", "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert feed["client_secret"] not in str(body)


def test_undecodable_basic_credentials_are_invalid_client(client) -> None:
    response = client.post(TOKEN_URL, data={"grant_type": "client_credentials"},
                           headers={"Authorization": "Basic !!!not-base64"})
    assert_oauth_error(response, 401, "invalid-client", "invalid_client")


def test_authenticating_twice_is_an_invalid_request(client, factory) -> None:
    feed = create_feed(client, factory)
    response = client.post(TOKEN_URL, headers=basic(feed["client_id"], feed["client_secret"]),
                           data={"grant_type": "client_credentials",
                                 "client_id": feed["client_id"],
                                 "client_secret": feed["client_secret"]})
    assert_oauth_error(response, 400, "invalid-token-request", "invalid_request")


def test_an_unknown_grant_type_is_unsupported(client) -> None:
    response = client.post(TOKEN_URL, data={"grant_type": "authorization_code", "code": "x"})
    assert_oauth_error(response, 400, "unsupported-grant-type", "unsupported_grant_type")


def test_client_credentials_are_rate_limited_before_hashing(client, factory, app,
                                                            monkeypatch) -> None:
    from app.services.health import feeds

    feed = create_feed(client, factory)
    checked: list[str] = []
    original = feeds.authenticate
    monkeypatch.setattr(feeds, "authenticate",
                        lambda *a: checked.append("x") or original(*a))  # type: ignore[func-returns-value]
    limit = int(str(app.config["LOGIN_RATE_LIMIT"]).split()[0])
    statuses = [client.post(TOKEN_URL, data={"grant_type": "client_credentials"},
                            headers=basic(feed["client_id"], "wrong")).status_code
                for _ in range(limit + 2)]
    assert statuses[:limit] == [401] * limit and statuses[limit:] == [429, 429]
    assert len(checked) == limit


def test_rotation_and_disabling_revoke_the_secret_and_the_tokens(client, factory,
                                                                 session) -> None:
    feed = create_feed(client, factory)
    admin = factory.headers(factory.user("admin"))
    token = feed_token(client, feed)
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/auth/me", headers=bearer).status_code == 200
    rotated = client.post(f"/api/v1/health-feeds/{feed['id']}/rotate-secret", headers=admin)
    assert rotated.status_code == 200
    new_secret = rotated.get_json()["client_secret"]
    assert new_secret != feed["client_secret"] and rotated.get_json()["rotated_at"]
    assert client.get("/api/v1/auth/me", headers=bearer).status_code == 401
    old = client.post(TOKEN_URL, data={"grant_type": "client_credentials"},
                      headers=basic(feed["client_id"], feed["client_secret"]))
    assert old.status_code == 401
    token = feed_token(client, {**feed, "client_secret": new_secret})
    disabled = client.post(f"/api/v1/health-feeds/{feed['id']}/disable", headers=admin)
    assert disabled.status_code == 200 and disabled.get_json()["active"] is False
    assert client.get("/api/v1/auth/me",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 401
    again = client.post(TOKEN_URL, data={"grant_type": "client_credentials"},
                        headers=basic(feed["client_id"], new_secret))
    assert_oauth_error(again, 401, "invalid-client", "invalid_client")
    actions = set(session.scalars(select(AuditEntry.action).where(
        AuditEntry.object_type == "health-feed")))
    assert actions == {"health-feed.create", "health-feed.rotate-secret",
                       "health-feed.disable"}


def test_a_feed_token_opens_no_staff_endpoint(client, factory) -> None:
    bearer = {"Authorization": f"Bearer {feed_token(client, create_feed(client, factory))}"}
    assert client.get("/api/v1/members", headers=bearer).status_code == 403
    assert client.get("/api/v1/health-feeds", headers=bearer).status_code == 403


def test_cli_creates_lists_rotates_and_disables(app: Flask, connection) -> None:
    made = invoke(app, "feeds", "create", "--name", "Sở Y tế TP.HCM", "--province", "79")
    assert made.exit_code == 0, made.stderr
    client_id = made.stdout.split("client_id:")[1].split()[0]
    secret = made.stdout.split("client_secret:")[1].split()[0]
    listed = invoke(app, "feeds", "list")
    assert f"{client_id}\tactive\t79\tSở Y tế TP.HCM" in listed.stdout
    assert secret not in listed.stdout
    rotated = invoke(app, "feeds", "rotate-secret", client_id)
    assert rotated.exit_code == 0 and secret not in rotated.stdout
    assert "client_secret:" in rotated.stdout
    disabled = invoke(app, "feeds", "disable", client_id)
    assert disabled.exit_code == 0 and "disabled" in disabled.stdout
    assert f"{client_id}\tdisabled" in invoke(app, "feeds", "list").stdout
    unknown = invoke(app, "feeds", "disable", "feed-nope")
    assert unknown.exit_code != 0 and "No such feed client" in unknown.stderr
    bad = invoke(app, "feeds", "create", "--name", "x", "--province", "99")
    assert bad.exit_code != 0 and "Unknown province" in bad.stderr


@pytest.mark.slow
def test_cli_creates_a_feed_in_a_subprocess(test_databases) -> None:
    """``python -m app feeds create`` end to end: environment, output, exit status."""
    import subprocess
    import sys

    from app import migrate
    from tests.conftest import unioncard_env

    url = test_databases.new("feeds_cli")
    migrate.upgrade(url)
    made = subprocess.run([sys.executable, "-m", "app", "feeds", "create", "--name", "Sở Y tế",
                           "--province", "24"], env=unioncard_env(url), capture_output=True,
                          text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith("client_id:     feed-") and "client_secret: " in made.stdout
    assert "shown only now" in made.stderr
    bad = subprocess.run([sys.executable, "-m", "app", "feeds", "rotate-secret", "feed-nope"],
                         env=unioncard_env(url), capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "No such feed client" in bad.stderr
