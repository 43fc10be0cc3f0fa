"""Short-lived signed bearer tokens (JWT, HS256 pinned) for the API."""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from app.clock import timestamp
from app.services.errors import INVALID_TOKEN, InvalidTokenRequest, Unauthenticated

ALGORITHM = "HS256"  # pinned: never read from the token
AUDIENCE = "unioncard-api"
LEEWAY_SECONDS = 5
#: Tokens whose signature each process remembers having checked.
VERIFIED_TOKENS = 4096


@dataclass(frozen=True)
class Principal:
    """Who is calling: a staff user, a member, a health-record feed or a clinic API client."""

    kind: str  # "user", "member" (id: the member's id), "feed" or "clinic" (id: the client's)
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
    """An access token, its lifetime in seconds and its scope (RFC 6749 §3.3, §5.1)."""

    access_token: str
    expires_in: int
    token_type: str = "Bearer"
    scope: str = ""


class InvalidScope(InvalidTokenRequest):
    """A token request asks for a scope the caller does not have, or a malformed one (OAuth 2
    ``invalid_scope``, RFC 6749 §5.2)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.extra["error"] = "invalid_scope"


#: A scope token (RFC 6749 §3.3: ``%x21 / %x23-5B / %x5D-7E``), space-delimited in a request.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


def granted_scope(principal: Principal) -> str:
    """The scope of a principal's tokens: its role, one scope token (``admin``, ``officer``,
    ``member``, ``health-feed`` or ``clinic``); what the role may do is the API's rule."""
    return principal.role


def check_requested_scope(requested: str | None, principal: Principal) -> None:
    """Refuse a requested scope (RFC 6749 §3.3) that is malformed or holds a token beyond the
    principal's scope; no scope requested, or an empty one, asks for the principal's own.

    Raises:
        InvalidScope: a malformed scope, or one the principal does not have.
    """
    if not requested:
        return
    tokens = requested.split(" ")
    if not all(_SCOPE_TOKEN.fullmatch(token) for token in tokens):
        raise InvalidScope("The scope is malformed: scope tokens separated by single spaces.")
    beyond = sorted(set(tokens) - set(granted_scope(principal).split()))
    if beyond:
        raise InvalidScope(f"The scope {' '.join(beyond)[:80]} is not granted to this client "
                           f"or account; its scope is {granted_scope(principal)}.")


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
        # A token is sent with every request of its life: its signature is checked once per
        # process (the claims are not changed by their readers; failures are not kept).
        self._verified = functools.lru_cache(maxsize=VERIFIED_TOKENS)(self._verify_signature)

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
        return IssuedToken(access_token=token, expires_in=self._ttl,
                           scope=granted_scope(principal))

    def _verify_signature(self, token: str) -> dict[str, Any]:
        """The claims of a token whose signature, issuer and audience check out (times are
        checked by ``decode`` on every use)."""
        claims: dict[str, Any] = jwt.decode(
            token, self._key, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=self._issuer,
            options={"require": ["exp", "iat", "sub", "aud", "iss"],
                     "verify_exp": False, "verify_nbf": False, "verify_iat": False})
        return claims

    def decode(self, token: str) -> Principal:
        """Check a token's signature, issuer, audience, times, lifetime and subject.

        Raises:
            Unauthenticated: the token is malformed, forged or expired, lives longer than the
                configured lifetime, or names an unknown kind of subject or an impossible id.
        """
        try:
            claims = self._verified(token)
            # Times are checked against the injected clock, not pyjwt's own.
            now = self._clock()
            issued, expires = _timestamp(claims, "iat"), _timestamp(claims, "exp")
            if expires + LEEWAY_SECONDS < now:
                raise jwt.ExpiredSignatureError("expired")
            if expires - issued > self._ttl:
                raise jwt.InvalidTokenError("lives longer than the configured lifetime")
            if max(issued, _timestamp(claims, "nbf", issued)) - LEEWAY_SECONDS > now:
                raise jwt.ImmatureSignatureError("not yet valid")
            kind, user_id = parse_subject(claims["sub"])
            role, version = claims["role"], claims.get("ver", 0)
            if not isinstance(role, str) or type(version) is not int:
                raise jwt.InvalidTokenError("malformed claims")
            province, union = claims.get("prov"), claims.get("union")
            if not all(v is None or isinstance(v, str) for v in (province, union)):
                raise jwt.InvalidTokenError("malformed scope")
            return Principal(kind=kind, id=user_id, role=role, province_code=province,
                             union_code=union, token_version=version)
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("The access token has expired.",
                                  error=INVALID_TOKEN) from None
        except (jwt.InvalidTokenError, KeyError, ValueError, TypeError, OverflowError):
            raise Unauthenticated("The access token is invalid.", error=INVALID_TOKEN) from None


#: The kinds of subject a token may name, and the largest id (the INTEGER key columns).
SUBJECT_KINDS = frozenset({"user", "member", "feed", "clinic"})
MAX_SUBJECT_ID = 2**31 - 1
_SUBJECT_RE = re.compile(r"([a-z]+):([1-9][0-9]{0,9})")


def parse_subject(subject: object) -> tuple[str, int]:
    """Split a ``sub`` claim (``user:7``) into its kind and id.

    Raises:
        ValueError: not a known kind, or an id no INTEGER key can hold.
    """
    match = _SUBJECT_RE.fullmatch(subject) if isinstance(subject, str) else None
    if match is None or match[1] not in SUBJECT_KINDS or int(match[2]) > MAX_SUBJECT_ID:
        raise ValueError("unknown subject")
    return match[1], int(match[2])


def _timestamp(claims: dict[str, Any], name: str, default: int | None = None) -> int:
    """A time claim as whole seconds (pyjwt itself accepts floats).

    Raises:
        KeyError: the claim is missing and has no default.
        ValueError: not a finite number.
    """
    value = claims.get(name, default)
    if value is None:
        raise KeyError(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} is not a number")
    return int(value)  # OverflowError for inf, ValueError for nan
