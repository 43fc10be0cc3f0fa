"""Schemas of transfer requests between offices."""

from __future__ import annotations

import marshmallow as ma

from app.models import TransferStatus


class TransferCreateSchema(ma.Schema):
    """The new office asks for a member it cannot see, by personal ID."""

    personal_id = ma.fields.String(required=True, validate=ma.validate.Length(1, 20))
    union_code = ma.fields.String(required=True, validate=ma.validate.Length(1, 20),
                                  metadata={"description": "your union the member moves to"})
    reason = ma.fields.String(required=True, validate=ma.validate.Length(3, 500))


class TransferDecisionSchema(ma.Schema):
    """Why the request is accepted or rejected."""

    reason = ma.fields.String(load_default="", validate=ma.validate.Length(0, 500))


class TransferSchema(ma.Schema):
    """A transfer request as the requesting office sees it (nothing about where the member is)."""

    id = ma.fields.Integer(dump_only=True)
    status = ma.fields.Enum(TransferStatus, by_value=True, dump_only=True)
    to_province_code = ma.fields.String(dump_only=True)
    to_union_code = ma.fields.String(dump_only=True)
    reason = ma.fields.String(dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)
    decided_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    decision_reason = ma.fields.String(dump_only=True)


class IncomingTransferSchema(TransferSchema):
    """A request as the member's current office sees it: which member is asked for."""

    member_id = ma.fields.Integer(dump_only=True)
    member_number = ma.fields.String(dump_only=True)
    full_name = ma.fields.String(dump_only=True)
    union_code = ma.fields.String(dump_only=True, metadata={"description": "the member's union"})
