"""Schemas of grassroots unions."""

from __future__ import annotations

import marshmallow as ma

from app.schemas.common import NAME_RULE, PROVINCE_CODES, PageArgsSchema, PageSchema


class UnionSchema(ma.Schema):
    """A grassroots union (công đoàn cơ sở)."""

    code = ma.fields.String(dump_only=True)
    name = ma.fields.String(dump_only=True)
    province_code = ma.fields.String(dump_only=True)
    employer = ma.fields.String(dump_only=True)
    industrial_park = ma.fields.String(dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)


class CreateUnionSchema(ma.Schema):
    """A new grassroots union."""

    code = ma.fields.String(required=True, validate=ma.validate.Length(2, 20),
                            metadata={"example": "CDCS-24-QUEVO1",
                                      "pattern": r"^\s*[A-Za-z0-9][A-Za-z0-9-]{1,19}\s*$"})
    name = ma.fields.String(required=True, validate=ma.validate.Length(1, 200),
                            metadata=NAME_RULE)
    province_code = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^\d{2}$"),
                                     metadata={"enum": list(PROVINCE_CODES)})
    employer = ma.fields.String(load_default="", validate=ma.validate.Length(0, 200),
                                metadata=NAME_RULE)
    industrial_park = ma.fields.String(load_default="", validate=ma.validate.Length(0, 200),
                                       metadata=NAME_RULE)


class UpdateUnionSchema(ma.Schema):
    """Changes to a union (its code and province are fixed)."""

    name = ma.fields.String(validate=ma.validate.Length(1, 200), metadata=NAME_RULE)
    employer = ma.fields.String(validate=ma.validate.Length(0, 200), metadata=NAME_RULE)
    industrial_park = ma.fields.String(validate=ma.validate.Length(0, 200), metadata=NAME_RULE)


class UnionQueryArgsSchema(PageArgsSchema):
    """Filters of the union list."""

    province_code = ma.fields.String(validate=ma.validate.Regexp(r"^\d{2}$"))
    q = ma.fields.String(validate=ma.validate.Length(1, 100),
                         metadata={"description": "fragment of the name or code"})


class UnionPageSchema(PageSchema):
    """A page of unions."""

    items = ma.fields.List(ma.fields.Nested(UnionSchema))
