"""Issue 19, PIN guessing and presence-token replay: the member's wrong PINs are counted
atomically (exactly the allowed number compared however many arrive at once), each clinic
client's wrong PINs across members are capped, locks in a row grow longer, administrators see
and clear them; a presence token serves only the first clinic that presents it."""

# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.config import ConfigError
from app.duties import prune_pin_presence
from app.models import AuditEntry, MemberAccount, PinClientWindow, PresenceBinding, Union
from app.services.access import member_accounts
from app.services.access.accounts import hash_password
from app.services.access.member_accounts import MemberLoginPolicy
from app.services.access.pin_guard import PinClientCap, window_start
from app.services.clinic_flow import presence
from app.services.errors import PinAttemptsCapped, PinLocked, PresenceInvalid, WrongPin
from tests.app.clinic_scene import events, scene, verify  # noqa: F401
from tests.app.test_member_accounts import member_headers, yen  # noqa: F401
from tests.conftest import Factory

PIN = "258036"
WRONG_PIN = "147036"
THREADS = 40
NAMES = ("An", "Bình", "Cường", "Dũng", "Hải", "Khoa")


# -- helpers ---------------------------------------------------------------------------------
def _members_with_pins(app: Flask, count: int) -> list[int]:
    """``count`` members of a committed database, each with an account and the PIN ``PIN``."""
    from app.extensions import db

    session = db.new_session(app)
    try:
        union = session.scalar(select(Union).where(Union.code == "CDCS-24-QUEVO1"))
        factory = Factory(app, session)
        ids = []
        for n in range(count):
            member = factory.member(union, full_name=f"Nguyễn Văn {NAMES[n]}")
            session.add(MemberAccount(member_id=member.id, province_code=member.province_code,
                                      password_hash=hash_password("x" * 16),
                                      pin_hash=hash_password(PIN), activated_at=utc_now()))
            ids.append(member.id)
        session.commit()
        return ids
    finally:
        session.close()


def _at_once(app: Flask, calls: list[Any]) -> list[str]:
    """Run each call (``fn(session)``) in a thread of its own, all released together, each
    with its own session; the name of what each raised (``ok`` when nothing)."""
    from app.extensions import db

    start = threading.Barrier(len(calls))
    results: list[str] = [""] * len(calls)

    def run(n: int) -> None:
        session = db.new_session(app)
        try:
            start.wait()
            calls[n](session)
            results[n] = "ok"
        except Exception as exc:  # noqa: BLE001 - counted by the test
            results[n] = type(exc).__name__
        finally:
            session.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    return results


def _account(app: Flask, member_id: int) -> MemberAccount:
    from app.extensions import db

    session = db.new_session(app)
    try:
        account = session.scalar(select(MemberAccount)
                                 .where(MemberAccount.member_id == member_id))
        assert account is not None
        session.expunge(account)
        return account
    finally:
        session.close()


# -- the member's count: atomic -------------------------------------------------------------
def test_concurrent_wrong_pins_compare_exactly_the_allowed_number(
        committed_office: Any) -> None:
    """40 wrong PINs at once for one member: exactly 5 are compared (answered wrong-pin),
    the other 35 are refused as locked without being compared; one lock, audited once."""
    app = committed_office("pin-race")
    (member_id,) = _members_with_pins(app, 1)
    policy = MemberLoginPolicy(pin_max_failures=5)

    def guess(session: Session) -> None:
        member_accounts.verify_pin(session, member_id, WRONG_PIN, policy=policy)

    results = Counter(_at_once(app, [guess] * THREADS))
    assert results == {"WrongPin": 5, "PinLocked": THREADS - 5}, results
    account = _account(app, member_id)
    assert account.pin_locked_until is not None and account.pin_locked_until > utc_now()
    assert account.pin_lock_count == 1 and account.pin_failures == 0
    from app.extensions import db

    session = db.new_session(app)
    try:
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "member.pin_locked",
            AuditEntry.object_id == str(member_id))) == 1
    finally:
        session.close()


def test_concurrent_wrong_pins_across_members_stop_at_the_clients_cap(
        committed_office: Any) -> None:
    """One clinic client spreading 40 wrong PINs at once over 4 members: exactly the cap (7)
    are compared; the rest are refused at the cap (or by a member's own lock)."""
    app = committed_office("pin-cap-race")
    members = _members_with_pins(app, 4)
    cap = PinClientCap("clinic-race", "27001", max_failures=7, window_seconds=3600)

    def guess(member_id: int) -> Any:
        return lambda session: member_accounts.verify_pin(session, member_id, WRONG_PIN,
                                                          client=cap)

    results = Counter(_at_once(app, [guess(members[n % 4]) for n in range(THREADS)]))
    assert results["WrongPin"] == 7, results
    assert results["PinAttemptsCapped"] + results["PinLocked"] == THREADS - 7, results
    from app.extensions import db

    session = db.new_session(app)
    try:
        window = session.scalar(select(PinClientWindow))
        assert window is not None and window.client_id == "clinic-race"
        assert window.failures == 7 and window.refused == results["PinAttemptsCapped"]
        assert session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "clinic.pin_cap_reached")) == 1
    finally:
        session.close()


def test_a_right_pin_gives_its_slot_back_and_a_member_lock_takes_none(
        session: Session, yen: dict[str, Any], client: FlaskClient) -> None:
    from tests.app.test_member_accounts import activate

    assert activate(client, yen["member"], yen["code"]).status_code == 200
    member_id = yen["member"].id
    cap = PinClientCap("clinic-slots", "27001", max_failures=3)
    now = utc_now()
    for _ in range(5):  # right PINs never count against the clinic
        member_accounts.verify_pin(session, member_id, PIN, client=cap, now=now)
    policy = MemberLoginPolicy(pin_max_failures=2)
    for _ in range(2):
        with pytest.raises(WrongPin):
            member_accounts.verify_pin(session, member_id, WRONG_PIN, policy=policy,
                                       client=cap, now=now)
    with pytest.raises(PinLocked) as locked:  # locked: nothing compared, no slot used
        member_accounts.verify_pin(session, member_id, WRONG_PIN, policy=policy, client=cap,
                                   now=now)
    assert not isinstance(locked.value, PinAttemptsCapped)
    window = session.scalar(select(PinClientWindow).where(
        PinClientWindow.client_id == "clinic-slots").execution_options(populate_existing=True))
    assert window is not None and window.failures == 2 and window.refused == 0


# -- escalation ------------------------------------------------------------------------------
def test_locks_in_a_row_grow_longer_and_a_right_pin_ends_the_run(
        session: Session, yen: dict[str, Any], client: FlaskClient) -> None:
    from tests.app.test_member_accounts import activate

    assert activate(client, yen["member"], yen["code"]).status_code == 200
    member_id = yen["member"].id
    policy = MemberLoginPolicy(pin_max_failures=3, pin_lock_seconds=900,
                               pin_relock_seconds=(3600, 86400))
    now = utc_now()

    def lock_at(moment: datetime) -> int:
        """Three wrong PINs at ``moment``; the lock's length (seconds) as the next check
        sees it."""
        for _ in range(3):
            with pytest.raises(WrongPin):
                member_accounts.verify_pin(session, member_id, WRONG_PIN, policy=policy,
                                           now=moment)
        with pytest.raises(PinLocked) as locked:
            member_accounts.verify_pin(session, member_id, PIN, policy=policy, now=moment)
        return locked.value.retry_after

    lengths = []
    for _ in range(4):
        lengths.append(lock_at(now))
        now += timedelta(seconds=lengths[-1] + 1)
    assert lengths == [900, 3600, 86400, 86400]
    member_accounts.verify_pin(session, member_id, PIN, policy=policy, now=now)  # right PIN
    assert lock_at(now) == 900  # the run ended: back to the first step


# -- the clinic's cap over HTTP ------------------------------------------------------------
def test_a_clinic_past_its_wrong_pin_cap_gets_a_clear_problem(
        client: FlaskClient, app: Flask, session: Session, scene: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "PIN_CLIENT_MAX_FAILURES", 2)
    for _ in range(2):
        wrong = verify(client, scene, presence={"pin": WRONG_PIN})
        assert wrong.status_code == 422 and wrong.get_json()["reason"] == "wrong-pin"
    capped = verify(client, scene, presence={"pin": scene["pin"]})  # even the right PIN
    body = capped.get_json()
    assert capped.status_code == 429, body
    assert body["type"] == "/problems/pin-attempts-capped"
    assert body["reason"] == "pin-attempts-capped" and "2 wrong PINs" in body["detail"]
    assert 0 < int(capped.headers["Retry-After"]) <= 3600
    denial = events(session, member_id=scene["member"].id)[-1]
    assert denial.kind == "denial" and denial.reason == "pin-attempts-capped"
    # the member is not locked by it, and the phone's presence code still works
    token = client.get("/api/v1/me/card/presence",
                       headers=member_headers(client, scene["member"])).get_json()["token"]
    assert verify(client, scene, presence={"presence_token": token}).get_json()["grant"]


# -- presence tokens: bound to the first clinic -------------------------------------------
def test_a_wrong_pin_says_the_tries_left_and_the_lock_says_until_when(
        client: FlaskClient, session: Session, scene: dict[str, Any]) -> None:
    """Each wrong PIN's problem carries ``attempts_left``; the one that locks carries
    ``locked_until``, as does every refusal while the lock lasts (issue 20: the desk says
    how many tries are left and until when the PIN is locked)."""
    answers = [verify(client, scene, presence={"pin": WRONG_PIN}) for _ in range(5)]
    bodies = [a.get_json() for a in answers]
    assert [b["reason"] for b in bodies] == ["wrong-pin"] * 5
    assert [b["attempts_left"] for b in bodies] == [4, 3, 2, 1, 0]
    assert "locked_until" not in bodies[0]
    until = datetime.fromisoformat(bodies[-1]["locked_until"])
    assert timedelta(minutes=14) < until - utc_now() <= timedelta(minutes=15)
    locked = verify(client, scene, presence={"pin": scene["pin"]})
    assert locked.status_code == 429 and locked.get_json()["type"] == "/problems/pin-locked"
    assert datetime.fromisoformat(locked.get_json()["locked_until"]) == until


def test_a_presence_token_serves_only_the_first_clinic_that_presents_it(
        client: FlaskClient, factory: Any, session: Session, scene: dict[str, Any]) -> None:
    other = factory.clinic("27002", name="Phòng khám đa khoa KCN Yên Phong")
    other_headers = factory.clinic_headers(factory.clinic_client(other))
    token = client.get("/api/v1/me/card/presence",
                       headers=member_headers(client, scene["member"])).get_json()["token"]
    first = verify(client, scene, presence={"presence_token": token})
    assert first.status_code == 200 and first.get_json()["grant"] is not None
    replay = verify(client, scene, presence={"presence_token": token}, headers=other_headers)
    body = replay.get_json()
    assert replay.status_code == 422, body
    assert body["type"] == "/problems/presence-invalid"
    assert body["reason"] == "presence-other-clinic" and "another clinic" in body["detail"]
    denial = events(session, member_id=scene["member"].id)[-1]
    assert denial.clinic_code == "27002" and denial.reason == "presence-other-clinic"
    again = verify(client, scene, presence={"presence_token": token})  # the same clinic
    assert again.status_code == 200 and again.get_json()["grant"] is not None
    binding = session.scalar(select(PresenceBinding))
    assert binding is not None and binding.clinic_code == "27001"
    assert token not in binding.token_hash and len(binding.token_hash) == 64


def test_two_clinics_presenting_one_token_at_once_exactly_one_wins(
        committed_office: Any) -> None:
    app = committed_office("presence-race")
    token = "UCP1:AAAAAAAAAAAAAAAA:1:" + "A" * 26  # bound by its hash; checked before
    expires = utc_now() + timedelta(minutes=5)

    def present(clinic_code: str) -> Any:
        return lambda session: presence.bind_to_clinic(
            session, token, clinic_code=clinic_code, client_id=f"clinic-{clinic_code}",
            card_serial="AAAAAAAAAAAAAAAA", expires_at=expires, now=utc_now())

    calls = [present("27001"), present("79031")] * 8
    results = _at_once(app, calls)
    from app.extensions import db

    session = db.new_session(app)
    try:
        winner = session.scalar(select(PresenceBinding.clinic_code))
        assert session.scalar(select(func.count()).select_from(PresenceBinding)) == 1
    finally:
        session.close()
    for call_n, result in enumerate(results):
        clinic_code = "27001" if call_n % 2 == 0 else "79031"
        assert result == ("ok" if clinic_code == winner else "PresenceInvalid"), results


def test_a_second_clinic_is_refused_by_the_service_itself(session: Session) -> None:
    token = "UCP1:BBBBBBBBBBBBBBBB:2:" + "B" * 26
    kwargs: dict[str, Any] = {"card_serial": "BBBBBBBBBBBBBBBB", "now": utc_now(),
                              "expires_at": utc_now() + timedelta(minutes=5)}
    presence.bind_to_clinic(session, token, clinic_code="27001", client_id="a", **kwargs)
    presence.bind_to_clinic(session, token.lower(), clinic_code="27001", client_id="b",
                            **kwargs)  # the same token as typed otherwise, the same clinic
    with pytest.raises(PresenceInvalid) as refused:
        presence.bind_to_clinic(session, token, clinic_code="27002", client_id="c", **kwargs)
    assert refused.value.extra["reason"] == "presence-other-clinic"


# -- administrators -------------------------------------------------------------------------
def test_administrators_see_locked_pins_and_capped_clients_and_clear_a_lock(
        client: FlaskClient, app: Flask, session: Session, factory: Any,
        scene: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "PIN_CLIENT_MAX_FAILURES", 5)
    for _ in range(5):  # the member's 5 (locked) are the clinic's 5 too (capped)
        assert verify(client, scene, presence={"pin": WRONG_PIN}).status_code == 422
    assert verify(client, scene, presence={"pin": WRONG_PIN}).get_json()["type"] == (
        "/problems/pin-attempts-capped")  # the clinic's cap is checked first
    admin = factory.headers(factory.user(role="admin"))
    officer = factory.headers(factory.user())
    assert client.get("/api/v1/pin-locks", headers=officer).status_code == 403
    seen = client.get("/api/v1/pin-locks", headers=admin)
    assert seen.status_code == 200, seen.get_json()
    body = seen.get_json()
    (locked,) = body["members"]
    assert locked["member_id"] == scene["member"].id and locked["locks_in_a_row"] == 1
    assert locked["member_number"] == scene["member"].member_number
    assert datetime.fromisoformat(locked["locked_until"]) > utc_now()
    (capped,) = body["clients"]
    assert capped["client_id"] == scene["login"].client_id and capped["clinic_code"] == "27001"
    assert capped["wrong_pins"] == 5 and capped["refused"] == 1 and capped["capped_at"]
    assert body["member_lock_seconds"] == [900, 3600, 86400]
    assert body["client_max_failures"] == 5 and body["client_window_seconds"] == 3600

    url = f"/api/v1/members/{scene['member'].id}/pin-lock"
    assert client.delete(url, headers=officer).status_code == 403
    cleared = client.delete(url, headers=admin)
    assert cleared.status_code == 200 and cleared.get_json()["was_locked"] is True
    assert client.get("/api/v1/pin-locks", headers=admin).get_json()["members"] == []
    member_accounts.verify_pin(session, scene["member"].id, PIN)  # the PIN works again
    audit = session.scalar(select(AuditEntry).where(AuditEntry.action == "member.pin_unlocked"))
    assert audit is not None and audit.object_id == str(scene["member"].id)
    assert audit.details["was_locked"] is True and audit.details["locks_in_a_row"] == 1
    unknown = client.delete("/api/v1/members/999999/pin-lock", headers=admin)
    assert unknown.status_code == 404
    assert unknown.headers["Content-Type"].startswith("application/problem+json")


# -- pruning and settings -------------------------------------------------------------------
def test_the_worker_prunes_expired_bindings_and_old_windows(committed_office: Any) -> None:
    from app.extensions import db

    app = committed_office("pin-prune")
    now = utc_now()
    session = db.new_session(app)
    session.add_all([
        PresenceBinding(token_hash="a" * 64, clinic_code="27001", client_id="c",
                        card_serial="S", bound_at=now - timedelta(minutes=6),
                        expires_at=now - timedelta(minutes=1)),
        PresenceBinding(token_hash="b" * 64, clinic_code="27001", client_id="c",
                        card_serial="S", bound_at=now, expires_at=now + timedelta(minutes=5)),
        PinClientWindow(client_id="c", window_start=window_start(now, 3600), clinic_code="1",
                        failures=3, refused=0),
        PinClientWindow(client_id="c", window_start=now - timedelta(days=8),
                        clinic_code="1", failures=20, refused=4),
    ])
    session.commit()
    session.close()
    assert prune_pin_presence(app) == (1, 1)
    session = db.new_session(app)
    try:
        assert session.scalars(select(PresenceBinding.token_hash)).all() == ["b" * 64]
        assert session.scalar(select(func.count()).select_from(PinClientWindow)) == 1
    finally:
        session.close()


@pytest.mark.parametrize(("name", "value"), [
    ("MEMBER_PIN_RELOCK_SECONDS", "3600"), ("MEMBER_PIN_RELOCK_SECONDS", [3600, 0]),
    ("PIN_CLIENT_MAX_FAILURES", 0), ("PIN_CLIENT_WINDOW_SECONDS", "an hour"),
])
def test_pin_guard_settings_that_would_not_guard_are_refused(make_app: Any, name: str,
                                                             value: Any) -> None:
    with pytest.raises(ConfigError, match=name):
        make_app({name: value})
