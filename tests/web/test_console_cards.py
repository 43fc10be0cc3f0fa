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


def _pdf_text(data: bytes) -> list[str]:
    import pypdfium2

    document = pypdfium2.PdfDocument(data)
    try:
        return [document[n].get_textpage().get_text_range() for n in range(len(document))]
    finally:
        document.close()


def _code_in(text: str) -> str:
    found = re.search(r"\b([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})\b", text)
    assert found, text
    return found.group(1)


def test_a_new_activation_code_keeps_the_card_and_prints_a_letter(
        desk_office: dict[str, Any], client: FlaskClient) -> None:
    from tests.app.test_member_accounts import activate

    yen = desk_office["yen"]
    _form_sent, posted = _issue(client, yen.id)
    first_code = _code_in(client.get(posted.headers["Location"]).get_data(as_text=True))
    serial = _cards(client, desk_office, yen.id)[0]["serial"]
    ask = client.get(f"/console/cards/{serial}/activation-code")
    assert ask.status_code == 200
    form = _form(client, f"/console/cards/{serial}/activation-code")
    made = client.post(f"/console/cards/{serial}/activation-code", data=form)
    assert made.status_code == 303
    shown = client.get(made.headers["Location"]).get_data(as_text=True)
    code = _code_in(shown)
    assert code != first_code and code not in made.headers["Location"]
    assert 'id="activation-code"' not in client.get(made.headers["Location"]).get_data(
        as_text=True)  # shown once
    repeat = client.post(f"/console/cards/{serial}/activation-code", data=form)
    assert repeat.headers["Location"] == made.headers["Location"]  # no third code
    # the letter for the code shown: one page, the code and the portal's address
    letter = client.post(f"/console/cards/{serial}/letter.pdf",
                         data={"csrf_token": form["csrf_token"], "activation_code": code})
    assert letter.status_code == 200 and letter.mimetype == "application/pdf"
    assert "attachment" in letter.headers["Content-Disposition"]
    pages = _pdf_text(letter.data)
    assert len(pages) == 1 and code in pages[0] and "/me/activate" in pages[0]
    assert "Nguyễn Thị Kim Yến" in pages[0] and "Thư kích hoạt" in pages[0]
    assert desk_office["union"].name in pages[0]
    wrong = client.post(f"/console/cards/{serial}/letter.pdf",
                        data={"csrf_token": form["csrf_token"], "activation_code": first_code})
    assert wrong.status_code == 422
    # the card is untouched; the old code no longer activates, the new one does
    assert [(c["serial"], c["status"]) for c in _cards(client, desk_office, yen.id)] == [
        (serial, "active")]
    before = client.get(f"/console/members/{yen.id}").get_data(as_text=True)
    assert 'id="new-code"' in before and 'id="account-activated">' in before
    assert activate(client, yen, first_code, birth=yen.birth_date).status_code != 201
    done = activate(client, yen, code, birth=yen.birth_date, pin="804615")
    assert done.status_code in (200, 201), done.get_json()
    page = client.get(f"/console/cards/{serial}/activation-code").get_data(as_text=True)
    assert 'id="activated-note"' in page  # she has activated: a new code means new secrets
    member_page = client.get(f"/console/members/{yen.id}").get_data(as_text=True)
    activated = re.search(r'id="account-activated">([^<]+)<', member_page)
    assert activated and re.search(r"\d", activated.group(1))  # when
    assert re.search(r'id="account-pin">[^<]*\S', member_page)


def test_a_batch_hands_out_its_letters_once_as_a_pdf(
        desk_office: dict[str, Any], client: FlaskClient, app: Any,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from tests.app.test_member_accounts import activate

    monkeypatch.setitem(app.config, "JOBS_SYNC", True)
    monkeypatch.setitem(app.config, "CARD_BATCH_WORKERS", 0)
    monkeypatch.setitem(app.config, "CARD_BATCH_DIR", str(tmp_path / "batches"))
    form = _form(client, "/console/batches/new")
    started = client.post("/console/batches/new",
                          data={**form, "union_code": desk_office["union"].code})
    assert started.status_code == 303
    job_page = started.headers["Location"]
    again = client.post("/console/batches/new",
                        data={**form, "union_code": desk_office["union"].code})
    assert again.headers["Location"] == job_page
    html = client.get(job_page).get_data(as_text=True)
    assert 'id="letters"' in html
    action = re.search(r'action="([^"]+/letters\.pdf)"', html)
    assert action
    letters_form = {"csrf_token": form["csrf_token"],
                    "form_token": re.findall(r'name="form_token" value="([^"]+)"', html)[-1]}
    pdf = client.post(action.group(1), data=letters_form)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    pages = _pdf_text(pdf.data)
    assert len(pages) == 2
    by_name = {("Yến" if "Kim Yến" in p else "Bình"): _code_in(p) for p in pages}
    # the same form again: already done; a new form: the letters are gone
    assert client.post(action.group(1), data=letters_form).status_code == 409
    gone = client.post(action.group(1), data={**letters_form, "form_token": "n" * 32})
    assert gone.status_code == 410
    assert 'id="letters-taken"' in client.get(job_page).get_data(as_text=True)
    yen = desk_office["yen"]
    assert activate(client, yen, by_name["Yến"], birth=yen.birth_date,
                    pin="804615").status_code in (200, 201)


def test_codes_not_yet_shown_keep_the_session_cookie_small(
        desk_office: dict[str, Any], client: FlaskClient, factory: Any) -> None:
    names = ["Phạm Thị Hoa", "Lê Văn Nam", "Đỗ Thị Thu", "Vũ Văn Hải", "Hồ Thị Lan", "Tạ Văn Sơn"]
    members = [factory.member(desk_office["union"], full_name=name) for name in names]
    places = [_issue(client, m.id)[1].headers["Location"] for m in members]
    cookie = client.get_cookie("unioncard_session")
    assert cookie is not None and len(cookie.value) < 3000
    # the last four wait to be shown; the oldest were dropped (a new code replaces them)
    shown = ['id="activation-code"' in client.get(p).get_data(as_text=True) for p in places]
    assert shown == [False, False, True, True, True, True]
