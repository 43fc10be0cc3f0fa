"""Console card forms act once (``app.web.forms``): Post/Redirect/Get, a one-time form token
answered by its first result when sent again, the activation code shown once after the
redirect (kept in the session, never in the URL)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.app.cards_helpers import office
from tests.web.test_console import TOKEN_RE, form_token, sign_in


@pytest.fixture
def desk_office(factory: Any, client: FlaskClient) -> dict[str, Any]:
    setup = office(factory)
    assert sign_in(client, setup["officer"].username).status_code == 303
    return setup


def _form(client: FlaskClient, path: str) -> dict[str, str]:
    html = client.get(path).get_data(as_text=True)
    csrf = TOKEN_RE.search(html)
    assert csrf
    return {"csrf_token": csrf.group(1), "form_token": form_token(client, path)}


def _cards(client: FlaskClient, office: dict[str, Any], member_id: int) -> list[dict[str, Any]]:
    answer = client.get(f"/api/v1/members/{member_id}/cards", headers=office["headers"])
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    return list(body["items"] if isinstance(body, dict) else body)


def _issue(client: FlaskClient, member_id: int) -> tuple[dict[str, str], Any]:
    form = _form(client, f"/console/members/{member_id}/issue")
    return form, client.post(f"/console/members/{member_id}/issue", data=form)


def test_issuing_redirects_and_a_repeat_issues_nothing(desk_office: dict[str, Any],
                                                       client: FlaskClient) -> None:
    yen = desk_office["yen"]
    form, posted = _issue(client, yen.id)
    assert posted.status_code == 303
    where = posted.headers["Location"]
    assert re.fullmatch(r"/console/cards/[A-Z0-9]+/issued", where)
    first = client.get(where).get_data(as_text=True)
    code = re.search(r'id="activation-code">([^<]+)<', first)
    assert code and code.group(1) not in where
    # the code is shown once: a reload of the page no longer has it
    again = client.get(where).get_data(as_text=True)
    assert 'id="activation-code"' not in again and 'id="activation-code-shown"' in again
    # the form sent again (Back and Reload, a double click): the first result, no new card
    repeat = client.post(f"/console/members/{yen.id}/issue", data=form)
    assert repeat.status_code == 303 and repeat.headers["Location"] == where
    cards = _cards(client, desk_office, yen.id)
    assert [c["status"] for c in cards] == ["active"]


def test_card_actions_act_once_and_a_failure_frees_the_token(desk_office: dict[str, Any],
                                                             client: FlaskClient) -> None:
    yen = desk_office["yen"]
    _issue(client, yen.id)
    serial = _cards(client, desk_office, yen.id)[0]["serial"]
    form = _form(client, f"/console/cards/{serial}/suspend")
    bad = client.post(f"/console/cards/{serial}/suspend", data={**form, "reason": "nonsense"})
    assert bad.status_code == 422
    done = client.post(f"/console/cards/{serial}/suspend", data={**form, "reason": "lost"})
    assert done.status_code == 303 and done.headers["Location"] == f"/console/members/{yen.id}"
    repeat = client.post(f"/console/cards/{serial}/suspend", data={**form, "reason": "lost"})
    assert repeat.status_code == 303 and repeat.headers["Location"] == done.headers["Location"]
    # a second suspension would have been refused (409): the repeat did not act
    assert [c["status"] for c in _cards(client, desk_office, yen.id)] == ["suspended"]


def test_a_form_without_its_token_is_refused(desk_office: dict[str, Any],
                                             client: FlaskClient) -> None:
    yen = desk_office["yen"]
    form = _form(client, f"/console/members/{yen.id}/issue")
    for token in ("", "short", "x" * 200, "bad token with spaces!"):
        answer = client.post(f"/console/members/{yen.id}/issue",
                             data={**form, "form_token": token})
        assert answer.status_code == 400 and "text/html" in answer.content_type
    assert _cards(client, desk_office, yen.id) == []
