"""Administrators manage clinics, their API clients and scanner devices through the API
(audited); officers read their province's clinics; bad input is a specific problem."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.models import AuditEntry, ClinicClient
from app.services.clinics.devices import active_device
from tests.app.test_health_feeds import TOKEN_URL, assert_oauth_error, basic
from tests.app.test_member_accounts import activate, member_headers, yen  # noqa: F401

URL = "/api/v1/clinics"
QUEVO = {"facility_code": "27101", "name": "Phòng khám đa khoa KCN Quế Võ",
         "province_code": "24", "facility_type": "industrial-park-clinic",
         "address": "KCN Quế Võ, Bắc Ninh"}


@pytest.fixture
def admin(factory) -> dict[str, str]:
    return dict(factory.headers(factory.user("admin")))


def problem(response: Any, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    body = dict(response.get_json())
    assert body["type"] == f"/problems/{slug}", body
    return body


def create(client: FlaskClient, admin: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = client.post(URL, headers=admin, json={**QUEVO, **fields})
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def test_an_administrator_creates_reads_lists_and_changes_a_clinic(client, admin,
                                                                   session) -> None:
    made = create(client, admin, name="  Phòng khám   đa khoa KCN Quế Võ ")
    assert made["name"] == "Phòng khám đa khoa KCN Quế Võ"  # spaces collapsed
    assert (made["accreditation"], made["facility_code"]) == ("accredited", "27101")
    assert client.get(f"{URL}/27101", headers=admin).get_json() == made
    changed = client.patch(f"{URL}/27101", headers=admin,
                           json={"name": "Phòng khám Quế Võ 2", "facility_type": "private-clinic"})
    assert changed.status_code == 200
    assert (changed.get_json()["name"], changed.get_json()["facility_type"]) == (
        "Phòng khám Quế Võ 2", "private-clinic")
    actions = list(session.scalars(select(AuditEntry.action).where(
        AuditEntry.object_type == "clinic").order_by(AuditEntry.id)))
    assert actions == ["clinic.create", "clinic.update"]


def test_the_list_filters_by_province_type_accreditation_and_name(client, admin) -> None:
    create(client, admin)
    create(client, admin, facility_code="79201", name="Bệnh viện Quận 7", province_code="79",
           facility_type="district-hospital")
    create(client, admin, facility_code="79202", name="Trạm y tế phường Tân Thuận",
           province_code="79", facility_type="commune-health-station")
    client.post(f"{URL}/79202/suspend", headers=admin, json={"reason": "inspection"})

    def codes(**query: Any) -> list[str]:
        response = client.get(URL, headers=admin, query_string=query)
        assert response.status_code == 200, response.get_json()
        return [c["facility_code"] for c in response.get_json()["items"]]

    assert codes() == ["27101", "79201", "79202"]
    assert codes(province_code="79") == ["79201", "79202"]
    assert codes(facility_type="district-hospital") == ["79201"]
    assert codes(accreditation="suspended") == ["79202"]
    assert codes(q="tan thuan") == codes(q="Tân Thuận") == ["79202"]
    assert codes(q="792") == ["79201", "79202"]
    assert codes(q="100%") == []
    page = client.get(URL, headers=admin, query_string={"per_page": 2, "page": 2}).get_json()
    assert (page["total"], [c["facility_code"] for c in page["items"]]) == (3, ["79202"])
    problem(client.get(URL, headers=admin, query_string={"facility_type": "spa"}), 422,
            "clinic-invalid")
    problem(client.get(URL, headers=admin, query_string={"accreditation": "maybe"}), 422,
            "clinic-invalid")


@pytest.mark.parametrize("fields, field", [
    ({"facility_code": "2710"}, "facility_code"),
    ({"facility_code": "271011"}, "facility_code"),
    ({"facility_code": "27a01"}, "facility_code"),
    ({"facility_code": "２７１０１"}, "facility_code"),
    ({"province_code": "99"}, "province_code"),
    ({"province_code": "xx"}, "province_code"),
    ({"facility_type": "spa"}, "facility_type"),
    ({"name": "   "}, "name"),
    ({"name": "=HYPERLINK(1)"}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"address": "a\x07b"}, "address"),
])
def test_bad_clinic_data_is_a_specific_problem_naming_the_field(client, admin, session,
                                                                 fields, field) -> None:
    body = problem(client.post(URL, headers=admin, json={**QUEVO, **fields}), 422,
                   "clinic-invalid")
    assert body["errors"][0]["field"] == field
    assert client.get(URL, headers=admin).get_json()["total"] == 0  # nothing half-written


def test_a_facility_code_is_unique(client, admin) -> None:
    create(client, admin)
    body = problem(client.post(URL, headers=admin, json={**QUEVO, "name": "Khác"}), 409,
                   "facility-code-taken")
    assert body["facility_code"] == "27101"


def test_an_update_is_checked_like_a_creation(client, admin) -> None:
    create(client, admin)
    body = problem(client.patch(f"{URL}/27101", headers=admin, json={"province_code": "00"}),
                   422, "clinic-invalid")
    assert body["errors"][0]["field"] == "province_code"
    assert client.get(f"{URL}/27101", headers=admin).get_json()["province_code"] == "24"
    problem(client.patch(f"{URL}/27999", headers=admin, json={"name": "x"}), 404, "not-found")


def test_accreditation_moves_only_along_its_transitions(client, admin, session) -> None:
    create(client, admin)
    suspended = client.post(f"{URL}/27101/suspend", headers=admin,
                            json={"reason": "Hết hạn giấy phép"})
    assert suspended.status_code == 200
    assert (suspended.get_json()["accreditation"], suspended.get_json()["accreditation_reason"]) \
        == ("suspended", "Hết hạn giấy phép")
    body = problem(client.post(f"{URL}/27101/suspend", headers=admin, json={}), 409,
                   "accreditation-unchanged")
    assert body["accreditation"] == "suspended"
    assert client.post(f"{URL}/27101/reinstate", headers=admin, json={}).status_code == 200
    problem(client.post(f"{URL}/27101/reinstate", headers=admin, json={}), 409,
            "accreditation-unchanged")
    assert client.post(f"{URL}/27101/withdraw", headers=admin,
                       json={"reason": "closed"}).get_json()["accreditation"] == "withdrawn"
    for action in ("suspend", "reinstate", "withdraw"):
        problem(client.post(f"{URL}/27101/{action}", headers=admin, json={}), 409,
                "accreditation-unchanged")
    problem(client.post(f"{URL}/27101/clients", headers=admin, json={}), 403,
            "clinic-not-accredited")
    entries = session.scalars(select(AuditEntry).where(
        AuditEntry.object_type == "clinic", AuditEntry.action != "clinic.create")
        .order_by(AuditEntry.id)).all()
    assert [(e.action, e.reason) for e in entries] == [
        ("clinic.suspend", "Hết hạn giấy phép"), ("clinic.reinstate", ""),
        ("clinic.withdraw", "closed")]


def test_officers_read_their_provinces_clinics_only_and_manage_nothing(client, admin,
                                                                       factory) -> None:
    create(client, admin)
    create(client, admin, facility_code="79201", name="Bệnh viện Quận 7", province_code="79",
           facility_type="district-hospital")
    officer = factory.headers(factory.user("officer", "24"))
    listed = client.get(URL, headers=officer).get_json()
    assert [c["facility_code"] for c in listed["items"]] == ["27101"]
    assert client.get(URL, headers=officer, query_string={"province_code": "79"}).get_json()[
        "total"] == 0
    assert client.get(f"{URL}/27101", headers=officer).status_code == 200
    problem(client.get(f"{URL}/79201", headers=officer), 404, "not-found")
    problem(client.post(URL, headers=officer, json={**QUEVO, "facility_code": "27102"}), 403,
            "forbidden")
    problem(client.patch(f"{URL}/27101", headers=officer, json={"name": "x"}), 403, "forbidden")
    problem(client.post(f"{URL}/27101/suspend", headers=officer, json={}), 403, "forbidden")
    problem(client.post(f"{URL}/27101/clients", headers=officer, json={}), 403, "forbidden")
    problem(client.get(f"{URL}/27101/clients", headers=officer), 403, "forbidden")
    problem(client.post(f"{URL}/27101/devices", headers=officer, json={}), 403, "forbidden")
    problem(client.get(URL), 401, "unauthorized")


def test_api_clients_are_created_listed_rotated_and_disabled(client, admin, session) -> None:
    create(client, admin)
    made = client.post(f"{URL}/27101/clients", headers=admin, json={"label": "Lễ tân"})
    assert made.status_code == 201, made.get_json()
    creds = made.get_json()
    assert creds["client_id"].startswith("clinic-27101-") and len(creds["client_secret"]) >= 40
    assert (creds["token_url"], creds["status"], creds["label"]) == (
        "/api/v1/auth/token", "active", "Lễ tân")
    stored = session.scalar(select(ClinicClient).where(
        ClinicClient.client_id == creds["client_id"]))
    assert creds["client_secret"] not in stored.secret_hash
    listed = client.get(f"{URL}/27101/clients", headers=admin).get_json()
    assert [c["client_id"] for c in listed] == [creds["client_id"]]
    assert "client_secret" not in listed[0] and "secret_hash" not in listed[0]

    token = client.post(TOKEN_URL, data={"grant_type": "client_credentials"},
                        headers=basic(creds["client_id"], creds["client_secret"]))
    bearer = {"Authorization": f"Bearer {token.get_json()['access_token']}"}
    rotated = client.post(f"{URL}/27101/clients/{creds['client_id']}/rotate-secret",
                          headers=admin)
    assert rotated.status_code == 200 and rotated.get_json()["rotated_at"]
    new_secret = rotated.get_json()["client_secret"]
    assert new_secret != creds["client_secret"]
    assert client.get(f"{URL}/me", headers=bearer).status_code == 401
    assert client.post(TOKEN_URL, data={"grant_type": "client_credentials"},
                       headers=basic(creds["client_id"], creds["client_secret"])
                       ).status_code == 401
    assert client.post(TOKEN_URL, data={"grant_type": "client_credentials"},
                       headers=basic(creds["client_id"], new_secret)).status_code == 200

    disabled = client.post(f"{URL}/27101/clients/{creds['client_id']}/disable", headers=admin)
    assert disabled.status_code == 200 and disabled.get_json()["status"] == "disabled"
    problem(client.post(f"{URL}/27101/clients/{creds['client_id']}/disable", headers=admin),
            409, "already-disabled")
    problem(client.post(f"{URL}/27101/clients/{creds['client_id']}/rotate-secret",
                        headers=admin), 409, "already-disabled")
    assert_oauth_error(client.post(TOKEN_URL, data={"grant_type": "client_credentials"},
                                   headers=basic(creds["client_id"], new_secret)),
                       401, "invalid-client", "invalid_client")
    audit = session.scalars(select(AuditEntry).where(
        AuditEntry.object_type == "clinic-client").order_by(AuditEntry.id)).all()
    assert [a.action for a in audit] == ["clinic-client.create", "clinic-client.rotate-secret",
                                         "clinic-client.disable"]
    assert not any(s in str(a.details) for a in audit
                   for s in (creds["client_secret"], new_secret))


def test_a_client_is_reached_only_through_its_own_clinic(client, admin) -> None:
    create(client, admin)
    create(client, admin, facility_code="27102", name="Phòng khám Yên Phong")
    creds = client.post(f"{URL}/27101/clients", headers=admin, json={}).get_json()
    problem(client.post(f"{URL}/27102/clients/{creds['client_id']}/disable", headers=admin),
            404, "not-found")
    problem(client.post(f"{URL}/27101/clients/clinic-27101-nope/disable", headers=admin),
            404, "not-found")
    problem(client.get(f"{URL}/27999/clients", headers=admin), 404, "not-found")


def test_scanner_devices_are_registered_listed_and_disabled(client, admin, session) -> None:
    clinic = create(client, admin)
    named = client.post(f"{URL}/27101/devices", headers=admin,
                        json={"device_id": "QV-DESK-01", "label": "Quầy tiếp đón"})
    assert named.status_code == 201, named.get_json()
    assert (named.get_json()["device_id"], named.get_json()["status"]) == ("QV-DESK-01",
                                                                           "active")
    unnamed = client.post(f"{URL}/27101/devices", headers=admin, json={}).get_json()
    assert unnamed["device_id"].startswith("scanner-")
    problem(client.post(f"{URL}/27101/devices", headers=admin, json={"device_id": "QV-DESK-01"}),
            409, "device-id-taken")
    body = problem(client.post(f"{URL}/27101/devices", headers=admin,
                               json={"device_id": "bad id/1"}), 422, "clinic-invalid")
    assert body["errors"][0]["field"] == "device_id"
    listed = client.get(f"{URL}/27101/devices", headers=admin).get_json()
    assert [d["device_id"] for d in listed] == ["QV-DESK-01", unnamed["device_id"]]
    from app.models import Clinic

    clinic_id = session.scalar(select(Clinic.id).where(
        Clinic.facility_code == clinic["facility_code"]))
    assert active_device(session, clinic_id, "QV-DESK-01") is not None
    disabled = client.post(f"{URL}/27101/devices/QV-DESK-01/disable", headers=admin)
    assert disabled.status_code == 200 and disabled.get_json()["status"] == "disabled"
    assert active_device(session, clinic_id, "QV-DESK-01") is None
    assert active_device(session, clinic_id, "no such/device") is None
    problem(client.post(f"{URL}/27101/devices/QV-DESK-01/disable", headers=admin), 409,
            "already-disabled")
    problem(client.post(f"{URL}/27101/devices/QV-DESK-99/disable", headers=admin), 404,
            "not-found")


def test_a_consent_to_one_facility_needs_an_existing_clinic(
        client, admin, yen: dict[str, Any]) -> None:  # noqa: F811
    from datetime import timedelta

    from app.clock import now as utc_now
    from app.services.health.consent_notices import CURRENT_NOTICE

    assert activate(client, yen["member"], yen["code"]).status_code == 200
    member = member_headers(client, yen["member"])

    def grant(code: str) -> Any:
        return client.post("/api/v1/me/consents", headers=member, json={
            "scope": "allergies", "grantee": {"kind": "facility", "facility_code": code},
            "purpose": "treatment", "ends": (utc_now() + timedelta(days=90)).isoformat(),
            "notice": {"version": CURRENT_NOTICE, "language": "vi"}})

    body = problem(grant("27101"), 422, "consent-grantee-unknown")
    assert body["errors"][0]["field"] == "grantee.facility_code"
    create(client, admin)
    assert grant("27101").status_code == 201
    client.post(f"{URL}/27101/withdraw", headers=admin, json={})
    problem(grant("27101"), 422, "consent-grantee-unknown")
