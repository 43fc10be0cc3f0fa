"""The office's reprint list: GET /api/v1/cards/reprints and POST /api/v1/cards/{serial}/reprinted."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from app.composition import card_desk_for
from tests.app.test_consent_on_card import grant_on_card, scope, store_summary, world  # noqa: F401

URL = "/api/v1/cards/reprints"


def _reissued(app: Any, session: Any, member: Any) -> str:
    store_summary(session, member.id)
    card_desk_for(app, session, "user:1").issue(scope(), member.id)
    grant_on_card(app, session, member.id)
    session.commit()
    [serial] = [c.serial for c in card_desk_for(app, session, "t").reprints_due(scope())
                if c.member_id == member.id]
    return serial


def test_the_office_lists_pages_and_marks_reprints(app: Any, session: Any, client: FlaskClient,
                                                  world: dict[str, Any]) -> None:  # noqa: F811
    first = _reissued(app, session, world["yen"])
    second = _reissued(app, session, world["binh"])
    headers = world["headers"]
    page = client.get(URL, headers=headers)
    assert page.status_code == 200, page.get_json()
    body = page.get_json()
    assert (body["total"], body["page"], body["per_page"]) == (2, 1, 50)
    assert [i["serial"] for i in body["items"]] == [first, second]  # oldest first
    item = body["items"][0]
    assert (item["member_number"], item["full_name"]) == (world["yen"].member_number,
                                                          "Nguyễn Thị Kim Yến")
    assert item["has_emergency_core"] is True and item["downloads"]
    one = client.get(URL, headers=headers, query_string={"per_page": 1, "page": 2}).get_json()
    assert [i["serial"] for i in one["items"]] == [second] and one["total"] == 2
    assert client.get(URL, headers=headers, query_string={"per_page": 0}).status_code == 422

    done = client.post(f"/api/v1/cards/{first}/reprinted", headers=headers)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["reprint_needed"] is False
    assert client.post(f"/api/v1/cards/{first}/reprinted", headers=headers).status_code == 200
    assert [i["serial"] for i in client.get(URL, headers=headers).get_json()["items"]] == [second]


def test_other_offices_see_none_and_cannot_mark(app: Any, session: Any, client: FlaskClient,
                                                factory: Any,
                                                world: dict[str, Any]) -> None:  # noqa: F811
    serial = _reissued(app, session, world["yen"])
    elsewhere = factory.headers(factory.user("officer", "79"))
    assert client.get(URL, headers=elsewhere).get_json()["items"] == []
    assert client.post(f"/api/v1/cards/{serial}/reprinted", headers=elsewhere).status_code == 404
    assert client.get(URL).status_code == 401
