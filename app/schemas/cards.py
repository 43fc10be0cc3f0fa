"""Schemas of cards."""

from __future__ import annotations

import marshmallow as ma
from flask import url_for

from app.schemas.common import PageSchema
from app.services.issuing.card_files import NAMES
from app.services.issuing.issuance import REVOKE_REASONS, SUSPEND_REASONS


def _links(card: object) -> dict[str, str]:
    serial = card.serial  # type: ignore[attr-defined]
    return {name: url_for("cards.CardDownload", serial=serial, name=name) for name in NAMES}


class CardSchema(ma.Schema):
    """An issued card (the signed text itself is in the downloads)."""

    serial = ma.fields.String(dump_only=True)
    member_id = ma.fields.Integer(dump_only=True)
    province_code = ma.fields.String(dump_only=True)
    union_code = ma.fields.String(dump_only=True)
    issuer = ma.fields.String(dump_only=True)
    kid = ma.fields.String(dump_only=True, metadata={"description": "signing key (RFC 7638)"})
    format_version = ma.fields.Integer(dump_only=True)
    issued_at = ma.fields.DateTime(dump_only=True)
    expires_at = ma.fields.DateTime(dump_only=True)
    status = ma.fields.Function(lambda c: c.status.value, dump_only=True)
    status_reason = ma.fields.String(dump_only=True)
    status_changed_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    status_list_id = ma.fields.Integer(dump_only=True)
    status_index = ma.fields.Integer(dump_only=True)
    qr_version = ma.fields.Integer(dump_only=True, metadata={"description": "QR version at ECC M"})
    ndef_size = ma.fields.Integer(dump_only=True, metadata={"description": "NDEF message bytes"})
    nfc_tag = ma.fields.String(dump_only=True, metadata={"description": "smallest NTAG that fits"})
    has_emergency_core = ma.fields.Boolean(dump_only=True)
    reprint_needed = ma.fields.Boolean(dump_only=True, metadata={
        "description": "reissued by the service: the office has a reprint to do"})
    downloads = ma.fields.Function(_links, dump_only=True)


class IssuedCardSchema(CardSchema):
    """A new card with its activation code (shown only in this response)."""

    activation_code = ma.fields.String(dump_only=True, metadata={
        "description": "one-time code for the member's account; give it to the member"})


class RevokeSchema(ma.Schema):
    """Why a card is revoked."""

    reason = ma.fields.String(required=True, validate=ma.validate.OneOf(REVOKE_REASONS))


class SuspendSchema(ma.Schema):
    """Why a card is suspended."""

    reason = ma.fields.String(load_default="other", validate=ma.validate.OneOf(SUSPEND_REASONS))


class ActivationCodeSchema(ma.Schema):
    """A new activation code (the previous one no longer works)."""

    activation_code = ma.fields.String(dump_only=True)


class ReprintSchema(ma.Schema):
    """A card the service reissued (an on-card consent changed) that the office must print."""

    serial = ma.fields.String(attribute="card.serial", dump_only=True)
    member_id = ma.fields.Integer(attribute="card.member_id", dump_only=True)
    member_number = ma.fields.String(dump_only=True)
    full_name = ma.fields.String(dump_only=True)
    union_code = ma.fields.String(attribute="card.union_code", dump_only=True)
    province_code = ma.fields.String(attribute="card.province_code", dump_only=True)
    issued_at = ma.fields.DateTime(attribute="card.issued_at", dump_only=True)
    has_emergency_core = ma.fields.Boolean(attribute="card.has_emergency_core", dump_only=True)
    downloads = ma.fields.Function(lambda r: _links(r.card), dump_only=True)


class ReprintPageSchema(PageSchema):
    """A page of reprints to do, oldest first."""

    items = ma.fields.List(ma.fields.Nested(ReprintSchema))
