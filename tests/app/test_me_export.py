"""The member's right of access (GET /api/v1/me/export): everything held, as JSON and as a FHIR
R4 collection Bundle validated by fhir.resources."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.composition import cipher_for_config
from app.services.health.consent_notices import CURRENT_NOTICE
from app.services.health.fhir_in import parse_bundle
from app.services.health.store import HealthStore
from app.services.registry.members import PERSONAL_ID_CONTEXT
from tests.app.fhir_fixtures import raw
from tests.app.test_member_accounts import PASSWORD, activate, login, member_headers, yen  # noqa: F401

URL = "/api/v1/me/export"
FHIR = {"Accept": "application/fhir+json"}
HEALTH_ID = "7412345678"
NOTICE = {"version": CURRENT_NOTICE, "language": "vi"}


@pytest.fixture
def member(app: Flask, session: Session, client: FlaskClient,
           yen: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    """Yến, activated and logged in once with a wrong password first, her record linked and
    stored, one consent granted then renewed."""
    m = yen["member"]
    cipher = cipher_for_config(app.config)
    store = HealthStore(session, cipher, actor="test")
    from app.services.access.scope import Scope
    from app.services.access.tokens import Principal
    from app.services.registry.members import MemberRegistry

    MemberRegistry(session, cipher, actor="test").update(
        Scope(Principal("user", 0, "admin")), m.id, {"insurance_number": HEALTH_ID})
    store.link(Scope(Principal("user", 0, "admin")), m.id, HEALTH_ID)
    summary = parse_bundle(raw(HEALTH_ID), health_id=HEALTH_ID, feed="feed-hcm",
                           received_at=utc_now())
    store.save(m.id, summary.to_document(), source="feed:feed-hcm", bundle_id="b-77")
    session.commit()
    assert activate(client, m, yen["code"]).status_code == 200
    assert login(client, "not the password", member_number=m.member_number).status_code == 400  # invalid_grant
    headers = member_headers(client, m)
    ends = (utc_now() + timedelta(days=90)).isoformat()
    granted = client.post("/api/v1/me/consents", headers=headers, json={
        "scope": "allergies", "grantee": {"kind": "all-accredited"}, "purpose": "treatment",
        "ends": ends, "notice": NOTICE})
    assert granted.status_code == 201, granted.get_json()
    renewed = client.post(f"/api/v1/me/consents/{granted.get_json()['consent_id']}/renew",
                          headers=headers, json={"notice": NOTICE, "ends": (
                              utc_now() + timedelta(days=120)).isoformat()})
    assert renewed.status_code == 200, renewed.get_json()
    personal_id = cipher.decrypt(m.personal_id_encrypted, PERSONAL_ID_CONTEXT,
                                 m.personal_id_hash)
    return {**yen, "headers": headers, "personal_id": personal_id}


def test_the_json_export_holds_every_section(client: FlaskClient,
                                             member: dict[str, Any]) -> None:
    response = client.get(URL, headers=member["headers"])
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/json"
    assert "no-store" in response.headers["Cache-Control"]
    body = response.get_json()
    assert list(body)[2:] == ["profile", "union", "cards", "account", "health", "consents",
                              "access_log", "notifications"]
    profile = body["profile"]
    assert profile["personal_id"] == member["personal_id"]  # in full: it is hers
    assert profile["insurance_number"] == HEALTH_ID
    assert profile["full_name"] == "Nguyễn Thị Kim Yến"
    assert body["union"]["code"] == member["union"].code
    assert body["union"]["name"] == "CĐCS Công ty TNHH Điện tử Quế Võ"
    card = body["cards"][0]
    assert (card["serial"], card["status"]) == (member["card"].serial, "active")
    assert card["activation_code_used_at"] is not None
    account = body["account"]
    assert account["activated_at"] and account["last_login_at"]
    assert account["password"]["failures_in_a_row"] == 0  # reset by the good login
    assert not any("hash" in key for key in account)
    assert "$argon2" not in response.get_data(as_text=True)
    health = body["health"]
    assert health["link"]["health_id"] == HEALTH_ID
    assert (health["record"]["source"], health["record"]["bundle_id"]) == ("feed:feed-hcm",
                                                                           "b-77")
    allergies = health["summary"]["sections"]["allergies"]
    assert allergies and all(a["provenance"]["feed"] == "feed-hcm" for a in allergies)
    [consent] = body["consents"]
    assert consent["status"] == "active"
    assert [v["action"] for v in consent["versions"]] == ["grant", "renew"]
    assert all(v["evidence"]["notice_version"] == CURRENT_NOTICE
               and len(v["evidence"]["notice_sha256"]) == 64 for v in consent["versions"])


def test_the_fhir_export_is_a_valid_collection_bundle(client: FlaskClient,
                                                      member: dict[str, Any]) -> None:
    response = client.get(URL, headers={**member["headers"], **FHIR})
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    assert "no-store" in response.headers["Cache-Control"]
    bundle = Bundle.model_validate_json(response.data)
    assert bundle.type == "collection"
    kinds = [e.resource.__resource_type__ for e in bundle.entry]
    assert {"Patient", "Organization", "AllergyIntolerance", "Condition", "Observation",
            "Provenance", "Consent"} <= set(kinds)
    assert kinds.count("Consent") == 2  # every version
    register = bundle.entry[0].resource
    assert {i.value for i in register.identifier} >= {member["member"].member_number,
                                                      member["personal_id"], HEALTH_ID}
    urls = [e.fullUrl for e in bundle.entry]
    assert len(urls) == len(set(urls))


def test_a_member_without_record_or_consents_still_gets_an_export(
        client: FlaskClient, yen: dict[str, Any]) -> None:  # noqa: F811
    assert activate(client, yen["member"], yen["code"]).status_code == 200
    headers = member_headers(client, yen["member"])
    body = client.get(URL, headers=headers).get_json()
    assert body["health"] == {"link": None, "record": None, "summary": None}
    assert body["consents"] == []
    assert body["profile"]["insurance_number"] is None
    bundle = Bundle.model_validate_json(client.get(URL, headers={**headers, **FHIR}).data)
    assert [e.resource.__resource_type__ for e in bundle.entry] == ["Patient", "Organization"]


def test_exports_are_rate_limited_per_member(app: Flask, client: FlaskClient,
                                             member: dict[str, Any],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "EXPORT_RATE_LIMIT", "2 per hour")
    headers = member["headers"]
    assert [client.get(URL, headers=headers).status_code for _ in range(3)] == [200, 200, 429]
    again = client.get(URL, headers={**headers, **FHIR})
    assert again.status_code == 429 and again.mimetype == "application/problem+json"


def test_staff_and_strangers_are_refused(client: FlaskClient, factory: Any) -> None:
    staff = factory.headers(factory.user("officer", "24"))
    assert client.get(URL, headers=staff).status_code == 403
    assert client.get(URL).status_code == 401


def test_the_export_holds_the_access_log_and_the_notification_address(
        app: Flask, session: Session, client: FlaskClient, member: dict[str, Any]) -> None:
    from app.services.access_events.addresses import NotificationAddresses
    from app.services.access_events.log import AccessLog, AccessRecord
    from app.services.access_events.outbox import notify_emergency

    m, cipher = member["member"], cipher_for_config(app.config)
    log = AccessLog(session, cipher)
    log.record(AccessRecord(kind="verify", member_id=m.id, province_code=m.province_code,
                            card_serial=member["card"].serial, clinic_code="27001",
                            clinic_name="Phòng khám KCN Quế Võ", client_id="clinic-27001-a",
                            purpose="treatment", outcome="valid"))
    event = log.record(AccessRecord(
        kind="emergency", member_id=m.id, province_code=m.province_code,
        card_serial=member["card"].serial, clinic_code="27001", clinic_name="Phòng khám KCN Quế Võ",
        client_id="clinic-27001-a", purpose="treatment", released=("emergency-core",),
        outcome="released", emergency_reason="unconscious", emergency_text="Ngất tại xưởng"))
    NotificationAddresses(session, cipher).set(m.id, "yen@example.vn")
    notify_emergency(session, event)
    session.commit()

    body = client.get(URL, headers=member["headers"]).get_json()
    kinds = [(e["kind"], e["clinic_name"]) for e in body["access_log"]]
    assert kinds == [("emergency", "Phòng khám KCN Quế Võ"), ("verify", "Phòng khám KCN Quế Võ")]
    assert body["access_log"][0]["emergency_text"] == "Ngất tại xưởng"
    assert body["access_log"][0]["released"] == ["emergency-core"]
    assert body["notifications"]["email"] == "yen@example.vn"
    [message] = body["notifications"]["messages"]
    assert (message["kind"], message["access_event_id"], message["status"]) == (
        "emergency-access", event.id, "pending")
