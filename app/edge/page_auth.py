"""Signing in to the pages: a staff member's, a member's or a clinic client's session cookie
stands for them as a bearer token does for the API. The session holds the user's id, the token version it was opened under and
its expiry; the same revocation rules apply (a disabled account or a logout ends it, as it
ends the account's tokens), and once read it is the request's principal, so
``current_scope()``, ``actor()``, ``current_member_id()`` and ``current_clinic()`` answer for
pages exactly as for the API. One browser session holds one kind of principal at a time."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, session

from app import clock
from app.extensions import db
from app.models import User
from app.services.access import member_accounts
from app.services.access.tokens import Principal
from app.services.clinics.directory import clinic_identity
from app.services.errors import ClinicClientRevoked

#: The session key holding the signed-in staff member.
SESSION_KEY = "staff"
#: The session key holding the signed-in member (the member portal).
MEMBER_KEY = "member"
#: The session key holding the signed-in clinic API client (the clinic scanner).
CLINIC_KEY = "clinic"
#: The session key of the pages' language: kept when a sign-in or sign-out starts a fresh
#: session (``app.web.i18n`` reads it).
LANGUAGE_KEY = "lang"


def _principal_of(user: User) -> Principal:
    return Principal(kind="user", id=user.id, role=user.role.value,
                     province_code=user.province_code, union_code=user.union_code,
                     token_version=user.token_version)


def _open(key: str, principal: Principal) -> None:
    """A fresh session (no fixation of an older one) holding ``principal`` under ``key``; the
    language chosen before stays."""
    _clear()
    session.permanent = True
    lifetime = int(current_app.permanent_session_lifetime.total_seconds())
    session[key] = {"id": principal.id, "tv": principal.token_version,
                    "exp": int(clock.timestamp()) + lifetime}


def _held(key: str) -> dict[str, Any] | None:
    """The unexpired session entry under ``key`` (an expired one is dropped)."""
    data: Any = session.get(key)
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        return None
    if int(data.get("exp", 0)) < clock.timestamp():
        session.pop(key, None)
        return None
    return data


def sign_in(user: User) -> Principal:
    """Open a page session for ``user`` (a fresh session: no fixation of an older one)."""
    principal = _principal_of(user)
    _open(SESSION_KEY, principal)
    g.principal = principal
    return principal


def _clear() -> None:
    """Empty the session, all but the language chosen."""
    language = session.get(LANGUAGE_KEY)
    session.clear()
    if language is not None:
        session[LANGUAGE_KEY] = language


def sign_out() -> None:
    """Forget the page session, keeping the language chosen (the caller revokes the account's
    tokens)."""
    _clear()
    g.pop("principal", None)


def page_principal() -> Principal | None:
    """The staff member signed in to this browser session, or None (no session, expired, or
    revoked: a disabled account, a logout elsewhere)."""
    if "principal" in g:
        principal: Principal = g.principal
        return principal if principal.kind == "user" else None
    data = _held(SESSION_KEY)
    if data is None:
        return None
    user = db.session.get(User, data["id"])
    if user is None or not user.is_active or user.token_version != data.get("tv"):
        session.pop(SESSION_KEY, None)
        return None
    principal = _principal_of(user)
    g.principal = principal
    return principal


def sign_in_member(member_id: int, token_version: int) -> Principal:
    """Open a page session for a member who signed in (or just activated their account)."""
    principal = Principal(kind="member", id=member_id, role="member",
                          token_version=token_version)
    _open(MEMBER_KEY, principal)
    g.principal = principal
    return principal


def page_member() -> Principal | None:
    """The member signed in to this browser session, or None (no session, expired, or
    revoked: a logout elsewhere, a new activation code, a password change)."""
    if "principal" in g:
        principal: Principal = g.principal
        return principal if principal.kind == "member" else None
    data = _held(MEMBER_KEY)
    if data is None:
        return None
    if not member_accounts.token_is_current(db.session, data["id"], int(data.get("tv", -1))):
        session.pop(MEMBER_KEY, None)
        return None
    principal = Principal(kind="member", id=data["id"], role="member",
                          token_version=int(data["tv"]))
    g.principal = principal
    return principal


def sign_in_clinic(principal: Principal) -> Principal:
    """Open a page session for a clinic API client that gave its client id and secret."""
    _open(CLINIC_KEY, principal)
    return principal


def page_clinic() -> Principal | None:
    """The clinic API client signed in to this browser session, or None (no session, expired,
    the client disabled or its tokens ended). Like a clinic token, the client and its clinic
    are read once per request (``current_clinic()`` then checks the accreditation)."""
    if "principal" in g:
        principal: Principal = g.principal
        return principal if principal.kind == "clinic" else None
    data = _held(CLINIC_KEY)
    if data is None:
        return None
    try:
        g.clinic_identity = clinic_identity(db.session, data["id"],
                                            token_version=int(data.get("tv", -1)))
    except ClinicClientRevoked:
        session.pop(CLINIC_KEY, None)
        return None
    principal = Principal(kind="clinic", id=data["id"], role="clinic",
                          token_version=int(data["tv"]))
    g.principal = principal
    return principal
