"""The office console through Flask's test client: sign-in, sessions, CSRF, languages, search,
member pages, card actions with confirmation, printing and the dashboard."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.app.cards_helpers import office
from tests.conftest import PASSWORD

TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM_TOKEN_RE = re.compile(r'name="form_token" value="([^"]+)"')


def csrf(client: FlaskClient, path: str) -> str:
    """The CSRF token of the form on ``path``."""
    page = client.get(path)
    match = TOKEN_RE.search(page.get_data(as_text=True))
    assert match, page.get_data(as_text=True)[:500]
    return match.group(1)


def form_token(client: FlaskClient, path: str) -> str:
    """The one-time form token of the form on ``path`` (``app.web.forms``)."""
    match = FORM_TOKEN_RE.search(client.get(path).get_data(as_text=True))
    assert match
    return match.group(1)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    token = csrf(client, "/console/login")
    return client.post("/console/login", data={"username": username, "password": password,
                                               "csrf_token": token})


@pytest.fixture
def desk_office(factory: Any, client: FlaskClient) -> dict[str, Any]:
    setup = office(factory)
    answer = sign_in(client, setup["officer"].username)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return setup


def test_pages_need_a_signed_in_staff_member(client: FlaskClient) -> None:
    answer = client.get("/console/members?q=yen")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/console/login?next=")
    assert client.get("/console/members/search.json?q=yen").status_code == 302


def test_sign_in_sets_a_hardened_session_cookie_and_headers(factory: Any,
                                                            client: FlaskClient) -> None:
    officer = factory.user("officer", "24")
    answer = sign_in(client, officer.username)
    assert answer.status_code == 303
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # served over plain HTTP in tests (PUBLIC_BASE_URL http://)
    page = client.get("/console/members")
    assert page.status_code == 200
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert "<script>" not in html and " style=" not in html  # nothing inline


def test_session_cookie_is_secure_behind_https(make_app: Any) -> None:
    secure = make_app({"PUBLIC_BASE_URL": "https://the.union.vn"})
    with secure.test_client() as browser:
        form = browser.get("/console/login")  # its CSRF token opens the session
        cookie = form.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_wrong_password_and_foreign_forms_are_refused(factory: Any, client: FlaskClient) -> None:
    officer = factory.user("officer", "24")
    wrong = sign_in(client, officer.username, "not the password at all")
    assert wrong.status_code == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in wrong.get_data(as_text=True)
    # a form posted without this session's token (another site's page) is refused
    forged = client.post("/console/login", data={"username": officer.username,
                                                 "password": PASSWORD})
    assert forged.status_code == 400
    assert client.get("/console/members").status_code == 302


def test_signing_out_ends_the_session_and_the_accounts_tokens(desk_office: dict[str, Any],
                                                              client: FlaskClient) -> None:
    api_headers = desk_office["headers"]
    assert client.get("/api/v1/auth/me", headers=api_headers).status_code == 200
    token = csrf(client, "/console/members")
    assert client.post("/console/logout", data={"csrf_token": token}).status_code == 303
    assert client.get("/console/members").status_code == 302
    assert client.get("/api/v1/auth/me", headers=api_headers).status_code == 401


def test_disabling_an_account_ends_its_page_session(desk_office: dict[str, Any], session: Any,
                                                    client: FlaskClient) -> None:
    from app.services.access import accounts

    accounts.disable_user(session, desk_office["officer"], actor="test")
    session.commit()
    assert client.get("/console/members").status_code == 302


def test_search_ignores_diacritics_and_stays_in_scope(desk_office: dict[str, Any], factory: Any,
                                                      client: FlaskClient) -> None:
    other = factory.union("CDCS-01-OTHER", "01")
    factory.member(other, full_name="Nguyễn Thị Kim Yên")  # in province 01: not this office's
    found = client.get("/console/members/search.json?q=nguyen thi kim").get_json()
    assert [m["name"] for m in found["items"]] == ["Nguyễn Thị Kim Yến"]
    assert found["items"][0]["href"] == f"/console/members/{desk_office['yen'].id}"
    by_number = client.get("/console/members/search.json?q="
                           + desk_office["binh"].member_number).get_json()
    assert [m["name"] for m in by_number["items"]] == ["Trần Văn Bình"]
    page = client.get("/console/members?q=tran van").get_data(as_text=True)
    assert "Trần Văn Bình" in page and "Nguyễn Thị Kim Yến" not in page


def test_member_page_shows_coverage_never_content(desk_office: dict[str, Any],
                                                  client: FlaskClient) -> None:
    yen = desk_office["yen"]
    page = client.get(f"/console/members/{yen.id}").get_data(as_text=True)
    assert "Chưa liên kết" in page  # no health record linked
    assert yen.member_number in page
    assert "********" in page or "*" in page  # the personal ID is masked
    assert client.get("/console/members/999999").status_code == 404


def test_issue_suspend_and_revoke_with_confirmation(desk_office: dict[str, Any],
                                                    client: FlaskClient) -> None:
    yen = desk_office["yen"]
    confirm = client.get(f"/console/members/{yen.id}/issue")
    assert "Đồng ý, cấp thẻ" in confirm.get_data(as_text=True)
    token = TOKEN_RE.search(confirm.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    once = FORM_TOKEN_RE.search(confirm.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    posted = client.post(f"/console/members/{yen.id}/issue",
                         data={"csrf_token": token, "form_token": once})
    assert posted.status_code == 303  # Post/Redirect/Get
    issued = client.get(posted.headers["Location"])
    assert issued.status_code == 200
    html = issued.get_data(as_text=True)
    serial = re.search(r"/console/cards/([^/]+)/print/card.pdf", html).group(1)  # type: ignore[union-attr]
    assert re.search(r'id="activation-code">\S+<', html)
    pdf = client.get(f"/console/cards/{serial}/print/card.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert pdf.data.startswith(b"%PDF")
    # suspending asks first, with a reason
    ask = client.get(f"/console/cards/{serial}/suspend").get_data(as_text=True)
    assert 'name="reason"' in ask and 'value="investigation"' in ask
    done = client.post(f"/console/cards/{serial}/suspend",
                       data={"csrf_token": token, "reason": "lost",
                             "form_token": form_token(client, f"/console/cards/{serial}/suspend")})
    assert done.status_code == 303
    member_page = client.get(f"/console/members/{yen.id}").get_data(as_text=True)
    assert "tạm khóa" in member_page and "đã tạm khóa thẻ" in member_page  # status and history
    # the same refusal as the API: suspending twice is a conflict, shown as a page
    again = client.post(f"/console/cards/{serial}/suspend",
                        data={"csrf_token": token, "reason": "other",
                              "form_token": form_token(client, f"/console/cards/{serial}/suspend")})
    assert again.status_code == 409 and "text/html" in again.content_type
    revoked = client.post(f"/console/cards/{serial}/revoke",
                          data={"csrf_token": token, "reason": "stolen",
                                "form_token": form_token(client, f"/console/cards/{serial}/revoke")})
    assert revoked.status_code == 303
    api = client.get(f"/api/v1/cards/{serial}", headers=desk_office["headers"]).get_json()
    assert api["status"] == "revoked"


def test_register_and_edit_a_member(desk_office: dict[str, Any], client: FlaskClient) -> None:
    from datetime import date

    from tests.conftest import make_cccd

    token = csrf(client, "/console/members/new")
    form = {"csrf_token": token, "full_name": "Lê Thị Hồng Nhung", "birth_date": "1992-08-30",
            "sex": "F", "personal_id": make_cccd(date(1992, 8, 30), "F"),
            "union_code": desk_office["union"].code}
    once = form_token(client, "/console/members/new")  # the member forms act once too
    bad = client.post("/console/members/new",
                      data={**form, "personal_id": "123", "form_token": once})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.get_data(as_text=True)
    made = client.post("/console/members/new", data={**form, "form_token": once})
    assert made.status_code == 303
    assert client.post("/console/members/new", data={**form, "form_token": once}
                       ).headers["Location"] == made.headers["Location"]  # sent again: once
    page = client.get(made.headers["Location"]).get_data(as_text=True)
    assert "Lê Thị Hồng Nhung" in page
    edit = made.headers["Location"] + "/edit"
    changed = client.post(edit, data={**form, "personal_id": "", "phone": "0912345678",
                                      "form_token": form_token(client, edit)})
    assert changed.status_code == 303
    assert "+84912345678" in client.get(made.headers["Location"]).get_data(as_text=True)


def test_english_by_a_switch(desk_office: dict[str, Any], client: FlaskClient) -> None:
    token = csrf(client, "/console/members")
    assert "Tìm đoàn viên" in client.get("/console/members").get_data(as_text=True)
    switched = client.post("/console/language", data={"csrf_token": token, "lang": "en",
                                                      "next": "/console/members"})
    assert switched.status_code == 303 and switched.headers["Location"] == "/console/members"
    page = client.get("/console/members").get_data(as_text=True)
    assert "Find a member" in page and '<html lang="en">' in page
    # never to another site
    away = client.post("/console/language", data={"csrf_token": token, "lang": "vi",
                                                   "next": "//evil.example/"})
    assert away.headers["Location"] == "/console/members"


def test_dashboard_draws_svg_charts_in_scope(desk_office: dict[str, Any], factory: Any,
                                             client: FlaskClient) -> None:
    other = factory.union("CDCS-01-ELSE", "01", name="Công đoàn ngoài phạm vi")
    factory.member(other, full_name="Phạm Văn Xa")
    page = client.get("/console/dashboard")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.count("<svg") == 4
    # the exams falling due, month by month: this month and the eleven after it
    assert "Khám sức khỏe định kỳ đến hạn theo từng tháng" in html
    section = html.split("Khám sức khỏe định kỳ theo tháng")[1].split("</section>")[0]
    assert section.count('<th scope="col">') == 12
    assert "CĐCS Công ty TNHH Điện tử Quế Võ" in html
    assert "Công đoàn ngoài phạm vi" not in html  # another province's union
    assert "<script" not in html.split("</head>")[1]


def test_every_message_is_translated_and_compiled() -> None:
    from pathlib import Path

    from babel.messages.extract import extract_from_dir
    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    import app.web

    web = Path(app.web.__file__).parent
    root = web.parent.parent
    method_map = [("app/web/**.py", "python"), ("app/web/templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None, "N_": None}
    found = {message for _f, _l, message, _c, _x in extract_from_dir(
        str(root), method_map, keywords=keywords) if isinstance(message, str)}
    assert len(found) > 100
    catalog_dir = web / "translations" / "vi" / "LC_MESSAGES"
    with open(catalog_dir / "messages.po", "rb") as po_file:
        po = read_po(po_file)
    with open(catalog_dir / "messages.mo", "rb") as mo_file:
        mo = read_mo(mo_file)
    translated = {m.id: m.string for m in po if m.id and m.string and not m.fuzzy}
    assert sorted(found - set(translated)) == [], "run scripts/translations and translate"
    compiled = {m.id: m.string for m in mo if m.id}
    assert compiled == {k: v for k, v in translated.items() if k in compiled}
    assert set(translated) <= set(compiled), "run scripts/translations to compile"


def test_page_logins_share_the_token_endpoints_rate_limit(factory: Any,
                                                          client: FlaskClient) -> None:
    officer = factory.user("officer", "24")
    token = csrf(client, "/console/login")
    answers = [client.post("/console/login", data={
        "username": officer.username, "password": "wrong password here", "csrf_token": token,
    }).status_code for _ in range(11)]
    assert answers[:10] == [401] * 10 and answers[10] == 429
    # the same bucket as the API's token endpoint (address and username)
    api = client.post("/api/v1/auth/token", json={"username": officer.username,
                                                  "password": PASSWORD})
    assert api.status_code == 429


def test_a_session_past_its_lifetime_is_signed_out(desk_office: dict[str, Any],
                                                   client: FlaskClient) -> None:
    assert client.get("/console/members").status_code == 200
    with client.session_transaction() as cookie:
        cookie["staff"] = {**cookie["staff"], "exp": cookie["staff"]["exp"] - 9 * 3600}
    assert client.get("/console/members").status_code == 302


def test_the_language_chosen_before_signing_in_stays(factory: Any, client: FlaskClient) -> None:
    officer = factory.user("officer", "24")
    token = csrf(client, "/console/login")
    client.post("/console/language", data={"csrf_token": token, "lang": "en",
                                           "next": "/console/login"})
    assert "Username" in client.get("/console/login").get_data(as_text=True)
    assert sign_in(client, officer.username).status_code == 303
    assert "Find a member" in client.get("/console/members").get_data(as_text=True)
