"""Schemas of the token endpoint (OAuth 2 style) and of the caller's identity."""

from __future__ import annotations

import marshmallow as ma


class TokenRequestSchema(ma.Schema):
    """A token request: the password grant, for staff (``username``) or a member
    (``member_number`` or ``phone``); clients add client_credentials later."""

    grant_type = ma.fields.String(
        load_default="password", validate=ma.validate.OneOf(["password"]),
        metadata={"description": "OAuth 2 grant type; `password` for staff and members"})
    username = ma.fields.String(validate=ma.validate.Length(1, 64),
                                metadata={"description": "a staff account's username"})
    member_number = ma.fields.String(validate=ma.validate.Length(1, 20),
                                     metadata={"description": "a member's number (instead of "
                                               "`username`)"})
    phone = ma.fields.String(validate=ma.validate.Length(1, 20),
                             metadata={"description": "an activated member's phone (instead "
                                       "of `username`)"})
    password = ma.fields.String(required=True, load_only=True,
                                validate=ma.validate.Length(1, 1024))

    @ma.validates_schema
    def one_login_name(self, data: dict[str, object], **kwargs: object) -> None:
        """Exactly one of username, member_number and phone."""
        given = [name for name in LOGIN_NAMES if name in data]
        if len(given) != 1:
            raise ma.ValidationError("Give exactly one of: username, member_number, phone.",
                                     field_name="username" if not given else given[-1])


#: The fields that name who logs in: a staff username, or a member's number or phone.
LOGIN_NAMES = ("username", "member_number", "phone")


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
