"""Schemas of the token endpoint (OAuth 2 style) and of the caller's identity."""

from __future__ import annotations

import marshmallow as ma


class TokenRequestSchema(ma.Schema):
    """A token request: the password grant, for staff (``username``) or a member
    (``member_number`` or ``phone``); clients add client_credentials later. Parameters it
    does not know (e.g. a public client's ``client_id``) are ignored, as RFC 6749 §3.2 says."""

    class Meta:
        unknown = ma.EXCLUDE

    #: documented as the OpenAPI ``oneOf`` of the checks below (``app.edge.openapi``)
    EXACTLY_ONE_OF = ("username", "member_number", "phone")

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
    scope = ma.fields.String(validate=ma.validate.Length(max=200), metadata={
        "description": "RFC 6749 §3.3: the scope asked for, which must be the account's own "
                       "(its role: `admin`, `officer` or `member`); the answer says the scope"})

    @ma.validates_schema
    def one_login_name(self, data: dict[str, object], **kwargs: object) -> None:
        """Exactly one of username, member_number and phone."""
        given = [name for name in LOGIN_NAMES if name in data]
        if len(given) != 1:
            raise ma.ValidationError("Give exactly one of: username, member_number, phone.",
                                     field_name="username" if not given else given[-1])


#: The fields that name who logs in: a staff username, or a member's number or phone.
LOGIN_NAMES = ("username", "member_number", "phone")


class TokenFormSchema(ma.Schema):
    """A token request as an OAuth 2 form (RFC 6749 §4.3 and §4.4; documentation only: each
    parameter at most once)."""

    #: the password grant needs the password and exactly one login name; the client
    #: credentials grant, the client (here or by HTTP Basic)
    OPENAPI_ONE_OF = (
        {"properties": {"grant_type": {"enum": ["password"]}}, "required": ["password"],
         "oneOf": [{"required": [name]} for name in ("username", "member_number", "phone")]},
        {"properties": {"grant_type": {"enum": ["client_credentials"]}}},
    )

    grant_type = ma.fields.String(required=True, validate=ma.validate.OneOf(
        ["password", "client_credentials"]))
    username = ma.fields.String(validate=ma.validate.Length(1, 64), metadata={
        "description": "password grant: a staff account's username"})
    member_number = ma.fields.String(validate=ma.validate.Length(1, 20), metadata={
        "description": "password grant: a member's number (instead of `username`)"})
    phone = ma.fields.String(validate=ma.validate.Length(1, 20), metadata={
        "description": "password grant: an activated member's phone (instead of `username`)"})
    password = ma.fields.String(validate=ma.validate.Length(1, 1024), metadata={
        "description": "password grant: the password"})
    client_id = ma.fields.String(metadata={
        "description": "client credentials grant, unless HTTP Basic authenticates the client"})
    client_secret = ma.fields.String(metadata={
        "description": "client credentials grant, unless HTTP Basic authenticates the client"})
    scope = ma.fields.String(validate=ma.validate.Length(max=200), metadata={
        "description": "the scope asked for, the account's or client's own (its role)"})


class TokenSchema(ma.Schema):
    """An issued bearer token (RFC 6749 §5.1)."""

    access_token = ma.fields.String(dump_only=True, required=True)
    token_type = ma.fields.String(dump_only=True, required=True,
                                  validate=ma.validate.OneOf(["Bearer"]),
                                  metadata={"example": "Bearer"})
    expires_in = ma.fields.Integer(dump_only=True, required=True,
                                   metadata={"description": "seconds"})
    scope = ma.fields.String(dump_only=True, required=True, metadata={
        "description": "the token's scope (RFC 6749 §3.3): its role, `admin`, `officer`, "
                       "`member`, `health-feed` or `clinic`", "example": "officer"})


class PrincipalSchema(ma.Schema):
    """The authenticated caller."""

    subject = ma.fields.String(dump_only=True)
    role = ma.fields.String(dump_only=True)
    province_code = ma.fields.String(dump_only=True, allow_none=True)
    union_code = ma.fields.String(dump_only=True, allow_none=True)
