"""The member's access log and notification address, and administrators' aggregate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.composition import cipher_for_config
from app.models import NotificationAddress
from app.services.access_events.log import AccessLog
from tests.app.access_helpers import NOW, Clock, record_for
from tests.app.test_member_accounts import activate, member_headers, yen  # noqa: F401

URL = "/api/v1/me/access-log"
SUMMARY = "/api/v1/admin/access-events/summary"


@pytest.fixture
def headers(client: FlaskClient, yen: dict[str, Any]) -> dict[str, str]:  # noqa: F811
    """Yến's member token (her account activated)."""
    assert activate(client, yen["member"], yen["code"]).status_code == 200
    return member_headers(client, yen["member"])


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW, timedelta(minutes=5))


@pytest.fixture
def log(app, session, clock) -> AccessLog:
    return AccessLog(session, cipher_for_config(app.config), clock=clock)


def test_the_member_sees_their_own_events_newest_first(client, session, log, headers,
                                                       yen, factory) -> None:  # noqa: F811
    member = yen["member"]
    log.record(record_for(member, "verify", outcome="valid", released=(), denied={}))
    log.record(record_for(member, "pull"))
    log.record(record_for(member, "emergency"))
    log.record(record_for(factory.member(yen["union"], full_name="Trần Thị Mai"),
                          "pull"))  # someone else's
    session.commit()
    body = client.get(URL, headers=headers).get_json()
    assert body["total"] == 3 and body["page"] == 1
    kinds = [item["kind"] for item in body["items"]]
    assert kinds == ["emergency", "pull", "verify"]
    emergency, pull, _ = body["items"]
    assert emergency["emergency"] is True and emergency["emergency_reason"] == "unconscious"
    assert emergency["emergency_text"].startswith("Bệnh nhân bất tỉnh")
    assert emergency["clinic_name"] == "Phòng khám KCN Quế Võ"
    assert emergency["at"] == "2026-12-01T08:10:00.123456+00:00"
    assert emergency["at_vietnam"] == "2026-12-01T15:10:00.123456+07:00"
    assert pull["released"] == ["allergies", "emergency-core"]
    assert pull["denied"] == [{"section": "medications", "reason": "no-consent"}]
    assert pull["purpose"] == "treatment" and pull["emergency"] is False
    second = client.get(URL, query_string={"per_page": 2, "page": 2}, headers=headers)
    assert [i["kind"] for i in second.get_json()["items"]] == ["verify"]
    assert second.headers["Cache-Control"] == "private, no-store"


def test_staff_and_strangers_cannot_read_a_members_log(client, factory) -> None:
    assert client.get(URL).status_code == 401
    admin = factory.user("admin")
    assert client.get(URL, headers=factory.headers(admin)).status_code == 403


def test_the_notification_address_is_optional_and_stored_encrypted(client, session, headers,
                                                                   yen) -> None:  # noqa: F811
    assert client.get("/api/v1/me/notifications", headers=headers).get_json() == {
        "email": None, "updated_at": None}
    put = client.put("/api/v1/me/notifications", json={"email": " yen.nguyen@example.vn "},
                     headers=headers)
    assert put.status_code == 200, put.get_json()
    assert put.get_json()["email"] == "yen.nguyen@example.vn"
    row = session.scalar(select(NotificationAddress).where(
        NotificationAddress.member_id == yen["member"].id))
    assert b"yen.nguyen" not in row.email_encrypted
    got = client.get("/api/v1/me/notifications", headers=headers).get_json()
    assert got["email"] == "yen.nguyen@example.vn" and got["updated_at"]
    cleared = client.put("/api/v1/me/notifications", json={"email": ""}, headers=headers)
    assert cleared.get_json()["email"] is None
    session.expire_all()
    assert session.get(NotificationAddress, yen["member"].id) is None


@pytest.mark.parametrize("email, problem", [
    ("not-an-address", "notification-address-invalid"),
    ("a@b", "notification-address-invalid"),
    ("x@example.vn\r\nBcc: x@evil.test", "notification-address-invalid"),
    ("Yến <yen@example.vn>", "notification-address-invalid"),
    ("a..b@example.vn", "notification-address-invalid"),
    ("a" * 250 + "@example.vn", "notification-address-invalid"),
    ("a" * 1001, "validation-error"),
    (7, "validation-error"),
])
def test_a_bad_address_is_a_422_and_changes_nothing(client, session, headers, email,
                                                    problem) -> None:
    response = client.put("/api/v1/me/notifications", json={"email": email}, headers=headers)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == f"/problems/{problem}"
    assert response.get_json()["errors"][0]["field"] == "email"
    assert session.scalars(select(NotificationAddress)).all() == []


def test_a_missing_email_field_is_a_422(client, headers) -> None:
    response = client.put("/api/v1/me/notifications", json={}, headers=headers)
    assert response.status_code == 422


def test_administrators_see_the_aggregate_and_flags_without_health_content(
        client, session, log, clock, factory) -> None:
    union = factory.union()
    one, two = factory.member(union), factory.member(union)
    for member in (one, two, one):
        log.record(record_for(member, "emergency"))  # 3 within 15 minutes: flagged
    log.record(record_for(one, "pull"))
    log.record(record_for(two, "emergency", clinic_code="48001", clinic_name="BV Đà Nẵng"))
    clock.now += timedelta(days=2)
    log.record(record_for(two, "emergency", clinic_code="48001", clinic_name="BV Đà Nẵng"))
    session.commit()
    admin = factory.headers(factory.user("admin"))
    response = client.get(SUMMARY, query_string={
        "since": (NOW - timedelta(days=1)).isoformat(),
        "until": (NOW + timedelta(days=5)).isoformat()}, headers=admin)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    counts = {(i["clinic_code"], i["kind"]): (i["events"], i["members"]) for i in body["items"]}
    assert counts == {("27001", "emergency"): (3, 2), ("27001", "pull"): (1, 1),
                      ("48001", "emergency"): (2, 1)}
    assert body["emergency_threshold"] == 3 and body["emergency_window_hours"] == 24
    assert [(f["clinic_code"], f["most_in_window"], f["total"])
            for f in body["emergency_flags"]] == [("27001", 3, 3)]
    text = response.get_data(as_text=True)
    for secret in ("allergies", "bất tỉnh", "unconscious", "medications", one.member_number,
                   one.full_name, "UC-TEST"):
        assert secret not in text
    officer = factory.headers(factory.user("officer"))
    assert client.get(SUMMARY, headers=officer).status_code == 403


def test_the_flag_threshold_is_a_setting(make_app, session, log, factory) -> None:
    union = factory.union()
    member = factory.member(union)
    log.record(record_for(member, "emergency"))
    log.record(record_for(member, "emergency"))
    session.commit()
    strict = make_app({"EMERGENCY_FLAG_THRESHOLD": 2})
    from app.extensions import db

    db.bind_app_to(strict, session.connection())
    admin = factory.headers(factory.user("admin"))
    body = strict.test_client().get(SUMMARY, query_string={
        "since": (NOW - timedelta(hours=1)).isoformat(),
        "until": (NOW + timedelta(hours=1)).isoformat()}, headers=admin).get_json()
    assert [f["most_in_window"] for f in body["emergency_flags"]] == [2]


@pytest.mark.parametrize("query, problem", [
    ({"since": "2026-12-02T00:00:00+00:00", "until": "2026-12-01T00:00:00+00:00"},
     "access-period-invalid"),
    ({"since": "2024-01-01T00:00:00+00:00", "until": "2026-01-01T00:00:00+00:00"},
     "access-period-invalid"),
    ({"since": "2026-12-01T00:00:00"}, "validation-error"),  # no offset
    ({"since": "yesterday"}, "validation-error"),
])
def test_a_bad_period_is_a_422(client, factory, query, problem) -> None:
    admin = factory.headers(factory.user("admin"))
    response = client.get(SUMMARY, query_string=query, headers=admin)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == f"/problems/{problem}"


def test_the_default_period_is_the_last_30_days(client, factory) -> None:
    admin = factory.headers(factory.user("admin"))
    body = client.get(SUMMARY, headers=admin).get_json()
    since = datetime.fromisoformat(body["since"])
    until = datetime.fromisoformat(body["until"])
    assert until - since == timedelta(days=30)
    assert abs(until - datetime.now(UTC)) < timedelta(minutes=1)
