"""Clinic API clients get tokens by OAuth 2 client credentials (RFC 6749 §4.4) on the token
endpoint; every clinic request re-checks the client and the clinic's accreditation."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from app.services.clinics.clients import ClinicClients
from app.services.clinics.directory import ClinicDirectory, active_clinic, clinic_identity
from app.services.clinics.register import ClinicRegister
from app.services.errors import ClinicClientRevoked, ClinicNotAccredited
from tests.app.test_health_feeds import TOKEN_URL, assert_oauth_error, basic
from tests.conftest import ClinicLogin, config_cipher

ME = "/api/v1/clinics/me"


def clinic_token(client: FlaskClient, login: ClinicLogin) -> dict[str, str]:
    response = client.post(TOKEN_URL, data={"grant_type": "client_credentials"},
                           headers=basic(login.client_id, login.client_secret))
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def register(session: Any) -> ClinicRegister:
    from app.services.access.scope import Scope
    from app.services.access.tokens import Principal

    return ClinicRegister(session, Scope(Principal("user", 0, "admin")), actor="test")


def test_a_clinic_client_gets_a_token_by_basic_or_form_and_is_known(client, clinic,
                                                                     clinic_client) -> None:
    assert clinic_client.client_id.startswith("clinic-27001-")
    response = client.post(TOKEN_URL, data={"grant_type": "client_credentials"},
                           headers=basic(clinic_client.client_id, clinic_client.client_secret))
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    bearer = {"Authorization": f"Bearer {response.get_json()['access_token']}"}
    me = client.get("/api/v1/auth/me", headers=bearer).get_json()
    assert me["subject"] == f"clinic:{clinic_client.client_pk}" and me["role"] == "clinic"
    shown = client.get(ME, headers=bearer)
    assert shown.status_code == 200
    assert shown.get_json() == {
        "client_id": clinic_client.client_id, "facility_code": "27001",
        "name": "Phòng khám đa khoa KCN Quế Võ", "facility_type": "industrial-park-clinic",
        "province_code": "24", "accredited": True}
    form = client.post(TOKEN_URL, data={"grant_type": "client_credentials",
                                        "client_id": clinic_client.client_id,
                                        "client_secret": clinic_client.client_secret})
    assert form.status_code == 200


def test_the_clinic_headers_fixture_is_a_working_token(client, clinic_headers) -> None:
    assert client.get(ME, headers=clinic_headers).get_json()["facility_code"] == "27001"


@pytest.mark.parametrize("which", ["wrong-secret", "unknown-client", "feed-secret"])
def test_wrong_clinic_credentials_are_invalid_client(client, clinic_client, which) -> None:
    client_id, secret = {
        "wrong-secret": (clinic_client.client_id, "not-the-secret"),
        "unknown-client": ("clinic-27001-000000000000", clinic_client.client_secret),
        "feed-secret": ("feed-0000000000000000", clinic_client.client_secret),
    }[which]
    response = client.post(TOKEN_URL, data={"grant_type": "client_credentials"},
                           headers=basic(client_id, secret))
    body = assert_oauth_error(response, 401, "invalid-client", "invalid_client")
    assert clinic_client.client_secret not in str(body)


def test_a_suspended_clinic_gets_no_token_and_its_live_token_stops_at_once(
        client, session, clinic, clinic_client) -> None:
    bearer = clinic_token(client, clinic_client)
    register(session).change_accreditation("27001", "suspend", "inspection pending")
    session.commit()
    refused = client.get(ME, headers=bearer)
    assert refused.status_code == 403
    assert refused.get_json()["type"] == "/problems/clinic-not-accredited"
    assert refused.get_json()["accreditation"] == "suspended"
    token = client.post(TOKEN_URL, data={"grant_type": "client_credentials"},
                        headers=basic(clinic_client.client_id, clinic_client.client_secret))
    assert_oauth_error(token, 400, "clinic-not-accredited", "unauthorized_client")
    register(session).change_accreditation("27001", "reinstate")
    session.commit()
    assert client.get(ME, headers=bearer).status_code == 200


def test_a_disabled_client_gets_no_token_and_its_token_stops(client, session, clinic,
                                                             clinic_client) -> None:
    bearer = clinic_token(client, clinic_client)
    service = ClinicClients(session, config_cipher(), actor="test")
    clinic_row, row = service.find(clinic_client.client_id)
    service.disable(clinic_row, row)
    session.commit()
    refused = client.get(ME, headers=bearer)
    assert refused.status_code == 401
    assert refused.get_json()["type"] == "/problems/clinic-client-revoked"
    assert client.get("/api/v1/auth/me", headers=bearer).status_code == 401
    token = client.post(TOKEN_URL, data={"grant_type": "client_credentials"},
                        headers=basic(clinic_client.client_id, clinic_client.client_secret))
    assert_oauth_error(token, 401, "invalid-client", "invalid_client")


def test_rotation_ends_the_old_secret_and_its_tokens(client, session, clinic,
                                                     clinic_client) -> None:
    bearer = clinic_token(client, clinic_client)
    service = ClinicClients(session, config_cipher(), actor="test")
    made = service.rotate_secret(*service.find(clinic_client.client_id))
    session.commit()
    assert client.get(ME, headers=bearer).status_code == 401
    old = client.post(TOKEN_URL, data={"grant_type": "client_credentials"},
                      headers=basic(clinic_client.client_id, clinic_client.client_secret))
    assert old.status_code == 401
    fresh = clinic_token(client, ClinicLogin(clinic_client.client_id, made.client_secret,
                                             clinic_client.client_pk))
    assert client.get(ME, headers=fresh).status_code == 200


def test_logout_ends_the_clinic_clients_tokens_only(client, factory, clinic_client) -> None:
    bearer = clinic_token(client, clinic_client)
    assert client.post("/api/v1/auth/logout", headers=bearer).status_code == 204
    assert client.get(ME, headers=bearer).status_code == 401
    assert client.get(ME, headers=clinic_token(client, clinic_client)).status_code == 200


def test_a_feed_logout_revokes_the_feed_not_a_user_with_the_same_id(client, factory) -> None:
    """Regression: a feed's (or clinic's) logout used to revoke the tokens of the staff user
    whose id equals the feed's."""
    from tests.app.test_health_feeds import create_feed, feed_token

    feed = create_feed(client, factory)
    user = factory.user("officer")
    staff = factory.headers(user)
    feed_bearer = {"Authorization": f"Bearer {feed_token(client, feed)}"}
    assert client.post("/api/v1/auth/logout", headers=feed_bearer).status_code == 204
    assert client.get("/api/v1/auth/me", headers=feed_bearer).status_code == 401
    assert client.get("/api/v1/auth/me", headers=staff).status_code == 200


def test_clinic_tokens_open_no_staff_or_member_endpoint_and_staff_no_clinic_one(
        client, factory, clinic_headers) -> None:
    assert client.get("/api/v1/members", headers=clinic_headers).status_code == 403
    assert client.get("/api/v1/health-feeds", headers=clinic_headers).status_code == 403
    assert client.get("/api/v1/me", headers=clinic_headers).status_code == 403
    admin = factory.headers(factory.user("admin"))
    refused = client.get(ME, headers=admin)
    assert refused.status_code == 403 and refused.get_json()["type"] == "/problems/forbidden"
    assert client.get(ME).status_code == 401


def test_active_clinic_names_the_reason_it_refuses(session, factory, clinic,
                                                   clinic_client) -> None:
    identity = active_clinic(session, clinic_client.client_id)
    assert identity == active_clinic(session, clinic_client.client_pk)
    assert (identity.clinic_id, identity.client_pk) == (clinic.id, clinic_client.client_pk)
    with pytest.raises(ClinicClientRevoked):
        active_clinic(session, clinic_client.client_pk, token_version=7)
    with pytest.raises(ClinicClientRevoked):
        active_clinic(session, "clinic-00000-nope")
    register(session).change_accreditation("27001", "withdraw", "closed")
    with pytest.raises(ClinicNotAccredited) as refused:
        active_clinic(session, clinic_client.client_id)
    assert refused.value.extra["accreditation"] == "withdrawn"
    # the identity can still be read, for a refusal that names the clinic
    assert clinic_identity(session, clinic_client.client_id).accredited is False


def test_the_directory_knows_clinics_that_are_not_withdrawn(session, factory) -> None:
    factory.clinic("27002")
    factory.clinic("79010", province_code="79", facility_type="district-hospital",
                   name="Bệnh viện quận 7")
    directory = ClinicDirectory(session)
    assert directory.knows("27002") and directory.knows("79010")
    assert not directory.knows("27003")
    register(session).change_accreditation("27002", "suspend")
    assert directory.knows("27002")
    register(session).change_accreditation("27002", "withdraw")
    assert not directory.knows("27002")
