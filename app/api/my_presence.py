"""A member's presence token: the phone's dynamic QR a clinic scans as presence proof for a
pull, as text or as a QR image (PNG or SVG)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, current_app, request
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.composition import presence_tokens_for
from app.edge.auth import current_member_id, requires_member
from app.edge.problems import ProblemSchema
from app.extensions import db
from app.services.access import member_accounts
from cards.qr import make_qr

JSON = "application/json"
PNG = "image/png"
SVG = "image/svg+xml"

blp = Blueprint("my_presence", __name__, url_prefix="/api/v1/me/card/presence",
                description="A member's presence token: the dynamic QR on the phone, valid 5 "
                            "minutes, bound to the member's current card.")


class PresenceSchema(ma.Schema):
    """A presence token."""

    token = ma.fields.String(metadata={"description": "the text a clinic sends as "
                                                      "presence.presence_token"})
    card_serial = ma.fields.String()
    expires_at = ma.fields.DateTime()
    qr_version = ma.fields.Integer(metadata={"description": "the QR version (EC level M)"})


@blp.route("")
class MyPresence(MethodView):
    """The member's presence token."""

    @requires_member()
    @blp.doc(responses={"200": {
        "description": "a fresh token as JSON, or with `Accept: image/png` or "
                       "`Accept: image/svg+xml` its QR code (EC level M)",
        "content": {JSON: {"schema": PresenceSchema},
                    PNG: {"schema": {"type": "string", "format": "binary"}},
                    SVG: {"schema": {"type": "string"}}}}})
    @blp.alt_response(404, schema=ProblemSchema, description="No current card")
    def get(self) -> Any:
        """Make a presence token for the current card (valid 5 minutes) as JSON or a QR."""
        card = member_accounts.current_card(db.session, current_member_id())
        presence = presence_tokens_for(current_app.config).issue(card.serial)
        qr = make_qr(presence.token)
        headers = {"Cache-Control": "private, no-store", "Vary": "Accept"}
        best = request.accept_mimetypes.best_match([JSON, PNG, SVG], JSON)
        if best == PNG:
            return Response(qr.png(), mimetype=PNG, headers=headers)
        if best == SVG:
            return Response(qr.svg(), mimetype=SVG, headers=headers)
        body = PresenceSchema().dump({"token": presence.token, "card_serial": card.serial,
                                      "expires_at": presence.expires_at,
                                      "qr_version": qr.version})
        return Response(current_app.json.dumps(body), mimetype=JSON, headers=headers)
