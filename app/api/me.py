"""A member's own account: activation with the card's code, profile, password, PIN, card."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.composition import card_desk, data_cipher, member_login_policy, token_service
from app.edge.auth import actor, current_member_id, requires_member
from app.edge.database import defers_writes
from app.edge.problems import ProblemSchema
from app.extensions import db, limiter
from app.schemas.auth import TokenSchema
from app.schemas.me import (
    MEMBER_CARD_FILES,
    ActivatedSchema,
    ActivateSchema,
    MemberCardSchema,
    PasswordChangeSchema,
    PinChangeSchema,
    ProfileSchema,
)
from app.services.access import member_accounts
from app.services.access.tokens import Principal
from app.services.issuing import card_files

blp = Blueprint("me", __name__, url_prefix="/api/v1/me",
                description="A member's own account: activation with the card's one-time code, "
                            "profile, password, PIN and card.")


def _activation_limit() -> str:
    return str(current_app.config["ACTIVATION_RATE_LIMIT"])


def _activation_address_limit() -> str:
    return str(current_app.config["ACTIVATION_ADDRESS_RATE_LIMIT"])


def _activation_address_key() -> str:
    """Rate-limit activations per client address, whatever the member numbers tried."""
    return f"activate-address|{request.remote_addr}"


def _activation_member_key() -> str:
    """Rate-limit activations per member number, from any address."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # a deeply nested body: refused later by its body check
        data = None
    number = data.get("member_number", "") if isinstance(data, Mapping) else ""
    return f"activate-member|{str(number).strip().upper()[:20]}"


def member_token(member_id: int) -> Any:
    """A new bearer token for the member (the account's current token version)."""
    version = member_accounts.token_version(db.session, member_id)
    return token_service().issue(Principal(kind="member", id=member_id, role="member",
                                           token_version=version))


@blp.route("/activate")
class Activate(MethodView):
    """Account activation."""

    # checked before the body is parsed and anything hashed
    decorators = [
        limiter.limit(_activation_address_limit, key_func=_activation_address_key,
                      methods=["POST"]),
        limiter.limit(_activation_limit, key_func=_activation_member_key, methods=["POST"])]

    @blp.arguments(ActivateSchema)
    @blp.response(200, ActivatedSchema)
    @blp.alt_response(409, schema=ProblemSchema, description="The code was used already")
    @blp.alt_response(410, schema=ProblemSchema, description="The code has expired")
    @blp.alt_response(422, schema=ProblemSchema,
                      description="Wrong member number, code or birth date (not said which), "
                                  "or a password or PIN that breaks its policy")
    @blp.alt_response(429, schema=ProblemSchema,
                      description="Too many attempts from this address or for this member")
    def post(self, args: dict[str, Any]) -> Any:
        """Activate the account with the card letter's one-time code, setting a password and
        a 6-digit PIN; a new code from the office resets both (and ends every session)."""
        request_ = member_accounts.Activation(
            member_number=args["member_number"], activation_code=args["activation_code"],
            birth_date=args["birth_date"], password=args["password"], pin=args["pin"])
        # hashed before the request's session (and its write lock) begins
        secrets = member_accounts.hash_secrets(request_)
        account = member_accounts.activate(db.session, data_cipher(), request_, secrets=secrets)
        return {"member_number": args["member_number"].strip().upper(),
                "activated_at": account.activated_at,
                "phone_login": account.phone is not None}


@blp.route("")
class Me(MethodView):
    """The member's profile."""

    @requires_member()
    @blp.response(200, ProfileSchema)
    def get(self) -> Any:
        """Show the member's own profile (the personal ID masked) and card status."""
        return member_accounts.profile(db.session, current_member_id())


def _own_session_for_secrets() -> Any:
    """A session of the change's own: a wrong password's count must outlast the error answer
    (which rolls back the request's session), and the request holds no transaction (nor the
    SQLite write lock) while passwords are hashed."""
    current_member_id()  # the token is checked first, in the request's session
    db.session.rollback()
    return db.new_session(current_app, write=True)


@blp.route("/password")
class MyPassword(MethodView):
    """The member's password."""

    @defers_writes  # the change commits in a session of its own
    @requires_member()
    @blp.arguments(PasswordChangeSchema)
    @blp.response(200, TokenSchema)
    @blp.alt_response(401, schema=ProblemSchema, description="The current password is wrong")
    @blp.alt_response(422, schema=ProblemSchema, description="The new password breaks the policy")
    @blp.alt_response(429, schema=ProblemSchema, description="Too many wrong passwords")
    def post(self, args: dict[str, Any]) -> Any:
        """Change the password (the current one is required); every earlier token ends and a
        new one is returned."""
        with _own_session_for_secrets() as session:
            member_accounts.change_password(session, current_member_id(), args["password"],
                                            args["new_password"],
                                            policy=member_login_policy(current_app.config))
        return member_token(current_member_id())


@blp.route("/pin")
class MyPin(MethodView):
    """The member's PIN."""

    @defers_writes  # the change commits in a session of its own
    @requires_member()
    @blp.arguments(PinChangeSchema)
    @blp.response(204)
    @blp.alt_response(401, schema=ProblemSchema, description="The password is wrong")
    @blp.alt_response(422, schema=ProblemSchema, description="The new PIN breaks the policy")
    @blp.alt_response(429, schema=ProblemSchema, description="Too many wrong passwords")
    def post(self, args: dict[str, Any]) -> None:
        """Change the PIN (the password is required); a PIN lock ends."""
        with _own_session_for_secrets() as session:
            member_accounts.change_pin(session, current_member_id(), args["password"],
                                       args["new_pin"],
                                       policy=member_login_policy(current_app.config))


@blp.route("/card")
class MyCard(MethodView):
    """The member's current card."""

    @requires_member()
    @blp.response(200, MemberCardSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No current card")
    def get(self) -> Any:
        """Show the current card (newest not revoked): signed text, status, validity."""
        card = member_accounts.current_card(db.session, current_member_id())
        return {"serial": card.serial, "status": card.status.value, "issued_at": card.issued_at,
                "expires_at": card.expires_at, "text": card_desk(actor()).text(card)}


@blp.route("/card/<any(" + ",".join(f"'{n}'" for n in MEMBER_CARD_FILES) + "):name>")
class MyCardFile(MethodView):
    """The member's card QR."""

    @requires_member()
    @blp.doc(responses={"200": {"description": "the QR", "content": {
        card_files.MEDIA_TYPES[n]: {"schema": {"type": "string", "format": "binary"}}
        for n in MEMBER_CARD_FILES}}})
    @blp.alt_response(404, schema=ProblemSchema, description="No current card")
    def get(self, name: str) -> Any:
        """Download the current card's QR as PNG or SVG, to show it on the phone."""
        card = member_accounts.current_card(db.session, current_member_id())
        file = card_files.render(card_desk(actor()), card, name)
        return Response(file.body, mimetype=file.media_type, headers={
            "Content-Disposition": f'inline; filename="{file.file_name}"',
            "Cache-Control": "private, no-store"})
