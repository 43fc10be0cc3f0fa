"""Schemas of the access log: a member's own events, administrators' aggregate, and a
member's notification address."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from app.clock import VIETNAM
from app.models.access_report import REPORT_REASONS
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


class VisitArgsSchema(PageArgsSchema):
    """Which visits of the member's log: one clinic and a period in which the visit began."""

    clinic = ma.fields.String(validate=ma.validate.Length(min=1, max=16), metadata={
        "description": "facility code of the clinic", "example": "27015"})
    since = ma.fields.AwareDateTime(metadata={"description": "start (inclusive), with offset"})
    until = ma.fields.AwareDateTime(metadata={"description": "end (exclusive), with offset"})

    @ma.validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("since") and data.get("until") and data["until"] <= data["since"]:
            raise ma.ValidationError("Must be after since.", field_name="until")


class RefusalSchema(ma.Schema):
    """A refusal during the visit (a wrong PIN, a card not valid...)."""

    at = ma.fields.DateTime(dump_only=True)
    reason = ma.fields.String(dump_only=True, allow_none=True)


class AccessReportBriefSchema(ma.Schema):
    """A member's report of a visit, as her log shows it."""

    id = ma.fields.Integer(dump_only=True)
    status = ma.fields.String(dump_only=True, metadata={
        "description": "open, investigating or closed"})
    admin_note = ma.fields.String(dump_only=True, allow_none=True, metadata={
        "description": "what the data-protection contact found or did"})
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)


class VisitSchema(ma.Schema):
    """One visit: a clinic's card check, PIN and record opened (events of the same clinic
    client and card, each within 10 minutes of the one before; 24 hours between emergency
    events) as one entry, with what was actually shown."""

    id = ma.fields.Integer(dump_only=True, metadata={
        "description": "the entry's id: its first event's id (what a report names)"})
    event_ids = ma.fields.List(ma.fields.Integer(), dump_only=True)
    started_at = ma.fields.DateTime(dump_only=True)
    ended_at = ma.fields.DateTime(dump_only=True)
    clinic_name = ma.fields.String(dump_only=True)
    clinic_code = ma.fields.String(dump_only=True)
    practitioners = ma.fields.List(ma.fields.String(), dump_only=True)
    purposes = ma.fields.List(ma.fields.String(), dump_only=True, metadata={
        "description": "treatment, occupational-health or emergency"})
    card_checked = ma.fields.Boolean(dump_only=True)
    record_opened = ma.fields.Boolean(dump_only=True)
    shown = ma.fields.List(ma.fields.String(), dump_only=True, metadata={
        "description": "the sections of the record sent to the clinic (by a pull or an "
                       "emergency access; checking the card shows nothing of the record)"})
    refused = ma.fields.List(ma.fields.Nested(RefusalSchema), dump_only=True)
    emergency = ma.fields.Boolean(dump_only=True)
    emergency_reasons = ma.fields.List(ma.fields.String(), dump_only=True)
    emergency_texts = ma.fields.List(ma.fields.String(), dump_only=True)
    damaged = ma.fields.Boolean(dump_only=True, metadata={
        "description": "true: one of its events was changed after it was written"})
    report = ma.fields.Nested(AccessReportBriefSchema, dump_only=True, allow_none=True)
    events = ma.fields.List(ma.fields.Nested(AccessEventSchema), dump_only=True)


class VisitPageSchema(PageSchema):
    """A page of the member's visits, newest first."""

    items = ma.fields.List(ma.fields.Nested(VisitSchema))


_REASONS = ("not-there (I was not at this clinic then), saw-too-much (more was seen than I "
            "agreed to), no-emergency (there was no emergency), other")


class NewAccessReportSchema(ma.Schema):
    """A member's report of a visit she does not recognise."""

    entry_id = ma.fields.Integer(required=True, metadata={
        "description": "the visit's id (or any of its events' ids)"})
    reason = ma.fields.String(required=True, validate=ma.validate.Length(max=32),
                              metadata={"description": _REASONS, "enum": list(REPORT_REASONS)})
    note = ma.fields.String(load_default=None, allow_none=True,
                            validate=ma.validate.Length(max=4000), metadata={
                                "description": "optional, at most 1000 characters; read by "
                                               "the data-protection contact"})


class MyAccessReportSchema(ma.Schema):
    """A member's report and where it stands."""

    id = ma.fields.Integer(dump_only=True)
    entry_id = ma.fields.Integer(dump_only=True)
    event_ids = ma.fields.List(ma.fields.Integer(), dump_only=True)
    clinic_name = ma.fields.String(dump_only=True)
    clinic_code = ma.fields.String(dump_only=True)
    visit_at = ma.fields.DateTime(dump_only=True)
    reason = ma.fields.String(dump_only=True, metadata={"description": _REASONS})
    note = ma.fields.String(dump_only=True, allow_none=True)
    status = ma.fields.String(dump_only=True, metadata={
        "description": "open, investigating or closed"})
    admin_note = ma.fields.String(dump_only=True, allow_none=True)
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)
    closed_at = ma.fields.DateTime(dump_only=True, allow_none=True)


class MyAccessReportListSchema(ma.Schema):
    """The member's reports, newest first."""

    items = ma.fields.List(ma.fields.Nested(MyAccessReportSchema))


class ReportedEventSchema(ma.Schema):
    """An event of a reported visit as an administrator sees it (no health content)."""

    id = ma.fields.Integer(dump_only=True)
    at = ma.fields.DateTime(dump_only=True)
    kind = ma.fields.String(dump_only=True, metadata={"description": _KINDS})
    clinic_code = ma.fields.String(dump_only=True)
    clinic_name = ma.fields.String(dump_only=True)
    client_id = ma.fields.String(dump_only=True)
    device_id = ma.fields.String(dump_only=True, allow_none=True)
    practitioner = ma.fields.String(dump_only=True, allow_none=True)
    purpose = ma.fields.String(dump_only=True, allow_none=True)
    outcome = ma.fields.String(dump_only=True)
    reason = ma.fields.String(dump_only=True, allow_none=True)
    card_serial = ma.fields.String(dump_only=True, allow_none=True)


class AccessReportSchema(MyAccessReportSchema):
    """A report as the data-protection contact works it: the member's number, the events
    and the clinic (never a section of the record, an emergency reason or text)."""

    member_number = ma.fields.String(dump_only=True)
    province_code = ma.fields.String(dump_only=True)
    handled_by = ma.fields.String(dump_only=True, allow_none=True)
    events = ma.fields.List(ma.fields.Nested(ReportedEventSchema), dump_only=True)


class AccessReportPageSchema(PageSchema):
    """A page of reports: open first, then investigating, then closed; oldest first."""

    items = ma.fields.List(ma.fields.Nested(AccessReportSchema))


class AccessReportArgsSchema(PageArgsSchema):
    """Reports by status and clinic."""

    status = ma.fields.String(validate=ma.validate.OneOf(("open", "investigating", "closed")))
    clinic = ma.fields.String(validate=ma.validate.Length(min=1, max=16), metadata={
        "description": "facility code of the clinic"})


class AccessReportUpdateSchema(ma.Schema):
    """Move a report on and/or set the administrator's note (the member reads it)."""

    status = ma.fields.String(validate=ma.validate.OneOf(("open", "investigating", "closed")),
                              metadata={"description": "open → investigating → closed (or "
                                                       "open → closed); closing needs a note"})
    note = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=4000), metadata={
        "description": "at most 1000 characters; empty or null removes it"})

    @ma.validates_schema
    def _something(self, data: dict[str, Any], **_: Any) -> None:
        if "status" not in data and "note" not in data:
            raise ma.ValidationError("Give a status or a note.", field_name="status")
