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
    assert counts["examined"] == "1" and counts["checked-in"] == "1" and counts["invited"] == "1"
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
