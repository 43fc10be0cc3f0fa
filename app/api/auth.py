"""Authentication: bearer tokens for staff and members, logout, and who-am-I."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import current_app, request
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.composition import login_policy, member_login_policy
from app.edge.auth import MEMBER, current_principal, requires, token_service
from app.edge.bodies import accepts
from app.edge.problems import ProblemSchema
from app.extensions import db, limiter
from app.schemas.auth import LOGIN_NAMES, PrincipalSchema, TokenRequestSchema, TokenSchema
from app.services.access import accounts, member_accounts
from app.services.access.member_accounts import LoginName
from app.services.access.tokens import Principal

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth",
                description="Bearer tokens (OAuth 2 token endpoint) and the current caller.")
# The token endpoint takes JSON or an OAuth 2 form; the spec documents the JSON body.
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
    """Rate-limit logins per client address and username."""
    try:
        data = request.get_json(silent=True) if request.is_json else request.form
    except RecursionError:  # a deeply nested body: refused later by its body check
        data = None
    if not isinstance(data, Mapping):
        return f"{request.remote_addr}|"
    # one key per login name and kind: a member number never shares a bucket with a username
    kind = next((name for name in LOGIN_NAMES if data.get(name)), "username")
    return f"{request.remote_addr}|{kind}|{str(data.get(kind, '')).strip().lower()[:64]}"


@blp.route("/token")
class TokenView(MethodView):
    """The token endpoint."""

    # checked before the body is parsed and any password hashed (argon2 costs ~0.4 s of CPU)
    decorators = [limiter.limit(_address_limit, key_func=_address_key, methods=["POST"]),
                  limiter.limit(_login_limit, key_func=_login_key, methods=["POST"])]

    @accepts("application/json", "application/x-www-form-urlencoded")
    @blp.arguments(TokenRequestSchema, location="json_or_form")
    @blp.response(200, TokenSchema)
    @blp.alt_response(401, schema=ProblemSchema,
                      description="Wrong username, member number, phone or password")
    @blp.alt_response(429, schema=ProblemSchema,
                      description="Too many attempts from this address, or too many wrong "
                                  "passwords for this account (its password login is locked)")
    def post(self, args: dict[str, Any]) -> Any:
        """Exchange a username (staff) or a member number or phone (member) and the password
        for a short-lived bearer token."""
        # the login's own session: a wrong password's count is committed by the service,
        # although the answer is an error (which rolls back the request's session)
        with db.new_session(current_app) as session:
            if "username" not in args:
                by: LoginName = "phone" if "phone" in args else "member_number"
                account = member_accounts.authenticate(
                    session, args[by], args["password"], by=by,
                    policy=member_login_policy(current_app.config))
                return token_service().issue(Principal(
                    kind="member", id=account.member_id, role=MEMBER,
                    token_version=account.token_version))
            user = accounts.authenticate(session, args["username"], args["password"],
                                         policy=login_policy(current_app.config))
            principal = Principal(
                kind="user", id=user.id, role=user.role.value, province_code=user.province_code,
                union_code=user.union_code, token_version=user.token_version)
        return token_service().issue(principal)


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
        else:
            accounts.revoke_tokens(db.session, principal.id)
