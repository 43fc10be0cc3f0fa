"""Member accounts (issue 10): activation with the card's one-time code, the password and PIN
policies, login by member number or phone, lockouts, logout, and the member's own /me."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.models import AuditEntry, Card, LoginNameFailures, Member, MemberAccount, MemberStatus
from app.services.access import member_accounts
from app.services.access.member_accounts import MemberLoginPolicy
from app.services.errors import PinLocked, ValidationFailed, WrongPin
from tests.app.cards_helpers import desk, office

PASSWORD = "lotus pond at dawn"
PIN = "258036"
BIRTH = date(1994, 3, 12)  # Yến's, in ``office``


@pytest.fixture
def yen(app: Flask, session: Session, factory: Any) -> dict[str, Any]:
    """Yến with a card and its letter's activation code (not yet used)."""
    place = office(factory)
    place["yen"].phone = "0912345678"
    issued = desk(app, session).issue_for(place["yen"])
    session.commit()
    return {**place, "member": place["yen"], "card": issued.card, "code": issued.activation_code}


def activate(client: FlaskClient, member: Any, code: str, *, birth: date = BIRTH,
             password: str = PASSWORD, pin: str = PIN, address: str = "127.0.0.1") -> Any:
    return client.post("/api/v1/me/activate", environ_base={"REMOTE_ADDR": address}, json={
        "member_number": member.member_number, "activation_code": code,
        "birth_date": birth.isoformat(), "password": password, "pin": pin})


def login(client: FlaskClient, password: str = PASSWORD, address: str = "127.0.0.1",
          **name: str) -> Any:
    return client.post("/api/v1/auth/token", json={**name, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def member_headers(client: FlaskClient, member: Any, password: str = PASSWORD) -> dict[str, str]:
    response = login(client, password, member_number=member.member_number)
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def account_of(session: Session, member: Any) -> MemberAccount:
    account = session.scalar(select(MemberAccount).where(MemberAccount.member_id == member.id)
                             .execution_options(populate_existing=True))
    assert account is not None
    return account


def new_code(app: Flask, session: Session, place: dict[str, Any]) -> str:
    """A new code from the office, as the officer's endpoint makes it."""
    from app.services.access.scope import Scope

    serial = member_accounts.current_card(session, place["member"].id).serial
    code: str = desk(app, session).new_activation_code(Scope(_admin()), serial)
    session.commit()
    return code


def _admin() -> Any:
    from app.services.access.tokens import Principal

    return Principal("user", 0, "admin")


# -- activation ---------------------------------------------------------------------------

def test_activation_sets_password_and_pin_and_consumes_the_code(
        client: FlaskClient, session: Session, yen: dict[str, Any]) -> None:
    response = activate(client, yen["member"], yen["code"].lower().replace("-", " "))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["member_number"] == yen["member"].member_number and body["phone_login"] is True
    assert PASSWORD not in response.get_data(as_text=True)
    account = account_of(session, yen["member"])
    assert account.password_hash.startswith("$argon2id$")
    assert account.pin_hash.startswith("$argon2id$") and PIN not in account.pin_hash
    card = session.get(Card, yen["card"].id, populate_existing=True)
    assert card is not None and card.activation_used_at is not None
    assert session.scalar(select(AuditEntry.action).where(
        AuditEntry.object_id == str(yen["member"].id),
        AuditEntry.action == "member.activate")) is not None
    member_accounts.verify_pin(session, yen["member"].id, PIN)
    again = activate(client, yen["member"], yen["code"])
    assert again.status_code == 409
    assert again.get_json()["type"] == "/problems/activation-code-used"


def test_wrong_code_birth_date_or_member_number_say_the_same(
        client: FlaskClient, yen: dict[str, Any], factory: Any) -> None:
    other = factory.member(yen["union"], birth_date=date(1980, 2, 2))
    answers = [
        activate(client, yen["member"], "ABCD-EFGH-JKLM"),
        activate(client, yen["member"], yen["code"], birth=date(1994, 3, 13)),
        activate(client, other, yen["code"], birth=date(1980, 2, 2)),
    ]
    for response in answers:
        assert response.status_code == 422
        assert response.get_json()["type"] == "/problems/activation-failed"
    assert len({r.get_json()["detail"] for r in answers}) == 1
    unknown = client.post("/api/v1/me/activate", json={
        "member_number": "9999999999", "activation_code": yen["code"],
        "birth_date": BIRTH.isoformat(), "password": PASSWORD, "pin": PIN})
    assert unknown.get_json()["detail"] == answers[0].get_json()["detail"]
    assert activate(client, yen["member"], yen["code"]).status_code == 200  # still unused


def test_a_used_or_expired_code_is_told_only_with_the_right_birth_date(
        client: FlaskClient, session: Session, yen: dict[str, Any]) -> None:
    card = session.get(Card, yen["card"].id)
    assert card is not None
    card.activation_expires_at = utc_now() - timedelta(seconds=1)
    session.commit()
    wrong_birth = activate(client, yen["member"], yen["code"], birth=date(1990, 1, 1))
    assert wrong_birth.get_json()["type"] == "/problems/activation-failed"
    expired = activate(client, yen["member"], yen["code"])
    assert expired.status_code == 410
    assert expired.get_json()["type"] == "/problems/activation-code-expired"
    assert session.scalar(select(MemberAccount.id)) is None


def test_codes_expire_after_the_configured_days(app: Flask, session: Session,
                                                yen: dict[str, Any]) -> None:
    card = session.get(Card, yen["card"].id)
    assert card is not None and card.activation_expires_at is not None
    days = int(app.config["ACTIVATION_CODE_DAYS"])
    assert card.activation_expires_at - card.issued_at == timedelta(days=days)
    request = member_accounts.Activation(yen["member"].member_number, yen["code"], BIRTH,
                                         PASSWORD, PIN)
    late = card.activation_expires_at + timedelta(seconds=1)
    with pytest.raises(member_accounts.ActivationCodeExpired):
        member_accounts.activate(session, desk(app, session).cipher, request, now=late)
    card.activation_expires_at = utc_now() - timedelta(days=1)
    session.commit()
    code = new_code(app, session, yen)  # a new code from the office starts a new period
    assert card.activation_expires_at > utc_now() + timedelta(days=days - 1)
    with pytest.raises(member_accounts.ActivationFailed):  # the old code stopped working
        member_accounts.activate(session, desk(app, session).cipher, request)
    member_accounts.activate(session, desk(app, session).cipher, member_accounts.Activation(
        yen["member"].member_number, code, BIRTH, PASSWORD, PIN))


def test_a_revoked_card_or_a_member_who_left_cannot_activate(
        app: Flask, client: FlaskClient, session: Session, yen: dict[str, Any],
        factory: Any) -> None:
    from app.services.access.scope import Scope

    desk(app, session).revoke(Scope(_admin()), yen["card"].serial, "lost")
    session.commit()
    assert activate(client, yen["member"], yen["code"]).get_json()["type"] == \
        "/problems/activation-failed"
    binh = desk(app, session).issue_for(yen["binh"])
    member = session.get(Member, yen["binh"].id)
    assert member is not None
    member.status = MemberStatus.LEFT
    session.commit()
    response = activate(client, member, binh.activation_code, birth=date(1988, 1, 1))
    assert response.get_json()["type"] == "/problems/activation-failed"


@pytest.mark.parametrize(("password", "reason"), [
    ("short one", "at least 12"),
    ("password1234", "common"),
    ("aaaaaaaaaaaaaa", "repeated"),
])
def test_activation_applies_the_password_policy(client: FlaskClient, session: Session,
                                                yen: dict[str, Any], password: str,
                                                reason: str) -> None:
    response = activate(client, yen["member"], yen["code"], password=password)
    assert response.status_code == 422
    body = response.get_json()
    assert body["type"] == "/problems/validation-error"
    assert body["errors"][0]["field"] == "password" and reason in body["detail"]
    card = session.get(Card, yen["card"].id, populate_existing=True)
    assert card is not None and card.activation_used_at is None


def test_the_member_number_is_the_username_of_the_policy(client: FlaskClient,
                                                         yen: dict[str, Any]) -> None:
    password = f"my number {yen['member'].member_number}!"
    response = activate(client, yen["member"], yen["code"], password=password)
    assert response.status_code == 422 and "username" in response.get_json()["detail"]


@pytest.mark.parametrize("pin", [
    "12345", "1234567", "12a456", "２５８０３６", "000000", "777777", "123456", "345678",
    "890123", "987654", "210987", "120394", "940312",
])
def test_activation_applies_the_pin_policy(client: FlaskClient, yen: dict[str, Any],
                                           pin: str) -> None:
    response = activate(client, yen["member"], yen["code"], pin=pin)
    assert response.status_code == 422, pin
    assert response.get_json()["errors"][0]["field"] == "pin"


@pytest.mark.parametrize("pin", ["258036", "135790", "120395", "112233"])
def test_good_pins_pass(pin: str) -> None:
    member_accounts.check_pin(pin, BIRTH)


def test_activation_is_limited_per_member_number_and_address_before_hashing(
        app: Flask, client: FlaskClient, session: Session, yen: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from flask import g

    hashed: list[str] = []
    real = member_accounts.hash_password

    def spy(plain: str) -> str:
        assert "db_session" not in g  # no transaction (nor write lock) waits on argon2
        hashed.append(plain)
        return real(plain)

    monkeypatch.setattr(member_accounts, "hash_password", spy)
    monkeypatch.setitem(app.config, "ACTIVATION_RATE_LIMIT", "3 per minute")
    monkeypatch.setitem(app.config, "ACTIVATION_ADDRESS_RATE_LIMIT", "5 per minute")
    for n in range(3):
        assert activate(client, yen["member"], "ABCD-EFGH-JKLM",
                        address=f"10.1.{n}.1").status_code == 422
    before = len(hashed)
    assert before == 6  # password and PIN of each attempt
    refused = activate(client, yen["member"], yen["code"], address="10.9.9.9")
    assert refused.status_code == 429 and refused.headers.get("Retry-After")
    assert len(hashed) == before  # refused before anything was hashed
    binh = yen["binh"]
    for _ in range(2):
        activate(client, binh, "ABCD-EFGH-JKLM", address="10.2.0.1")
    assert activate(client, binh, "ABCD-EFGH-JKLM", address="10.2.0.1").status_code == 422
    for n in range(2):
        activate(client, binh, "ABCD-EFGH-JKLM", address=f"10.2.0.{n + 2}")
    # the fourth try of Bình's number, from anywhere, and a sixth from one address
    assert activate(client, binh, "ABCD-EFGH-JKLM", address="10.3.0.1").status_code == 429


def test_a_new_code_from_the_office_resets_password_pin_locks_and_tokens(
        app: Flask, client: FlaskClient, session: Session, yen: dict[str, Any]) -> None:
    assert activate(client, yen["member"], yen["code"]).status_code == 200
    old = member_headers(client, yen["member"])
    policy = MemberLoginPolicy(pin_max_failures=2)
    for _ in range(2):
        with pytest.raises(WrongPin):
            member_accounts.verify_pin(session, yen["member"].id, "111222", policy=policy)
    with pytest.raises(PinLocked):
        member_accounts.verify_pin(session, yen["member"].id, PIN, policy=policy)
    response = client.post(f"/api/v1/cards/{yen['card'].serial}/activation-code",
                           headers=yen["headers"])
    assert response.status_code in (200, 201), response.get_json()
    code = response.get_json()["activation_code"]
    assert activate(client, yen["member"], code, password="a new river song",
                    pin="482915").status_code == 200
    assert client.get("/api/v1/me", headers=old).status_code == 401
    assert login(client, member_number=yen["member"].member_number).status_code == 400
    assert login(client, "a new river song",
                 member_number=yen["member"].member_number).status_code == 200


def test_reactivation_resets_locks_and_tokens_and_is_audited(
        app: Flask, session: Session, yen: dict[str, Any]) -> None:
    cipher = desk(app, session).cipher
    number = yen["member"].member_number
    first = member_accounts.activate(session, cipher, member_accounts.Activation(
        number, yen["code"], BIRTH, PASSWORD, PIN))
    first.pin_locked_until = utc_now() + timedelta(hours=1)
    first.password_failures = 4
    session.commit()
    version = first.token_version
    code = new_code(app, session, yen)
    again = member_accounts.activate(session, cipher, member_accounts.Activation(
        number, code, BIRTH, "a new river song", "482915"))
    session.commit()
    assert again.id == first.id and again.token_version == version + 1
    assert again.pin_locked_until is None and again.password_failures == 0
    assert session.scalar(select(AuditEntry.id).where(
        AuditEntry.action == "member.reactivate")) is not None
    member_accounts.verify_pin(session, yen["member"].id, "482915")


# -- login, lockout, logout ----------------------------------------------------------------

def test_login_by_member_number_or_phone(client: FlaskClient, yen: dict[str, Any]) -> None:
    assert activate(client, yen["member"], yen["code"]).status_code == 200
    phone = yen["member"].phone
    assert phone
    for name in ({"member_number": yen["member"].member_number},
                 {"member_number": yen["member"].member_number.lower()},
                 {"phone": phone}, {"phone": "+84 " + phone[1:]}):
        response = login(client, **name)
        assert response.status_code == 200, name
        token = response.get_json()["access_token"]
        me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.get_json()["subject"] == f"member:{yen['member'].id}"
        assert me.get_json()["role"] == "member"
    wrong = login(client, "not the password", member_number=yen["member"].member_number)
    assert wrong.status_code == 400  # RFC 6749 §5.2: invalid_grant
    assert wrong.get_json()["type"] == "/problems/invalid-grant"
    # a member number is never a staff username, nor the other way round
    assert login(client, username=yen["member"].member_number).status_code == 400
    both = client.post("/api/v1/auth/token", json={
        "username": "x", "member_number": yen["member"].member_number, "password": PASSWORD})
    assert both.status_code == 400  # invalid_request
    assert client.post("/api/v1/auth/token", json={"password": PASSWORD}).status_code == 400


def test_a_member_without_account_cannot_log_in(client: FlaskClient,
                                                yen: dict[str, Any]) -> None:
    assert login(client, member_number=yen["member"].member_number).status_code == 400


def test_wrong_passwords_lock_the_member_login_before_hashing(
        app: Flask, client: FlaskClient, session: Session, yen: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "MEMBER_LOGIN_MAX_FAILURES", 3)
    assert activate(client, yen["member"], yen["code"]).status_code == 200
    verified: list[str] = []
    hasher = member_accounts._hasher

    class Spy:
        def __getattr__(self, name: str) -> Any:
            return getattr(hasher, name)

        def verify(self, stored: str, password: str) -> bool:
            verified.append(stored)
            return hasher.verify(stored, password)

    monkeypatch.setattr(member_accounts, "_hasher", Spy())
    number = yen["member"].member_number
    for n in range(3):
        assert login(client, "wrong guess", f"10.5.{n}.1", member_number=number).status_code \
            == 400
    locked = login(client, address="10.6.0.1", member_number=number)
    assert locked.status_code == 429
    assert locked.get_json()["type"] == "/problems/login-locked"
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    assert len(verified) == 3  # the locked attempt hashed nothing
    assert session.scalar(select(AuditEntry.id).where(
        AuditEntry.action == "member.password_locked")) is not None
    # the lock is the member number's (an unknown one locks alike): its end lets her in
    session.execute(update(LoginNameFailures).values(
        locked_until=utc_now() - timedelta(seconds=1)))
    session.commit()
    assert login(client, member_number=number).status_code == 200


def test_the_pin_locks_on_its_own(app: Flask, session: Session, client: FlaskClient,
                                  yen: dict[str, Any]) -> None:
    assert activate(client, yen["member"], yen["code"]).status_code == 200
    policy = MemberLoginPolicy(pin_max_failures=3, pin_lock_seconds=60)
    member_id = yen["member"].id
    for _ in range(2):
        with pytest.raises(WrongPin):
            member_accounts.verify_pin(session, member_id, "111222", policy=policy)
    member_accounts.verify_pin(session, member_id, PIN, policy=policy)  # resets the count
    for _ in range(3):
        with pytest.raises(WrongPin):
            member_accounts.verify_pin(session, member_id, "111222", policy=policy)
    with pytest.raises(PinLocked) as locked:
        member_accounts.verify_pin(session, member_id, PIN, policy=policy)
    assert 0 < locked.value.retry_after <= 60
    # the password is not locked by wrong PINs
    assert login(client, member_number=yen["member"].member_number).status_code == 200
    later = utc_now() + timedelta(seconds=61)
    member_accounts.verify_pin(session, member_id, PIN, policy=policy, now=later)
    with pytest.raises(WrongPin):
        member_accounts.verify_pin(session, 2**31 - 1, PIN)


def test_logout_ends_the_token(client: FlaskClient, factory: Any,
                               yen: dict[str, Any]) -> None:
    assert activate(client, yen["member"], yen["code"]).status_code == 200
    headers = member_headers(client, yen["member"])
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    for _ in range(2):
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401
    assert client.post("/api/v1/auth/logout", headers=headers).status_code == 401
    assert client.get("/api/v1/me", headers=member_headers(client, yen["member"])) \
        .status_code == 200
    staff = yen["headers"]
    assert client.post("/api/v1/auth/logout", headers=staff).status_code == 204
    assert client.get("/api/v1/auth/me", headers=staff).status_code == 401


def test_a_member_who_leaves_loses_tokens_and_login(client: FlaskClient, session: Session,
                                                    yen: dict[str, Any]) -> None:
    assert activate(client, yen["member"], yen["code"]).status_code == 200
    headers = member_headers(client, yen["member"])
    member = session.get(Member, yen["member"].id)
    assert member is not None
    member.status = MemberStatus.SUSPENDED
    session.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert login(client, member_number=member.member_number).status_code == 400


# -- /me -----------------------------------------------------------------------------------

def test_profile_masks_the_personal_id(client: FlaskClient, session: Session,
                                       yen: dict[str, Any]) -> None:
    assert activate(client, yen["member"], yen["code"]).status_code == 200
    response = client.get("/api/v1/me", headers=member_headers(client, yen["member"]))
    assert response.status_code == 200
    body = response.get_json()
    member = yen["member"]
    assert body["member_number"] == member.member_number
    assert body["full_name"] == "Nguyễn Thị Kim Yến" and body["birth_date"] == "1994-03-12"
    assert body["union_code"] == "CDCS-24-QUEVO1" and body["union_name"].startswith("CĐCS")
    assert body["province_code"] == "24" and body["province_name"]
    assert body["card_status"] == "active" and body["status"] == "active"
    assert body["personal_id_masked"] == "********" + member.personal_id_last4
    from app.services.registry.members import PERSONAL_ID_CONTEXT

    cipher = desk(client.application, session).cipher
    full = cipher.decrypt(member.personal_id_encrypted, PERSONAL_ID_CONTEXT,
                          member.personal_id_hash)
    assert len(full) == 12 and full not in response.get_data(as_text=True)


def test_the_member_card_and_its_qr(app: Flask, client: FlaskClient, session: Session,
                                    yen: dict[str, Any]) -> None:
    assert activate(client, yen["member"], yen["code"]).status_code == 200
    headers = member_headers(client, yen["member"])
    response = client.get("/api/v1/me/card", headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["serial"] == yen["card"].serial and body["status"] == "active"
    assert body["text"] == desk(app, session).text(yen["card"])
    assert body["text"].startswith("UC1:") and body["expires_at"]
    png = client.get(body["downloads"]["qr.png"], headers=headers)
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.data.startswith(b"\x89PNG") and png.headers["Cache-Control"] == "private, no-store"
    svg = client.get("/api/v1/me/card/qr.svg", headers=headers)
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    assert client.get("/api/v1/me/card/card.pdf", headers=headers).status_code == 404
    # a new card supersedes the old one: /me/card follows it
    issued = desk(app, session).issue_for(yen["member"])
    session.commit()
    assert client.get("/api/v1/me/card", headers=headers).get_json()["serial"] == \
        issued.card.serial


def test_no_current_card_is_404(app: Flask, client: FlaskClient, session: Session,
                                yen: dict[str, Any]) -> None:
    from app.services.access.scope import Scope

    assert activate(client, yen["member"], yen["code"]).status_code == 200
    headers = member_headers(client, yen["member"])
    desk(app, session).revoke(Scope(_admin()), yen["card"].serial, "lost")
    session.commit()
    assert client.get("/api/v1/me/card", headers=headers).status_code == 404
    assert client.get("/api/v1/me/card/qr.png", headers=headers).status_code == 404
    assert client.get("/api/v1/me", headers=headers).get_json()["card_status"] is None


def test_change_password(client: FlaskClient, yen: dict[str, Any]) -> None:
    assert activate(client, yen["member"], yen["code"]).status_code == 200
    headers = member_headers(client, yen["member"])
    wrong = client.post("/api/v1/me/password", headers=headers,
                        json={"password": "not it at all", "new_password": "a new river song"})
    assert wrong.status_code == 401
    weak = client.post("/api/v1/me/password", headers=headers,
                       json={"password": PASSWORD, "new_password": "short"})
    assert weak.status_code == 422 and weak.get_json()["errors"][0]["field"] == "password"
    ok = client.post("/api/v1/me/password", headers=headers,
                     json={"password": PASSWORD, "new_password": "a new river song"})
    assert ok.status_code == 200
    assert client.get("/api/v1/me", headers=headers).status_code == 401  # old token ended
    fresh = {"Authorization": f"Bearer {ok.get_json()['access_token']}"}
    assert client.get("/api/v1/me", headers=fresh).status_code == 200
    assert login(client, member_number=yen["member"].member_number).status_code == 400
    assert login(client, "a new river song",
                 member_number=yen["member"].member_number).status_code == 200


def test_wrong_old_passwords_count_towards_the_lock(
        app: Flask, client: FlaskClient, yen: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "MEMBER_LOGIN_MAX_FAILURES", 2)
    assert activate(client, yen["member"], yen["code"]).status_code == 200
    headers = member_headers(client, yen["member"])
    for _ in range(2):
        assert client.post("/api/v1/me/pin", headers=headers, json={
            "password": "not it at all", "new_pin": "482915"}).status_code == 401
    locked = client.post("/api/v1/me/pin", headers=headers,
                         json={"password": PASSWORD, "new_pin": "482915"})
    assert locked.status_code == 429 and locked.get_json()["type"] == "/problems/login-locked"


def test_change_pin(client: FlaskClient, session: Session, yen: dict[str, Any]) -> None:
    assert activate(client, yen["member"], yen["code"]).status_code == 200
    headers = member_headers(client, yen["member"])
    weak = client.post("/api/v1/me/pin", headers=headers,
                       json={"password": PASSWORD, "new_pin": "120394"})
    assert weak.status_code == 422 and weak.get_json()["errors"][0]["field"] == "pin"
    assert client.post("/api/v1/me/pin", headers=headers,
                       json={"password": PASSWORD, "new_pin": "482915"}).status_code == 204
    member_accounts.verify_pin(session, yen["member"].id, "482915")
    with pytest.raises(WrongPin):
        member_accounts.verify_pin(session, yen["member"].id, PIN)
    assert client.get("/api/v1/me", headers=headers).status_code == 200  # token still good


def test_staff_tokens_get_403_on_me(client: FlaskClient, factory: Any,
                                    yen: dict[str, Any]) -> None:
    admin = factory.headers(factory.user("admin"))
    for headers in (yen["headers"], admin):
        for path in ("/api/v1/me", "/api/v1/me/card", "/api/v1/me/card/qr.png"):
            response = client.get(path, headers=headers)
            assert response.status_code == 403, path
        assert client.post("/api/v1/me/pin", headers=headers, json={
            "password": PASSWORD, "new_pin": "482915"}).status_code == 403
    assert client.get("/api/v1/me").status_code == 401


def test_member_tokens_get_no_staff_route(app: Flask, client: FlaskClient,
                                          yen: dict[str, Any]) -> None:
    """Walk the URL map: every route that wants a token answers a member 403 (or 404 from a
    pre-check), never 2xx."""
    assert activate(client, yen["member"], yen["code"]).status_code == 200
    headers = member_headers(client, yen["member"])
    checked = []
    for rule in app.url_map.iter_rules():
        if rule.rule == "/api/v1/me" or rule.rule.startswith(("/api/v1/me/", "/api/v1/auth/")):
            continue
        args: dict[str, str] = {}
        for name, converter in rule._converters.items():
            kind = type(converter).__name__
            if kind == "AnyConverter":
                args[name] = next(iter(converter.items))  # type: ignore[attr-defined]
            else:
                args[name] = "1" if kind == "DatabaseIdConverter" else "X"
        path = rule.build(args)[1] if rule.arguments else rule.rule
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            body = {} if method not in ("GET", "DELETE") else None
            anonymous = client.open(path, method=method, json=body)
            if anonymous.status_code != 401:
                continue  # public (or a page with its own session login)
            checked.append((method, path))
            response = client.open(path, method=method, headers=headers, json=body)
            assert response.status_code in (403, 404), (method, path, response.status_code)
            assert not 200 <= response.status_code < 300
    assert len(checked) >= 39 and ("GET", "/api/v1/members") in checked
    assert ("POST", "/api/v1/cards/X/activation-code") in checked


def test_the_demo_prints_a_member_login_that_works(app: Flask, client: FlaskClient,
                                                   session: Session) -> None:
    from app.services import demo

    report = demo.load(session, desk(app, session).cipher, desk(app, session))
    session.commit()
    (number, password), = [(user, pw) for role, user, pw in report.logins if role == "member"]
    assert any(number in line and password in line for line in report.lines())
    assert login(client, password, member_number=number).status_code == 200
    member = session.scalar(select(Member).where(Member.member_number == number))
    assert member is not None
    member_accounts.verify_pin(session, member.id, demo.DEMO_MEMBER_PIN)
    again = demo.load(session, desk(app, session).cipher, desk(app, session))
    session.commit()
    assert again.created == [] and ("member", number, password) in again.logins


def test_pin_policy_errors_never_echo_the_pin() -> None:
    with pytest.raises(ValidationFailed) as refused:
        member_accounts.check_pin("120394", BIRTH)
    assert "120394" not in str(refused.value.errors)



def test_simultaneous_activations_with_one_code_one_wins(committed_office: Any) -> None:
    """Four activations with the same code at the same moment, on a committed database:
    exactly one 200, the others 409 `activation-code-used`, one account, never a 500."""
    import threading

    from app.extensions import db
    from tests.conftest import Factory

    application = committed_office("activation")
    session = db.new_session(application)
    try:
        factory = Factory(application, session)
        union = factory.union("CDCS-24-RACE", "24")
        member = factory.member(union, birth_date=BIRTH)
        code = desk(application, session).issue_for(member).activation_code
        session.commit()
        barrier = threading.Barrier(4)
        statuses: list[int] = []

        def worker(n: int) -> None:
            client = application.test_client()
            barrier.wait()
            statuses.append(activate(client, member, code, pin=f"25803{n + 6}",
                                     address=f"10.7.0.{n}").status_code)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert sorted(statuses) == [200, 409, 409, 409]
        assert session.scalar(select(MemberAccount.id).where(
            MemberAccount.member_id == member.id)) is not None
    finally:
        session.close()
