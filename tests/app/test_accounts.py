"""Staff accounts: the password policy, an officer's union, disabling an account (CLI, API)."""

from __future__ import annotations

import gzip
from pathlib import Path

import click
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

import app
from app.models import AuditEntry, User
from app.services.access import accounts
from app.services.errors import ValidationFailed
from tests.conftest import PASSWORD, invoke

GOOD = "union office 2026"


@pytest.mark.parametrize("password, reason", [
    (" " * 10, "at least 12"),
    (" " * 14, "only spaces"),
    ("\t \u3000" * 5, "only spaces"),
    ("aaaaaaaaaa", "at least 12"),
    ("aaaaaaaaaaaa", "repeated or sequential"),
    ("abcabcabcabc", "repeated or sequential"),
    ("123456789012", "repeated or sequential"),
    ("zyxwvutsrqpo", "repeated or sequential"),
    ("password12", "at least 12"),
    ("password1234", "common or breached"),
    ("PASSWORD1234", "common or breached"),
    ("qwertyuiop12", "common or breached"),
    ("lan.officer", "at least 12"),
    ("lan.officer.2026", "contain the username"),
    ("My LAN.OFFICER pass", "contain the username"),
    ("x" * 1025 + "yz", "at most 1024"),
    ("mật khẩu", "at least 12"),  # 8 code points
    ("passwordpassword", "repeated or sequential"),  # a longer unit, twice
    ("iloveyouiloveyou", "repeated or sequential"),
    ("ＰＡＳＳＷＯＲＤ１２３４", "common or breached"),  # full-width forms of password1234
    ("ｌａｎ.ｏｆｆｉｃｅｒ 2026", "contain the username"),
])
def test_weak_passwords_are_refused(password: str, reason: str) -> None:
    with pytest.raises(ValidationFailed, match=reason) as refused:
        accounts.check_password(password, "lan.officer")
    assert refused.value.errors[0]["field"] == "password"
    assert password not in refused.value.detail


@pytest.mark.parametrize("password", [
    GOOD, PASSWORD, "Đoàn viên Bắc Ninh", "ma-thẻ-cđ", "x" * 200 + "!y", "🔑" * 6 + "mật khẩu"])
def test_passphrases_pass_without_composition_rules(password: str) -> None:
    if len(password) < accounts.MIN_PASSWORD_LENGTH:
        with pytest.raises(ValidationFailed, match="at least 12"):
            accounts.check_password(password, "lan.officer")
    else:
        accounts.check_password(password, "lan.officer")


def test_length_counts_code_points() -> None:
    composed = "Ngô Thị Ánh Ỷ"  # 13 code points, 20 bytes of UTF-8
    accounts.check_password(composed, "anh.y")
    with pytest.raises(ValidationFailed, match="at least 12"):
        accounts.check_password("Trần Mỹ Lệ", "le.tran")  # 10 code points


def test_the_shipped_list_is_django_s_and_loaded_once() -> None:
    data = Path(app.__file__).resolve().parent / "data"
    assert (data / "common-passwords.LICENSE.txt").read_text().count("Django Software") >= 1
    words = gzip.decompress((data / "common-passwords.txt.gz").read_bytes()).split()
    assert len(words) > 19_000
    assert accounts.common_passwords() is accounts.common_passwords()
    assert "password1" in accounts.common_passwords()


@pytest.mark.parametrize("body, field, detail", [
    ({"password": "password1234"}, "password", "common or breached"),
    ({"password": "new.officer-2026"}, "password", "contain the username"),
    ({"union_code": "CD-NOWHERE"}, "union", "Unknown union"),
    ({"union_code": "CD-79-ELSEWHERE"}, "union", "not in province '24'"),
])
def test_api_refuses_weak_passwords_and_a_union_of_another_province(
        client: FlaskClient, factory, body: dict[str, str], field: str, detail: str) -> None:
    admin = factory.user("admin")
    factory.union("CD-79-ELSEWHERE", "79")
    payload = {"username": "new.officer", "password": GOOD, "role": "officer",
               "province_code": "24", **body}
    response = client.post("/api/v1/users", json=payload, headers=factory.headers(admin))
    assert response.status_code == 422, response.get_json()
    problem = response.get_json()
    assert problem["errors"][0]["field"] == field and detail in problem["errors"][0]["detail"]


def test_api_creates_an_officer_of_a_union_of_its_province(client: FlaskClient,
                                                          factory) -> None:
    admin = factory.user("admin")
    union = factory.union(province="24")
    payload = {"username": "union.officer", "password": GOOD, "role": "officer",
               "province_code": "24", "union_code": union.code}
    response = client.post("/api/v1/users", json=payload, headers=factory.headers(admin))
    assert response.status_code == 201 and response.get_json()["union_code"] == union.code


def test_cli_refuses_weak_passwords_and_the_wrong_union(app, connection, factory) -> None:
    factory.union("CD-79-ELSEWHERE", "79")
    for password, reason in (("password1234", "common or breached"),
                             ("cli.admin-2026!", "contain the username"),
                             (" " * 16, "only spaces")):
        weak = invoke(app, "users", "create", "--role", "admin", "--username", "cli.admin",
                      "--password-stdin", input=password + "\n")
        assert weak.exit_code == 1 and reason in weak.stderr, weak.stderr
    wrong = invoke(app, "users", "create", "--role", "officer", "--username", "cli.officer",
                   "--province", "24", "--union", "CD-79-ELSEWHERE", "--password-stdin",
                   input=GOOD + "\n")
    assert wrong.exit_code == 1 and "not in province '24'" in wrong.stderr


def test_cli_prompts_for_the_password_hidden_and_twice(app, connection, session) -> None:
    created = invoke(app, "users", "create", "--role", "admin", "--username", "prompted.admin",
                     input=f"{GOOD}\n{GOOD}\n")
    assert created.exit_code == 0, created.stderr
    assert created.stdout == "created admin prompted.admin (national)\n"
    assert GOOD not in created.output  # hidden input: never echoed
    assert "Repeat for confirmation" in created.stderr
    user = session.scalar(select(User).where(User.username == "prompted.admin"))
    assert user is not None and accounts._hasher.verify(user.password_hash, GOOD)
    mismatch = invoke(app, "users", "create", "--role", "admin", "--username", "other.admin",
                      input=f"{GOOD}\nsomething else\n{GOOD}\n{GOOD}\n")
    assert mismatch.exit_code == 0 and "do not match" in mismatch.stderr


def test_cli_prompt_uses_hidden_input(app, connection, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[dict[str, object]] = []

    def fake_prompt(text: str, **kwargs: object) -> str:
        asked.append(kwargs)
        return GOOD

    monkeypatch.setattr(click, "prompt", fake_prompt)
    result = invoke(app, "users", "create", "--role", "admin", "--username", "hidden.admin")
    assert result.exit_code == 0, result.stderr
    assert asked == [{"hide_input": True, "confirmation_prompt": True, "err": True}]


def test_no_option_takes_a_password_on_the_command_line() -> None:
    from app.cli import cli

    group = cli.commands["users"]
    assert isinstance(group, click.Group)
    for command in group.commands.values():
        for param in command.params:
            if "password" in (param.name or ""):
                assert isinstance(param, click.Option) and param.is_flag, param.name


def test_cli_disables_and_enables_an_account(app, client: FlaskClient, factory,
                                             session) -> None:
    user = factory.user("officer", "24", username="leaving.officer")
    headers = factory.headers(user)
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    disabled = invoke(app, "users", "disable", "Leaving.Officer", "--reason", "left the office")
    assert disabled.exit_code == 0, disabled.stderr
    assert disabled.stdout == "disabled leaving.officer; its tokens are revoked\n"
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    login = {"username": "leaving.officer", "password": PASSWORD}
    assert client.post("/api/v1/auth/token", json=login).status_code == 400  # invalid_grant
    enabled = invoke(app, "users", "enable", "leaving.officer")
    assert enabled.exit_code == 0 and enabled.stdout == "enabled leaving.officer\n"
    # the old token stays revoked; a new login works
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    token = client.post("/api/v1/auth/token", json=login).get_json()["access_token"]
    assert client.get("/api/v1/auth/me",
                      headers={"Authorization": f"Bearer {token}"}).status_code == 200
    entries = session.scalars(select(AuditEntry).where(AuditEntry.object_id == str(user.id))
                              .order_by(AuditEntry.id)).all()
    assert [(e.action, e.actor, e.reason) for e in entries] == [
        ("user.disable", "cli", "left the office"), ("user.enable", "cli", "")]
    ghost = invoke(app, "users", "disable", "nobody.here")
    assert ghost.exit_code == 1 and ghost.stderr.strip() == "Error: No user 'nobody.here'."


def test_api_disable_revokes_every_token_at_once(client: FlaskClient, factory,
                                                 session) -> None:
    admin, officer = factory.user("admin"), factory.user("officer", "24")
    tokens = [factory.headers(officer), factory.headers(officer)]
    assert all(client.get("/api/v1/auth/me", headers=h).status_code == 200 for h in tokens)
    officer_id = officer.id
    forbidden = client.post(f"/api/v1/users/{officer_id}/disable", json={},
                            headers=factory.headers(factory.user("officer", "24")))
    assert forbidden.status_code == 403
    response = client.post(f"/api/v1/users/{officer_id}/disable",
                           json={"reason": "lost laptop"}, headers=factory.headers(admin))
    assert response.status_code == 200 and response.get_json()["is_active"] is False
    assert all(client.get("/api/v1/auth/me", headers=h).status_code == 401 for h in tokens)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "user.disable")
                            .where(AuditEntry.object_id == str(officer_id))).one()
    assert entry.actor == f"user:{admin.id}" and entry.reason == "lost laptop"
    assert entry.province_code == "24"
    enabled = client.post(f"/api/v1/users/{officer_id}/enable",
                          headers=factory.headers(admin))
    assert enabled.status_code == 200 and enabled.get_json()["is_active"] is True
    assert client.post("/api/v1/users/999999/disable", json={},
                       headers=factory.headers(admin)).status_code == 404


@pytest.mark.slow
def test_cli_does_not_echo_the_password_on_a_terminal(test_databases) -> None:
    """``python -m app users create`` on a real pseudo-terminal: the typed password never
    appears in what the terminal shows."""
    import os
    import pty
    import select as select_module
    import subprocess
    import sys
    import time

    from app import migrate
    from tests.conftest import unioncard_env

    url = test_databases.new("tty")
    migrate.upgrade(url)
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "users", "create", "--role", "admin", "--username",
         "tty.admin"], stdin=follower, stdout=follower, stderr=follower,
        env=unioncard_env(url), close_fds=True)
    os.close(follower)
    shown = b""

    def read_until(marker: bytes, timeout: float = 60) -> None:
        nonlocal shown
        deadline = time.monotonic() + timeout
        while marker not in shown and time.monotonic() < deadline:
            ready, _, _ = select_module.select([leader], [], [], 0.5)
            if ready:
                try:
                    shown += os.read(leader, 4096)
                except OSError:  # the child closed the terminal
                    return

    read_until(b"Password:")
    os.write(leader, GOOD.encode() + b"\n")
    read_until(b"confirmation:")
    os.write(leader, GOOD.encode() + b"\n")
    read_until(b"created admin tty.admin")
    assert process.wait(timeout=60) == 0, shown
    os.close(leader)
    assert b"created admin tty.admin (national)" in shown
    assert GOOD.encode() not in shown
