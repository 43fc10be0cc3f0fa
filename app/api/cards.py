"""The card desk: issue, read, download, suspend, reinstate, revoke (within your scope)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.composition import card_desk
from app.edge.auth import STAFF, actor, current_scope, requires
from app.edge.problems import ProblemSchema
from app.schemas.cards import (
    ActivationCodeSchema,
    CardSchema,
    IssuedCardSchema,
    ReprintPageSchema,
    RevokeSchema,
    SuspendSchema,
)
from app.schemas.common import PageArgsSchema
from app.services.issuing import card_files

blp = Blueprint("cards", __name__, url_prefix="/api/v1",
                description="Union cards: signed QR, NFC payload and printable card.")


def _issued(issued: Any) -> Any:
    issued.card.activation_code = issued.activation_code
    return issued.card


@blp.route("/members/<int:member_id>/cards")
class MemberCards(MethodView):
    """A member's cards."""

    @requires(*STAFF)
    @blp.response(200, CardSchema(many=True))
    @blp.alt_response(404, schema=ProblemSchema, description="No such member in your scope")
    def get(self, member_id: int) -> Any:
        """List a member's cards, newest first."""
        return card_desk(actor()).for_member(current_scope(), member_id)

    @requires(*STAFF)
    @blp.response(201, IssuedCardSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such member in your scope")
    @blp.alt_response(409, schema=ProblemSchema, description="The member is not active")
    def post(self, member_id: int) -> Any:
        """Issue a card (a previous card is revoked as `superseded`)."""
        issued = card_desk(actor()).issue(current_scope(), member_id)
        return _issued(issued)


@blp.route("/cards/reprints")
class Reprints(MethodView):
    """The office's reprint list."""

    @requires(*STAFF)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, ReprintPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """List the cards the service reissued (an on-card consent changed) that your office
        has not reprinted yet, oldest first; print each, hand it over, mark it reprinted."""
        items, total = card_desk(actor()).reprints_page(current_scope(), args["page"],
                                                        args["per_page"])
        return {"items": items, "total": total, "page": args["page"],
                "per_page": args["per_page"]}


@blp.route("/cards/<serial>/reprinted")
class Reprinted(MethodView):
    """A reprint done."""

    @requires(*STAFF)
    @blp.response(200, CardSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such card in your scope")
    def post(self, serial: str) -> Any:
        """Mark a reissued card as reprinted (it leaves the reprint list; again is harmless)."""
        return card_desk(actor()).mark_reprinted(current_scope(), serial)


@blp.route("/cards/<serial>")
class CardBySerial(MethodView):
    """One card."""

    @requires(*STAFF)
    @blp.response(200, CardSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such card in your scope")
    def get(self, serial: str) -> Any:
        """Show a card: status, validity, QR version, NFC tag size, downloads."""
        return card_desk(actor()).get(current_scope(), serial)


@blp.route("/cards/<serial>/<any(" + ",".join(f"'{n}'" for n in card_files.NAMES) + "):name>")
class CardDownload(MethodView):
    """A card's files."""

    @requires(*STAFF)
    @blp.doc(responses={"200": {"description": "the file", "content": {
        t: {"schema": {"type": "string", "format": "binary"}}
        for t in sorted(set(card_files.MEDIA_TYPES.values()))
    }}})
    @blp.alt_response(404, schema=ProblemSchema, description="No such card in your scope")
    def get(self, serial: str, name: str) -> Any:
        """Download the QR (PNG/SVG), the printed card (PNG front/back, PDF) or the NDEF bytes."""
        file = card_files.card_file(card_desk(actor()), current_scope(), serial, name)
        return Response(file.body, mimetype=file.media_type, headers={
            "Content-Disposition": f'inline; filename="{file.file_name}"',
            "Cache-Control": "private, no-store"})


@blp.route("/cards/<serial>/suspend")
class SuspendCard(MethodView):
    """Suspension."""

    @requires(*STAFF)
    @blp.arguments(SuspendSchema)
    @blp.response(200, CardSchema)
    @blp.alt_response(404, schema=ProblemSchema)
    @blp.alt_response(409, schema=ProblemSchema, description="Not active")
    def post(self, args: dict[str, Any], serial: str) -> Any:
        """Suspend a card (sets its suspension bit at once)."""
        return card_desk(actor()).suspend(current_scope(), serial, args["reason"])


@blp.route("/cards/<serial>/reinstate")
class ReinstateCard(MethodView):
    """Lifting a suspension."""

    @requires(*STAFF)
    @blp.response(200, CardSchema)
    @blp.alt_response(404, schema=ProblemSchema)
    @blp.alt_response(409, schema=ProblemSchema, description="Not suspended, or member inactive")
    def post(self, serial: str) -> Any:
        """Reinstate a suspended card."""
        return card_desk(actor()).reinstate(current_scope(), serial)


@blp.route("/cards/<serial>/revoke")
class RevokeCard(MethodView):
    """Revocation."""

    @requires(*STAFF)
    @blp.arguments(RevokeSchema)
    @blp.response(200, CardSchema)
    @blp.alt_response(404, schema=ProblemSchema)
    @blp.alt_response(409, schema=ProblemSchema, description="Already revoked")
    def post(self, args: dict[str, Any], serial: str) -> Any:
        """Revoke a card for good (sets its revocation bit at once)."""
        return card_desk(actor()).revoke(current_scope(), serial, args["reason"])


@blp.route("/cards/<serial>/activation-code")
class ActivationCode(MethodView):
    """The member's activation code."""

    @requires(*STAFF)
    @blp.response(200, ActivationCodeSchema)
    @blp.alt_response(404, schema=ProblemSchema)
    @blp.alt_response(409, schema=ProblemSchema, description="Card revoked")
    def post(self, serial: str) -> Any:
        """Make a new one-time activation code (e.g. the letter was lost)."""
        code = card_desk(actor()).new_activation_code(current_scope(), serial)
        return {"activation_code": code}
