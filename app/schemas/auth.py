"""Schemas of the token endpoint (OAuth 2 style) and of the caller's identity."""

from __future__ import annotations

import marshmallow as ma


class TokenRequestSchema(ma.Schema):
    """A token request: the password grant (staff); clients add client_credentials later."""

    grant_type = ma.fields.String(
        load_default="password", validate=ma.validate.OneOf(["password"]),
        metadata={"description": "OAuth 2 grant type; `password` for staff accounts"})
    username = ma.fields.String(required=True, validate=ma.validate.Length(1, 64))
    password = ma.fields.String(required=True, load_only=True,
                                validate=ma.validate.Length(1, 1024))


class TokenSchema(ma.Schema):
    """An issued bearer token."""

    access_token = ma.fields.String(dump_only=True)
    token_type = ma.fields.String(dump_only=True, metadata={"example": "Bearer"})
    expires_in = ma.fields.Integer(dump_only=True, metadata={"description": "seconds"})


class PrincipalSchema(ma.Schema):
    """The authenticated caller."""

    subject = ma.fields.String(dump_only=True)
    role = ma.fields.String(dump_only=True)
    province_code = ma.fields.String(dump_only=True, allow_none=True)
    union_code = ma.fields.String(dump_only=True, allow_none=True)
