"""Signing in to the pages: a staff member's session cookie stands for them as a bearer token
does for the API. The session holds the user's id, the token version it was opened under and
its expiry; the same revocation rules apply (a disabled account or a logout ends it, as it
ends the account's tokens), and once read it is the request's principal, so ``current_scope()`` and ``actor()``
answer for pages exactly as for the API."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, session

from app import clock
from app.extensions import db
from app.models import User
from app.services.access.tokens import Principal

#: The session key holding the signed-in staff member.
SESSION_KEY = "staff"


def _principal_of(user: User) -> Principal:
    return Principal(kind="user", id=user.id, role=user.role.value,
                     province_code=user.province_code, union_code=user.union_code,
                     token_version=user.token_version)


def sign_in(user: User) -> Principal:
    """Open a page session for ``user`` (a fresh session: no fixation of an older one)."""
    session.clear()
    session.permanent = True
    lifetime = int(current_app.permanent_session_lifetime.total_seconds())
    session[SESSION_KEY] = {"id": user.id, "tv": user.token_version,
                            "exp": int(clock.timestamp()) + lifetime}
    principal = _principal_of(user)
    g.principal = principal
    return principal


def sign_out() -> None:
    """Forget the page session (the caller revokes the account's tokens)."""
    session.clear()
    g.pop("principal", None)


def page_principal() -> Principal | None:
    """The staff member signed in to this browser session, or None (no session, expired, or
    revoked: a disabled account, a logout elsewhere)."""
    if "principal" in g:
        return g.principal  # type: ignore[no-any-return]
    data: Any = session.get(SESSION_KEY)
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        return None
    if int(data.get("exp", 0)) < clock.timestamp():
        session.pop(SESSION_KEY, None)
        return None
    user = db.session.get(User, data["id"])
    if user is None or not user.is_active or user.token_version != data.get("tv"):
        session.pop(SESSION_KEY, None)
        return None
    principal = _principal_of(user)
    g.principal = principal
    return principal
