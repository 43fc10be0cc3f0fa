"""The clinic scanner through Flask's test client: sign-in with the clinic client's
credentials, verify by pasted text, photo and camera frame, the PIN and the pulled record with
the withheld sections named, refusals logged as the API logs them, emergency access."""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.composition import card_desk_for
from app.models import OutboxMessage
from app.services.issuing import card_files
from tests.app.clinic_scene import consent, events, scene  # noqa: F401
from tests.app.test_member_accounts import yen  # noqa: F401
from tests.web.test_console import csrf


def desk_sign_in(client: FlaskClient, login: Any, secret: str | None = None) -> Any:
    return client.post("/clinic/login", data={
        "csrf_token": csrf(client, "/clinic/login"), "client_id": login.client_id,
        "client_secret": login.client_secret if secret is None else secret})


@pytest.fixture
def desk(client: FlaskClient, scene: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    """The scene's clinic signed in at the scanner."""
    assert desk_sign_in(client, scene["login"]).status_code == 303
    return scene


def post_verify(client: FlaskClient, **fields: Any) -> Any:
    fields.setdefault("purpose", "treatment")
    return client.post("/clinic/verify", data={"csrf_token": csrf(client, "/clinic/"),
                                               **fields})


def test_sign_in_returns_to_the_desk_page_asked_for(client: FlaskClient,
                                                   scene: dict[str, Any]) -> None:  # noqa: F811
    asked = client.get("/clinic/")
    assert asked.status_code == 302
    assert asked.headers["Location"] == "/clinic/login?next=/clinic/"
    answer = client.post("/clinic/login", data={
        "csrf_token": csrf(client, "/clinic/login"), "client_id": scene["login"].client_id,
        "client_secret": scene["login"].client_secret, "next": "/clinic/?lang=en"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/clinic/?lang=en"
    client.post("/clinic/logout", data={"csrf_token": csrf(client, "/clinic/")})
    elsewhere = client.post("/clinic/login", data={
        "csrf_token": csrf(client, "/clinic/login"), "client_id": scene["login"].client_id,
        "client_secret": scene["login"].client_secret, "next": "/me/card"})
    assert elsewhere.headers["Location"] == "/clinic/"


def test_sign_in_needs_the_clinic_clients_secret(client: FlaskClient,
                                                 scene: dict[str, Any]) -> None:  # noqa: F811
    assert client.get("/clinic/").status_code == 302
    assert desk_sign_in(client, scene["login"], "not the secret").status_code == 401
    assert desk_sign_in(client, scene["login"]).status_code == 303
    page = client.get("/clinic/")
    assert page.status_code == 200 and scene["clinic"].name in page.get_data(as_text=True)
    assert "camera-start" in page.get_data(as_text=True)


def test_a_pasted_card_then_the_pin_shows_only_the_shared_sections(
        client: FlaskClient, session: Session, desk: dict[str, Any]) -> None:
    member_id = desk["member"].id
    verdict = post_verify(client, uc1=desk["text"])
    html = verdict.get_data(as_text=True)
    assert verdict.status_code == 200 and 'data-status="valid"' in html
    assert desk["member"].full_name in html and 'id="pin"' in html
    assert [e.kind for e in events(session, member_id=member_id)] == ["verify"]
    record = post_verify(client, uc1=desk["text"], pin=desk["pin"])
    html = record.get_data(as_text=True)
    assert 'id="section-allergies"' in html  # the only consented section
    assert 'id="section-medications"' not in html and 'id="section-conditions"' not in html
    assert 'id="withheld"' in html
    assert [e.kind for e in events(session, member_id=member_id)] == ["verify", "verify", "pull"]


def test_refusals_are_logged_as_the_api_logs_them(client: FlaskClient, session: Session,
                                                  desk: dict[str, Any]) -> None:
    wrong_pin = post_verify(client, uc1=desk["text"], pin="999111")
    assert wrong_pin.status_code == 422
    assert [e.reason for e in events(session, member_id=desk["member"].id)] == ["wrong-pin"]
    garbage = post_verify(client, uc1="not a card at all")
    assert garbage.status_code == 422
    assert events(session, member_id=None)[-1].kind == "denial"
    nothing = post_verify(client, uc1="   ")
    assert nothing.status_code == 422  # nothing scanned: no event
    assert len(events(session)) == 2


def test_a_photo_and_camera_frames(app: Flask, client: FlaskClient, session: Session,
                                   desk: dict[str, Any]) -> None:
    png = card_files.render(card_desk_for(app, session, "test"), desk["card"], "card.png").body
    photo = post_verify(client, photo=(BytesIO(png), "card.png"))
    assert 'data-status="valid"' in photo.get_data(as_text=True)
    token = csrf(client, "/clinic/")
    frame = client.post("/clinic/frame", data={"photo": (BytesIO(png), "frame.png")},
                        headers={"X-CSRF-Token": token})
    assert frame.json["text"] == desk["text"]
    before = len(events(session))
    blank = BytesIO()
    from PIL import Image

    Image.new("RGB", (640, 480), "white").save(blank, "JPEG")
    empty = client.post("/clinic/frame", data={"photo": (BytesIO(blank.getvalue()), "f.jpg")},
                        headers={"X-CSRF-Token": token})
    assert empty.status_code == 200 and empty.json["text"] is None
    assert len(events(session)) == before  # a frame without a code is no scan


def test_emergency_access_shows_the_core_logs_and_tells_the_member(
        client: FlaskClient, session: Session, desk: dict[str, Any]) -> None:
    answer = client.post("/clinic/emergency", data={
        "csrf_token": csrf(client, "/clinic/"), "uc1": desk["text"], "reason": "unconscious",
        "text": "Ngất tại xưởng"})
    assert answer.status_code == 200
    assert "TRUY CẬP KHẨN CẤP" in answer.get_data(as_text=True)
    [event] = events(session, member_id=desk["member"].id)
    assert event.kind == "emergency" and event.emergency_reason == "unconscious"
    assert session.scalar(select(OutboxMessage.id)) is not None
    no_text = client.post("/clinic/emergency", data={
        "csrf_token": csrf(client, "/clinic/"), "uc1": desk["text"], "reason": "unconscious",
        "text": " "})
    assert no_text.status_code == 422


def test_a_suspended_clinic_is_refused_at_once(client: FlaskClient, session: Session,
                                               desk: dict[str, Any]) -> None:
    desk["clinic"].accreditation = "suspended"
    session.commit()
    assert client.get("/clinic/").status_code == 403


def test_a_suspended_clinics_scan_at_the_desk_is_in_the_members_access_log(
        client: FlaskClient, session: Session, desk: dict[str, Any]) -> None:
    token = csrf(client, "/clinic/")  # the form as it was shown before the suspension
    desk["clinic"].accreditation = "suspended"
    session.commit()
    before = len(events(session, member_id=desk["member"].id))
    answer = client.post("/clinic/verify", data={"csrf_token": token, "uc1": desk["text"],
                                                 "purpose": "treatment"})
    assert answer.status_code == 403
    added = events(session, member_id=desk["member"].id)[before:]
    assert [(e.kind, e.reason, e.card_serial) for e in added] == [
        ("denial", "clinic-not-accredited", desk["card"].serial)]


def test_sign_out_ends_the_clients_tokens(client: FlaskClient, desk: dict[str, Any]) -> None:
    client.post("/clinic/logout", data={"csrf_token": csrf(client, "/clinic/")})
    assert client.get("/clinic/").status_code == 302
    answer = client.post("/api/v1/verify", json={"uc1": desk["text"], "purpose": "treatment"},
                         headers=desk["headers"])
    assert answer.status_code == 401


def test_the_record_shows_measured_values_not_only_the_tests_names(
        app: Flask, client: FlaskClient, session: Session, desk: dict[str, Any]) -> None:
    """The blood group is its result ("O, Rh positive"), not the test's name, and a vital sign
    or lab result carries its value and unit (a height without the number helps no one)."""
    consent(app, session, desk["member"], "vitals-labs")
    html = post_verify(client, uc1=desk["text"], pin=desk["pin"]).get_data(as_text=True)
    assert 'id="section-vitals-labs"' in html
    assert "Chiều cao: 156 cm" in html and "Huyết áp tâm thu: 112 mmHg" in html
    emergency = client.post("/clinic/emergency", data={
        "csrf_token": csrf(client, "/clinic/"), "uc1": desk["text"], "reason": "unconscious",
        "text": "Ngất tại xưởng"}).get_data(as_text=True)
    assert "Nhóm máu O, Rh dương tính" in emergency
    assert "Nhóm máu ABO và Rh" not in emergency


def test_emergency_access_says_honestly_whether_the_member_is_emailed(
        app: Any, client: FlaskClient, session: Session, desk: dict[str, Any]) -> None:
    from app.composition import cipher_for_config
    from app.services.access_events.addresses import NotificationAddresses

    def emergency() -> str:
        answer = client.post("/clinic/emergency", data={
            "csrf_token": csrf(client, "/clinic/"), "uc1": desk["text"],
            "reason": "unconscious", "text": "Ngất tại xưởng"})
        assert answer.status_code == 200
        return answer.get_data(as_text=True)

    without = emergency()
    assert "không có địa chỉ e-mail" in without and "được báo qua e-mail" not in without
    NotificationAddresses(session, cipher_for_config(app.config)).set(
        desk["member"].id, "yen@example.vn", actor="test")
    session.commit()
    told = emergency()
    assert "được báo qua e-mail" in told and "không có địa chỉ e-mail" not in told
