"""Issue 19: wrong passwords are counted per login name, not per account, so an unknown
username, member number or phone locks exactly as a registered one does: after the limit, the
API and the sign-in pages answer both the same (status, body, headers), and nothing tells a
registered name from an unknown one. No account is made for an unknown name, and only the
name's keyed hash is stored."""

from __future__ import annotations

import re
from itertools import count
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.composition import cipher_for_config
from app.models import AuditEntry, LoginNameFailures, MemberAccount, User
from app.services.access import login_names
from tests.app.test_member_accounts import activate, yen  # noqa: F401
from tests.web.test_console import csrf

LIMIT = 3
_addresses = count(1)


def _address() -> str:
    """A new client address for each attempt: the per-address rate limits stay out of it."""
    n = next(_addresses)
    return f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}"


@pytest.fixture
def low_limits(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES", LIMIT)
    monkeypatch.setitem(app.config, "MEMBER_LOGIN_MAX_FAILURES", LIMIT)


@pytest.fixture
def names(client: FlaskClient, factory: Any, yen: dict[str, Any]) -> dict[str, Any]:  # noqa: F811
    """A registered name of each kind, and an unknown one of the same shape."""
    assert activate(client, yen["member"], yen["code"]).status_code == 200
    number = yen["member"].member_number
    return {"username": (yen["officer"].username, "no.such.officer"),
            "member_number": (number, number[:-3] + ("999" if number[-3:] != "999" else "998")),
            "phone": (yen["member"].phone, "0987000111")}


def _token(client: FlaskClient, kind: str, name: str) -> Any:
    return client.post("/api/v1/auth/token", json={kind: name, "password": "not the password"},
                       environ_base={"REMOTE_ADDR": _address()})


def _shown(response: Any, name: str) -> tuple[int, str, dict[str, str]]:
    """What a caller sees, without what differs per request (request id, CSRF token) or
    echoes the name typed; the seconds left (``Retry-After``, the rate limit's reset) are
    compared separately."""
    body = response.get_data(as_text=True).replace(name, "NAME")
    body = re.sub(r'"request_id": "[^"]*"', "", body)
    body = re.sub(r'name="csrf_token" value="[^"]*"', "", body)
    headers = {k: v for k, v in response.headers.items()
               if k not in ("X-Request-ID", "Retry-After", "X-RateLimit-Reset", "Set-Cookie",
                            "Content-Length")}
    return response.status_code, body, headers


def _same_answers(known: Any, unknown: Any, known_name: str, unknown_name: str,
                  lock_seconds: int) -> None:
    assert _shown(known, known_name) == _shown(unknown, unknown_name)
    for name in ("Retry-After", "X-RateLimit-Reset"):  # seconds, read a moment apart
        assert (name in known.headers) == (name in unknown.headers)
        if name in known.headers:
            assert abs(int(known.headers[name]) - int(unknown.headers[name])) <= 1
    if known.status_code == 429:
        for wait in (known.headers["Retry-After"], unknown.headers["Retry-After"]):
            assert lock_seconds - 5 <= int(wait) <= lock_seconds


@pytest.mark.parametrize("kind", ["username", "member_number", "phone"])
def test_an_unknown_name_locks_as_a_registered_one_on_the_token_endpoint(
        app: Flask, client: FlaskClient, session: Session, low_limits: None,
        names: dict[str, Any], kind: str) -> None:
    known, unknown = names[kind]
    accounts = (session.scalar(select(func.count()).select_from(User)),
                session.scalar(select(func.count()).select_from(MemberAccount)))
    seconds = int(app.config["LOGIN_LOCK_SECONDS" if kind == "username"
                             else "MEMBER_LOGIN_LOCK_SECONDS"])
    for _ in range(LIMIT + 2):  # wrong passwords, then the lock
        first, second = _token(client, kind, known), _token(client, kind, unknown)
        _same_answers(first, second, known, unknown, seconds)
    assert first.status_code == 429
    assert first.get_json()["type"] == "/problems/login-locked"
    # no account was made for the unknown name, and no name is stored in clear
    assert (session.scalar(select(func.count()).select_from(User)),
            session.scalar(select(func.count()).select_from(MemberAccount))) == accounts
    stored = set(session.scalars(select(LoginNameFailures.name_key)))
    key_of = login_names.keyer(cipher_for_config(app.config))
    assert {login_names.name_key(key_of, kind, n) for n in (known, unknown)} <= stored
    assert not any(known in key or unknown in key for key in stored)


def test_the_lock_of_a_registered_name_is_still_audited(
        client: FlaskClient, session: Session, low_limits: None, names: dict[str, Any]) -> None:
    for kind, action in (("username", "user.login_locked"),
                         ("member_number", "member.password_locked")):
        for _ in range(LIMIT):
            assert _token(client, kind, names[kind][0]).status_code == 400
            assert _token(client, kind, names[kind][1]).status_code == 400
        # one entry, for the account: the unknown name has none to audit
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == action)) == 1


def test_the_right_password_of_a_locked_name_is_refused_and_success_ends_the_count(
        app: Flask, client: FlaskClient, session: Session, low_limits: None,
        names: dict[str, Any]) -> None:
    from tests.app.test_member_accounts import PASSWORD

    number = names["member_number"][0]
    for _ in range(LIMIT - 1):
        assert _token(client, "member_number", number).status_code == 400
    right = client.post("/api/v1/auth/token", json={"member_number": number,
                                                    "password": PASSWORD})
    assert right.status_code == 200
    key = login_names.name_key(login_names.keyer(cipher_for_config(app.config)),
                               "member_number", number)
    assert session.get(LoginNameFailures, key, populate_existing=True) is None
    for _ in range(LIMIT - 1):  # the count starts again: no lock yet
        assert _token(client, "member_number", number).status_code == 400
    assert client.post("/api/v1/auth/token", json={"member_number": number,
                                                   "password": PASSWORD}).status_code == 200


@pytest.mark.parametrize("page, kind", [("/console/login", "username"),
                                        ("/me/login", "member_number"),
                                        ("/me/login", "phone")])
def test_an_unknown_name_locks_as_a_registered_one_on_the_sign_in_pages(
        app: Flask, client: FlaskClient, low_limits: None, names: dict[str, Any],
        page: str, kind: str) -> None:
    known, unknown = names[kind]
    seconds = int(app.config["LOGIN_LOCK_SECONDS" if kind == "username"
                             else "MEMBER_LOGIN_LOCK_SECONDS"])

    def sign_in(name: str) -> Any:
        form = ({"username": name} if kind == "username"
                else {"login": name, "by": "phone" if kind == "phone" else "member_number"})
        return client.post(page, data={**form, "password": "not the password",
                                       "csrf_token": csrf(client, page)},
                           environ_base={"REMOTE_ADDR": _address()})

    for _ in range(LIMIT + 2):
        first, second = sign_in(known), sign_in(unknown)
        _same_answers(first, second, known, unknown, seconds)
    assert first.status_code == 429
