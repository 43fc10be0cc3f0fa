"""The member's access log as visits (a desk's check, PIN and record opened as one entry with
what was actually shown; emergency access; filters) and "I don't recognise this": a member's
report, the administrator's queue (API and console) worked open → investigating → closed,
audited, with no health content shown to the administrator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from app.composition import cipher_for_config
from app.models import AccessReport, AuditEntry
from app.services.access_events.log import AccessLog
from tests.app.access_helpers import NOW, Clock, record_for
from tests.app.test_member_accounts import activate, member_headers, yen  # noqa: F401
from tests.conftest import PASSWORD
from tests.web.test_console import csrf
from tests.web.test_console import sign_in as console_sign_in
from tests.web.test_portal import activate_page

VISITS = "/api/v1/me/access-log/visits"
MINE = "/api/v1/me/access-reports"
QUEUE = "/api/v1/admin/access-events/reports"
OTHER = {"clinic_code": "48001", "clinic_name": "Bệnh viện Đà Nẵng",
         "client_id": "clinic-48001-app"}


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW, timedelta(seconds=30))


@pytest.fixture
def log(app, session, clock) -> AccessLog:
    return AccessLog(session, cipher_for_config(app.config), clock=clock)


def desk_visit(log: AccessLog, member: Any, **where: Any) -> list[int]:
    """A visit at the desk as the desk records it: the card checked by the camera (no PIN),
    a wrong PIN, the check with the PIN, the record opened (allergies and conditions)."""
    base = {"denied": {}, **where}
    events = [
        log.record(record_for(member, "verify", outcome="valid", reason="ok",
                              released=("allergies", "conditions", "emergency-core"), **base)),
        log.record(record_for(member, "denial", outcome="presence-refused",
                              reason="wrong-pin", released=(), **base)),
        log.record(record_for(member, "verify", outcome="valid", reason="ok",
                              released=("allergies", "conditions", "emergency-core"), **base)),
        log.record(record_for(member, "pull", released=("allergies", "conditions"), **base)),
    ]
    return [e.id for e in events]


@pytest.fixture
def member(client: FlaskClient, yen) -> dict[str, Any]:  # noqa: F811
    """Yến, her account activated, and her member token."""
    assert activate(client, yen["member"], yen["code"]).status_code == 200
    return {**yen, "headers": member_headers(client, yen["member"])}


def test_a_desk_visit_is_one_entry_with_what_was_actually_shown(client, session, log, clock,
                                                                member) -> None:
    ids = desk_visit(log, member["member"])
    clock.now += timedelta(hours=2)  # a card check alone, later: another visit
    alone = log.record(record_for(member["member"], "verify", outcome="valid", reason="ok",
                                  released=("emergency-core",), denied={}))
    session.commit()
    body = client.get(VISITS, headers=member["headers"]).get_json()
    assert body["total"] == 2
    later, visit = body["items"]
    assert later["event_ids"] == [alone.id] and later["card_checked"] is True
    assert later["shown"] == [] and later["record_opened"] is False  # a check shows nothing
    assert visit["id"] == ids[0] and visit["event_ids"] == ids
    assert visit["shown"] == ["allergies", "conditions"] and visit["record_opened"] is True
    assert visit["card_checked"] is True and visit["emergency"] is False
    assert [r["reason"] for r in visit["refused"]] == ["wrong-pin"]
    assert visit["purposes"] == ["treatment"] and visit["clinic_code"] == "27001"
    assert [e["kind"] for e in visit["events"]] == ["verify", "denial", "verify", "pull"]
    assert visit["damaged"] is False and visit["report"] is None


def test_an_emergency_use_is_its_own_flagged_entry_with_its_reason(client, session, log, clock,
                                                                   member) -> None:
    desk_visit(log, member["member"])
    clock.now += timedelta(minutes=30)
    first = log.record(record_for(member["member"], "emergency"))
    clock.now += timedelta(hours=3)  # the emergency grant (24 h) pulled again
    again = log.record(record_for(member["member"], "emergency", emergency_reason=None,
                                  emergency_text=None))
    session.commit()
    items = client.get(VISITS, headers=member["headers"]).get_json()["items"]
    assert len(items) == 2
    emergency = items[0]
    assert emergency["emergency"] is True and emergency["event_ids"] == [first.id, again.id]
    assert emergency["shown"] == ["emergency-core"]
    assert emergency["emergency_reasons"] == ["unconscious"]
    assert emergency["emergency_texts"][0].startswith("Bệnh nhân bất tỉnh")
    assert items[1]["emergency"] is False


def test_visits_filter_by_clinic_and_period(client, session, log, clock, member) -> None:
    desk_visit(log, member["member"])                       # 27001, day 1
    clock.now += timedelta(days=3)
    other = desk_visit(log, member["member"], **OTHER)       # 48001, day 4
    clock.now += timedelta(days=3)
    last = desk_visit(log, member["member"])                 # 27001, day 7
    session.commit()
    headers = member["headers"]
    by_clinic = client.get(VISITS, query_string={"clinic": "48001"}, headers=headers)
    assert [v["id"] for v in by_clinic.get_json()["items"]] == [other[0]]
    period = client.get(VISITS, headers=headers, query_string={
        "since": (NOW + timedelta(days=2)).isoformat(),
        "until": (NOW + timedelta(days=5)).isoformat()}).get_json()
    assert [v["id"] for v in period["items"]] == [other[0]]
    paged = client.get(VISITS, query_string={"per_page": 1}, headers=headers).get_json()
    assert paged["total"] == 3 and [v["id"] for v in paged["items"]] == [last[0]]
    backwards = client.get(VISITS, headers=headers, query_string={
        "since": (NOW + timedelta(days=5)).isoformat(), "until": NOW.isoformat()})
    assert backwards.status_code == 422
    assert backwards.mimetype == "application/problem+json"


def test_a_member_reports_a_visit_and_the_administrator_works_it_to_closed(
        client, session, log, member, factory) -> None:
    ids = desk_visit(log, member["member"])
    emergency = log.record(record_for(member["member"], "emergency", **OTHER))
    session.commit()
    headers = member["headers"]
    made = client.post(MINE, json={"entry_id": ids[2], "reason": "not-there",
                                   "note": "  Hôm đó tôi đi làm ca đêm.  "}, headers=headers)
    assert made.status_code == 201, made.get_json()
    report = made.get_json()
    assert report["entry_id"] == ids[0] and report["event_ids"] == ids
    assert report["status"] == "open" and report["note"] == "Hôm đó tôi đi làm ca đêm."
    again = client.post(MINE, json={"entry_id": ids[0], "reason": "other"}, headers=headers)
    assert again.status_code == 409 and again.mimetype == "application/problem+json"
    assert client.post(MINE, json={"entry_id": emergency.id, "reason": "no-emergency"},
                       headers=headers).status_code == 201
    row = session.scalar(select(AccessReport).where(AccessReport.first_event_id == ids[0]))
    assert "ca đêm".encode() not in row.note_encrypted  # stored encrypted
    listed = client.get(MINE, headers=headers).get_json()["items"]
    assert [r["entry_id"] for r in listed] == [emergency.id, ids[0]]

    admin = factory.headers(factory.user("admin", province=None))
    queue = client.get(QUEUE, query_string={"status": "open"}, headers=admin)
    assert queue.status_code == 200, queue.get_json()
    body = queue.get_json()
    assert body["total"] == 2
    text = queue.get_data(as_text=True)
    for secret in ("allergies", "conditions", "emergency-core", "bất tỉnh", "unconscious",
                   member["member"].full_name):
        assert secret not in text  # no health content, no name
    first = next(r for r in body["items"] if r["id"] == report["id"])
    assert first["member_number"] == member["member"].member_number
    assert [e["id"] for e in first["events"]] == ids
    assert {e["clinic_code"] for e in first["events"]} == {"27001"}
    url = f"{QUEUE}/{report['id']}"
    working = client.patch(url, json={"status": "investigating",
                                      "note": "Đã hỏi phòng khám."}, headers=admin)
    assert working.status_code == 200 and working.get_json()["status"] == "investigating"
    bare = client.patch(url, json={"status": "closed", "note": ""}, headers=admin)
    assert bare.status_code == 422  # closing needs a note
    closed = client.patch(url, json={"status": "closed", "note": "Phòng khám nhập nhầm thẻ; "
                                     "đã nhắc nhở."}, headers=admin)
    assert closed.status_code == 200 and closed.get_json()["closed_at"]
    reopened = client.patch(url, json={"status": "open"}, headers=admin)
    assert reopened.status_code == 409 and reopened.mimetype == "application/problem+json"
    mine = client.get(VISITS, headers=headers).get_json()["items"]
    seen = next(v for v in mine if v["id"] == ids[0])["report"]
    assert seen["status"] == "closed" and seen["admin_note"].startswith("Phòng khám nhập nhầm")
    actions = [(a.action, a.details.get("to")) for a in session.scalars(
        select(AuditEntry).where(AuditEntry.object_type == "access_report")
        .order_by(AuditEntry.id))]
    assert actions == [("access-report.create", None), ("access-report.create", None),
                       ("access-report.update", "investigating"),
                       ("access-report.update", "closed")]
    for entry in session.scalars(select(AuditEntry).where(
            AuditEntry.object_type == "access_report")):
        assert "ca đêm" not in str(entry.details) and "nhầm" not in str(entry.details)


@pytest.mark.parametrize("body, status", [
    ({"entry_id": 1, "reason": "bored"}, 422),
    ({"entry_id": 1, "reason": "other", "note": "x" * 1001}, 422),
    ({"entry_id": 1}, 422),
    ({"entry_id": "one", "reason": "other"}, 422),
])
def test_a_bad_report_is_a_problem_not_a_500(client, session, log, member, body,
                                             status) -> None:
    ids = desk_visit(log, member["member"])
    session.commit()
    answer = client.post(MINE, json={**body, "entry_id": ids[0]} if body.get("entry_id") == 1
                         else body, headers=member["headers"])
    assert answer.status_code == status, answer.get_json()
    assert answer.mimetype == "application/problem+json"
    assert session.scalars(select(AccessReport)).all() == []


def test_another_members_entry_is_not_found(client, session, log, member, factory) -> None:
    stranger = factory.member(member["union"], full_name="Trần Thị Mai")
    theirs = desk_visit(log, stranger)
    session.commit()
    answer = client.post(MINE, json={"entry_id": theirs[0], "reason": "other"},
                         headers=member["headers"])
    assert answer.status_code == 404


def test_only_administrators_work_the_queue(client, session, log, member, factory) -> None:
    ids = desk_visit(log, member["member"])
    session.commit()
    made = client.post(MINE, json={"entry_id": ids[0], "reason": "other"},
                       headers=member["headers"]).get_json()
    officer = factory.headers(factory.user("officer"))
    assert client.get(QUEUE, headers=officer).status_code == 403
    assert client.patch(f"{QUEUE}/{made['id']}", json={"status": "closed", "note": "x"},
                        headers=officer).status_code == 403
    assert client.get(QUEUE, headers=member["headers"]).status_code == 403
    admin = factory.headers(factory.user("admin", province=None))
    assert client.get(f"{QUEUE}/999999", headers=admin).status_code == 404
    assert client.patch(f"{QUEUE}/{made['id']}", json={}, headers=admin).status_code == 422


def test_the_reports_are_in_the_openapi_document(client) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/me/access-reports"])
    assert "get" in paths["/api/v1/me/access-log/visits"]
    assert "patch" in paths["/api/v1/admin/access-events/reports/{report_id}"]
    assert "409" in paths["/api/v1/admin/access-events/reports/{report_id}"]["patch"][
        "responses"]


# -- the pages -------------------------------------------------------------------------------
def _signed_in_member(client: FlaskClient, yen: dict[str, Any]) -> None:  # noqa: F811
    assert activate_page(client, yen["member"], yen["code"]).status_code == 303


def test_the_log_page_shows_the_visit_as_one_entry_and_takes_a_report(client, session, log,
                                                                      clock, yen) -> None:  # noqa: F811
    _signed_in_member(client, yen)
    ids = desk_visit(log, yen["member"])
    clock.now += timedelta(days=2)
    emergency = log.record(record_for(yen["member"], "emergency", **OTHER))
    session.commit()
    page = client.get("/me/access-log")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.count('<li id="entry-') == 2
    assert f'id="entry-{ids[0]}"' in html and f'id="entry-{emergency.id}"' in html
    assert html.count('class="emergency-banner"') == 1
    token = csrf(client, "/me/access-log")
    # a slip: no reason chosen; the note typed is kept, the form open, the filters kept
    slip = client.post("/me/access-log/report", data={
        "csrf_token": token, "entry_id": ids[0], "note": "Tôi không đến đó", "clinic": "27001"})
    assert slip.status_code == 422
    kept = slip.get_data(as_text=True)
    assert "Tôi không đến đó</textarea>" in kept and "<details class=\"report\" open>" in kept
    sent = client.post("/me/access-log/report", data={
        "csrf_token": token, "entry_id": ids[0], "reason": "not-there",
        "note": "Tôi không đến đó", "clinic": "27001"})
    assert sent.status_code == 303
    assert sent.headers["Location"].endswith(f"clinic=27001&done=reported#entry-{ids[0]}")
    after = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert "badge status-open" in after and after.count('<li id="entry-') == 1
    twice = client.post("/me/access-log/report", data={
        "csrf_token": token, "entry_id": ids[0], "reason": "other"})
    assert twice.status_code == 303 and "done=already" in twice.headers["Location"]


@pytest.mark.parametrize("query", ["from=yesterday", "from=2026-12-05&to=2026-12-01",
                                   "page=abc", "clinic=" + "9" * 40, "to=2026-13-45"])
def test_bad_filters_are_said_on_the_page_not_a_500(client, session, log, yen,  # noqa: F811
                                                    query) -> None:
    _signed_in_member(client, yen)
    desk_visit(log, yen["member"])
    session.commit()
    page = client.get(f"/me/access-log?{query}")
    assert page.status_code == 200


def test_the_console_queue_is_for_administrators(client, session, log, yen,  # noqa: F811
                                                 factory) -> None:
    ids = desk_visit(log, yen["member"])
    session.commit()
    from app.services.access_events.reports import AccessReports

    report = AccessReports(session, cipher_for_config(client.application.config)).report(
        yen["member"].id, ids[0], "saw-too-much", None, actor="member:test")
    session.commit()
    officer = factory.user("officer")
    assert console_sign_in(client, officer.username).status_code == 303
    assert client.get("/console/access-reports").status_code == 403
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/members")})
    admin = factory.user("admin", province=None, username="dpo.admin")
    assert console_sign_in(client, admin.username, PASSWORD).status_code == 303
    queue = client.get("/console/access-reports")
    assert queue.status_code == 200 and f"#{report.id}" in queue.get_data(as_text=True)
    url = f"/console/access-reports/{report.id}"
    token = csrf(client, url)
    slip = client.post(url, data={"csrf_token": token, "status": "closed", "note": ""})
    assert slip.status_code == 422
    done = client.post(url, data={"csrf_token": token, "status": "closed",
                                  "note": "Đã xác minh với phòng khám."})
    assert done.status_code == 303
    shown = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Đã xác minh với phòng khám." in shown and "allergies" not in shown
