"""POST /api/v1/verify: every card outcome, the holder, consented sections, presence, grants,
bad input, and an access event for each verify and denial."""

# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.composition import (
    card_desk_for,
    cipher_for_config,
    presence_tokens_for,
    pull_grants_for,
)
from app.models import MemberStatus
from app.services.clinic_flow.card_check import CardCheck
from app.services.clinic_flow.desk import ClinicDesk, Presence
from app.services.clinics.directory import active_clinic
from app.services.issuing import card_files
from app.services.issuing.card_status import CardLifecycle
from app.services.registry.members import MemberRegistry
from cards.nfc import make_ndef
from tests.app.clinic_flow_helpers import photographed, png_claiming, signed_elsewhere, tampered
from tests.app.clinic_scene import VERIFY, consent, events, scene, verify  # noqa: F401
from tests.app.test_member_accounts import yen  # noqa: F401

WRONG_PIN = "147036"


def test_a_valid_card_shows_holder_and_sections_but_no_grant_without_presence(
        client, session: Session, scene: dict[str, Any]) -> None:
    response = verify(client, scene)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["status"], body["reason"], body["card_serial"]) == (
        "valid", "ok", scene["card"].serial)
    member = scene["member"]
    assert body["holder"] == {"full_name": member.full_name,
                              "birth_date": member.birth_date.isoformat(),
                              "member_number": member.member_number,
                              "union_code": member.union_code,
                              "union_name": "CĐCS Công ty TNHH Điện tử Quế Võ"}
    assert "personal_id" not in response.get_data(as_text=True)
    released = {s["section"]: s for s in body["sections"]}
    assert released["allergies"]["released"] is True
    assert released["allergies"]["consent_id"] == scene["allergies"].consent_id
    assert released["medications"] == {"section": "medications", "released": False,
                                       "reason": "no-consent", "consent_id": None}
    assert body["grant"] is None and body["presence"] is None
    assert response.headers["Cache-Control"] == "no-store"
    [event] = events(session, member_id=member.id)
    assert (event.kind, event.outcome, event.released, event.clinic_code) == (
        "verify", "valid", ["allergies"], "27001")
    assert event.denied["medications"] == "no-consent"


def test_pin_presence_gives_a_grant_for_the_consented_sections(
        client, scene: dict[str, Any]) -> None:
    body = verify(client, scene, presence={"pin": scene["pin"]}).get_json()
    assert body["presence"] == "pin", body
    assert body["grant"]["sections"] == ["allergies"] and body["grant"]["header"] == "X-Pull-Grant"
    assert body["grant"]["sensitive"] is False and body["grant"]["purpose"] == "treatment"


def test_no_consent_for_the_purpose_gives_no_grant(client, scene) -> None:
    body = verify(client, scene, purpose="occupational-health",
                  presence={"pin": scene["pin"]}).get_json()
    assert body["status"] == "valid" and body["grant"] is None
    assert {s["reason"] for s in body["sections"]} == {"no-consent", "purpose-not-covered"}


def test_the_phones_presence_token_is_presence(client, scene) -> None:
    from tests.app.test_member_accounts import member_headers

    token = client.get("/api/v1/me/card/presence",
                       headers=member_headers(client, scene["member"])).get_json()["token"]
    body = verify(client, scene, presence={"presence_token": token}).get_json()
    assert body["presence"] == "presence-token" and body["grant"] is not None


@pytest.mark.parametrize(("presence", "reason"), [
    ({"pin": "12345"}, "pin-malformed"),
    ({"pin": "abcdef"}, "pin-malformed"),
    ({"pin": WRONG_PIN}, "wrong-pin"),
    ({"presence_token": "UCP1:AAAAAAAAAAAAAAAA:1:" + "A" * 26}, "presence-bad-signature"),
    ({"presence_token": "hello"}, "presence-malformed"),
    ({"pin": "258036", "presence_token": "x"}, "presence-ambiguous"),
])
def test_a_presence_proof_that_does_not_hold_is_a_logged_denial(
        client, session, scene, presence, reason) -> None:
    response = verify(client, scene, presence=presence)
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert (problem["type"], problem["reason"]) == ("/problems/presence-invalid", reason)
    [event] = events(session, member_id=scene["member"].id)
    assert (event.kind, event.reason) == ("denial", reason)


def test_a_presence_token_of_another_card_is_refused(client, session, scene, app,
                                                     factory) -> None:
    from app.composition import presence_tokens_for

    other = presence_tokens_for(app.config).issue("QRSTUVWXYZ234567").token
    response = verify(client, scene, presence={"presence_token": other})
    assert response.get_json()["reason"] == "presence-other-card"


def test_wrong_pins_lock_presence_by_pin(client, session, scene) -> None:
    for _ in range(5):
        assert verify(client, scene, presence={"pin": WRONG_PIN}).status_code == 422
    locked = verify(client, scene, presence={"pin": scene["pin"]})
    assert locked.status_code == 429 and locked.get_json()["type"] == "/problems/pin-locked"
    assert int(locked.headers["Retry-After"]) > 0
    reasons = [e.reason for e in events(session, member_id=scene["member"].id)]
    assert reasons == ["wrong-pin"] * 5 + ["pin-locked"]


def test_ndef_and_photos_verify(client, app, session, scene) -> None:
    ndef = make_ndef(scene["text"], "https://unioncard.example/v").message
    body = verify(client, scene, ndef_base64=base64.b64encode(ndef).decode()).get_json()
    assert body["status"] == "valid"
    d = card_desk_for(app, session, "test")
    png = card_files.render(d, scene["card"], "card.png").body
    for photo, name in ((png, "card.png"), (photographed(png), "photo.jpg")):
        response = client.post(VERIFY, headers=scene["headers"], data={
            "purpose": "treatment", "pin": scene["pin"], "photo": (__import__("io").BytesIO(
                photo), name)}, content_type="multipart/form-data")
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["grant"]["sections"] == ["allergies"]


def test_tampered_and_foreign_cards(client, session, scene) -> None:
    body = verify(client, scene, tampered(scene["text"])).get_json()
    assert (body["status"], body["reason"], body["holder"]) == ("invalid", "bad-signature", None)
    body = verify(client, scene, signed_elsewhere(scene["text"])).get_json()
    assert (body["status"], body["reason"]) == ("unknown-issuer", "unknown-kid")
    denials = events(session, kind="denial")
    assert [(e.member_id, e.outcome) for e in denials] == [(None, "invalid"),
                                                           (None, "unknown-issuer")]


@pytest.mark.parametrize(("change", "status", "reason"), [
    ("revoke", "revoked", "lost"),
    ("suspend", "suspended", "investigation"),
    ("left", "revoked", "left-union"),
    ("member-suspended", "suspended", "member-suspended"),
])
def test_the_database_decides_revoked_and_suspended(client, app, session, scene, change, status,
                                                    reason) -> None:
    from app.services.access.scope import Scope
    from app.services.access.tokens import Principal

    lifecycle = CardLifecycle(session, actor="test")
    card = scene["card"]
    if change == "revoke":
        lifecycle.revoke(card, "lost")
    elif change == "suspend":
        lifecycle.suspend(card, "investigation")
    else:
        registry = MemberRegistry(session, cipher_for_config(app.config), actor="test")
        registry.change_status(Scope(Principal("user", 0, "admin")), scene["member"].id,
                            MemberStatus.LEFT if change == "left" else MemberStatus.SUSPENDED,
                            "test")
    session.commit()
    body = verify(client, scene, presence={"pin": scene["pin"]}).get_json()
    # a suspension's own reason is the office's: the clinic is told only "suspended"
    told = "suspended" if status == "suspended" else reason
    assert (body["status"], body["reason"], body["grant"]) == (status, told, None)
    assert body["sections"] == []
    [event] = events(session, member_id=scene["member"].id)
    assert (event.kind, event.outcome, event.reason) == ("denial", status, reason)


@pytest.mark.parametrize(("body", "problem", "reason"), [
    ({"uc1": "garbage"}, "card-unreadable", "bad-prefix"),
    ({"uc1": "UC1:%%%%"}, "card-unreadable", "bad-base45"),
    ({"uc1": "UC1:" + "A" * 5000}, "card-unreadable", "too-long"),
    ({"ndef_base64": "@@@"}, "scan-invalid", "bad-base64"),
    ({"ndef_base64": base64.b64encode(b"not ndef").decode()}, "scan-invalid", "bad-ndef"),
])
def test_bad_scans_are_specific_problems_and_logged(client, session, scene, body, problem,
                                                    reason) -> None:
    response = client.post(VERIFY, json={"purpose": "treatment", **body},
                           headers=scene["headers"])
    assert response.status_code == 422, response.get_json()
    assert (response.get_json()["type"], response.get_json()["reason"]) == (
        f"/problems/{problem}", reason)
    assert [e.reason for e in events(session, kind="denial")] == [reason]


def test_a_truncated_card_text_is_unreadable(client, scene) -> None:
    text = scene["text"]
    for cut in (len(text) // 3, len(text) // 2, len(text) - 3, len(text) - 2):
        response = verify(client, scene, text[:cut])
        assert response.status_code == 422, (cut, response.get_json())
        problem = response.get_json()
        assert problem["type"] == "/problems/card-unreadable"
        assert problem["reason"] in ("bad-base45", "bad-zlib", "bad-cose"), problem


def test_an_expired_presence_token_is_refused(client, app, scene) -> None:
    from app.composition import dedicated_secret
    from app.services.clinic_flow.presence import PresenceTokens
    from tests.app.access_helpers import Clock

    past = Clock(utc_now() - timedelta(minutes=5, seconds=1), step=timedelta(0))
    token = PresenceTokens(dedicated_secret(app.config, "PRESENCE_TOKEN_SECRET"),
                           clock=past).issue(scene["card"].serial).token
    response = verify(client, scene, presence={"presence_token": token})
    assert response.get_json()["reason"] == "presence-expired"


@pytest.mark.parametrize(("photo", "status", "problem"), [
    (b"not an image", 422, "scan-invalid"),
    (png_claiming(10_000, 10_000), 413, "image-too-large"),
])
def test_bad_photos_are_specific_problems(client, scene, photo, status, problem) -> None:
    import io

    response = client.post(VERIFY, headers=scene["headers"], data={
        "purpose": "treatment", "photo": (io.BytesIO(photo), "x.png")},
        content_type="multipart/form-data")
    assert response.status_code == status, response.get_json()
    assert response.get_json()["type"] == f"/problems/{problem}"


@pytest.mark.parametrize("body", [
    {}, {"uc1": "UC1:X"}, {"purpose": "treatment"},
    {"purpose": "treatment", "uc1": "UC1:X", "ndef_base64": "AAAA"},
    {"purpose": "fun", "uc1": "UC1:X"}, {"purpose": "treatment", "uc1": 5},
    {"purpose": "treatment", "uc1": "UC1:X", "presence": {"pin": 123456}},
])
def test_malformed_requests_are_validation_errors(client, scene, body) -> None:
    response = client.post(VERIFY, json=body, headers=scene["headers"])
    assert response.status_code == 422
    assert response.get_json()["type"] == "/problems/validation-error"


def test_only_clinics_verify(client, factory, scene) -> None:
    officer = factory.user("officer", "24")
    assert verify(client, scene, headers=factory.headers(officer)).status_code == 403
    assert client.post(VERIFY, json={"purpose": "treatment", "uc1": "x"}).status_code == 401


def test_sensitive_entries_come_with_their_own_consent(client, app, session, scene) -> None:
    consent(app, session, scene["member"], "conditions")
    body = verify(client, scene, presence={"pin": scene["pin"]}).get_json()
    assert body["sensitive"]["released"] is False and body["grant"]["sensitive"] is False
    consent(app, session, scene["member"], "sensitive")
    body = verify(client, scene, presence={"pin": scene["pin"]}).get_json()
    assert body["sensitive"]["released"] is True and body["grant"]["sensitive"] is True


def test_verify_is_rate_limited_per_card(client, app, scene, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "VERIFY_CARD_RATE_LIMIT", "3 per minute")
    assert [verify(client, scene).status_code for _ in range(4)] == [200, 200, 200, 429]
    other = verify(client, scene, "UC1:OTHER")
    assert other.status_code == 422  # another card's counter


def test_verify_is_rate_limited_per_client(client, app, scene, monkeypatch) -> None:
    monkeypatch.setitem(app.config, "VERIFY_RATE_LIMIT", "2 per minute")
    codes = [verify(client, scene, f"UC1:X{i}").status_code for i in range(3)]
    assert codes == [422, 422, 429]


@pytest.mark.parametrize(("moment", "status"), [
    (lambda card: card.issued_at - timedelta(minutes=6), "not-yet-valid"),
    (lambda card: card.expires_at + timedelta(minutes=6), "expired"),
    (lambda card: card.expires_at - timedelta(minutes=1), "valid"),
])
def test_expiry_and_start_are_checked_at_the_desks_time(app, session, scene, moment,
                                                        status) -> None:
    when = moment(scene["card"])
    outcome = CardCheck(session, clock=lambda: when).check(scene["text"])
    assert outcome.status == status and outcome.member is not None
    desk = ClinicDesk(session, cipher_for_config(app.config),
                      grants=pull_grants_for(app.config),
                      presence_tokens=presence_tokens_for(app.config),
                      check_pin=lambda *_: None, bind_presence=lambda *_: None,
                      clock=lambda: when)
    answer = desk.verify(scene["text"], active_clinic(session, scene["login"].client_id),
                         "treatment", Presence(pin="258036"))
    assert answer.record.kind == ("verify" if status == "valid" else "denial")
    if status != "valid":
        assert answer.grant is None and answer.decision is None
    else:  # years later: the consent (90 days) has ended, so there is nothing to grant
        assert answer.decision is not None and answer.decision.released == ()


def test_a_compromised_key_revokes_its_cards_at_once(client, app, session, scene) -> None:
    from app.services.issuing.keys import KeyStore

    assert verify(client, scene).get_json()["status"] == "valid"
    KeyStore(session, str(app.config["KEY_PASSPHRASE"]), actor="test").revoke(
        scene["card"].kid, "leaked")
    session.commit()
    body = verify(client, scene).get_json()
    assert (body["status"], body["reason"]) == ("revoked", "key-compromise")


def test_a_scan_from_a_device_the_clinic_has_not_registered_is_refused_and_logged(
        client, session: Session, factory, scene: dict[str, Any]) -> None:
    from app.services.clinics.devices import ScannerDevices

    devices = ScannerDevices(session, actor="test")
    desk_scanner = devices.register(scene["clinic"], "quầy tiếp đón", device_id="desk-1")
    other = factory.clinic("27002", name="Phòng khám KCN Yên Phong")
    devices.register(other, "elsewhere", device_id="desk-9")
    session.commit()

    ok = verify(client, scene, device_id="desk-1")
    assert ok.status_code == 200, ok.get_json()
    for unknown in ("desk-2", "desk-9"):  # unknown here; another clinic's device
        refused = verify(client, scene, device_id=unknown)
        assert refused.status_code == 403, refused.get_json()
        assert refused.get_json()["type"].endswith("/device-not-registered")
    devices.disable(scene["clinic"], desk_scanner)
    session.commit()
    assert verify(client, scene, device_id="desk-1").status_code == 403
    logged = [(e.kind, e.device_id, e.reason) for e in events(session)]
    assert logged == [("verify", "desk-1", "ok"),
                      ("denial", "desk-2", "device-not-registered"),
                      ("denial", "desk-9", "device-not-registered"),
                      ("denial", "desk-1", "device-not-registered")]
