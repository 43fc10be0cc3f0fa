"""Login limits (issue 9, item 12): per login name in the database (issue 19: not per
account, so unknown names lock too), per address in the limiter, and a limited caller is
refused before any password is hashed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.composition import cipher_for_config
from app.models import AuditEntry, LoginNameFailures, User
from app.services.access import accounts, login_names
from app.services.errors import InvalidCredentials, LoginLocked
from tests.conftest import PASSWORD


def login(client: FlaskClient, username: str, password: str, address: str = "127.0.0.1") -> Any:
    return client.post("/api/v1/auth/token", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password verification (argon2 verify) made, by stored hash."""
    calls: list[str] = []
    hasher = accounts._hasher
    real = hasher.verify

    class Spy:
        def __getattr__(self, name: str) -> Any:
            return getattr(hasher, name)

        def verify(self, stored: str, password: str) -> bool:
            calls.append(stored)
            return real(stored, password)

    monkeypatch.setattr(accounts, "_hasher", Spy())
    return calls


def counted(session: Session, app: Flask, username: str) -> LoginNameFailures | None:
    """The wrong passwords counted for a username (known or not), as the app keys it."""
    key = login_names.name_key(login_names.keyer(cipher_for_config(app.config)), "username",
                               username)
    return session.get(LoginNameFailures, key, populate_existing=True)


def test_wrong_passwords_from_many_addresses_lock_the_account(
        client: FlaskClient, app: Flask, factory: Any, session: Session,
        hashes: list[str]) -> None:
    officer = factory.user()
    limit = int(app.config["LOGIN_MAX_FAILURES"])
    for attempt in range(limit):
        response = login(client, officer.username, "wrong password!", f"10.0.{attempt}.1")
        assert response.status_code == 400, attempt  # RFC 6749 §5.2 invalid_grant
    assert len(hashes) == limit

    locked = login(client, officer.username, PASSWORD, "10.9.9.9")  # even the right password
    assert locked.status_code == 429
    assert locked.mimetype == "application/json"  # RFC 6749 §5.2, with the problem's members
    assert locked.get_json()["error"] == "invalid_grant"
    assert locked.get_json()["type"] == "/problems/login-locked"
    assert 0 < int(locked.headers["Retry-After"]) <= int(app.config["LOGIN_LOCK_SECONDS"])
    assert len(hashes) == limit  # refused before hashing

    stored = counted(session, app, officer.username)
    assert stored is not None and stored.locked_until is not None
    assert stored.locked_until > utc_now()
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "user.login_locked",
                                                    AuditEntry.object_id == str(officer.id)))
    assert entry is not None and entry.province_code == officer.province_code


def test_many_usernames_from_one_address_are_limited(
        client: FlaskClient, app: Flask, hashes: list[str]) -> None:
    limit = int(str(app.config["LOGIN_ADDRESS_RATE_LIMIT"]).split()[0])
    for attempt in range(limit):
        assert login(client, f"ghost{attempt}", "nope", "10.1.1.1").status_code == 400
    response = login(client, "yet.another.ghost", "nope", "10.1.1.1")
    assert response.status_code == 429
    assert response.get_json()["type"] == "/problems/rate-limited"
    assert len(hashes) == limit  # the limited request hashed nothing
    assert login(client, "ghost", "nope", "10.1.1.2").status_code == 400  # other addresses


def test_success_resets_the_failure_count(client: FlaskClient, app: Flask, factory: Any,
                                          session: Session) -> None:
    officer = factory.user()
    limit = int(app.config["LOGIN_MAX_FAILURES"])
    for attempt in range(limit - 1):
        assert login(client, officer.username, "wrong", f"10.2.{attempt}.1").status_code == 400
    stored = counted(session, app, officer.username)
    assert stored is not None and stored.failures == limit - 1
    assert login(client, officer.username, PASSWORD, "10.2.200.1").status_code == 200
    assert counted(session, app, officer.username) is None
    for attempt in range(limit - 1):  # the count starts again: no lock yet
        assert login(client, officer.username, "wrong", f"10.3.{attempt}.1").status_code == 400
    assert login(client, officer.username, PASSWORD, "10.3.200.1").status_code == 200


def test_a_lock_ends_after_its_period_and_success_clears_it(factory: Any,
                                                            session: Session) -> None:
    officer = factory.user()
    policy = accounts.LoginPolicy(max_failures=3, lock_seconds=600)
    start = utc_now()
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate(session, officer.username, "wrong", policy=policy, now=start)
    with pytest.raises(LoginLocked) as locked:
        accounts.authenticate(session, officer.username, PASSWORD, policy=policy,
                              now=start + timedelta(seconds=599))
    assert locked.value.retry_after == 1
    user = accounts.authenticate(session, officer.username, PASSWORD, policy=policy,
                                 now=start + timedelta(seconds=601))
    assert user.id == officer.id
    key = login_names.name_key(policy.name_key, "username", officer.username)
    assert session.get(LoginNameFailures, key, populate_existing=True) is None


def test_unknown_usernames_count_and_lock_as_known_ones(session: Session) -> None:
    policy = accounts.LoginPolicy(max_failures=2, lock_seconds=600)
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            accounts.authenticate(session, "no.such.user", PASSWORD, policy=policy)
    with pytest.raises(LoginLocked):
        accounts.authenticate(session, "No.Such.User ", PASSWORD, policy=policy)
    assert session.scalar(select(User.id).where(User.username == "no.such.user")) is None
