"""Schemas of staff accounts."""

from __future__ import annotations

import marshmallow as ma


class UserSchema(ma.Schema):
    """A staff account as shown by the API (never its password hash)."""

    id = ma.fields.Integer(dump_only=True)
    username = ma.fields.String(dump_only=True)
    role = ma.fields.Function(lambda u: u.role.value, dump_only=True)
    province_code = ma.fields.String(dump_only=True, allow_none=True)
    union_code = ma.fields.String(dump_only=True, allow_none=True)
    full_name = ma.fields.String(dump_only=True)
    is_active = ma.fields.Boolean(dump_only=True)
    created_at = ma.fields.DateTime(dump_only=True)


class CreateUserSchema(ma.Schema):
    """A new staff account."""

    username = ma.fields.String(required=True, validate=ma.validate.Length(3, 64), metadata={
        "pattern": r"^\s*[A-Za-z0-9][A-Za-z0-9._-]{2,63}\s*$",
        "description": "3-64 lowercase letters, digits, '.', '_' or '-', beginning with a letter "
                       "or digit (capitals are made lowercase, surrounding spaces dropped)"})
    password = ma.fields.String(required=True, load_only=True,
                                validate=ma.validate.Length(12, 1024))
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(["admin", "officer"]))
    province_code = ma.fields.String(load_default=None, allow_none=True,
                                     validate=ma.validate.Regexp(r"^\d{2}$"))
    union_code = ma.fields.String(load_default=None, allow_none=True,
                                  validate=ma.validate.Length(1, 20))
    full_name = ma.fields.String(load_default="", validate=ma.validate.Length(0, 200))


class AccountChangeSchema(ma.Schema):
    """Why an account is disabled or enabled (kept in the audit log)."""

    reason = ma.fields.String(load_default="", validate=ma.validate.Length(0, 500))
