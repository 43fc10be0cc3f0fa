"""The member portal's account settings, the sharing form and activation (issue 21) through
Flask's test client: every activation mistake beside its field with what was typed kept (a
refused secret excepted), the first sign-in's guidance once; the notice e-mail (audited),
password and PIN changes; the sharing form's narrow defaults, inline errors keeping every
choice, the facility search with and without script, the confirmation step and its one-time
token, stopping a share after asking, undo within the window, and reloads that repeat
nothing."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import AuditEntry, ConsentVersion
from app.services.health.consent_notices import notice
from tests.app.test_member_accounts import BIRTH, yen  # noqa: F401
from tests.web.test_console import csrf
from tests.web.test_portal import (  # noqa: F401
    NEW_PASSWORD,
    NEW_PIN,
    _grant,
    activate_page,
    member,
    member_sign_in,
)

SHOWN = notice("2026-1", "vi")


def _evidence() -> dict[str, str]:
    return {"notice_version": SHOWN.version, "notice_language": SHOWN.language,
            "notice_sha256": SHOWN.sha256}


def _versions(session: Session, member_id: int) -> list[ConsentVersion]:
    return list(session.scalars(select(ConsentVersion).where(
        ConsentVersion.member_id == member_id).order_by(ConsentVersion.id)
        .execution_options(populate_existing=True)))


# -- activation ---------------------------------------------------------------------------
def test_activation_shows_every_mistake_beside_its_field_and_keeps_what_was_typed(
        client: FlaskClient, yen: dict[str, Any]) -> None:  # noqa: F811
    token = csrf(client, "/me/activate")
    answer = client.post("/me/activate", data={
        "csrf_token": token, "member_number": yen["member"].member_number,
        "activation_code": yen["code"], "birth_date": "12/03/1994",
        "password": "short", "pin": NEW_PIN, "pin_again": "730416"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    for field in ("birth_date", "password", "pin_again"):
        assert f'id="{field}-error"' in html and f'aria-describedby="{field}-error' in html
    assert f'value="{yen["code"]}"' in html  # the letter's code is kept
    assert 'value="short"' not in html and f'value="{NEW_PIN}"' not in html  # refused: emptied
    assert "never sent back" in html or "không bao giờ" in html  # and why
    # a wrong birth date (the service's refusal): the secrets that passed their checks stay
    wrong = activate_page(client, yen["member"], yen["code"], birth=date(1990, 1, 1))
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and 'id="form-error"' in html
    assert f'value="{NEW_PASSWORD}"' in html and f'value="{NEW_PIN}"' in html
    assert client.get("/me/card").status_code == 302  # nobody signed in yet


def test_the_first_sign_in_guides_to_sharing_once(client: FlaskClient,
                                                  yen: dict[str, Any]) -> None:  # noqa: F811
    answer = activate_page(client, yen["member"], yen["code"])
    assert answer.status_code == 303 and answer.headers["Location"] == "/me/welcome"
    page = client.get("/me/welcome")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'href="/me/consents"' in html
    assert "Bạn chưa chia sẻ gì" in html  # "you share nothing yet"
    again = client.get("/me/welcome")  # once: afterwards the card
    assert again.status_code == 302 and again.headers["Location"] == "/me/card"


def test_the_sign_in_page_says_what_to_do_after_forgetting_the_password(
        client: FlaskClient) -> None:
    html = client.get("/me/login").get_data(as_text=True)
    assert 'id="forgot"' in html and "mã kích hoạt mới" in html
    client.post("/console/language", data={"csrf_token": csrf(client, "/me/login"),
                                           "lang": "en", "next": "/me/login"})
    html = client.get("/me/login").get_data(as_text=True)
    assert "Ask your union office for a new activation code" in html


# -- account settings ---------------------------------------------------------------------
def test_the_notice_e_mail_is_set_kept_on_a_mistake_audited_and_removed(
        client: FlaskClient, session: Session, member: dict[str, Any]) -> None:  # noqa: F811
    page = client.get("/me/account")
    assert page.status_code == 200 and 'id="email-address"' in page.get_data(as_text=True)
    wrong = client.post("/me/account/email", data={
        "csrf_token": csrf(client, "/me/account"), "email": "yen at example.vn"})
    html = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and 'value="yen at example.vn"' in html
    assert 'id="email-error"' in html
    saved = client.post("/me/account/email", data={
        "csrf_token": csrf(client, "/me/account"), "email": " yen.nguyen@example.vn "})
    assert saved.status_code == 303 and saved.headers["Location"] == "/me/account?done=email#email"
    assert 'value="yen.nguyen@example.vn"' in client.get("/me/account").get_data(as_text=True)
    removed = client.post("/me/account/email", data={
        "csrf_token": csrf(client, "/me/account"), "email": "x@example.vn", "remove": "yes"})
    assert removed.status_code == 303
    audits = list(session.scalars(select(AuditEntry).where(
        AuditEntry.action == "member.notification-email").order_by(AuditEntry.id)))
    assert [a.details["change"] for a in audits] == ["set", "removed"]
    assert all(a.actor == f"member:{member['member'].id}" for a in audits)
    assert not any("example.vn" in str(a.details) for a in audits)  # never the address


def test_the_api_change_of_the_notice_e_mail_is_audited(
        client: FlaskClient, session: Session, member: dict[str, Any]) -> None:  # noqa: F811
    token = client.post("/api/v1/auth/token", json={
        "member_number": member["member"].member_number, "password": NEW_PASSWORD}).json
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    for email in ("a@example.vn", "a@example.vn", "b@example.vn"):
        assert client.put("/api/v1/me/notifications", json={"email": email},
                          headers=headers).status_code == 200
    changes = session.scalars(select(AuditEntry.details).where(
        AuditEntry.action == "member.notification-email").order_by(AuditEntry.id)).all()
    assert [c["change"] for c in changes] == ["set", "changed"]  # the same again: nothing


def test_changing_the_password_checks_each_field_and_keeps_this_browser_signed_in(
        client: FlaskClient, member: dict[str, Any]) -> None:  # noqa: F811
    number = member["member"].member_number

    def change(current: str, new: str, again: str | None = None) -> Any:
        return client.post("/me/account/password", data={
            "csrf_token": csrf(client, "/me/account"), "password": current,
            "new_password": new, "new_password_again": new if again is None else again})

    differ = change(NEW_PASSWORD, "a quiet harbour at noon", "a quiet harbour at n00n")
    assert differ.status_code == 422 and 'id="new_password_again-error"' in differ.get_data(
        as_text=True)
    weak = change(NEW_PASSWORD, "short")
    assert weak.status_code == 422 and 'id="new_password-error"' in weak.get_data(as_text=True)
    wrong = change("not my password", "a quiet harbour at noon")
    assert wrong.status_code == 401
    assert 'id="password_current-error"' in wrong.get_data(as_text=True)
    done = change(NEW_PASSWORD, "a quiet harbour at noon")
    assert done.status_code == 303 and done.headers["Location"] == "/me/account?done=password#password"
    assert client.get("/me/account").status_code == 200  # still signed in here
    client.post("/me/logout", data={"csrf_token": csrf(client, "/me/account")})
    assert member_sign_in(client, number, NEW_PASSWORD).status_code == 401
    assert member_sign_in(client, number, "a quiet harbour at noon").status_code == 303


def test_changing_the_pin(client: FlaskClient, session: Session,
                          member: dict[str, Any]) -> None:  # noqa: F811
    def change(password: str, pin: str, again: str | None = None) -> Any:
        return client.post("/me/account/pin", data={
            "csrf_token": csrf(client, "/me/account"), "password": password, "new_pin": pin,
            "new_pin_again": pin if again is None else again})

    birthday = BIRTH.strftime("%d%m%y")
    assert 'id="new_pin-error"' in change(NEW_PASSWORD, birthday).get_data(as_text=True)
    assert change(NEW_PASSWORD, "620714", "620715").status_code == 422
    assert change("wrong password", "620714").status_code == 401
    assert change(NEW_PASSWORD, "620714").status_code == 303
    assert session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "member.pin")) == 1


# -- the sharing form ---------------------------------------------------------------------
def _form(client: FlaskClient, **fields: Any) -> dict[str, Any]:
    return {"csrf_token": csrf(client, "/me/consents"), **_evidence(), **fields}


def test_the_form_starts_narrow(client: FlaskClient, member: dict[str, Any]) -> None:  # noqa: F811
    html = client.get("/me/consents").get_data(as_text=True)
    form = html[html.index('class="grant"'):]
    assert ' checked' not in form  # no section, grantee or purpose chosen for her
    assert re.search(r'<option value="3" selected>', form)  # the shortest sensible period
    assert "<details" in form and SHOWN.sha256 in form  # the hash behind a disclosure
    assert 'id="facility_q"' in form and "facility_code\" inputmode" not in form


def test_mistakes_are_shown_beside_their_fields_and_every_choice_is_kept(
        client: FlaskClient, session: Session, member: dict[str, Any]) -> None:  # noqa: F811
    answer = client.post("/me/consents/review", data=_form(
        client, scope=["allergies", "medications"], grantee_kind="facility-type",
        facility_type="", months="6"))
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    for field in ("facility_type", "purpose", "read_notice"):
        assert f'id="{field}-error"' in html
    assert 'id="scope-error"' not in html
    assert 'value="allergies" id="scope-allergies" checked' in html
    assert 'value="medications" id="scope-medications" checked' in html
    assert 'id="grantee-facility-type" checked' in html
    assert '<option value="6" selected>' in html
    assert _versions(session, member["member"].id) == []


def test_a_facility_is_found_by_name_or_place_without_script_and_by_the_script(
        client: FlaskClient, factory: Any, member: dict[str, Any]) -> None:  # noqa: F811
    factory.clinic("27001", name="Phòng khám đa khoa KCN Quế Võ",
                   address="KCN Quế Võ, phường Phương Liễu")
    factory.clinic("01045", name="Bệnh viện đa khoa Đông Anh", province_code="01",
                   facility_type="district-hospital", address="xã Đông Anh")
    found = client.post("/me/consents/review", data=_form(
        client, step="search", scope="allergies", grantee_kind="facility",
        facility_q="que vo"))
    html = found.get_data(as_text=True)
    assert found.status_code == 200 and 'id="facility-27001"' in html
    assert 'id="facility-01045"' not in html
    assert 'value="allergies" id="scope-allergies" checked' in html  # kept
    by_place = client.get("/me/consents/facilities?q=%C4%91%C3%B4ng%20anh").json  # "đông anh"
    assert [f["facility_code"] for f in by_place["items"]] == ["01045"]
    assert by_place["items"][0]["place"].endswith("Hà Nội") or by_place["items"][0]["place"]
    assert client.get("/me/consents/facilities?q=x").json["items"] == []  # too short


def test_sharing_with_one_facility_is_confirmed_in_one_sentence_and_saved_once(
        client: FlaskClient, session: Session, factory: Any,
        member: dict[str, Any]) -> None:  # noqa: F811
    factory.clinic("27001", name="Phòng khám đa khoa KCN Quế Võ")
    fields = _form(client, scope=["allergies", "medications"], grantee_kind="facility",
                   facility_code="27001", facility_q="Quế Võ", purpose="treatment",
                   months="3", read_notice="yes")
    review = client.post("/me/consents/review", data=fields)
    html = review.get_data(as_text=True)
    assert review.status_code == 200 and 'id="share-sentence"' in html
    sentence = re.search(r'id="share-sentence">([^<]+)<', html)
    assert sentence is not None
    assert "Phòng khám đa khoa KCN Quế Võ" in sentence.group(1)
    assert "dị ứng" in sentence.group(1) and "thuốc" in sentence.group(1)
    assert _versions(session, member["member"].id) == []  # nothing saved yet
    token = re.search(r'name="confirm" value="([^"]+)"', html)
    assert token is not None
    saved = client.post("/me/consents", data={**fields, "confirm": token.group(1)})
    assert saved.status_code == 303 and saved.headers["Location"] == "/me/consents?done=granted"
    again = client.post("/me/consents", data={**fields, "confirm": token.group(1)})
    assert again.status_code == 303  # a second tap, a resent form: nothing twice
    versions = _versions(session, member["member"].id)
    assert sorted(v.scope for v in versions) == ["allergies", "medications"]
    assert {(v.grantee_kind, v.grantee_value, v.method) for v in versions} == {
        ("facility", "27001", "web")}
    listed = client.get("/me/consents?done=granted").get_data(as_text=True)
    assert listed.count("Phòng khám đa khoa KCN Quế Võ (") >= 2  # by name, not by code
    # without the confirmation's token, the form only shows the confirmation
    unconfirmed = client.post("/me/consents", data=fields)
    assert unconfirmed.status_code == 200 and 'id="share-sentence"' in unconfirmed.get_data(
        as_text=True)
    assert len(_versions(session, member["member"].id)) == 2


def test_stopping_is_asked_first_can_be_undone_once_and_is_listed_apart(
        client: FlaskClient, session: Session, member: dict[str, Any],  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert _grant(client, "allergies", "conditions").status_code == 303
    allergies = next(v for v in _versions(session, member["member"].id)
                     if v.scope == "allergies")
    ask = client.get(f"/me/consents/{allergies.consent_id}/stop")
    assert ask.status_code == 200 and 'id="stop-confirm"' in ask.get_data(as_text=True)
    stop = {"csrf_token": csrf(client, "/me/consents"), **_evidence()}
    stopped = client.post(f"/me/consents/{allergies.consent_id}/withdraw", data=stop)
    assert stopped.status_code == 303
    assert stopped.headers["Location"] == (f"/me/consents?done=withdrawn&undo="
                                           f"{allergies.consent_id}")
    page = client.get(stopped.headers["Location"]).get_data(as_text=True)
    assert 'id="undo"' in page
    ended = page[page.index('id="ended"'):]
    assert f'id="consent-{allergies.consent_id}"' in ended  # listed apart
    again = client.post(f"/me/consents/{allergies.consent_id}/withdraw", data=stop)
    assert again.status_code == 303 and "undo" not in again.headers["Location"]  # a reload
    undo = client.post(f"/me/consents/{allergies.consent_id}/undo", data=stop)
    assert undo.status_code == 303 and undo.headers["Location"] == "/me/consents?done=restored"
    assert client.post(f"/me/consents/{allergies.consent_id}/undo",
                       data=stop).status_code == 303
    active = [v for v in _versions(session, member["member"].id)
              if v.scope == "allergies" and v.status == "active" and v.action == "grant"]
    assert len(active) == 2  # the first grant and the one undo: not two undos
    assert active[1].ends_at == allergies.ends_at  # until the same day
    # the window closed: no undo offered, and a late one restores nothing
    conditions = next(v for v in _versions(session, member["member"].id)
                      if v.scope == "conditions")
    client.post(f"/me/consents/{conditions.consent_id}/withdraw", data=stop)
    monkeypatch.setattr("app.web.portal.consents.UNDO_WINDOW", timedelta(0))
    late = client.post(f"/me/consents/{conditions.consent_id}/undo", data=stop)
    assert late.headers["Location"] == "/me/consents?done=undo-closed"
    assert not any(v.scope == "conditions" and v.status == "active" and v.version == 1
                   and v.consent_id != conditions.consent_id
                   for v in _versions(session, member["member"].id))


def test_another_members_consent_is_not_found(client: FlaskClient,
                                              member: dict[str, Any]) -> None:  # noqa: F811
    assert client.get("/me/consents/0123456789abcdef/stop").status_code == 404
    stop = {"csrf_token": csrf(client, "/me/consents"), **_evidence()}
    assert client.post("/me/consents/0123456789abcdef/undo", data=stop).status_code == 303


def test_sharing_pages_need_signing_in(app: Flask, client: FlaskClient) -> None:
    for path in ("/me/account", "/me/welcome", "/me/consents/facilities?q=que"):
        assert client.get(path).status_code == 302


def test_two_taps_sent_at_once_save_the_share_once(
        client: FlaskClient, session: Session, factory: Any,
        member: dict[str, Any]) -> None:  # noqa: F811
    """Both taps carry the session cookie of before the first answer: the confirmation's token
    is claimed in the database, so the second saves nothing."""
    factory.clinic("27001", name="Phòng khám đa khoa KCN Quế Võ")
    fields = _form(client, scope=["allergies"], grantee_kind="facility", facility_code="27001",
                   facility_q="Quế Võ", purpose="treatment", months="3", read_notice="yes")
    html = client.post("/me/consents/review", data=fields).get_data(as_text=True)
    token = re.search(r'name="confirm" value="([^"]+)"', html)
    assert token is not None
    cookie = client.get_cookie("unioncard_session")
    assert cookie is not None
    first = client.post("/me/consents", data={**fields, "confirm": token.group(1)})
    client.set_cookie("unioncard_session", cookie.value, domain=cookie.domain,
                      path=cookie.path)  # the second tap: the cookie of before
    second = client.post("/me/consents", data={**fields, "confirm": token.group(1)})
    assert first.status_code == second.status_code == 303
    assert second.headers["Location"] == "/me/consents?done=granted"
    assert [v.scope for v in _versions(session, member["member"].id)] == ["allergies"]
