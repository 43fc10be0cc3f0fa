"""GET /api/v1/pull and POST /api/v1/emergency-access: exactly the consented sections, JSON
or FHIR, re-checked at each pull; grants bound to their client; emergency core only."""

# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy import select

from app.clock import now as utc_now
from app.composition import pull_grants_for
from app.models.notification import OutboxMessage
from app.services.health.consent import ConsentService, Evidence, Grantee
from app.services.issuing.card_status import CardLifecycle
from tests.app.clinic_scene import (  # noqa: F401
    EMERGENCY,
    PULL,
    consent,
    events,
    pull,
    scene,
    verify,
    withdraw,
)
from tests.app.test_member_accounts import yen  # noqa: F401


def granted(client, scene: dict[str, Any], **body: Any) -> str:
    answer = verify(client, scene, presence={"pin": scene["pin"]}, **body).get_json()
    assert answer["grant"] is not None, answer
    return str(answer["grant"]["token"])


def test_a_pull_gives_exactly_the_consented_sections(client, session, scene) -> None:
    response = pull(client, scene, granted(client, scene))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["sections"] == ["allergies"] and list(body["document"]["sections"]) == [
        "allergies"]
    assert body["document"]["sections"]["allergies"]
    assert body["card_serial"] == scene["card"].serial and body["sensitive"] is False
    assert response.headers["Cache-Control"] == "no-store"
    kinds = [(e.kind, e.outcome, e.released) for e in events(session,
                                                             member_id=scene["member"].id)]
    assert kinds == [("verify", "valid", ["allergies"]),
                     ("pull", "released", ["allergies"])]


def test_section_by_section_with_grantee_purpose_and_time(client, app, session, factory,
                                                          scene) -> None:
    member = scene["member"]
    consent(app, session, member, "medications", grantee=Grantee.facility("27001"))
    factory.clinic("27002", name="Phòng khám Yên Phong")
    consent(app, session, member, "conditions", grantee=Grantee.facility("27002"))
    consent(app, session, member, "immunizations",
            grantee=Grantee.facility_type("industrial-park-clinic"))
    consent(app, session, member, "vitals-labs", purpose="occupational-health")
    # a consent whose period has not begun releases nothing yet
    ConsentService(session, on_card_changed=lambda _m: None).grant(
        member.id, "occ-exam-summary", Grantee.all_accredited(), "treatment",
        Evidence(method="app", actor="test"), starts_at=utc_now() + timedelta(days=2),
        ends_at=utc_now() + timedelta(days=30))
    session.commit()
    body = pull(client, scene, granted(client, scene)).get_json()
    assert body["sections"] == ["allergies", "medications", "immunizations"]
    assert set(body["document"]["sections"]) == {"allergies", "medications", "immunizations"}
    answer = verify(client, scene).get_json()
    reasons = {s["section"]: s["reason"] for s in answer["sections"]}
    assert reasons["conditions"] == "grantee-not-covered"
    assert reasons["vitals-labs"] == "purpose-not-covered"
    assert reasons["occ-exam-summary"] == "not-yet-valid"
    occupational = pull(client, scene, granted(client, scene, purpose="occupational-health"))
    assert occupational.get_json()["sections"] == ["vitals-labs"]


def test_fhir_output_is_an_ips_bundle_of_the_consented_sections(client, app, session,
                                                               scene) -> None:
    consent(app, session, scene["member"], "conditions")
    response = pull(client, scene, granted(client, scene), fhir=True)
    assert response.status_code == 200 and response.mimetype == "application/fhir+json"
    bundle = Bundle.model_validate_json(response.data)
    assert bundle.type == "document"
    composition = bundle.entry[0].resource
    codes = {c.code for s in composition.section for c in s.code.coding}
    assert {"allergies", "conditions"} <= codes and "medications" not in codes
    assert "F41.1" not in response.get_data(as_text=True)  # sensitive, not consented


def test_sensitive_entries_only_with_their_own_consent(client, app, session, scene) -> None:
    consent(app, session, scene["member"], "conditions")
    without = pull(client, scene, granted(client, scene)).get_data(as_text=True)
    assert "F41.1" not in without
    consent(app, session, scene["member"], "sensitive")
    grant = granted(client, scene)
    assert "F41.1" in pull(client, scene, grant).get_data(as_text=True)
    assert "F41.1" in pull(client, scene, grant, fhir=True).get_data(as_text=True)


def test_a_withdrawal_after_the_verify_stops_the_next_pull(client, session, scene) -> None:
    grant = granted(client, scene)
    assert pull(client, scene, grant).status_code == 200
    withdraw(session, scene["member"], scene["allergies"])
    response = pull(client, scene, grant)
    assert response.status_code == 403
    problem = response.get_json()
    assert (problem["type"], problem["sections"]) == ("/problems/consent-changed",
                                                      ["allergies"])
    last = events(session, member_id=scene["member"].id)[-1]
    assert (last.kind, last.reason, last.denied) == ("denial", "consent-changed",
                                                    {"allergies": "withdrawn"})


def test_a_grant_of_another_client_is_refused(client, factory, session, scene) -> None:
    grant = granted(client, scene)
    other_clinic = factory.clinic("27002", name="Phòng khám Yên Phong")
    other = factory.clinic_headers(factory.clinic_client(other_clinic))
    response = pull(client, scene, grant, headers=other)
    assert response.status_code == 403
    assert response.get_json()["reason"] == "grant-other-client"
    [denial] = events(session, kind="denial")
    assert (denial.member_id, denial.clinic_code) == (scene["member"].id, "27002")


def test_a_revoked_card_or_suspended_clinic_pulls_nothing(client, factory, session,
                                                          scene) -> None:
    grant = granted(client, scene)
    CardLifecycle(session, actor="test").revoke(scene["card"], "lost")
    session.commit()
    response = pull(client, scene, grant)
    assert response.status_code == 403
    assert (response.get_json()["type"], response.get_json()["card_status"],
            response.get_json()["reason"]) == ("/problems/card-not-usable", "revoked", "lost")


@pytest.mark.parametrize(("grant", "reason"), [
    ("", "grant-missing"), ("x" * 4000, "grant-malformed"), ("not.a.grant", "grant-malformed"),
])
def test_missing_or_garbage_grants_are_refused(client, scene, grant, reason) -> None:
    response = pull(client, scene, grant)
    assert response.status_code == 403
    assert (response.get_json()["type"], response.get_json()["reason"]) == (
        "/problems/grant-invalid", reason)


def test_an_expired_or_foreign_grant_is_refused(client, app, scene) -> None:
    from app.composition import dedicated_secret
    from app.services.clinic_flow.grants import PullGrants
    from tests.app.access_helpers import Clock

    args = (scene["login"].client_id, scene["card"].serial, ("allergies",), "treatment")
    fresh, _ = pull_grants_for(app.config).issue(*args)
    assert pull(client, scene, fresh).status_code == 200
    past = Clock(utc_now() - timedelta(minutes=11), step=timedelta(0))
    old, _ = PullGrants(dedicated_secret(app.config, "PULL_GRANT_SECRET"), clock=past).issue(
        *args)
    assert pull(client, scene, old).get_json()["reason"] == "grant-expired"
    foreign, _ = PullGrants("another-deployment-secret-0123456789").issue(*args)
    assert pull(client, scene, foreign).get_json()["reason"] == "grant-bad-signature"


def test_pull_is_rate_limited(client, app, scene, monkeypatch) -> None:
    grant = granted(client, scene)
    monkeypatch.setitem(app.config, "PULL_RATE_LIMIT", "2 per minute")
    assert [pull(client, scene, grant).status_code for _ in range(3)] == [200, 200, 429]
    # HEAD is a pull too (Flask answers it with the GET view): the same bucket
    head = client.head("/api/v1/pull", headers={**scene["headers"], "X-Pull-Grant": grant})
    assert head.status_code == 429


# -- emergency --------------------------------------------------------------------------------
def emergency(client, scene, **body: Any) -> Any:
    return client.post(EMERGENCY, headers=scene["headers"], json={
        "uc1": scene["text"], "reason": "unconscious",
        "text": "Công nhân bất tỉnh tại xưởng, cần biết dị ứng.", **body})


def test_emergency_access_releases_the_emergency_core_only(client, session, scene) -> None:
    response = emergency(client, scene)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "valid" and body["emergency_core"] is not None
    assert body["grant"]["emergency"] is True and body["grant"]["sections"] == ["emergency-core"]
    expires = body["grant"]["expires_at"]
    assert expires > (utc_now() + timedelta(hours=23)).isoformat()
    assert "F41.1" not in json.dumps(body, ensure_ascii=False)
    pulled = pull(client, scene, body["grant"]["token"])
    assert pulled.status_code == 200
    assert list(pulled.get_json()["document"]["sections"]) == ["emergency-core"]
    assert "F41.1" not in pulled.get_data(as_text=True)
    fhir = pull(client, scene, body["grant"]["token"], fhir=True)
    Bundle.model_validate_json(fhir.data)
    member_events = events(session, member_id=scene["member"].id)
    assert [(e.kind, e.emergency_reason) for e in member_events] == [
        ("emergency", "unconscious"), ("emergency", None), ("emergency", None)]
    outbox = session.scalars(select(OutboxMessage).where(
        OutboxMessage.member_id == scene["member"].id)).all()
    assert len(outbox) == 1 and outbox[0].event_id == member_events[0].id


def test_emergency_access_even_without_consent_but_not_for_a_bad_card(
        client, session, scene) -> None:
    CardLifecycle(session, actor="test").suspend(scene["card"], "investigation")
    session.commit()
    response = emergency(client, scene)
    assert response.status_code == 403
    assert response.get_json()["card_status"] == "suspended"
    # the office's own reason for suspending stays with the office
    assert response.get_json()["reason"] == "suspended"
    assert "investigation" not in response.get_data(as_text=True)
    assert session.scalar(select(OutboxMessage.id)) is None


@pytest.mark.parametrize(("body", "status", "problem"), [
    ({"reason": "curious"}, 422, "validation-error"),
    ({"text": ""}, 422, "validation-error"),
    ({"uc1": "garbage"}, 422, "card-unreadable"),
])
def test_emergency_bad_input(client, scene, body, status, problem) -> None:
    response = emergency(client, scene, **body)
    assert response.status_code == status
    assert response.get_json()["type"] == f"/problems/{problem}"


def test_emergency_is_rate_limited(client, app, scene, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "EMERGENCY_RATE_LIMIT", "1 per hour")
    assert [emergency(client, scene).status_code for _ in range(2)] == [200, 429]


def test_a_suspended_clinic_verifies_and_pulls_nothing(client, session, scene) -> None:
    from app.models import Clinic

    grant = granted(client, scene)
    clinic = session.get(Clinic, scene["clinic"].id)
    clinic.accreditation = "suspended"
    session.commit()
    before = len(events(session, member_id=scene["member"].id))
    answers = [verify(client, scene), pull(client, scene, grant), emergency(client, scene)]
    assert [a.status_code for a in answers] == [403, 403, 403]
    assert {a.get_json()["type"] for a in answers} == {"/problems/clinic-not-accredited"}
    assert all(a.get_json()["accreditation"] == "suspended" for a in answers)
    # each attempt is in the member's access log: a denial, the clinic named, nothing released
    refused = events(session, member_id=scene["member"].id)[before:]
    assert [(e.kind, e.outcome, e.reason, e.purpose, e.released) for e in refused] == [
        ("denial", "refused", "clinic-not-accredited", "treatment", []),
        ("denial", "refused", "clinic-not-accredited", None, []),
        ("denial", "refused", "clinic-not-accredited", "emergency", [])]
    assert {e.clinic_code for e in refused} == {scene["clinic"].facility_code}
    assert {e.card_serial for e in refused} == {scene["card"].serial}


def test_a_suspended_clinics_other_refusals_are_logged_as_such(client, session,
                                                               scene) -> None:
    from app.models import Clinic

    clinic = session.get(Clinic, scene["clinic"].id)
    clinic.accreditation = "suspended"
    session.commit()
    before = len(events(session))
    no_grant = client.get("/api/v1/pull", headers=scene["headers"])
    unknown_device = verify(client, scene, device_id="not-a-registered-scanner")
    for answer in (no_grant, unknown_device):
        # refused as a suspended clinic: it learns nothing of its grant or devices
        assert answer.status_code == 403
        assert answer.get_json()["type"] == "/problems/clinic-not-accredited"
    added = events(session)[before:]
    assert [(e.kind, e.reason) for e in added] == [("denial", "clinic-not-accredited")] * 2


def test_a_suspended_clinics_scan_of_a_forged_card_is_not_tied_to_anyone(
        client, session, scene) -> None:
    from app.models import Clinic

    clinic = session.get(Clinic, scene["clinic"].id)
    clinic.accreditation = "suspended"
    session.commit()
    # the text of another card, its signature broken: no member's log gets the denial
    forged = scene["text"][:-6] + ("A" * 6 if not scene["text"].endswith("A" * 6) else "B" * 6)
    before = len(events(session))
    response = verify(client, scene, forged)
    assert response.status_code == 403
    added = events(session)[before:]
    assert [(e.kind, e.reason, e.member_id, e.card_serial) for e in added] == [
        ("denial", "clinic-not-accredited", None, None)]


def test_emergency_access_says_whether_the_member_is_emailed(client, app, session,
                                                             scene) -> None:
    from app.composition import cipher_for_config
    from app.services.access_events.addresses import NotificationAddresses

    assert emergency(client, scene).get_json()["member_emailed"] is False
    NotificationAddresses(session, cipher_for_config(app.config)).set(
        scene["member"].id, "yen@example.vn", actor="test")
    session.commit()
    assert emergency(client, scene).get_json()["member_emailed"] is True
