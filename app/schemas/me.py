"""Schemas of a member's own account: activation, profile, password and PIN, card."""

from __future__ import annotations

import marshmallow as ma
from flask import url_for

from app.schemas.common import PASSWORD_RULE, PIN_RULE
from app.services.access.member_accounts import PIN_LENGTH

#: The card files a member may download.
MEMBER_CARD_FILES = ("qr.png", "qr.svg")


class ActivateSchema(ma.Schema):
    """Activation (or a reset with a new code from the office)."""

    member_number = ma.fields.String(required=True, validate=ma.validate.Length(1, 20))
    activation_code = ma.fields.String(required=True, load_only=True,
                                       validate=ma.validate.Length(1, 32),
                                       metadata={"example": "ABCD-EFGH-JKLM"})
    birth_date = ma.fields.Date(required=True, load_only=True)
    password = ma.fields.String(required=True, load_only=True,
                                validate=ma.validate.Length(1, 1024),
                                metadata={"description": "12 or more characters; not common, "
                                          "not containing the member number", **PASSWORD_RULE})
    pin = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(1, 16),
                           metadata={"description": f"{PIN_LENGTH} digits; not one digit "
                                     "repeated, not a run, not the birth date", **PIN_RULE})


class ActivatedSchema(ma.Schema):
    """An activated account."""

    member_number = ma.fields.String(dump_only=True)
    activated_at = ma.fields.DateTime(dump_only=True)
    phone_login = ma.fields.Boolean(dump_only=True, metadata={
        "description": "whether the member's phone also works as the login name"})


class ProfileSchema(ma.Schema):
    """What a member sees about themselves."""

    member_number = ma.fields.String(dump_only=True)
    full_name = ma.fields.String(dump_only=True)
    birth_date = ma.fields.Date(dump_only=True)
    union_code = ma.fields.String(dump_only=True)
    union_name = ma.fields.String(dump_only=True)
    province_code = ma.fields.String(dump_only=True)
    province_name = ma.fields.String(dump_only=True)
    personal_id_masked = ma.fields.String(dump_only=True, metadata={"example": "********1234"})
    status = ma.fields.String(dump_only=True)
    card_status = ma.fields.String(dump_only=True, allow_none=True)


class PasswordChangeSchema(ma.Schema):
    """A new password, with the current one."""

    password = ma.fields.String(required=True, load_only=True,
                                validate=ma.validate.Length(1, 1024))
    new_password = ma.fields.String(required=True, load_only=True,
                                    validate=ma.validate.Length(1, 1024), metadata=PASSWORD_RULE)


class PinChangeSchema(ma.Schema):
    """A new PIN, with the password."""

    password = ma.fields.String(required=True, load_only=True,
                                validate=ma.validate.Length(1, 1024))
    new_pin = ma.fields.String(required=True, load_only=True, validate=ma.validate.Length(1, 16),
                               metadata=PIN_RULE)


def _member_links(card: object) -> dict[str, str]:
    return {name: url_for("me.MyCardFile", name=name) for name in MEMBER_CARD_FILES}


class MemberCardSchema(ma.Schema):
    """The member's current card: its signed text, status and validity."""

    serial = ma.fields.String(dump_only=True)
    status = ma.fields.String(dump_only=True, metadata={"example": "active"})
    issued_at = ma.fields.DateTime(dump_only=True)
    expires_at = ma.fields.DateTime(dump_only=True)
    text = ma.fields.String(dump_only=True, metadata={"description": "the signed UC1 text"})
    downloads = ma.fields.Function(_member_links, dump_only=True)
