"""Schemas of exam rounds (issue 26): the office's plan and report, the member's notices and
answer, the clinic's check-in and result, the coverage against the targets."""

from __future__ import annotations

import marshmallow as ma

from app.models.exam_round import (
    DELIVERY_STATUSES,
    PARTICIPANT_STATES,
    ROUND_KINDS,
    ROUND_STATUSES,
)
from app.schemas.clinic_flow import ScannedSchema
from app.services.health.summary import FITNESS, HEALTH_CLASSES

_CLINIC = {"description": "the clinic's facility code (5 digits)"}


class RoundPlanSchema(ma.Schema):
    """A round as an officer plans it."""

    clinic_code = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[0-9]{5}$"),
                                   metadata=_CLINIC)
    kind = ma.fields.String(required=True, validate=ma.validate.OneOf(ROUND_KINDS))
    title = ma.fields.String(required=True, validate=ma.validate.Length(1, 200))
    first_day = ma.fields.Date(required=True)
    last_day = ma.fields.Date(required=True)
    union_codes = ma.fields.List(ma.fields.String(validate=ma.validate.Length(1, 20)),
                                 load_default=list, validate=ma.validate.Length(max=200),
                                 metadata={"description": "the unions invited (a union's "
                                                          "office: its own by default)"})
    members_due = ma.fields.Boolean(load_default=False, metadata={
        "description": "invite only the members due an occupational exam (the exam-due "
                       "list); otherwise every active member of the unions"})


class RoundSchema(ma.Schema):
    """A round (what every reader may see)."""

    id = ma.fields.Integer()
    title = ma.fields.String()
    kind = ma.fields.String(metadata={"enum": list(ROUND_KINDS)})
    status = ma.fields.String(metadata={"enum": list(ROUND_STATUSES)})
    province_code = ma.fields.String()
    union_code = ma.fields.String(allow_none=True)
    first_day = ma.fields.Date()
    last_day = ma.fields.Date()
    clinic_code = ma.fields.String()
    clinic_name = ma.fields.String()
    clinic_address = ma.fields.String()
    created_at = ma.fields.DateTime()
    participants = ma.fields.Integer(metadata={"description": "invited, in your scope"})


class PlannedSchema(RoundSchema):
    """A round just planned."""

    invited = ma.fields.Integer()


class PersonSchema(ma.Schema):
    """One participant on the round's report (never a result)."""

    participant_id = ma.fields.Integer()
    member_id = ma.fields.Integer()
    member_number = ma.fields.String()
    full_name = ma.fields.String()
    state = ma.fields.String(metadata={"enum": list(PARTICIPANT_STATES)})
    preferred_day = ma.fields.Date(allow_none=True)
    checked_in_at = ma.fields.DateTime(allow_none=True)
    examined_at = ma.fields.DateTime(allow_none=True)
    delivery = ma.fields.String(allow_none=True, metadata={
        "enum": list(DELIVERY_STATUSES), "description": "the result's way to the national "
                                                         "health record (null: no result)"})
    delivered_at = ma.fields.DateTime(allow_none=True)


class UnionReportSchema(ma.Schema):
    """One union's part of the report."""

    union_code = ma.fields.String()
    union_name = ma.fields.String()
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(), metadata={
        "description": "per state (invited, confirmed, asked-another-day, checked-in, "
                       "examined, delivered, no-show: where each one is now) and cumulative "
                       "`checked_in_total`, `examined_total`, `total`"})
    people = ma.fields.List(ma.fields.Nested(PersonSchema))


class RoundReportSchema(ma.Schema):
    """The round's report."""

    round = ma.fields.Nested(RoundSchema)
    unions = ma.fields.List(ma.fields.Nested(UnionReportSchema))


class MyRoundSchema(RoundSchema):
    """A round as the invited member sees it (her notice)."""

    participant_state = ma.fields.String(metadata={"enum": list(PARTICIPANT_STATES)})
    preferred_day = ma.fields.Date(allow_none=True)
    reply_note = ma.fields.String()
    can_answer = ma.fields.Boolean()
    result = ma.fields.Dict(allow_none=True, metadata={
        "description": "her result once recorded: health_class, fitness, fitness_text, "
                       "hazards, findings, recommendations, measurements, date, practitioner"})


class ReplySchema(ma.Schema):
    """The member's answer."""

    answer = ma.fields.String(required=True,
                              validate=ma.validate.OneOf(("confirm", "another-day")))
    preferred_day = ma.fields.Date(load_default=None,
                                   metadata={"description": "with another-day"})
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=300))


class CheckInSchema(ScannedSchema):
    """What the desk scanned: exactly one of the QR text (a handheld scanner's line end is
    allowed) and the NFC NDEF message — the desk's scan (``ScannedSchema``) without the
    practitioner (a check-in releases nothing)."""

    class Meta:
        exclude = ("practitioner",)


class CheckedInSchema(ma.Schema):
    """A check-in (nothing of the record)."""

    participant_id = ma.fields.Integer()
    member_number = ma.fields.String()
    full_name = ma.fields.String()
    state = ma.fields.String()
    checked_in_at = ma.fields.DateTime()
    already_checked_in = ma.fields.Boolean()


class ClinicParticipantSchema(ma.Schema):
    """A member the clinic checked in."""

    participant_id = ma.fields.Integer()
    member_number = ma.fields.String()
    full_name = ma.fields.String()
    state = ma.fields.String()
    checked_in_at = ma.fields.DateTime(allow_none=True)
    examined_at = ma.fields.DateTime(allow_none=True)


class CodedSchema(ma.Schema):
    """A coded item and its text."""

    code = ma.fields.String(required=True, validate=ma.validate.Length(1, 64))
    text = ma.fields.String(load_default="", validate=ma.validate.Length(max=500))


class FindingSchema(CodedSchema):
    """A finding, ICD-10 coded."""

    system = ma.fields.String(load_default="icd-10",
                              validate=ma.validate.OneOf(("icd-10", "icd-10-vn")))


class ResultSchema(ma.Schema):
    """An exam's result as JSON."""

    health_class = ma.fields.String(required=True, validate=ma.validate.OneOf(HEALTH_CLASSES),
                                    metadata={"description": "Decision 1613/BYT-QĐ: I–V"})
    fitness = ma.fields.String(required=True, validate=ma.validate.OneOf(FITNESS))
    fitness_text = ma.fields.String(load_default="", validate=ma.validate.Length(max=500))
    hazards = ma.fields.List(ma.fields.Nested(CodedSchema), load_default=list,
                             validate=ma.validate.Length(max=40), metadata={
                                 "description": "hazards examined (occ-hazard codes: noise, "
                                                "dust, solvents, ...)"})
    findings = ma.fields.List(ma.fields.Nested(FindingSchema), load_default=list,
                              validate=ma.validate.Length(max=40))
    recommendations = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))
    practitioner = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))


class RecordedSchema(ma.Schema):
    """A result recorded (no content)."""

    participant_id = ma.fields.Integer()
    state = ma.fields.String()
    in_summary = ma.fields.Boolean(metadata={"description": "the member's record holds it "
                                                            "now (false: no health ID linked)"})
    delivery = ma.fields.String(metadata={"enum": list(DELIVERY_STATUSES)})
    sensitive = ma.fields.Boolean(metadata={"description": "a finding made the exam "
                                                           "sensitive (fail-closed)"})
    written = ma.fields.List(ma.fields.String())


class TargetRowSchema(ma.Schema):
    """One province or union against the targets."""

    code = ma.fields.String()
    name = ma.fields.String()
    members = ma.fields.Integer()
    linked = ma.fields.Integer()
    examined = ma.fields.Integer()
    linked_share = ma.fields.Float()
    examined_share = ma.fields.Float()
    linked_met = ma.fields.Boolean()
    examined_met = ma.fields.Boolean()


class RoundMoveSchema(ma.Schema):
    """A round's part in a union's exam share."""

    round_id = ma.fields.Integer()
    title = ma.fields.String()
    kind = ma.fields.String()
    first_day = ma.fields.Date()
    last_day = ma.fields.Date()
    union_code = ma.fields.String()
    examined = ma.fields.Integer()
    delivered = ma.fields.Integer()
    union_members = ma.fields.Integer()
    points = ma.fields.Float(metadata={"description": "examined / the union's members "
                                                      "(routine rounds only)"})


class CoverageTargetsSchema(ma.Schema):
    """Coverage against the targets."""

    targets = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Float(), metadata={
        "description": "`linked` 0.8, `examined` 0.9"})
    provinces = ma.fields.List(ma.fields.Nested(TargetRowSchema))
    unions = ma.fields.List(ma.fields.Nested(TargetRowSchema))
    rounds = ma.fields.List(ma.fields.Nested(RoundMoveSchema))
