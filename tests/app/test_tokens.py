"""Access tokens: the lifetime cap, known subjects only, malformed claims are a 401 problem."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.services.access.tokens import Principal, TokenService, parse_subject
from app.services.errors import Unauthenticated

NOW = 1_800_000_000


def _service(ttl: int = 900) -> TokenService:
    return TokenService("s" * 40, issuer="t", ttl_seconds=ttl, clock=lambda: NOW + 10)


def _sign(claims: dict[str, Any], secret: str = "s" * 40) -> str:
    base = {"iss": "t", "aud": "unioncard-api", "sub": "user:7", "role": "admin",
            "iat": NOW, "exp": NOW + 900, "ver": 0}
    body = {k: v for k, v in {**base, **claims}.items() if v is not None}
    return jwt.encode(body, ("unioncard-access-token:" + secret).encode(), algorithm="HS256")


def test_a_well_formed_token_is_accepted() -> None:
    assert _service().decode(_sign({})) == Principal("user", 7, "admin")


@pytest.mark.parametrize("claims", [
    {"exp": NOW + 901},                 # outlives the configured lifetime
    {"exp": NOW + 10 * 365 * 86400},    # a ten-year token signed with the key
    {"iat": None},                      # no iat: its lifetime cannot be checked
    {"iat": NOW + 3600, "exp": NOW + 3600 + 900},  # issued in the future
    {"iat": "yesterday"},
    {"exp": float("inf")},
    {"iat": True},
])
def test_lifetime_is_capped_and_times_must_be_numbers(claims: dict[str, Any]) -> None:
    with pytest.raises(Unauthenticated, match="invalid"):
        _service().decode(_sign(claims))


def test_a_shorter_configured_lifetime_refuses_older_longer_tokens() -> None:
    token = _sign({"exp": NOW + 900})
    assert _service(900).decode(token).id == 7
    with pytest.raises(Unauthenticated):
        _service(300).decode(token)


@pytest.mark.parametrize("sub", [
    "user:12345678901234567890", "user:2147483648", "user:0", "user:-1", "user:007",
    "user:7:8", "user: 7", "user:", "member:007", "client:7", "USER:7", "7", "", 7, None,
    ["user:7"], "user:٧",  # an Arabic-Indic seven: int() would accept it
])
def test_only_known_subject_kinds_and_database_ids(sub: Any) -> None:
    with pytest.raises(Unauthenticated, match="invalid"):
        _service().decode(_sign({"sub": sub} if sub is not None else {"sub": None}))


def test_the_largest_database_id_is_a_subject() -> None:
    assert parse_subject("user:2147483647") == ("user", 2**31 - 1)


def test_a_member_is_a_subject() -> None:
    assert parse_subject("member:7") == ("member", 7)


@pytest.mark.parametrize("claims", [
    {"role": ["admin"]}, {"ver": "0"}, {"ver": 1.5}, {"prov": 24}, {"union": ["x"]},
])
def test_malformed_claims_are_invalid(claims: dict[str, Any]) -> None:
    with pytest.raises(Unauthenticated, match="invalid"):
        _service().decode(_sign(claims))


@pytest.mark.parametrize("sub", ["user:12345678901234567890", "user:99999999999",
                                 "member:1"])
def test_a_forged_subject_is_a_401_problem_never_a_500(client: FlaskClient, app: Flask,
                                                       sub: str) -> None:
    """Signed with the real key (a leaked or insider-made token): still a 401 problem."""
    from app.clock import timestamp

    now = int(timestamp())
    token = jwt.encode({"iss": app.config["TOKEN_ISSUER"], "aud": "unioncard-api", "sub": sub,
                        "role": "admin", "iat": now, "exp": now + 60, "ver": 0},
                       ("unioncard-access-token:" + app.config["SECRET_KEY"]).encode(),
                       algorithm="HS256")
    response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_a_real_key_token_beyond_the_lifetime_is_refused(client: FlaskClient, app: Flask,
                                                         factory) -> None:
    from app.clock import timestamp

    user = factory.user("admin")
    now = int(timestamp())
    claims = {"iss": app.config["TOKEN_ISSUER"], "aud": "unioncard-api", "sub": f"user:{user.id}",
              "role": "admin", "iat": now, "ver": 0}
    key = ("unioncard-access-token:" + app.config["SECRET_KEY"]).encode()
    ttl = app.config["TOKEN_TTL_SECONDS"]
    for exp, status in ((now + ttl, 200), (now + ttl + 1, 401), (now + 86400 * 365, 401)):
        token = jwt.encode({**claims, "exp": exp}, key, algorithm="HS256")
        response = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == status, exp


def test_a_token_seen_before_is_still_refused_once_it_expires() -> None:
    """Its signature is checked once per process; its times on every use."""
    moments = [NOW + 10]
    service = TokenService("s" * 40, issuer="t", ttl_seconds=900, clock=lambda: moments[0])
    token = _sign({})
    assert service.decode(token) == Principal("user", 7, "admin")
    assert service.decode(token) == Principal("user", 7, "admin")  # the remembered claims
    moments[0] = NOW + 900 + 60
    with pytest.raises(Unauthenticated, match="expired"):
        service.decode(token)
    forged = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    with pytest.raises(Unauthenticated):
        service.decode(forged)
