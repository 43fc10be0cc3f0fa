"""The member portal through Flask's test client: activation, sign-in with the API's lockout,
sessions kept apart from staff sessions, the card and presence QR, consents with the notice as
evidence, the access log and the export."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.composition import presence_tokens_for
from app.models import ConsentVersion
from app.services.health.consent_notices import notice
from tests.app.clinic_scene import consent, scene, verify  # noqa: F401
from tests.app.test_member_accounts import BIRTH, PIN, activate, yen  # noqa: F401
from tests.web.test_console import csrf
from tests.web.test_console import sign_in as staff_sign_in

_EXPIRED = "Biểu mẫu đã hết hạn"  # the page says the form expired (in Vietnamese)

NEW_PASSWORD = "a river of stars tonight"
NEW_PIN = "730415"


def activate_page(client: FlaskClient, member: Any, code: str, *, birth: date = BIRTH,
                  pin: str = NEW_PIN, pin_again: str | None = None) -> Any:
    return client.post("/me/activate", data={
        "csrf_token": csrf(client, "/me/activate"), "member_number": member.member_number,
        "activation_code": code, "birth_date": birth.isoformat(), "password": NEW_PASSWORD,
        "pin": pin, "pin_again": pin if pin_again is None else pin_again})


def member_sign_in(client: FlaskClient, login: str, password: str,
                   by: str = "member_number", address: str = "127.0.0.1") -> Any:
    return client.post("/me/login", data={"csrf_token": csrf(client, "/me/login"),
                                          "login": login, "password": password, "by": by},
                       environ_base={"REMOTE_ADDR": address})


@pytest.fixture
def member(client: FlaskClient, yen: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    """Yến activated through the portal and signed in."""
    answer = activate_page(client, yen["member"], yen["code"])
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return yen


def test_activation_signs_the_member_in_with_a_hardened_cookie(
        client: FlaskClient, yen: dict[str, Any]) -> None:  # noqa: F811
    answer = activate_page(client, yen["member"], yen["code"])
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/me/welcome"  # the first sign-in's guidance
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/me/card?activated=1")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and yen["member"].full_name in html
    assert 'src="data:image/png;base64,' in html  # the presence QR, shown without script
    assert page.headers["Cache-Control"] == "no-store"
    assert "<script>" not in html and " style=" not in html
    qr = client.get("/me/card/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"


def test_activation_refusals_show_the_form_again(client: FlaskClient,
                                                 yen: dict[str, Any]) -> None:  # noqa: F811
    wrong_birth = activate_page(client, yen["member"], yen["code"], birth=date(1990, 1, 1))
    assert wrong_birth.status_code == 422
    assert 'id="form-error"' in wrong_birth.get_data(as_text=True)
    differ = activate_page(client, yen["member"], yen["code"], pin_again="730416")
    assert differ.status_code == 422
    weak = activate_page(client, yen["member"], yen["code"], pin="123456")
    assert weak.status_code == 422
    assert client.get("/me/card").status_code == 302  # nobody signed in
    assert activate_page(client, yen["member"], yen["code"]).status_code == 303  # still usable


def test_sign_in_out_and_the_password_lock(app: Flask, client: FlaskClient,
                                           member: dict[str, Any]) -> None:
    number = member["member"].member_number
    client.post("/me/logout", data={"csrf_token": csrf(client, "/me/card")})
    assert client.get("/me/card").status_code == 302
    assert member_sign_in(client, number, NEW_PASSWORD).status_code == 303
    assert client.get("/me/card").status_code == 200
    client.post("/me/logout", data={"csrf_token": csrf(client, "/me/card")})
    assert member_sign_in(client, "0912345678", NEW_PASSWORD, "phone").status_code == 303
    client.post("/me/logout", data={"csrf_token": csrf(client, "/me/card")})
    # the account's lock, counted by the service whatever the address
    for i in range(int(app.config["MEMBER_LOGIN_MAX_FAILURES"])):
        assert member_sign_in(client, number, "not the password",
                              address=f"10.0.0.{i}").status_code == 401
    locked = member_sign_in(client, number, NEW_PASSWORD, address="10.0.1.1")
    assert locked.status_code == 429 and "Retry-After" in locked.headers
    assert "khóa" in locked.get_data(as_text=True)


def test_the_e_mails_access_log_link_lands_on_the_access_log_after_sign_in(
        client: FlaskClient, member: dict[str, Any]) -> None:
    number = member["member"].member_number
    client.post("/me/logout", data={"csrf_token": csrf(client, "/me/card")})
    asked = client.get("/me/access-log")
    assert asked.status_code == 302
    assert asked.headers["Location"] == "/me/login?next=/me/access-log"
    form = client.get("/me/login?next=/me/access-log").get_data(as_text=True)
    assert 'name="next" value="/me/access-log"' in form
    answer = client.post("/me/login", data={
        "csrf_token": csrf(client, "/me/login"), "login": number, "password": NEW_PASSWORD,
        "by": "member_number", "next": "/me/access-log"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/me/access-log"
    # signed in already: straight on
    assert client.get("/me/login?next=/me/consents").headers["Location"] == "/me/consents"


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/me/",
                                    "/console/members", "/me\\..\\console", "",
                                    "/me/card\r\nSet-Cookie: x=1", "/me/\tcard"])
def test_sign_in_never_goes_to_another_site_or_part(client: FlaskClient, member: dict[str, Any],
                                                    target: str) -> None:
    client.post("/me/logout", data={"csrf_token": csrf(client, "/me/card")})
    answer = client.post("/me/login", data={
        "csrf_token": csrf(client, "/me/login"), "login": member["member"].member_number,
        "password": NEW_PASSWORD, "by": "member_number", "next": target})
    assert answer.status_code == 303 and answer.headers["Location"] == "/me/card"


def test_page_logins_share_the_token_endpoints_rate_limit(client: FlaskClient) -> None:
    for _ in range(10):  # LOGIN_RATE_LIMIT: 10 per minute per address and login name
        assert member_sign_in(client, "2499999999", "nope").status_code == 401
    api = client.post("/api/v1/auth/token", json={"member_number": "2499999999",
                                                  "password": "nope"})
    assert api.status_code == 429


def test_logout_ends_the_members_api_tokens(client: FlaskClient, member: dict[str, Any]) -> None:
    token = client.post("/api/v1/auth/token", json={
        "member_number": member["member"].member_number, "password": NEW_PASSWORD}).json
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    client.post("/me/logout", data={"csrf_token": csrf(client, "/me/card")})
    assert client.get("/api/v1/me", headers=bearer).status_code == 401


def test_staff_and_member_sessions_are_kept_apart(factory: Any, client: FlaskClient,
                                                  member: dict[str, Any]) -> None:
    assert client.get("/console/members").status_code == 302  # a member is no officer
    officer = factory.user("officer", "24")
    assert staff_sign_in(client, officer.username).status_code == 303
    assert client.get("/me/card").status_code == 302  # the officer's session is no member's
    assert client.get("/clinic/").status_code == 302


def test_forms_need_the_sessions_csrf_token(client: FlaskClient, session: Session,
                                            member: dict[str, Any]) -> None:
    """A complete, confirmed sharing form is refused for its missing or foreign CSRF token
    alone (the refusal names the expired form), and nothing is shared; the same form with the
    session's token is taken."""
    shown = notice("2026-1", "vi")
    data = {"csrf_token": csrf(client, "/me/consents"), "scope": ["allergies"],
            "grantee_kind": "all-accredited", "purpose": "treatment", "months": "6",
            "read_notice": "yes", "notice_version": shown.version,
            "notice_language": shown.language, "notice_sha256": shown.sha256}
    review = client.post("/me/consents/review", data=data)
    assert review.status_code == 200
    confirm = re.search(r'name="confirm" value="([^"]+)"', review.get_data(as_text=True))
    assert confirm is not None
    confirmed = {**data, "confirm": confirm.group(1)}
    before = session.scalars(select(ConsentVersion)).all()
    without = {k: v for k, v in confirmed.items() if k != "csrf_token"}
    for forged in (without, {**confirmed, "csrf_token": "a-token-of-another-session"}):
        refused = client.post("/me/consents", data=forged)
        assert refused.status_code == 400
        assert _EXPIRED in refused.get_data(as_text=True)
        assert session.scalars(select(ConsentVersion)).all() == before
    taken = client.post("/me/consents", data=confirmed)
    assert taken.status_code in (200, 302, 303), taken.get_data(as_text=True)[:300]
    assert len(session.scalars(select(ConsentVersion)).all()) > len(before)


def test_presence_qr_is_a_valid_token_of_the_current_card(app: Flask, client: FlaskClient,
                                                          member: dict[str, Any]) -> None:
    body = client.get("/me/card/presence").json
    assert body["png"].startswith("data:image/png;base64,") and 0 < body["seconds"] <= 300
    # the service accepts it as presence for her card (it raises otherwise)
    presence_tokens_for(app.config).check(body["token"], member["card"].serial)


def _grant(client: FlaskClient, *scopes: str, **fields: str) -> Any:
    """The sharing form sent, then confirmed (the confirmation step's one-time token)."""
    shown = notice("2026-1", "vi")
    data = {"csrf_token": csrf(client, "/me/consents"), "scope": list(scopes),
            "grantee_kind": "all-accredited", "purpose": "treatment", "months": "6",
            "read_notice": "yes", "notice_version": shown.version,
            "notice_language": shown.language, "notice_sha256": shown.sha256, **fields}
    review = client.post("/me/consents/review", data=data)
    if review.status_code != 200:
        return review
    token = re.search(r'name="confirm" value="([^"]+)"', review.get_data(as_text=True))
    assert token is not None
    return client.post("/me/consents", data={**data, "confirm": token.group(1)})


def test_consents_are_granted_with_the_notice_as_evidence_and_withdrawn_in_one_tap(
        client: FlaskClient, session: Session, member: dict[str, Any]) -> None:
    page = client.get("/me/consents").get_data(as_text=True)
    shown = notice("2026-1", "vi")
    assert shown.sha256 in page and "/stop" not in page  # nothing shared yet
    answer = _grant(client, "allergies", "medications")
    assert answer.status_code == 303, answer.get_data(as_text=True)
    versions = list(session.scalars(select(ConsentVersion).where(
        ConsentVersion.member_id == member["member"].id)
        .execution_options(populate_existing=True)))
    assert sorted(v.scope for v in versions) == ["allergies", "medications"]
    assert {(v.method, v.notice_version, v.notice_language, v.notice_sha256, v.actor)
            for v in versions} == {("web", "2026-1", "vi", shown.sha256,
                                    f"member:{member['member'].id}")}
    withdrawn = versions[0].consent_id
    answer = client.post(f"/me/consents/{withdrawn}/withdraw", data={
        "csrf_token": csrf(client, "/me/consents"), "notice_version": shown.version,
        "notice_language": shown.language, "notice_sha256": shown.sha256})
    assert answer.status_code == 303
    latest = session.scalars(select(ConsentVersion).where(
        ConsentVersion.consent_id == withdrawn).order_by(ConsentVersion.version.desc())
        .execution_options(populate_existing=True)).first()
    assert latest is not None and latest.action == "withdraw" and latest.method == "web"


def test_consent_refusals_write_nothing(client: FlaskClient, session: Session,
                                        member: dict[str, Any]) -> None:
    assert _grant(client, "allergies", read_notice="").status_code == 422
    assert _grant(client, "allergies", notice_sha256="0" * 64).status_code == 422
    assert _grant(client).status_code == 422  # no section ticked
    # the second section is refused (a facility type that is none): neither is written
    assert _grant(client, "allergies", "conditions", grantee_kind="facility-type",
                  facility_type="spaceport").status_code == 422
    assert session.scalar(select(ConsentVersion.id).where(
        ConsentVersion.member_id == member["member"].id)) is None


def test_access_log_and_export(client: FlaskClient, scene: dict[str, Any]) -> None:  # noqa: F811
    assert verify(client, scene).status_code == 200  # a clinic checks the card (API)
    assert member_sign_in(client, scene["member"].member_number,
                          "lotus pond at dawn").status_code == 303
    log = client.get("/me/access-log").get_data(as_text=True)
    assert scene["clinic"].name in log
    download = client.get("/me/data/json")
    assert download.status_code == 200 and download.json["export_version"]
    assert scene["member"].member_number in download.get_data(as_text=True)
    assert "attachment" in download.headers["Content-Disposition"]
    fhir = client.get("/me/data/fhir")
    assert fhir.mimetype == "application/fhir+json" and fhir.json["resourceType"] == "Bundle"
