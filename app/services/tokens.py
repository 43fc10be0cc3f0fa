"""Short-lived signed bearer tokens (JWT, HS256 pinned) for the API."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from app.clock import timestamp
from app.services.errors import Unauthenticated

ALGORITHM = "HS256"  # pinned: never read from the token
AUDIENCE = "unioncard-api"
LEEWAY_SECONDS = 5


@dataclass(frozen=True)
class Principal:
    """Who is calling: a staff user (later also clinic clients and members)."""

    kind: str  # "user"
    id: int
    role: str
    province_code: str | None = None
    union_code: str | None = None
    token_version: int = 0

    @property
    def subject(self) -> str:
        """The JWT ``sub``: kind and id."""
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True)
class IssuedToken:
    """An access token and its lifetime in seconds."""

    access_token: str
    expires_in: int
    token_type: str = "Bearer"


class TokenService:
    """Issues and checks access tokens with a secret key, an issuer and a clock."""

    def __init__(self, secret: str, *, issuer: str, ttl_seconds: int,
                 clock: Callable[[], float] = timestamp) -> None:
        if len(secret) < 16:
            raise ValueError("token secret too short")
        self._key = ("unioncard-access-token:" + secret).encode()
        self._issuer = issuer
        self._ttl = ttl_seconds
        self._clock = clock

    def issue(self, principal: Principal) -> IssuedToken:
        """Sign a token for ``principal``."""
        now = int(self._clock())
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": AUDIENCE,
            "sub": principal.subject,
            "role": principal.role,
            "iat": now,
            "nbf": now,
            "exp": now + self._ttl,
            "jti": secrets.token_urlsafe(12),
            "ver": principal.token_version,
        }
        if principal.province_code:
            claims["prov"] = principal.province_code
        if principal.union_code:
            claims["union"] = principal.union_code
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM)
        return IssuedToken(access_token=token, expires_in=self._ttl)

    def decode(self, token: str) -> Principal:
        """Check a token's signature, issuer, audience and times.

        Raises:
            Unauthenticated: the token is malformed, forged or expired.
        """
        try:
            claims = jwt.decode(
                token, self._key, algorithms=[ALGORITHM], audience=AUDIENCE,
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "aud", "iss"],
                         "verify_exp": False, "verify_nbf": False, "verify_iat": False},
            )
            # Times are checked against the injected clock, not pyjwt's own.
            now = self._clock()
            if int(claims["exp"]) + LEEWAY_SECONDS < now:
                raise jwt.ExpiredSignatureError("expired")
            if int(claims.get("nbf", claims["iat"])) - LEEWAY_SECONDS > now:
                raise jwt.ImmatureSignatureError("not yet valid")
            kind, _, raw_id = str(claims["sub"]).partition(":")
            return Principal(kind=kind, id=int(raw_id), role=str(claims["role"]),
                             province_code=claims.get("prov"), union_code=claims.get("union"),
                             token_version=int(claims.get("ver", 0)))
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("The access token has expired.") from None
        except (jwt.InvalidTokenError, KeyError, ValueError):
            raise Unauthenticated("The access token is invalid.") from None
