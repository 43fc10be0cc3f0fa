"""An independent OAuth 2 client (authlib, over HTTP against a running server) gets tokens by
the client credentials grant for clinic and health-feed clients, and reads the token
endpoint's errors as OAuth 2 errors."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from authlib.deprecate import AuthlibDeprecationWarning
from authlib.integrations.base_client import OAuthError

with warnings.catch_warnings():
    # newer authlib releases prefer the httpx2 package and warn when they fall back to httpx
    # (the service's own HTTP client library); the fallback is what this test wants
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import OAuth2Client

from tests.conftest import config_cipher, served_over_http


@pytest.fixture
def served(committed_office: Any) -> Iterator[dict[str, Any]]:
    """The app on its own committed database, served over HTTP on a free local port, with a
    clinic client and a feed client."""
    from app.extensions import db
    from app.services.access.scope import Scope
    from app.services.access.tokens import Principal
    from app.services.clinics.clients import ClinicClients
    from app.services.clinics.register import ClinicRegister
    from app.services.health.feeds import FeedClients

    application = committed_office("oauth")
    session = db.new_session(application)
    clinic = ClinicRegister(session, Scope(Principal("user", 0, "admin")), actor="test").create(
        {"facility_code": "27015", "name": "Phòng khám đa khoa KCN Quế Võ",
         "province_code": "24", "facility_type": "industrial-park-clinic"})
    clinic_creds = ClinicClients(session, config_cipher(), actor="test").create(clinic)
    feed_creds = FeedClients(session, config_cipher(), actor="test").create("Sở Y tế", ["24"])
    logins = {"clinic": (clinic_creds.client.client_id, clinic_creds.client_secret),
              "feed": (feed_creds.feed.client_id, feed_creds.client_secret),
              "feed_id": feed_creds.feed.id}
    session.commit()
    session.close()
    with served_over_http(application) as base:
        yield {"app": application, "base": base, **logins}


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_a_clinic_client_gets_and_uses_a_token_with_authlib(served, method) -> None:
    client_id, secret = served["clinic"]
    with OAuth2Client(client_id, secret, token_endpoint_auth_method=method) as oauth:
        token = oauth.fetch_token(f"{served['base']}/api/v1/auth/token",
                                  grant_type="client_credentials")
        assert token["token_type"] == "Bearer" and token["expires_in"] == 900
        assert token["expires_at"] > 0  # authlib read the lifetime
        me = oauth.get(f"{served['base']}/api/v1/clinics/me")  # authlib sends the bearer
    assert me.status_code == 200 and me.json()["facility_code"] == "27015"


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_a_feed_client_gets_and_uses_a_token_with_authlib(served, method) -> None:
    client_id, secret = served["feed"]
    with OAuth2Client(client_id, secret, token_endpoint_auth_method=method) as oauth:
        oauth.fetch_token(f"{served['base']}/api/v1/auth/token",
                          grant_type="client_credentials")
        me = oauth.get(f"{served['base']}/api/v1/auth/me")
    assert me.json()["subject"] == f"feed:{served['feed_id']}"


@pytest.mark.parametrize("which", ["clinic", "feed"])
def test_authlib_reads_a_wrong_secret_as_invalid_client(served, which) -> None:
    client_id, _ = served[which]
    with OAuth2Client(client_id, "not-the-secret") as oauth, \
            pytest.raises(OAuthError) as refused:
        oauth.fetch_token(f"{served['base']}/api/v1/auth/token",
                          grant_type="client_credentials")
    assert refused.value.error == "invalid_client"


def test_authlib_reads_a_suspended_clinic_as_unauthorized_client(served) -> None:
    from app.extensions import db
    from app.services.access.scope import Scope
    from app.services.access.tokens import Principal
    from app.services.clinics.register import ClinicRegister

    session = db.new_session(served["app"])
    ClinicRegister(session, Scope(Principal("user", 0, "admin")), actor="test") \
        .change_accreditation("27015", "suspend")
    session.commit()
    session.close()
    with OAuth2Client(*served["clinic"]) as oauth, pytest.raises(OAuthError) as refused:
        oauth.fetch_token(f"{served['base']}/api/v1/auth/token",
                          grant_type="client_credentials")
    assert refused.value.error == "unauthorized_client"
