"""Schemas of a member's consents (grant, renew, withdraw, list, history) and the notices."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from app.facility_types import FACILITY_TYPES
from app.models import ConsentVersion
from app.models.consent import CONSENT_SCOPES, GRANTEE_KINDS, PURPOSES
from app.schemas.common import FACILITY_CODE_RULE
from app.services.health.consent import ConsentState, Evidence, Grantee
from app.services.health.consent_notices import CURRENT_NOTICE, LANGUAGES, NOTICE_VERSIONS

#: The method a member's own app records (paper and web consents come through other doors).
MEMBER_METHODS = ("app",)


class GranteeSchema(ma.Schema):
    """Who a consent is for: all accredited clinics, one facility type, or one facility."""

    kind = ma.fields.String(required=True, metadata={"enum": list(GRANTEE_KINDS)})
    facility_type = ma.fields.String(validate=ma.validate.Length(1, 40),
                                     metadata={"description": "with kind facility-type",
                                               "enum": list(FACILITY_TYPES)})
    facility_code = ma.fields.String(validate=ma.validate.Length(1, 40),
                                     metadata={"description": "with kind facility (5 digits)",
                                               **FACILITY_CODE_RULE})

    @ma.validates_schema
    def _one_value(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "facility_type" in data and "facility_code" in data:
            raise ma.ValidationError("Give a facility type or a facility code, not both.")

    @ma.post_load
    def _grantee(self, data: dict[str, Any], **kwargs: Any) -> Grantee:
        return Grantee(data["kind"], data.get("facility_type") or data.get("facility_code")
                       or "")


class NoticeShownSchema(ma.Schema):
    """The consent notice the member was shown."""

    version = ma.fields.String(required=True, validate=ma.validate.Length(1, 16),
                               metadata={"example": CURRENT_NOTICE,
                                         "enum": list(NOTICE_VERSIONS)})
    language = ma.fields.String(required=True, validate=ma.validate.Length(1, 8),
                                metadata={"example": "vi", "enum": list(LANGUAGES)})
    shown_sha256 = ma.fields.String(validate=ma.validate.Length(1, 128), metadata={
        "description": "SHA-256 (hex) of the exact text shown; checked when given"})


class _Evidenced(ma.Schema):
    notice = ma.fields.Nested(NoticeShownSchema, required=True)
    method = ma.fields.String(load_default="app", validate=ma.validate.OneOf(MEMBER_METHODS))


class ConsentGrantSchema(_Evidenced):
    """A new consent."""

    scope = ma.fields.String(required=True, validate=ma.validate.Length(1, 32),
                             metadata={"enum": list(CONSENT_SCOPES)})
    grantee = ma.fields.Nested(GranteeSchema, required=True)
    purpose = ma.fields.String(required=True, validate=ma.validate.Length(1, 32),
                               metadata={"enum": list(PURPOSES)})
    starts = ma.fields.DateTime(metadata={"description": "default now; with a UTC offset"})
    ends = ma.fields.DateTime(required=True, metadata={
        "description": "with a UTC offset; at most 12 months after the start"})


class ConsentRenewSchema(_Evidenced):
    """A renewal: the new end of the period."""

    ends = ma.fields.DateTime(required=True)


class ConsentWithdrawSchema(_Evidenced):
    """A withdrawal."""


class ConsentHistoryArgsSchema(ma.Schema):
    """Which consents to list."""

    include_ended = ma.fields.Boolean(load_default=False, metadata={
        "description": "also withdrawn and expired consents"})


def evidence(args: dict[str, Any], actor: str) -> Evidence:
    """The evidence of a loaded grant, renewal or withdrawal body, given by ``actor``."""
    shown = args["notice"]
    return Evidence(method=args["method"], actor=actor, notice_version=shown["version"],
                    language=shown["language"], shown_sha256=shown.get("shown_sha256"))


def _grantee_out(version: ConsentVersion) -> dict[str, str]:
    out = {"kind": version.grantee_kind}
    if version.grantee_kind == "facility-type":
        out["facility_type"] = version.grantee_value
    elif version.grantee_kind == "facility":
        out["facility_code"] = version.grantee_value
    return out


class ConsentVersionSchema(ma.Schema):
    """One version of a consent, with its evidence."""

    consent_id = ma.fields.String(dump_only=True)
    version = ma.fields.Integer(dump_only=True)
    action = ma.fields.String(dump_only=True, metadata={"example": "grant"})
    scope = ma.fields.String(dump_only=True)
    grantee = ma.fields.Function(_grantee_out, dump_only=True)
    purpose = ma.fields.String(dump_only=True)
    starts = ma.fields.DateTime(attribute="starts_at", dump_only=True)
    ends = ma.fields.DateTime(attribute="ends_at", dump_only=True)
    recorded_at = ma.fields.DateTime(dump_only=True)
    evidence = ma.fields.Function(lambda v: {
        "method": v.method, "actor": v.actor, "notice_version": v.notice_version,
        "notice_language": v.notice_language, "notice_sha256": v.notice_sha256},
        dump_only=True)


class _Standing:
    """A ``ConsentState`` read as its newest version with a ``status``."""

    def __init__(self, state: ConsentState) -> None:
        self.state = state

    def __getattr__(self, name: str) -> Any:
        return self.state.status if name == "status" else getattr(self.state.current, name)


class ConsentSchema(ConsentVersionSchema):
    """A consent as it stands (a ``ConsentState``): its newest version and its status now."""

    status = ma.fields.String(dump_only=True, metadata={
        "enum": ["active", "pending", "withdrawn", "expired"]})

    @ma.pre_dump
    def _standing(self, state: ConsentState, **kwargs: Any) -> _Standing:
        return _Standing(state)


class NoticeSchema(ma.Schema):
    """A consent notice's exact text and the SHA-256 of its UTF-8 bytes."""

    version = ma.fields.String(dump_only=True)
    language = ma.fields.String(dump_only=True)
    text = ma.fields.String(dump_only=True)
    sha256 = ma.fields.String(dump_only=True)
