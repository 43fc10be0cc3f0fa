"""The card desk: issue, read, download, suspend, reinstate, revoke (within your scope)."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.context import card_desk
from app.errors import ProblemSchema
from app.extensions import db
from app.schemas.cards import (
    ActivationCodeSchema,
    CardSchema,
    IssuedCardSchema,
    RevokeSchema,
    SuspendSchema,
)
from app.security import BEARER, current_scope, requires
from app.services.errors import NotFound
from cards import nfc, printing, qr

blp = Blueprint("cards", __name__, url_prefix="/api/v1",
                description="Union cards: signed QR, NFC payload and printable card.")
STAFF = ("admin", "officer")


def _issued(issued: Any) -> Any:
    issued.card.activation_code = issued.activation_code
    return issued.card


@blp.route("/members/<int:member_id>/cards")
class MemberCards(MethodView):
    """A member's cards."""

    @requires(*STAFF)
    @blp.doc(security=BEARER)
    @blp.response(200, CardSchema(many=True))
    @blp.alt_response(404, schema=ProblemSchema, description="No such member in your scope")
    def get(self, member_id: int) -> Any:
        """List a member's cards, newest first."""
        return card_desk().for_member(current_scope(), member_id)

    @requires(*STAFF)
    @blp.doc(security=BEARER)
    @blp.response(201, IssuedCardSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such member in your scope")
    @blp.alt_response(409, schema=ProblemSchema, description="The member is not active")
    def post(self, member_id: int) -> Any:
        """Issue a card (a previous card is revoked as `superseded`)."""
        issued = card_desk().issue(current_scope(), member_id)
        db.session.commit()
        return _issued(issued)


@blp.route("/cards/<serial>")
class CardBySerial(MethodView):
    """One card."""

    @requires(*STAFF)
    @blp.doc(security=BEARER)
    @blp.response(200, CardSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such card in your scope")
    def get(self, serial: str) -> Any:
        """Show a card: status, validity, QR version, NFC tag size, downloads."""
        return card_desk().get(current_scope(), serial)


DOWNLOAD_TYPES = {
    "qr.png": "image/png", "qr.svg": "image/svg+xml", "card.png": "image/png",
    "card-back.png": "image/png", "card.pdf": "application/pdf",
    "nfc.ndef": "application/vnd.unioncard.ndef",
}


@blp.route("/cards/<serial>/<any('qr.png','qr.svg','card.png','card-back.png','card.pdf',"
           "'nfc.ndef'):name>")
class CardDownload(MethodView):
    """A card's files."""

    @requires(*STAFF)
    @blp.doc(security=BEARER, responses={"200": {"description": "the file", "content": {
        t: {"schema": {"type": "string", "format": "binary"}} for t in set(DOWNLOAD_TYPES.values())
    }}})
    @blp.alt_response(404, schema=ProblemSchema, description="No such card in your scope")
    def get(self, serial: str, name: str) -> Any:
        """Download the QR (PNG/SVG), the printed card (PNG front/back, PDF) or the NDEF bytes."""
        desk = card_desk()
        card = desk.get(current_scope(), serial)
        text = desk.text(card)
        if name == "nfc.ndef":
            body: bytes | str = nfc.make_ndef(text, desk.settings.verify_url(card.serial)).message
        else:
            symbol = qr.make_qr(text)
            if name == "qr.png":
                body = symbol.png()
            elif name == "qr.svg":
                body = symbol.svg()
            else:
                images = printing.render_card(desk.face(card), symbol)
                body = {"card.png": images.front_png, "card-back.png": images.back_png,
                        "card.pdf": images.pdf}[name]()
        if not body:
            raise NotFound("No such file.")
        response = Response(body, mimetype=DOWNLOAD_TYPES[name])
        response.headers["Content-Disposition"] = f'inline; filename="{card.serial}-{name}"'
        response.headers["Cache-Control"] = "private, no-store"
        return response


@blp.route("/cards/<serial>/suspend")
class SuspendCard(MethodView):
    """Suspension."""

    @requires(*STAFF)
    @blp.doc(security=BEARER)
    @blp.arguments(SuspendSchema)
    @blp.response(200, CardSchema)
    @blp.alt_response(404, schema=ProblemSchema)
    @blp.alt_response(409, schema=ProblemSchema, description="Not active")
    def post(self, args: dict[str, Any], serial: str) -> Any:
        """Suspend a card (sets its suspension bit at once)."""
        card = card_desk().suspend(current_scope(), serial, args["reason"])
        db.session.commit()
        return card


@blp.route("/cards/<serial>/reinstate")
class ReinstateCard(MethodView):
    """Lifting a suspension."""

    @requires(*STAFF)
    @blp.doc(security=BEARER)
    @blp.response(200, CardSchema)
    @blp.alt_response(404, schema=ProblemSchema)
    @blp.alt_response(409, schema=ProblemSchema, description="Not suspended, or member inactive")
    def post(self, serial: str) -> Any:
        """Reinstate a suspended card."""
        card = card_desk().reinstate(current_scope(), serial)
        db.session.commit()
        return card


@blp.route("/cards/<serial>/revoke")
class RevokeCard(MethodView):
    """Revocation."""

    @requires(*STAFF)
    @blp.doc(security=BEARER)
    @blp.arguments(RevokeSchema)
    @blp.response(200, CardSchema)
    @blp.alt_response(404, schema=ProblemSchema)
    @blp.alt_response(409, schema=ProblemSchema, description="Already revoked")
    def post(self, args: dict[str, Any], serial: str) -> Any:
        """Revoke a card for good (sets its revocation bit at once)."""
        card = card_desk().revoke(current_scope(), serial, args["reason"])
        db.session.commit()
        return card


@blp.route("/cards/<serial>/activation-code")
class ActivationCode(MethodView):
    """The member's activation code."""

    @requires(*STAFF)
    @blp.doc(security=BEARER)
    @blp.response(200, ActivationCodeSchema)
    @blp.alt_response(404, schema=ProblemSchema)
    @blp.alt_response(409, schema=ProblemSchema, description="Card revoked")
    def post(self, serial: str) -> Any:
        """Make a new one-time activation code (e.g. the letter was lost)."""
        code = card_desk().new_activation_code(current_scope(), serial)
        db.session.commit()
        return {"activation_code": code}
