"""Tokens: issuance, expiry, forgery, revocation; passwords hashed with argon2id."""

from __future__ import annotations

import subprocess
import sys

import jwt
import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from app.services.access.tokens import Principal, TokenService
from app.services.errors import Unauthenticated
from tests.conftest import PASSWORD, invoke, unioncard_env


def test_password_grant_issues_a_working_token(client: FlaskClient, factory) -> None:
    user = factory.user("officer", "79", username="lan.officer")
    response = client.post("/api/v1/auth/token",
                           json={"username": "Lan.Officer", "password": PASSWORD})
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.get_json() == {"subject": f"user:{user.id}", "role": "officer",
                             "province_code": "79", "union_code": None}


def test_form_encoded_oauth_request_works(client: FlaskClient, factory) -> None:
    factory.user("admin", username="form.admin")
    response = client.post("/api/v1/auth/token", data={
        "grant_type": "password", "username": "form.admin", "password": PASSWORD})
    assert response.status_code == 200


def test_wrong_password_and_unknown_user_look_the_same(client: FlaskClient, factory) -> None:
    factory.user("admin", username="real.admin")
    wrong = client.post("/api/v1/auth/token", json={"username": "real.admin", "password": "x"})
    ghost = client.post("/api/v1/auth/token", json={"username": "ghost", "password": "x"})
    assert wrong.status_code == ghost.status_code == 400  # RFC 6749 §5.2: invalid_grant
    assert wrong.get_json()["detail"] == ghost.get_json()["detail"]
    assert wrong.get_json()["error"] == ghost.get_json()["error"] == "invalid_grant"


def test_disabled_account_cannot_log_in_and_its_tokens_stop(client: FlaskClient, factory,
                                                            session) -> None:
    user = factory.user("admin", username="leaving.admin")
    headers = factory.headers(user)
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    user.is_active = False
    session.commit()
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    login = client.post("/api/v1/auth/token",
                        json={"username": "leaving.admin", "password": PASSWORD})
    assert login.status_code == 400 and login.get_json()["error"] == "invalid_grant"


def test_password_is_stored_as_argon2id(factory) -> None:
    user = factory.user("admin")
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_token_expires_by_the_injected_clock() -> None:
    now = [1_800_000_000.0]
    service = TokenService("s" * 40, issuer="t", ttl_seconds=60, clock=lambda: now[0])
    token = service.issue(Principal(kind="user", id=7, role="admin")).access_token
    assert service.decode(token).id == 7
    now[0] += 64  # inside the 5 s leeway
    assert service.decode(token).id == 7
    now[0] += 2
    with pytest.raises(Unauthenticated, match="expired"):
        service.decode(token)


def test_expired_token_is_401(client: FlaskClient, factory, app) -> None:
    user = factory.user("admin")
    past = TokenService(app.config["SECRET_KEY"], issuer=app.config["TOKEN_ISSUER"],
                        ttl_seconds=60, clock=lambda: 1_000_000_000.0)
    token = past.issue(Principal(kind="user", id=user.id, role="admin")).access_token
    response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "expired" in response.get_json()["detail"]


@pytest.mark.parametrize("alg_token", ["none", "other-key", "garbage", "hs512"])
def test_forged_tokens_are_rejected(client: FlaskClient, factory, app, alg_token: str) -> None:
    user = factory.user("admin")
    claims = {"iss": app.config["TOKEN_ISSUER"], "aud": "unioncard-api", "sub": f"user:{user.id}",
              "role": "admin", "iat": 1_900_000_000, "exp": 4_000_000_000, "ver": 0}
    key = ("unioncard-access-token:" + app.config["SECRET_KEY"]).encode()
    token = {
        "none": jwt.encode(claims, None, algorithm="none"),
        "other-key": jwt.encode(claims, "another-secret-key-of-enough-length", algorithm="HS256"),
        "garbage": "not.a.token",
        "hs512": jwt.encode(claims, key, algorithm="HS512"),
    }[alg_token]
    response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_officer_cannot_create_accounts_but_admin_can(client: FlaskClient, factory) -> None:
    admin, officer = factory.user("admin"), factory.user("officer", "24")
    factory.union("CD-24-001", "24")
    body = {"username": "new.officer", "password": "union office 2026", "role": "officer",
            "province_code": "24", "union_code": "CD-24-001"}
    assert client.post("/api/v1/users", json=body,
                       headers=factory.headers(officer)).status_code == 403
    created = client.post("/api/v1/users", json=body, headers=factory.headers(admin))
    assert created.status_code == 201
    assert created.get_json()["union_code"] == "CD-24-001"
    assert "password" not in created.get_json() and "password_hash" not in created.get_json()


@pytest.mark.parametrize("body, field", [
    ({"role": "officer"}, "province"),
    ({"role": "officer", "province_code": "99"}, "province"),
    ({"role": "admin", "province_code": "24"}, "province"),
    ({"role": "officer", "province_code": "24", "username": "Bad Name!"}, "username"),
])
def test_account_rules_are_checked(client: FlaskClient, factory, body, field) -> None:
    admin = factory.user("admin")
    payload = {"username": "someone", "password": "union office 2026", **body}
    response = client.post("/api/v1/users", json=payload, headers=factory.headers(admin))
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == field


def test_cli_creates_users_from_stdin(app, connection) -> None:
    ok = invoke(app, "users", "create", "--role", "officer", "--username", "cli.officer",
                "--province", "24", "--password-stdin", input="a long enough password\n")
    assert ok.exit_code == 0, ok.stderr
    assert "created officer cli.officer province 24" in ok.stdout
    dup = invoke(app, "users", "create", "--role", "officer", "--username", "cli.officer",
                 "--province", "24", "--password-stdin", input="a long enough password\n")
    assert dup.exit_code == 1 and dup.stderr.strip() == \
        "Error: The username 'cli.officer' is taken."
    weak = invoke(app, "users", "create", "--role", "admin", "--username", "cli.admin",
                  "--password-stdin", input="short\n")
    assert weak.exit_code == 1 and "at least 12 characters" in weak.stderr


@pytest.mark.slow
def test_cli_creates_a_user_from_stdin_in_a_subprocess(test_databases) -> None:
    """``python -m app users create`` end to end: environment, standard input, exit status."""
    from app import migrate

    url = test_databases.new("cli")
    migrate.upgrade(url)
    ok = subprocess.run([sys.executable, "-m", "app", "users", "create", "--role", "officer",
                         "--username", "cli.officer", "--province", "24", "--password-stdin"],
                        input="a long enough password\n", env=unioncard_env(url),
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == "created officer cli.officer province 24\n"
    engine = create_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT password_hash FROM users")).scalar_one()
    engine.dispose()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # the production cost
