"""Access control in one place: who is calling, which role, and which province/union scope."""

from __future__ import annotations

import functools
from collections.abc import Callable
from copy import deepcopy
from typing import Any, TypeVar

from flask import g, request

from app.composition import token_service
from app.extensions import db
from app.models import User
from app.services.access import member_accounts
from app.services.access.scope import Scope
from app.services.access.tokens import Principal
from app.services.clinics.directory import ClinicIdentity, clinic_identity, ensure_accredited
from app.services.errors import INSUFFICIENT_SCOPE, INVALID_TOKEN, Forbidden, Unauthenticated
from app.services.health.feeds import active_feed
from app.services.health.store import HealthStore

__all__ = ["ADMIN", "MEMBER", "STAFF", "Scope", "actor", "current_clinic", "current_member_id",
           "current_clinic_client", "current_principal", "current_scope", "requires",
           "requires_clinic", "requires_clinic_client", "requires_feed",
           "requires_member", "token_service", "use_sealed_summary"]

F = TypeVar("F", bound=Callable[..., Any])

#: The staff roles: administrators (national) and union officers (scoped).
STAFF = ("admin", "officer")
#: Administrators only.
ADMIN = ("admin",)
#: The role of a member's own token (subject ``member:<member id>``).
MEMBER = "member"

#: ``g`` flag of ``requires_member(sealed_summary=True)``, read by the member token's check
_WANTS_SEALED_SUMMARY = "unioncard_wants_sealed_summary"

#: OpenAPI security requirement of every endpoint that ``requires`` a bearer token.
#: (a JWT from the token endpoint, described both as HTTP bearer and as OAuth 2's flows)
_BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"oauth2": []}]


def actor() -> str:
    """The audit name of the caller of this request (``user:7``)."""
    principal = current_principal()
    assert principal is not None
    return principal.subject


def current_principal(required: bool = True) -> Principal | None:
    """The authenticated caller of this request, from its bearer token.

    Raises:
        Unauthenticated: no token, or an invalid/expired/revoked one (when ``required``).
    """
    if "principal" in g:
        return g.principal  # type: ignore[no-any-return]
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        if required:
            raise Unauthenticated("A bearer token is required.")
        return None
    principal = token_service().decode(token.strip())
    if principal.kind == "user":
        user = db.session.get(User, principal.id)
        if user is None or not user.is_active or user.token_version != principal.token_version:
            raise Unauthenticated("The access token has been revoked.", error=INVALID_TOKEN)
    elif principal.kind == "feed":
        if active_feed(db.session, principal.id, principal.token_version) is None:
            raise Unauthenticated("The access token has been revoked.", error=INVALID_TOKEN)
    elif principal.kind == "clinic":
        # the client must be active and the token current; the clinic's accreditation is
        # checked by ``current_clinic`` (a 403 that names it, not a 401)
        g.clinic_identity = clinic_identity(db.session, principal.id,
                                            token_version=principal.token_version)
    elif principal.kind == "member":
        if principal.role != MEMBER:
            raise Unauthenticated("The access token has been revoked.", error=INVALID_TOKEN)
        if g.get(_WANTS_SEALED_SUMMARY):
            current, sealed = member_accounts.token_is_current_with_sealed_summary(
                db.session, principal.id, principal.token_version)
            g.member_sealed_summary = sealed
        else:
            current = member_accounts.token_is_current(db.session, principal.id,
                                                       principal.token_version)
        if not current:
            raise Unauthenticated("The access token has been revoked.", error=INVALID_TOKEN)
    g.principal = principal
    return principal


def requires(*roles: str) -> Callable[[F], F]:
    """Decorator: the caller must be authenticated and hold one of ``roles`` (any role when
    none is given); the view is documented in OpenAPI as bearer-secured, answering 401 (and
    403 when roles are given)."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            assert principal is not None
            if roles and principal.role not in roles:
                raise Forbidden("Your role may not perform this action.", error=INSUFFICIENT_SCOPE)
            return view(*args, **kwargs)

        _document_security(wrapper, forbidden=bool(roles))
        return wrapper  # type: ignore[return-value]

    return decorate


def requires_feed(view: F) -> F:
    """Decorator: the caller must be a health-record feed client (a ``feed:<id>`` token from
    the client credentials grant); documented like ``requires``."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        principal = current_principal()
        assert principal is not None
        if principal.kind != "feed":
            raise Forbidden("Only health-record feed clients may do this.", error=INSUFFICIENT_SCOPE)
        return view(*args, **kwargs)

    _document_security(wrapper, forbidden=True)
    return wrapper  # type: ignore[return-value]


def requires_clinic(view: F) -> F:
    """Decorator: the caller must be an active API client of an accredited clinic (a
    ``clinic:<client id>`` token from the client credentials grant), re-checked on this very
    request; documented like ``requires``."""
    return _checked_first(view, current_clinic)


def requires_clinic_client(view: F) -> F:
    """Decorator: as ``requires_clinic``, but the clinic's accreditation is left to the view
    (``current_clinic_client``, then ``ensure_accredited``), so a suspended clinic's attempt
    can be recorded as a denial tied to the card it scanned before it is refused."""
    return _checked_first(view, current_clinic_client)


def _checked_first(view: F, check: Callable[[], object]) -> F:
    """``view``, run after ``check()`` (which raises to refuse the caller); documented as
    bearer-secured, answering 401 and 403."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        check()
        return view(*args, **kwargs)

    _document_security(wrapper, forbidden=True)
    return wrapper  # type: ignore[return-value]


def current_clinic_client() -> ClinicIdentity:
    """The clinic API client calling and its clinic, whatever the clinic's accreditation
    (the client itself is checked active with the token).

    Raises:
        Unauthenticated (``ClinicClientRevoked``). Forbidden: the caller is not a clinic client.
    """
    principal = current_principal()
    assert principal is not None
    if principal.kind != "clinic":
        raise Forbidden("Only clinic API clients may do this.", error=INSUFFICIENT_SCOPE)
    identity: ClinicIdentity = g.clinic_identity
    return identity


def current_clinic() -> ClinicIdentity:
    """The clinic API client calling and its clinic, read from the database once per request
    (with the token): a client disabled or a clinic suspended after the token was issued is
    refused at once.

    Raises:
        Unauthenticated: no valid token (``ClinicClientRevoked``: the client was disabled or
            its secret rotated). Forbidden: the caller is not a clinic client
            (``ClinicNotAccredited``: its clinic is suspended or withdrawn).
    """
    # ``current_principal`` read the client and its clinic (one query) for this request; the
    # caller is checked before the request's session is opened (no token: no session at all)
    client = current_clinic_client()
    return ensure_accredited(db.session, client)


def requires_member(*, sealed_summary: bool = False) -> Callable[[F], F]:
    """Decorator: the caller must be a member with their own token (staff get 403); the view
    is documented in OpenAPI as bearer-secured, answering 401 and 403. ``sealed_summary``:
    the token's check also reads the member's sealed health summary, in the same statement
    (one round trip instead of two); the view hands it to its store with
    ``use_sealed_summary``."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if sealed_summary:
                g.setdefault(_WANTS_SEALED_SUMMARY, True)
            current_member_id()
            return view(*args, **kwargs)

        _document_security(wrapper, forbidden=True)
        return wrapper  # type: ignore[return-value]

    return decorate


def use_sealed_summary(store: HealthStore) -> None:
    """Hand the caller's sealed summary, read with their token (``requires_member(
    sealed_summary=True)``), to ``store``; nothing when the token's check did not read it."""
    if "member_sealed_summary" in g:
        store.use_sealed_summary(current_member_id(), g.pop("member_sealed_summary"))


def current_member_id() -> int:
    """The member calling with their own token.

    Raises:
        Unauthenticated: no valid token. Forbidden: the caller is not a member.
    """
    principal = current_principal()
    assert principal is not None
    if principal.kind != "member" or principal.role != MEMBER:
        raise Forbidden("Only a member, with their own token, may do this.", error=INSUFFICIENT_SCOPE)
    return principal.id


def _document_security(view: Callable[..., Any], *, forbidden: bool) -> None:
    """Record the bearer security and the 401/403 answers in the view's ``_apidoc``, as
    flask-smorest's ``Blueprint.doc`` and ``alt_response`` do; statuses a view documents
    itself keep their own description."""
    # functools.wraps shared the wrapped view's dict: copy it so the view keeps its own doc
    apidoc: dict[str, Any] = deepcopy(getattr(view, "_apidoc", {}))
    apidoc.setdefault("manual_doc", {})["security"] = deepcopy(_BEARER)
    responses = apidoc.setdefault("response", {}).setdefault("responses", {})
    documented = {str(status) for status in responses}
    # a component response of ProblemApi (problem+json), referenced by name
    for status, name in ((401, "UNAUTHORIZED"), (403, "FORBIDDEN")):
        if (status == 401 or forbidden) and str(status) not in documented:
            responses[status] = [name]
    view._apidoc = apidoc  # type: ignore[attr-defined]


def current_scope() -> Scope:
    """The scope of the authenticated caller.

    Raises:
        Unauthenticated: nobody is authenticated.
    """
    principal = current_principal()
    assert principal is not None
    return Scope(principal)
