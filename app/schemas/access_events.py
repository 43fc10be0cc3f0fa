"""Schemas of the access log: a member's own events, administrators' aggregate, and a
member's notification address."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from app.clock import VIETNAM
from app.schemas.common import PageArgsSchema, PageSchema

_KINDS = "verify (card checked), pull (record read), denial (refused), emergency"


class DeniedSectionSchema(ma.Schema):
    """A section that was asked for and not released, and why."""

    section = ma.fields.String(dump_only=True)
    reason = ma.fields.String(dump_only=True, metadata={"example": "no-consent"})


class AccessEventSchema(ma.Schema):
    """One access to the member's card or record by a clinic."""

    id = ma.fields.Integer(dump_only=True)
    seq = ma.fields.Integer(dump_only=True, metadata={
        "description": "position in the member's hash chain (1 = first access ever)"})
    at = ma.fields.DateTime(dump_only=True, metadata={
        "description": "when, in UTC (ISO 8601 with offset +00:00)"})
    at_vietnam = ma.fields.Method("_at_vietnam", dump_only=True, metadata={
        "description": "the same instant in Vietnam time (Asia/Ho_Chi_Minh, +07:00), for "
                       "display", "type": "string", "format": "date-time"})
    kind = ma.fields.String(dump_only=True, metadata={"description": _KINDS})
    clinic_name = ma.fields.String(dump_only=True, metadata={
        "description": "the clinic's name as it was at the time"})
    clinic_code = ma.fields.String(dump_only=True, metadata={"description": "facility code"})
    device_id = ma.fields.String(dump_only=True, allow_none=True)
    practitioner = ma.fields.String(dump_only=True, allow_none=True)
    purpose = ma.fields.String(dump_only=True, allow_none=True,
                               metadata={"example": "treatment"})
    released = ma.fields.List(ma.fields.String(), dump_only=True, metadata={
        "description": "the sections of the health summary released to the clinic"})
    denied = ma.fields.List(ma.fields.Nested(DeniedSectionSchema), dump_only=True)
    outcome = ma.fields.String(dump_only=True, metadata={"example": "released"})
    reason = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "the reason code of a refusal"})
    emergency = ma.fields.Boolean(dump_only=True)
    emergency_reason = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "the clinic's reason code for emergency access"})
    emergency_text = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "what the clinic wrote when it used emergency access"})
    damaged = ma.fields.Boolean(dump_only=True, metadata={
        "description": "true: this entry was changed after it was written (its content or "
                       "emergency text is not what its hash covers, or it does not follow the "
                       "entry before it); what it shows cannot be trusted"})

    def _at_vietnam(self, item: dict[str, Any]) -> str:
        return str(item["at"].astimezone(VIETNAM).isoformat())


class AccessEventPageSchema(PageSchema):
    """A page of the member's access log, newest first (kept at least 3 years)."""

    items = ma.fields.List(ma.fields.Nested(AccessEventSchema))


class AccessLogArgsSchema(PageArgsSchema):
    """Pagination of the member's access log."""


class SummaryArgsSchema(ma.Schema):
    """The period of the aggregate (default: the 30 days up to now; at most 366 days)."""

    since = ma.fields.AwareDateTime(metadata={"description": "start (inclusive), with offset"})
    until = ma.fields.AwareDateTime(metadata={"description": "end (exclusive), with offset"})


class ClinicKindCountSchema(ma.Schema):
    """How often one clinic did one kind of access in the period."""

    clinic_code = ma.fields.String(dump_only=True)
    clinic_name = ma.fields.String(dump_only=True)
    kind = ma.fields.String(dump_only=True, metadata={"description": _KINDS})
    events = ma.fields.Integer(dump_only=True)
    members = ma.fields.Integer(dump_only=True, metadata={
        "description": "distinct members concerned (unidentified scans not counted)"})
    first_at = ma.fields.DateTime(dump_only=True)
    last_at = ma.fields.DateTime(dump_only=True)


class EmergencyFlagSchema(ma.Schema):
    """A clinic that used emergency access repeatedly."""

    clinic_code = ma.fields.String(dump_only=True)
    clinic_name = ma.fields.String(dump_only=True)
    most_in_window = ma.fields.Integer(dump_only=True, metadata={
        "description": "the most emergency accesses within one window"})
    window_start = ma.fields.DateTime(dump_only=True)
    window_end = ma.fields.DateTime(dump_only=True)
    total = ma.fields.Integer(dump_only=True, metadata={
        "description": "emergency accesses by this clinic in the whole period"})


class DamagedEventSchema(ma.Schema):
    """An access event whose content or emergency text is not what its hash covers."""

    id = ma.fields.Integer(dump_only=True)
    at = ma.fields.DateTime(dump_only=True)
    clinic_code = ma.fields.String(dump_only=True)
    kind = ma.fields.String(dump_only=True, metadata={"description": _KINDS})


class AccessSummarySchema(ma.Schema):
    """The aggregate of the access log over a period; never a member or health content."""

    since = ma.fields.DateTime(dump_only=True)
    until = ma.fields.DateTime(dump_only=True)
    items = ma.fields.List(ma.fields.Nested(ClinicKindCountSchema), dump_only=True)
    emergency_threshold = ma.fields.Integer(dump_only=True)
    emergency_window_hours = ma.fields.Integer(dump_only=True)
    emergency_flags = ma.fields.List(ma.fields.Nested(EmergencyFlagSchema), dump_only=True,
                                     metadata={"description": "clinics with at least "
                                               "emergency_threshold emergency accesses within "
                                               "emergency_window_hours"})
    damaged_events = ma.fields.Integer(dump_only=True, metadata={
        "description": "events of the period changed after they were written (counted in "
                       "items as stored); run `unioncard audit verify` for each chain's first "
                       "break"})
    damaged = ma.fields.List(ma.fields.Nested(DamagedEventSchema), dump_only=True, metadata={
        "description": "the first 50 of them, oldest first"})


class NotificationSettingsSchema(ma.Schema):
    """Where the member is told of emergency access to their record (optional)."""

    # checked by the service (one problem type for every bad address), documented as e-mail
    email = ma.fields.String(required=True, allow_none=True,
                             validate=ma.validate.Length(max=1000),
                             metadata={"description": "one plain mailbox, at most 254 "
                                                      "characters; null or empty: no e-mail "
                                                      "notifications",
                                       "format": "email", "example": "lan.nguyen@example.vn"})
    updated_at = ma.fields.DateTime(dump_only=True, allow_none=True)

    @ma.pre_load
    def _trimmed(self, data: Any, **_: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("email"), str):
            return {**data, "email": data["email"].strip() or None}
        return data
