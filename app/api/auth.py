"""Authentication: bearer tokens for staff and members, logout, and who-am-I."""

from __future__ import annotations

import binascii
import functools
from base64 import b64decode
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote_plus

from flask import current_app, request
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.composition import data_cipher, login_policy, member_login_policy
from app.edge.auth import MEMBER, current_principal, requires, token_service
from app.edge.bodies import accepts
from app.edge.problems import TOKEN_ERROR_JSON, ProblemSchema
from app.extensions import db, limiter
from app.schemas.auth import (
    LOGIN_NAMES,
    PrincipalSchema,
    TokenFormSchema,
    TokenRequestSchema,
    TokenSchema,
)
from app.services.access import accounts, member_accounts
from app.services.access.member_accounts import LoginName
from app.services.access.tokens import IssuedToken, Principal, check_requested_scope
from app.services.clinics import clients as clinic_clients
from app.services.errors import InvalidClient, InvalidTokenRequest, UnsupportedGrantType
from app.services.health import feeds

FORM = "application/x-www-form-urlencoded"
GRANT_TYPES = ("password", "client_credentials")

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth",
                description="Bearer tokens (OAuth 2 token endpoint) and the current caller.")
# The token endpoint takes JSON or an OAuth 2 form; the spec documents both bodies (the form's
# by TokenFormSchema, since the client credentials grant is read before the arguments).
blp.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING = {
    **Blueprint.DEFAULT_LOCATION_CONTENT_TYPE_MAPPING, "json_or_form": "application/json"}


def _login_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


def _address_limit() -> str:
    return str(current_app.config["LOGIN_ADDRESS_RATE_LIMIT"])


def _address_key() -> str:
    """Rate-limit logins per client address, whatever the usernames tried."""
    return f"login-address|{request.remote_addr}"


def _login_key() -> str:
    """Rate-limit logins per client address and username (or feed client id)."""
    try:
        data = request.get_json(silent=True) if request.is_json else request.form
    except RecursionError:  # a deeply nested body: refused later by its body check
        data = None
    if not isinstance(data, Mapping):
        data = {}
    # one key per login name and kind: a member number never shares a bucket with a username
    kind = next((name for name in LOGIN_NAMES if data.get(name)), "username")
    name = str(data.get(kind, ""))
    if not name and request.mimetype == FORM:
        try:
            basic = _basic_credentials()
        except InvalidClient:  # answered by the view; the key only needs to be stable
            basic = ("?", "")
        kind, name = "client", basic[0] if basic else str(request.form.get("client_id", ""))
    return f"{request.remote_addr}|{kind}|{name.strip().lower()[:64]}"


def _basic_credentials() -> tuple[str, str] | None:
    """The client id and secret of an HTTP Basic ``Authorization`` header, each
    form-urlencoded first as RFC 6749 §2.3.1 says (None without such a header).

    Raises:
        InvalidClient: a Basic header that cannot be decoded.
    """
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("The HTTP Basic credentials cannot be decoded.") from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise InvalidClient("The HTTP Basic credentials cannot be decoded.")
    return unquote_plus(client_id), unquote_plus(secret)


def _client_credentials() -> Any:
    """The client credentials grant (RFC 6749 §4.4): a feed client's or a clinic client's
    token (clinic client ids start with ``clinic-``).

    Raises:
        InvalidTokenRequest: the client authenticated both ways. InvalidClient: no or wrong
            credentials, or a disabled client. ClinicNotAccredited: a clinic client's clinic
            is suspended or withdrawn.
    """
    basic = _basic_credentials()
    in_form = "client_id" in request.form or "client_secret" in request.form
    if basic is not None and in_form:
        raise InvalidTokenRequest("Authenticate the client once: HTTP Basic or the form, "
                                  "not both.")
    if basic is None:
        basic = (request.form.get("client_id", ""), request.form.get("client_secret", ""))
    if not basic[0] or not basic[1]:
        raise InvalidClient("Client credentials are required (HTTP Basic, or client_id and "
                            "client_secret in the form).")
    with db.new_session(current_app, write=True) as session:
        if clinic_clients.is_clinic_client_id(basic[0]):
            principal = clinic_clients.principal(
                clinic_clients.authenticate(session, data_cipher(), *basic))
        else:
            principal = feeds.principal(feeds.authenticate(session, data_cipher(), *basic))
    return TokenSchema().dump(_issue(principal, request.form.get("scope"))), 200, NO_STORE


#: RFC 6749 §5.1: the token endpoint's answers are never cached.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _issue(principal: Principal, scope: str | None) -> IssuedToken:
    """A token for ``principal``, once the scope it asked for (if any) is its own.

    Raises:
        InvalidScope: the request asked for a scope beyond the principal's (RFC 6749 §3.3).
    """
    check_requested_scope(scope, principal)
    return token_service().issue(principal)


def _check_form() -> None:
    """The rules of RFC 6749 §3.2 and §4 a token request's form must keep: each parameter at
    most once, and a ``grant_type``.

    Raises:
        InvalidTokenRequest: a parameter is repeated or ``grant_type`` is missing.
    """
    repeated = sorted(name for name, values in request.form.lists() if len(values) > 1)
    if repeated:
        raise InvalidTokenRequest(f"A token request names each parameter once; repeated: "
                                  f"{', '.join(repeated)[:80]}.")
    if not request.form.get("grant_type"):
        raise InvalidTokenRequest("The token request's form needs a grant_type: password or "
                                  "client_credentials.")


def _other_grants(view: Callable[..., Any]) -> Callable[..., Any]:
    """Check a form-encoded request (``_check_form``) and answer one for a grant other than
    ``password`` before the password grant's arguments are parsed: the client credentials
    grant, or ``unsupported_grant_type``.

    Raises:
        InvalidTokenRequest: a repeated parameter, or no ``grant_type``, in a form.
        UnsupportedGrantType: an unknown ``grant_type`` in a form.
    """

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if request.mimetype == FORM:
            _check_form()
            grant = request.form["grant_type"]
            if grant == "client_credentials":
                return _client_credentials()
            if grant not in GRANT_TYPES:
                raise UnsupportedGrantType(f"Grant type {grant[:40]!r} is not supported; use "
                                           "password or client_credentials.")
        return view(*args, **kwargs)

    return wrapper


@blp.route("/token")
class TokenView(MethodView):
    """The token endpoint."""

    # checked before the body is parsed and any password hashed (argon2 costs ~0.4 s of CPU)
    decorators = [limiter.limit(_address_limit, key_func=_address_key, methods=["POST"]),
                  limiter.limit(_login_limit, key_func=_login_key, methods=["POST"])]

    @accepts("application/json", FORM)
    @_other_grants
    @blp.arguments(TokenRequestSchema, location="json_or_form", error_status_code=400)
    @blp.doc(requestBody={"required": True, "content": {FORM: {"schema": TokenFormSchema}}})
    @blp.response(200, TokenSchema, headers={
        "Cache-Control": {"description": "no-store", "schema": {"type": "string"}},
        "Pragma": {"description": "no-cache", "schema": {"type": "string"}}})
    @blp.alt_response(400, schema=ProblemSchema, content_type=TOKEN_ERROR_JSON, description=(
        "RFC 6749 §5.2 `error`: `invalid_request` (`invalid-token-request`: a missing, "
        "repeated or invalid parameter, `errors` naming the fields; `malformed-json`, "
        "`json-too-deep`), `invalid_grant` (`invalid-grant`: wrong username, member number, "
        "phone or password), `unsupported_grant_type`, `invalid_scope`, `unauthorized_client` "
        "(`clinic-not-accredited`: the clinic client's clinic is suspended or withdrawn)"))
    @blp.alt_response(401, schema=ProblemSchema, content_type=TOKEN_ERROR_JSON, description=(
        "`invalid_client` (`invalid-client`, `WWW-Authenticate: Basic`): feed or clinic client "
        "credentials missing or wrong"))
    @blp.alt_response(413, schema=ProblemSchema, content_type=TOKEN_ERROR_JSON,
                      description="`invalid_request`: the body is too large")
    @blp.alt_response(415, schema=ProblemSchema, content_type=TOKEN_ERROR_JSON,
                      description="`invalid_request`: neither JSON nor a form")
    @blp.alt_response(429, schema=ProblemSchema, content_type=TOKEN_ERROR_JSON,
                      description="Too many attempts from this address (`invalid_request`), "
                                  "or too many wrong passwords for this account (its "
                                  "password login is locked: `invalid_grant`)")
    def post(self, args: dict[str, Any]) -> Any:
        """Exchange credentials for a short-lived bearer token (OAuth 2 token endpoint).

        Staff: `username` and `password`; members: `member_number` (or `phone`) and
        `password` — as JSON or a form (`grant_type=password`). Health-record feeds: the
        OAuth 2 client credentials grant (RFC 6749 §4.4), a form
        `grant_type=client_credentials` with the client authenticated by HTTP Basic or by
        `client_id` and `client_secret` in the form; the token's subject is `feed:<id>`.
        Clinic API clients (client ids `clinic-…`): the same grant; the subject is
        `clinic:<id>` and every clinic request re-checks the client and its clinic.

        The answer (RFC 6749 §5.1) has `access_token`, `token_type` `Bearer`, `expires_in`
        and `scope` (the token's role; a request may name it in `scope`, never another:
        `invalid_scope`), and is never cached. Errors are RFC 6749 §5.2's: `application/json`
        with OAuth 2's `error` and `error_description` besides the problem details' members
        (`type`, `title`, `status`, `detail`, ...).
        """
        # the login's own session: a wrong password's count is committed by the service,
        # although the answer is an error (which rolls back the request's session); it writes
        # (the count, or its end), so it begins with the write lock (SQLite: IMMEDIATE)
        with db.new_session(current_app, write=True) as session:
            if "username" not in args:
                by: LoginName = "phone" if "phone" in args else "member_number"
                account = member_accounts.authenticate(
                    session, args[by], args["password"], by=by,
                    policy=member_login_policy(current_app.config))
                principal = Principal(kind="member", id=account.member_id, role=MEMBER,
                                      token_version=account.token_version)
            else:
                user = accounts.authenticate(session, args["username"], args["password"],
                                             policy=login_policy(current_app.config))
                principal = Principal(
                    kind="user", id=user.id, role=user.role.value,
                    province_code=user.province_code, union_code=user.union_code,
                    token_version=user.token_version)
        return _issue(principal, args.get("scope")), 200, NO_STORE


@blp.route("/me")
class MeView(MethodView):
    """The authenticated caller."""

    @requires()
    @blp.response(200, PrincipalSchema)
    @blp.alt_response(401, schema=ProblemSchema, description="Missing or invalid token")
    def get(self) -> Any:
        """Show who the bearer token belongs to and its scope."""
        return current_principal()


@blp.route("/logout")
class LogoutView(MethodView):
    """The end of the caller's tokens."""

    @requires()
    @blp.response(204)
    def post(self) -> None:
        """Log out: the bearer token, and every other token of the caller issued before it,
        stops working at once."""
        principal = current_principal()
        assert principal is not None
        if principal.kind == "member":
            member_accounts.logout(db.session, principal.id)
        elif principal.kind == "clinic":
            clinic_clients.revoke_tokens(db.session, principal.id)
        elif principal.kind == "feed":
            feeds.revoke_tokens(db.session, principal.id)
        else:
            accounts.revoke_tokens(db.session, principal.id)
