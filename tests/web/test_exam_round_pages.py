"""The exam rounds' pages (issue 26) through Flask's test client: the console's list, plan
form and round page, the portal's invitation and answer, the desk's check-in mode and result
form, and the dashboard's coverage against the targets — each calling the services as the API
does, never showing a result to an office."""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

from app.clock import today_in_vietnam
from app.web.forms import new_token
from tests.app import exam_scene as scene_fixtures
from tests.app.exam_scene import NOISE_RESULT, check_in, participant_id, plan, result_url
from tests.web.test_console import csrf, form_token, sign_in

Scene = dict[str, Any]
exam_scene = scene_fixtures.exam_scene  # the fixture

NEW = "/console/exam-rounds/new"


def _console(client: FlaskClient, scene: Scene) -> None:
    assert sign_in(client, scene["officer"].username).status_code == 303


def _plan_form(client: FlaskClient, scene: Scene, **fields: Any) -> Any:
    today = today_in_vietnam().strftime("%d/%m/%Y")
    data = {"title": "Khám định kỳ — Quế Võ", "kind": "periodic", "clinic_code": "27001",
            "first_day": today, "last_day": today, "union_codes": [scene["union"].code],
            "csrf_token": csrf(client, NEW), "form_token": form_token(client, NEW), **fields}
    return client.post(NEW, data=data)


def test_the_console_plans_a_round_for_the_members_due_and_shows_counts_and_names(
        client: FlaskClient, exam_scene: Scene) -> None:
    _console(client, exam_scene)
    nav = client.get("/console/members").get_data(as_text=True)
    assert 'href="/console/exam-rounds"' in nav
    assert 'id="no-rounds"' in client.get("/console/exam-rounds").get_data(as_text=True)
    form = client.get(NEW).get_data(as_text=True)
    assert "27001" in form and "27002" in form  # both industrial-park clinics of Bắc Ninh
    answer = _plan_form(client, exam_scene, members_due="1")
    assert answer.status_code == 303, answer.get_data(as_text=True)
    page = client.get(answer.headers["Location"])
    html = page.get_data(as_text=True)
    for name in ("Nguyễn Thị Kim Yến", "Trần Văn Bình", "Phạm Thị Lan"):
        assert name in html
    assert "Lê Văn Tú" not in html  # another union
    counts = dict(re.findall(r'data-state="([a-z-]+)">(\d+)</td>', html))
    assert counts["invited"] == "3" and counts["examined"] == "0"
    listed = client.get("/console/exam-rounds").get_data(as_text=True)
    assert "Khám định kỳ — Quế Võ" in listed


def test_a_slip_in_the_plan_form_says_what_and_keeps_what_was_typed(
        client: FlaskClient, exam_scene: Scene) -> None:
    _console(client, exam_scene)
    answer = _plan_form(client, exam_scene, first_day="31/02/2027", title="Vòng khám A")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert 'id="first_day-error"' in html and 'value="Vòng khám A"' in html
    assert 'value="31/02/2027"' in html
    past = _plan_form(client, exam_scene, first_day="01/01/2020", title="Vòng khám B")
    assert past.status_code == 422 and 'id="first_day-error"' in past.get_data(as_text=True)
    # the service's refusal in the page's language (Vietnamese by default)
    assert "Ngày bắt đầu phải là hôm nay hoặc sau đó." in past.get_data(as_text=True)
    nobody = _plan_form(client, exam_scene, union_codes=[], title="Vòng khám C")
    assert nobody.status_code == 422 and 'id="union_codes-error"' in nobody.get_data(
        as_text=True)
    assert 'value="Vòng khám C"' in nobody.get_data(as_text=True)
    assert "Vòng khám" not in client.get("/console/exam-rounds").get_data(as_text=True)


def test_the_round_page_shows_progress_but_never_a_result(
        client: FlaskClient, exam_scene: Scene) -> None:
    round_id = int(plan(client, exam_scene).get_json()["id"])
    assert check_in(client, exam_scene, round_id, exam_scene["texts"]["yen"]).status_code == 200
    pid = participant_id(client, exam_scene, round_id, exam_scene["yen"])
    recorded = client.post(result_url(round_id, pid), json=NOISE_RESULT,
                           headers=exam_scene["clinic_headers"])
    assert recorded.status_code == 201, recorded.get_json()
    assert check_in(client, exam_scene, round_id, exam_scene["texts"]["binh"]).status_code == 200
    _console(client, exam_scene)
    html = client.get(f"/console/exam-rounds/{round_id}").get_data(as_text=True)
    counts = dict(re.findall(r'data-state="([a-z-]+)">(\d+)</td>', html))
    # each step counts everyone who reached it: Yến examined, Bình checked in, Lan invited
    assert (counts["invited"], counts["checked-in"], counts["examined"]) == ("3", "2", "1")
    assert counts["delivered"] == "0"
    for secret in ("H83.3", "Điếc", "nút tai", "fit-with-restrictions", "Tiếng ồn"):
        assert secret not in html
    assert client.get("/console/exam-rounds/999999").status_code == 404


# -- portal -------------------------------------------------------------------------------------
def _portal(client: FlaskClient, scene: Scene) -> None:
    from tests.app.test_member_accounts import PASSWORD as MEMBER_PASSWORD
    from tests.web.test_portal import member_sign_in

    answer = member_sign_in(client, scene["yen"].member_number, MEMBER_PASSWORD)
    assert answer.status_code == 303, answer.get_data(as_text=True)


def _reply(client: FlaskClient, round_id: int, **fields: str) -> Any:
    page = "/me/exam-rounds"
    return client.post(f"/me/exam-rounds/{round_id}/reply", data={
        "csrf_token": csrf(client, page), "form_token": new_token(), **fields})


def test_the_member_sees_her_invitation_and_answers_it_in_the_portal(
        client: FlaskClient, exam_scene: Scene) -> None:
    _portal(client, exam_scene)
    assert 'id="exam-notice"' not in client.get("/me/card").get_data(as_text=True)
    assert 'id="no-rounds"' in client.get("/me/exam-rounds").get_data(as_text=True)
    round_id = int(plan(client, exam_scene).get_json()["id"])
    card = client.get("/me/card").get_data(as_text=True)
    assert 'id="exam-notice"' in card and "Khám định kỳ 2026 — Quế Võ" in card
    # a slip: the day is not a day; the note typed is kept, nothing is saved
    slip = _reply(client, round_id, answer="another-day", preferred_day="32/13/2027",
                  note="Ca đêm tuần này")
    html = slip.get_data(as_text=True)
    assert slip.status_code == 422 and f'id="preferred_day-error-{round_id}"' in html
    assert 'value="Ca đêm tuần này"' in html and 'value="32/13/2027"' in html
    assert 'data-state="invited"' in html
    day = today_in_vietnam().strftime("%d/%m/%Y")
    asked = _reply(client, round_id, answer="another-day", preferred_day=day,
                   note="Ca đêm tuần này")
    assert asked.status_code == 303
    page = client.get(asked.headers["Location"]).get_data(as_text=True)
    assert 'data-state="asked-another-day"' in page and 'id="answered"' in page
    assert _reply(client, round_id, answer="confirm").status_code == 303
    assert 'data-state="confirmed"' in client.get("/me/exam-rounds").get_data(as_text=True)
    # checked in: no more answers; her result is in her record page at once
    assert check_in(client, exam_scene, round_id, exam_scene["texts"]["yen"]).status_code == 200
    closed = client.get("/me/exam-rounds").get_data(as_text=True)
    assert 'data-state="checked-in"' in closed and 'value="confirm"' not in closed
    late = _reply(client, round_id, answer="confirm")
    assert late.status_code == 409
    assert "Đã được ghi nhận đến khám: không thể đổi câu trả lời nữa." in late.get_data(
        as_text=True)
    assert 'id="exam-notice"' not in client.get("/me/card").get_data(as_text=True)
    pid = participant_id(client, exam_scene, round_id, exam_scene["yen"])
    assert client.post(result_url(round_id, pid), json=NOISE_RESULT,
                       headers=exam_scene["clinic_headers"]).status_code == 201
    record = client.get("/me/health").get_data(as_text=True)
    assert "Không làm việc ở nơi ồn trên 85 dB" in record  # the fitness, recommendations
    assert "Đeo nút tai chống ồn" in record and "Điếc nghề nghiệp do tiếng ồn" in record


def test_a_member_cannot_answer_a_round_she_is_not_in(client: FlaskClient,
                                                      exam_scene: Scene) -> None:
    round_id = int(plan(client, exam_scene, union_codes=[exam_scene["other_union"].code])
                   .get_json()["id"])
    _portal(client, exam_scene)
    refused = _reply(client, round_id, answer="confirm")
    assert refused.status_code == 404 and "Lê Văn Tú" not in refused.get_data(as_text=True)
    assert 'id="reply-error"' in refused.get_data(as_text=True)


# -- the clinic desk ---------------------------------------------------------------------------
def _desk(client: FlaskClient, factory: Any, scene: Scene) -> None:
    from tests.web.test_scanner import desk_sign_in

    login = factory.clinic_client(scene["clinic"], "desk")
    assert desk_sign_in(client, login).status_code == 303


def _scan(client: FlaskClient, round_id: int, text: str) -> Any:
    page = f"/clinic/exam-rounds/{round_id}"
    return client.post(f"{page}/check-in", data={"csrf_token": csrf(client, page), "uc1": text})


def test_the_desk_checks_in_a_queue_by_handheld_scanner_text_and_releases_nothing(
        client: FlaskClient, factory: Any, session: Any, exam_scene: Scene) -> None:
    from sqlalchemy import select

    from app.models.access_event import AccessEvent

    round_id = int(plan(client, exam_scene).get_json()["id"])
    _desk(client, factory, exam_scene)
    rounds = client.get("/clinic/exam-rounds").get_data(as_text=True)
    assert f'href="/clinic/exam-rounds/{round_id}"' in rounds
    page = client.get(f"/clinic/exam-rounds/{round_id}").get_data(as_text=True)
    assert 'id="checkin-form"' in page and 'id="checkin-count">0<' in page
    texts = exam_scene["texts"]
    for name in ("yen", "binh", "lan"):  # a handheld reader types the text and its Enter
        answer = _scan(client, round_id, texts[name] + "\r\n")
        assert answer.status_code == 303, answer.get_data(as_text=True)
    shown = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert 'id="checkin-done"' in shown and "Phạm Thị Lan" in shown
    assert 'id="checkin-count">3<' in shown
    for name in ("Nguyễn Thị Kim Yến", "Trần Văn Bình", "Phạm Thị Lan"):
        assert name in shown
    # the same card again: said to be checked in already, nothing new recorded
    again = _scan(client, round_id, texts["yen"] + "\n")
    assert "already=1" in again.headers["Location"]
    # someone not in the round: said so, the text kept, nothing checked in
    outsider = _scan(client, round_id, texts["outsider"])
    html = outsider.get_data(as_text=True)
    assert outsider.status_code == 409 and 'id="checkin-refused"' in html
    assert "Chủ thẻ này không có trong đợt khám này." in html
    assert 'id="checkin-count">3<' in html and "Lê Văn Tú" not in html
    refused = list(session.scalars(select(AccessEvent).where(
        AccessEvent.member_id == exam_scene["outsider"].id, AccessEvent.kind == "denial")))
    assert [e.reason for e in refused] == ["not-in-round"]  # in her access log, as the API
    junk = _scan(client, round_id, "not a card")
    assert junk.status_code == 422 and 'id="checkin-refused"' in junk.get_data(as_text=True)
    # nothing of the record: one verify event per member, released nothing
    events = list(session.scalars(select(AccessEvent).where(
        AccessEvent.member_id == exam_scene["yen"].id, AccessEvent.outcome == "checked-in")))
    assert len(events) == 1 and not events[0].released


def test_the_desk_records_a_result_with_its_slips_said_beside_the_fields(
        client: FlaskClient, factory: Any, exam_scene: Scene) -> None:
    round_id = int(plan(client, exam_scene).get_json()["id"])
    _desk(client, factory, exam_scene)
    assert _scan(client, round_id, exam_scene["texts"]["yen"]).status_code == 303
    page = client.get(f"/clinic/exam-rounds/{round_id}").get_data(as_text=True)
    link = re.search(r'href="(/clinic/exam-rounds/\d+/participants/\d+/result)"', page)
    assert link is not None
    form_page = link.group(1)
    data = {"csrf_token": csrf(client, form_page), "health_class": "II",
            "fitness": "fit-with-restrictions", "fitness_text": "Không làm ca đêm",
            "hazards": "noise Tiếng ồn", "findings": "H83 Điếc\nXYZ Sai mã",
            "recommendations": "Đo thính lực sau 6 tháng", "practitioner": "BS. Mai"}
    slip = client.post(form_page, data=data)
    html = slip.get_data(as_text=True)
    assert slip.status_code == 422 and 'id="findings-error"' in html
    assert "Mã ICD-10 (ví dụ H83.3, J62.8)." in html
    assert "XYZ Sai mã" in html and 'value="Không làm ca đêm"' in html  # kept as typed
    data["findings"] = "H83.3 Điếc nghề nghiệp do tiếng ồn"
    done = client.post(form_page, data=data)
    assert done.status_code == 303
    assert 'id="result-recorded"' in client.get(done.headers["Location"]).get_data(as_text=True)
    twice = client.post(form_page, data=data)  # sent again: recorded already, said so
    assert twice.status_code == 409 and 'id="result-refused"' in twice.get_data(as_text=True)
    # a member invited but not checked in: not named to the clinic (the office's to know)
    lan = participant_id(client, exam_scene, round_id, exam_scene["lan"])
    hidden = client.get(f"/clinic/exam-rounds/{round_id}/participants/{lan}/result")
    assert hidden.status_code == 404 and "Phạm Thị Lan" not in hidden.get_data(as_text=True)
    # the office sees her examined, never the result
    _console(client, exam_scene)
    report = client.get(f"/console/exam-rounds/{round_id}").get_data(as_text=True)
    assert dict(re.findall(r'data-state="([a-z-]+)">(\d+)</td>', report))["examined"] == "1"
    assert "H83.3" not in report and "thính lực" not in report


# -- the dashboard ------------------------------------------------------------------------------
def test_the_dashboard_shows_coverage_against_the_targets_and_the_round_that_moved_it(
        client: FlaskClient, factory: Any, exam_scene: Scene) -> None:
    _console(client, exam_scene)

    def examined_cell(html: str) -> str:
        row = re.search(rf'id="targets-unions".*?data-code="{exam_scene["union"].code}"'
                        r'(.*?)</tr>', html, re.S)
        assert row is not None
        cell = re.search(r'data-share="examined">(.*?)</td>', row.group(1), re.S)
        assert cell is not None
        return " ".join(cell.group(1).split())

    before = client.get("/console/dashboard").get_data(as_text=True)
    assert 'id="targets-provinces"' in before and 'id="no-moves"' in before
    assert examined_cell(before).startswith("0 (0%)")
    round_id = int(plan(client, exam_scene).get_json()["id"])
    assert check_in(client, exam_scene, round_id, exam_scene["texts"]["yen"]).status_code == 200
    pid = participant_id(client, exam_scene, round_id, exam_scene["yen"])
    assert client.post(result_url(round_id, pid), json={**NOISE_RESULT, "findings": []},
                       headers=exam_scene["clinic_headers"]).status_code == 201
    after = client.get("/console/dashboard").get_data(as_text=True)
    assert examined_cell(after).startswith("1 (33%)")  # Yến of Yến, Bình and Lan
    moves = re.search(r'id="round-moves".*?</table>', after, re.S)
    assert moves is not None and f'/console/exam-rounds/{round_id}"' in moves.group(0)
    assert 'data-points="0.333' in moves.group(0)


def test_the_pages_speak_english_when_asked(client: FlaskClient, factory: Any,
                                            exam_scene: Scene) -> None:
    _console(client, exam_scene)
    token = csrf(client, "/console/exam-rounds")
    assert client.post("/console/language", data={
        "csrf_token": token, "lang": "en", "next": "/console/exam-rounds"}).status_code == 303
    listed = client.get("/console/exam-rounds").get_data(as_text=True)
    assert '<html lang="en">' in listed and "No exam rounds yet." in listed
    past = _plan_form(client, exam_scene, first_day="01/01/2020")
    assert "The first day is today or later." in past.get_data(as_text=True)
    dashboard = client.get("/console/dashboard").get_data(as_text=True)
    assert "Against the targets" in dashboard and "below target" in dashboard
