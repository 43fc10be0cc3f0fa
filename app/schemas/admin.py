"""Schemas of the administrators' views: audit log and signing keys."""

from __future__ import annotations

import marshmallow as ma

from app.schemas.common import PageArgsSchema, PageSchema


class AuditEntrySchema(ma.Schema):
    """One administrative action."""

    id = ma.fields.Integer(dump_only=True)
    at = ma.fields.DateTime(dump_only=True)
    actor = ma.fields.String(dump_only=True)
    action = ma.fields.String(dump_only=True)
    object_type = ma.fields.String(dump_only=True)
    object_id = ma.fields.String(dump_only=True)
    province_code = ma.fields.String(dump_only=True, allow_none=True)
    reason = ma.fields.String(dump_only=True)
    details = ma.fields.Dict(dump_only=True)


class AuditQueryArgsSchema(PageArgsSchema):
    """Filters of the audit log."""

    action = ma.fields.String(validate=ma.validate.Length(1, 64),
                              metadata={"description": "exact action or a prefix ending in '.'"})
    object_type = ma.fields.String(validate=ma.validate.Length(1, 32))
    object_id = ma.fields.String(validate=ma.validate.Length(1, 64))
    actor = ma.fields.String(validate=ma.validate.Length(1, 64))
    province_code = ma.fields.String(validate=ma.validate.Regexp(r"^\d{2}$"))


class AuditPageSchema(PageSchema):
    """A page of the audit log, newest first."""

    items = ma.fields.List(ma.fields.Nested(AuditEntrySchema))


class SigningKeySchema(ma.Schema):
    """A signing key's public facts (never its private half)."""

    kid = ma.fields.String(dump_only=True)
    issuer = ma.fields.String(dump_only=True)
    purpose = ma.fields.String(dump_only=True)
    status = ma.fields.Function(lambda k: k.status.value, dump_only=True)
    public_jwk = ma.fields.Dict(dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)
    retired_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    revoked_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    revoked_reason = ma.fields.String(dump_only=True)
