"""The token endpoint as RFC 6749 says (§5.1 answers with `scope`, never cached; §5.2 errors as
``application/json`` with OAuth 2's ``error``, besides RFC 9457's members) and bearer
challenges as RFC 6750 §3.1 says, checked with an independent client (authlib over HTTP)
and with raw requests."""

# ruff: noqa: F811  (the shared fixture is imported by name, then requested as an argument)
from __future__ import annotations

import re
import warnings
from base64 import b64encode
from typing import Any

import httpx
import pytest
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.integrations.base_client import OAuthError
from flask.testing import FlaskClient

from app.services.access.tokens import Principal, TokenService
from tests.app.test_member_accounts import PASSWORD as MEMBER_PASSWORD
from tests.app.test_member_accounts import activate, yen  # noqa: F401
from tests.app.test_oauth_interop import served  # noqa: F401
from tests.conftest import PASSWORD

with warnings.catch_warnings():
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import OAuth2Client

TOKEN = "/api/v1/auth/token"
FORM = "application/x-www-form-urlencoded"
#: RFC 6749 §5.2: error_description is %x20-21 / %x23-5B / %x5D-7E
DESCRIPTION = re.compile(r"[\x20\x21\x23-\x5b\x5d-\x7e]*")
#: RFC 6750 §3: the challenge's auth-params
CHALLENGE = re.compile(r'Bearer realm="unioncard"(?:, error="([a-z_]+)"'
                       r'(?:, error_description="([\x20\x21\x23-\x5b\x5d-\x7e]*)")?)?')


def assert_oauth_error(response: Any, status: int, error: str) -> dict[str, Any]:
    """An RFC 6749 §5.2 error that is also an RFC 9457 problem."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = dict(response.get_json())
    assert body["error"] == error
    assert DESCRIPTION.fullmatch(body["error_description"]), body["error_description"]
    assert {"type", "title", "status", "detail", "instance"} <= set(body)
    assert body["status"] == status
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"
    return body


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + b64encode(f"{client_id}:{secret}".encode()).decode()}


# --- RFC 6749 through authlib, over HTTP ---------------------------------------------------

def test_authlib_password_grant_gets_a_scoped_token_never_cached(served) -> None:
    with OAuth2Client() as oauth:
        token = oauth.fetch_token(f"{served['base']}{TOKEN}", grant_type="password",
                                  username="lan.bn", password=PASSWORD)
        me = oauth.get(f"{served['base']}/api/v1/auth/me")
    assert token["token_type"] == "Bearer" and token["expires_in"] == 900
    assert token["scope"] == "officer"
    assert me.json()["role"] == "officer"
    raw = httpx.post(f"{served['base']}{TOKEN}", data={
        "grant_type": "password", "username": "lan.bn", "password": PASSWORD})
    assert raw.headers["Cache-Control"] == "no-store" and raw.headers["Pragma"] == "no-cache"


def test_authlib_reads_a_wrong_password_as_invalid_grant(served) -> None:
    with OAuth2Client() as oauth, pytest.raises(OAuthError) as refused:
        oauth.fetch_token(f"{served['base']}{TOKEN}", grant_type="password",
                          username="lan.bn", password="not the password")
    assert refused.value.error == "invalid_grant"
    assert refused.value.description
    raw = httpx.post(f"{served['base']}{TOKEN}", data={
        "grant_type": "password", "username": "lan.bn", "password": "not the password"})
    assert raw.status_code == 400 and raw.headers["Content-Type"] == "application/json"


def test_authlib_may_ask_for_its_own_scope_but_no_other(served) -> None:
    with OAuth2Client(scope="officer") as oauth:
        token = oauth.fetch_token(f"{served['base']}{TOKEN}", grant_type="password",
                                  username="lan.bn", password=PASSWORD)
    assert token["scope"] == "officer"
    with OAuth2Client(scope="admin") as oauth, pytest.raises(OAuthError) as refused:
        oauth.fetch_token(f"{served['base']}{TOKEN}", grant_type="password",
                          username="lan.bn", password=PASSWORD)
    assert refused.value.error == "invalid_scope"
    client_id, secret = served["clinic"]
    with OAuth2Client(client_id, secret, scope="clinic health-feed") as oauth, \
            pytest.raises(OAuthError) as refused:
        oauth.fetch_token(f"{served['base']}{TOKEN}", grant_type="client_credentials")
    assert refused.value.error == "invalid_scope"
    with OAuth2Client(client_id, secret, scope="clinic") as oauth:
        token = oauth.fetch_token(f"{served['base']}{TOKEN}", grant_type="client_credentials")
    assert token["scope"] == "clinic"


def test_authlib_reads_an_unknown_grant_type_as_unsupported(served) -> None:
    with OAuth2Client() as oauth, pytest.raises(OAuthError) as refused:
        oauth.fetch_token(f"{served['base']}{TOKEN}", grant_type="urn:example:magic",
                          username="lan.bn", password=PASSWORD)
    assert refused.value.error == "unsupported_grant_type"


# --- RFC 6749 §3.2, §5.2 on raw requests ------------------------------------------------------

def test_a_form_without_grant_type_is_invalid_request(client: FlaskClient, factory) -> None:
    """Regression: a form without ``grant_type`` was taken as the password grant."""
    factory.user("admin", username="form.admin")
    response = client.post(TOKEN, data={"username": "form.admin", "password": PASSWORD})
    assert "grant_type" in assert_oauth_error(response, 400, "invalid_request")["detail"]


@pytest.mark.parametrize("repeated", ["grant_type", "username", "scope"])
def test_a_repeated_parameter_is_invalid_request(client: FlaskClient, factory,
                                                 repeated: str) -> None:
    """Regression: ``grant_type=password&grant_type=client_credentials`` was the first."""
    factory.user("admin", username="form.admin")
    fields = [("grant_type", "password"), ("username", "form.admin"), ("password", PASSWORD),
              ("scope", "admin")]
    fields.append((repeated, dict(fields)[repeated]))
    response = client.post(TOKEN, data="&".join(f"{k}={v.replace(' ', '+')}" for k, v in fields),
                           content_type=FORM)
    body = assert_oauth_error(response, 400, "invalid_request")
    assert repeated in body["detail"]


def test_a_failed_password_grant_is_invalid_grant_400(client: FlaskClient, factory) -> None:
    """Regression: a wrong password was a 401 problem+json (RFC 6749 §5.2: 400 invalid_grant),
    with a bearer challenge."""
    factory.user("admin", username="form.admin")
    for body in ({"grant_type": "password", "username": "form.admin", "password": "wrong"},
                 {"grant_type": "password", "username": "nobody", "password": "wrong"}):
        response = client.post(TOKEN, data=body)
        problem = assert_oauth_error(response, 400, "invalid_grant")
        assert problem["type"] == "/problems/invalid-grant"
        assert "WWW-Authenticate" not in response.headers
    as_json = client.post(TOKEN, json={"username": "form.admin", "password": "wrong"})
    assert_oauth_error(as_json, 400, "invalid_grant")


def test_a_missing_password_is_invalid_request_naming_the_field(client: FlaskClient) -> None:
    response = client.post(TOKEN, data={"grant_type": "password", "username": "someone"})
    body = assert_oauth_error(response, 400, "invalid_request")
    assert [e["field"] for e in body["errors"]] == ["password"]


def test_a_scope_beyond_the_accounts_is_invalid_scope(client: FlaskClient, factory) -> None:
    factory.user("officer", "24", username="scoped.officer")
    login = {"grant_type": "password", "username": "scoped.officer", "password": PASSWORD}
    assert_oauth_error(client.post(TOKEN, data={**login, "scope": "admin"}), 400, "invalid_scope")
    assert_oauth_error(client.post(TOKEN, data={**login, "scope": "officer  admin"}), 400,
                       "invalid_scope")  # two spaces: not a scope (RFC 6749 §3.3)
    granted = client.post(TOKEN, data={**login, "scope": "officer"})
    assert granted.status_code == 200 and granted.get_json()["scope"] == "officer"


def test_every_successful_answer_has_scope_and_is_never_cached(client: FlaskClient, factory,
                                                               yen) -> None:
    """Regression: a member's token answer had no Cache-Control, and no answer had a scope."""
    factory.user("admin", username="form.admin")
    staff = client.post(TOKEN, json={"username": "form.admin", "password": PASSWORD})
    assert activate(client, yen["member"], yen["code"]).status_code == 200
    as_member = client.post(TOKEN, data={"grant_type": "password", "password": MEMBER_PASSWORD,
                                         "member_number": yen["member"].member_number})
    for response, scope in ((staff, "admin"), (as_member, "member")):
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
        assert body["scope"] == scope and body["token_type"] == "Bearer"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Pragma"] == "no-cache"


def test_invalid_client_is_401_with_a_basic_challenge(client: FlaskClient) -> None:
    response = client.post(TOKEN, data={"grant_type": "client_credentials"},
                           headers=_basic("feed-000000", "nope"))
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


def test_edge_refusals_of_the_token_endpoint_are_oauth_errors(client: FlaskClient) -> None:
    """A body the edge refuses (type, syntax) is also an RFC 6749 error."""
    assert_oauth_error(client.post(TOKEN, data="x", content_type="text/plain"), 415,
                       "invalid_request")
    assert_oauth_error(client.post(TOKEN, data="{", content_type="application/json"), 400,
                       "invalid_request")


# --- RFC 6750 §3.1 ----------------------------------------------------------------------------

def _challenge(response: Any) -> tuple[str | None, str | None]:
    match = CHALLENGE.fullmatch(response.headers["WWW-Authenticate"])
    assert match, response.headers["WWW-Authenticate"]
    return match[1], match[2]


def test_a_missing_token_is_challenged_without_an_error_code(client: FlaskClient) -> None:
    response = client.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert _challenge(response) == (None, None)
    assert "error" not in response.get_json()


@pytest.mark.parametrize("kind", ["garbage", "expired", "revoked"])
def test_a_bad_token_is_challenged_with_invalid_token(client: FlaskClient, factory, app,
                                                      session, kind: str) -> None:
    """Regression: a bad, expired or revoked token's 401 said only ``Bearer realm=...``."""
    user = factory.user("admin")
    token = {"garbage": "not.a.token",
             "expired": TokenService(app.config["SECRET_KEY"], issuer=app.config["TOKEN_ISSUER"],
                                     ttl_seconds=60, clock=lambda: 1_000_000_000.0).issue(
                 Principal(kind="user", id=user.id, role="admin")).access_token,
             "revoked": factory.headers(user)["Authorization"].split(" ", 1)[1]}[kind]
    if kind == "revoked":
        user.is_active = False
        session.commit()
    response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    error, description = _challenge(response)
    assert error == "invalid_token" and description
    assert response.get_json()["error"] == "invalid_token"


def test_a_role_without_the_right_is_challenged_with_insufficient_scope(
        client: FlaskClient, factory) -> None:
    officer = factory.user("officer", "24")
    response = client.post("/api/v1/users", json={"username": "newbie", "password": "x" * 12,
                                                  "role": "admin"},
                           headers=factory.headers(officer))
    assert response.status_code == 403
    assert _challenge(response)[0] == "insufficient_scope"
    assert response.get_json()["error"] == "insufficient_scope"


# --- a second independent client: requests-oauthlib (oauthlib's RFC 6749 parser) ------------

@pytest.fixture
def oauthlib_over_http(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the test server is plain HTTP


def test_requests_oauthlib_gets_tokens_by_both_grants(served, oauthlib_over_http) -> None:
    from oauthlib.oauth2 import BackendApplicationClient, LegacyApplicationClient
    from requests_oauthlib import OAuth2Session

    url = f"{served['base']}{TOKEN}"
    with OAuth2Session(client=LegacyApplicationClient(client_id="portal")) as session:
        token = session.fetch_token(url, username="lan.bn", password=PASSWORD,
                                    include_client_id=True)
        assert token["scope"] == ["officer"] and token["token_type"] == "Bearer"
        assert session.get(f"{served['base']}/api/v1/auth/me").json()["role"] == "officer"
    client_id, secret = served["clinic"]
    with OAuth2Session(client=BackendApplicationClient(client_id=client_id),
                       scope=["clinic"]) as session:
        token = session.fetch_token(url, client_id=client_id, client_secret=secret)
        assert token["scope"] == ["clinic"] and token["expires_in"] == 900


def test_requests_oauthlib_reads_the_errors_by_their_rfc_codes(served,
                                                               oauthlib_over_http) -> None:
    from oauthlib.oauth2 import (
        BackendApplicationClient,
        InvalidClientError,
        InvalidGrantError,
        InvalidScopeError,
        LegacyApplicationClient,
    )
    from requests_oauthlib import OAuth2Session

    url = f"{served['base']}{TOKEN}"
    with OAuth2Session(client=LegacyApplicationClient(client_id="portal")) as session, \
            pytest.raises(InvalidGrantError):
        session.fetch_token(url, username="lan.bn", password="not the password")
    with OAuth2Session(client=LegacyApplicationClient(client_id="portal"),
                       scope=["admin"]) as session, pytest.raises(InvalidScopeError):
        session.fetch_token(url, username="lan.bn", password=PASSWORD, scope=["admin"])
    client_id, _ = served["feed"]
    with OAuth2Session(client=BackendApplicationClient(client_id=client_id)) as session, \
            pytest.raises(InvalidClientError):
        session.fetch_token(url, client_id=client_id, client_secret="not-the-secret")
