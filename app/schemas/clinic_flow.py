"""The clinic flow's contracts: verify (what was scanned, presence, purpose), its answer, the
pull grant and emergency access."""

from __future__ import annotations

import marshmallow as ma

from app.models.consent import PURPOSES
from app.services.clinic_flow.desk import EMERGENCY_REASONS

#: The header a pull grant travels in (never the URL: URLs end up in logs).
GRANT_HEADER = "X-Pull-Grant"


class PresenceProofSchema(ma.Schema):
    """The member's presence: the PIN typed at the clinic, or the phone's presence token."""

    pin = ma.fields.String(validate=ma.validate.Length(max=32),
                           metadata={"description": "the member's 6-digit PIN"})
    presence_token = ma.fields.String(validate=ma.validate.Length(max=200),
                                      metadata={"description": "the phone's presence QR text"})


class ScannedSchema(ma.Schema):
    """What was scanned: exactly one of the UC1 text or the NFC NDEF message."""

    EXACTLY_ONE_OF = ("uc1", "ndef_base64")  # the OpenAPI oneOf of the check below

    uc1 = ma.fields.String(validate=ma.validate.Length(min=1, max=8192),
                           metadata={"description": "the card's QR text, `UC1:...`"})
    ndef_base64 = ma.fields.String(validate=ma.validate.Length(min=1, max=12000),
                                   metadata={"description": "the NFC tag's NDEF message"})
    device_id = ma.fields.String(validate=ma.validate.Length(max=64), load_default=None)
    practitioner = ma.fields.String(validate=ma.validate.Length(max=200), load_default=None)

    @ma.validates_schema
    def _one_scan(self, data: dict[str, object], **_: object) -> None:
        if ("uc1" in data) == ("ndef_base64" in data):
            raise ma.ValidationError("Give exactly one of uc1 and ndef_base64.", "uc1")


class VerifySchema(ScannedSchema):
    """A verify request (JSON)."""

    purpose = ma.fields.String(required=True, validate=ma.validate.OneOf(PURPOSES))
    presence = ma.fields.Nested(PresenceProofSchema, load_default=None)


class VerifyPhotoSchema(ma.Schema):
    """A verify request with a photo (multipart/form-data)."""

    photo = ma.fields.Raw(required=True, metadata={"type": "string", "format": "binary",
                                                   "description": "JPEG, PNG or WebP"})
    purpose = ma.fields.String(required=True, validate=ma.validate.OneOf(PURPOSES))
    pin = ma.fields.String(validate=ma.validate.Length(max=32))
    presence_token = ma.fields.String(validate=ma.validate.Length(max=200))
    device_id = ma.fields.String(validate=ma.validate.Length(max=64), load_default=None)
    practitioner = ma.fields.String(validate=ma.validate.Length(max=200), load_default=None)


class HolderSchema(ma.Schema):
    """The card holder as a clinic sees them (never the personal ID)."""

    full_name = ma.fields.String()
    birth_date = ma.fields.Date()
    member_number = ma.fields.String()
    union_code = ma.fields.String()
    union_name = ma.fields.String()


class SectionAnswerSchema(ma.Schema):
    """One section: whether this clinic may pull it now, why, and under which consent."""

    section = ma.fields.String()
    released = ma.fields.Boolean()
    reason = ma.fields.String()
    consent_id = ma.fields.String(allow_none=True)


class GrantSchema(ma.Schema):
    """A pull grant: send ``token`` in the X-Pull-Grant header of GET /api/v1/pull."""

    token = ma.fields.String()
    header = ma.fields.String()
    sections = ma.fields.List(ma.fields.String())
    sensitive = ma.fields.Boolean()
    purpose = ma.fields.String()
    expires_at = ma.fields.DateTime()
    emergency = ma.fields.Boolean()


class VerifyAnswerSchema(ma.Schema):
    """The card's status now, its holder, what this clinic may pull and, with presence, the
    grant."""

    status = ma.fields.String(metadata={"description": "valid, expired, not-yet-valid, revoked, "
                                                      "suspended, unknown-issuer or invalid"})
    reason = ma.fields.String()
    card_serial = ma.fields.String(allow_none=True)
    holder = ma.fields.Nested(HolderSchema, allow_none=True)
    purpose = ma.fields.String()
    sections = ma.fields.List(ma.fields.Nested(SectionAnswerSchema))
    sensitive = ma.fields.Nested(SectionAnswerSchema, allow_none=True)
    presence = ma.fields.String(allow_none=True, metadata={
        "description": "the presence proof that held: pin or presence-token"})
    grant = ma.fields.Nested(GrantSchema, allow_none=True)


class EmergencySchema(ScannedSchema):
    """Emergency access: the card, a reason code and what happened."""

    reason = ma.fields.String(required=True, validate=ma.validate.OneOf(tuple(EMERGENCY_REASONS)),
                              metadata={"description": "; ".join(
                                  f"`{k}`: {v}" for k, v in EMERGENCY_REASONS.items())})
    text = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=2000))


class EmergencyAnswerSchema(ma.Schema):
    """What emergency access releases: the emergency core (null when no summary is stored)
    and a 24-hour grant for it."""

    status = ma.fields.String()
    card_serial = ma.fields.String()
    holder = ma.fields.Nested(HolderSchema)
    emergency_core = ma.fields.Dict(allow_none=True)
    grant = ma.fields.Nested(GrantSchema)
    member_emailed = ma.fields.Boolean(metadata={"description": (
        "whether the member has an e-mail address for notices, so the e-mail telling her of "
        "this access reaches her; false: she learns of it from her access log only")})
