"""Exam rounds at industrial parks (issue 26): offices plan rounds and follow their report,
members answer their invitation, the round's clinic checks members in by card and records
their results (JSON or FHIR), which reach the member's record at once and the national health
record through the worker; coverage against the provinces' targets."""

from __future__ import annotations

import json
from typing import Any

import marshmallow as ma
from flask import current_app, request
from flask.views import MethodView
from sqlalchemy import select

from app.api.blueprint import Blueprint
from app.clock import now as utc_now
from app.clock import today_in_vietnam
from app.composition import access_log, data_cipher, on_summary_changed_for, scan_limits
from app.edge.access import record_access
from app.edge.auth import (
    STAFF,
    actor,
    current_clinic,
    current_member_id,
    current_scope,
    requires,
    requires_clinic,
    requires_member,
)
from app.edge.bodies import MAX_JSON_DEPTH, accepts, json_depth
from app.edge.problems import ProblemSchema, field_errors
from app.extensions import db
from app.models import Clinic, Member
from app.models.exam_round import ExamParticipant, ExamRound
from app.schemas.exam_rounds import (
    CheckedInSchema,
    CheckInSchema,
    ClinicParticipantSchema,
    CoverageTargetsSchema,
    MyRoundSchema,
    PlannedSchema,
    RecordedSchema,
    ReplySchema,
    ResultSchema,
    RoundPlanSchema,
    RoundReportSchema,
    RoundSchema,
)
from app.services.clinic_flow import scan
from app.services.errors import BodyTooLarge, DomainError, FhirInvalid, ValidationFailed
from app.services.exams import checkin, results
from app.services.exams.fhir import findings_from_fhir
from app.services.exams.rounds import ANSWERABLE, ExamRounds, Plan
from app.services.registry import coverage

JSON = "application/json"
FHIR_JSON = "application/fhir+json"
MULTIPART = "multipart/form-data"
#: A photo upload's request-level bound (the configured photo limit is checked on the file).
UPLOAD_MAX_BYTES = 16 * 1024 * 1024
_CHECK_IN_BODY = CheckInSchema()
#: The largest result Bundle accepted.
RESULT_MAX_BYTES = 200_000
_RESULT_BODY = ResultSchema()
_NO_STORE = {"Cache-Control": "no-store"}

blp = Blueprint("exam_rounds", __name__, url_prefix="/api/v1",
                description="Exam rounds at industrial parks: plan and report (offices), "
                            "answer (members), check-in and results (the round's clinic), "
                            "coverage against the targets (see the README's Exam rounds).")


def rounds() -> ExamRounds:
    return ExamRounds(db.session, actor=actor())


def _round(round_: ExamRound, clinic: Clinic, participants: int | None = None) -> dict[str, Any]:
    return {"id": round_.id, "title": round_.title, "kind": round_.kind,
            "status": round_.status, "province_code": round_.province_code,
            "union_code": round_.union_code, "first_day": round_.first_day,
            "last_day": round_.last_day, "clinic_code": clinic.facility_code,
            "clinic_name": clinic.name, "clinic_address": clinic.address,
            "created_at": round_.created_at, "participants": participants}


# -- offices ------------------------------------------------------------------------------------
@blp.route("/exam-rounds")
class Rounds(MethodView):
    """The rounds of your office."""

    @requires(*STAFF)
    @blp.response(200, RoundSchema(many=True))
    def get(self) -> Any:
        """The rounds in your scope, latest first (a union's office: those that invited its
        members), with the number invited in your scope."""
        return [_round(r, c, n) for r, c, n in rounds().in_scope(current_scope())]

    @requires(*STAFF)
    @blp.arguments(RoundPlanSchema)
    @blp.response(201, PlannedSchema)
    @blp.alt_response(422, schema=ProblemSchema, description=(
        "`validation-error`: the clinic (not an accredited industrial-park clinic or "
        "occupational-health centre of your province), the days (from today, at most 31), the "
        "unions (outside your scope), or nobody to invite"))
    def post(self, args: dict[str, Any]) -> Any:
        """Plan a round: its clinic, days and kind, for whole unions or only their members due
        an exam; every member invited sees it in the portal (``GET /api/v1/me/exam-rounds``)
        and answers there."""
        plan = Plan(args["clinic_code"], args["kind"], args["title"], args["first_day"],
                    args["last_day"], tuple(args["union_codes"]), args["members_due"])
        round_, invited = rounds().plan(current_scope(), plan)
        clinic = db.session.get(Clinic, round_.clinic_id)
        assert clinic is not None
        return {**_round(round_, clinic, invited), "invited": invited}


@blp.route("/exam-rounds/<int:round_id>")
class RoundReport(MethodView):
    """A round's report."""

    @requires(*STAFF)
    @blp.response(200, RoundReportSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such round in your scope")
    def get(self, round_id: int) -> Any:
        """Per union in your scope: how many are invited, confirmed, asked for another day,
        checked in, examined, delivered to the national health record, no-shows — and who;
        never a result."""
        round_, clinic, unions = rounds().report(current_scope(), round_id)
        return {"round": _round(round_, clinic, sum(u.counts["total"] for u in unions)),
                "unions": [{"union_code": u.union_code, "union_name": u.union_name,
                            "counts": u.counts, "people": u.people} for u in unions]}


@blp.route("/exam-rounds/coverage")
class CoverageTargets(MethodView):
    """Coverage against the targets."""

    @requires(*STAFF)
    @blp.response(200, CoverageTargetsSchema)
    def get(self) -> Any:
        """Per province and union in your scope: the shares of active members with a linked
        health record (target 80 %) and with a routine exam in the last 12 months (target
        90 %), and the rounds of the last 12 months that examined them."""
        provinces, unions, moves = coverage.against_targets(
            db.session, current_scope(), today=today_in_vietnam())

        def row(r: coverage.TargetRow) -> dict[str, Any]:
            return {"code": r.code, "name": r.name, "members": r.members, "linked": r.linked,
                    "examined": r.examined, "linked_share": r.linked_share,
                    "examined_share": r.examined_share, "linked_met": r.linked_met,
                    "examined_met": r.examined_met}

        return {"targets": {"linked": coverage.TARGET_LINKED,
                            "examined": coverage.TARGET_EXAMINED},
                "provinces": [row(r) for r in provinces], "unions": [row(r) for r in unions],
                "rounds": [{**m.__dict__, "points": m.points} for m in moves]}


# -- members ------------------------------------------------------------------------------------
@blp.route("/me/exam-rounds")
class MyRounds(MethodView):
    """The member's invitations (her notices)."""

    @requires_member()
    @blp.response(200, MyRoundSchema(many=True))
    def get(self) -> Any:
        """The rounds you are invited to, latest first: where, when, your answer, whether
        you can still answer, and your result once the clinic recorded it (yours in full:
        health class, fitness, hazards, findings, recommendations)."""
        today = today_in_vietnam()
        sealed = results.ExamResults(db.session, data_cipher())

        def result(p: ExamParticipant) -> dict[str, Any] | None:
            found = sealed.load(p.id) if p.state in ("examined", "delivered") else None
            return None if found is None else found.to_dict()

        return [{**_round(r, c), "participant_state": p.state, "preferred_day": p.preferred_day,
                 "reply_note": p.reply_note,
                 "can_answer": p.state in ANSWERABLE and today <= r.last_day,
                 "result": result(p)}
                for p, r, c in rounds().of_member(current_member_id())]


@blp.route("/me/exam-rounds/<int:round_id>/reply")
class MyReply(MethodView):
    """The member's answer."""

    @requires_member()
    @blp.arguments(ReplySchema)
    @blp.response(200, MyRoundSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="You are not in this round")
    @blp.alt_response(409, schema=ProblemSchema, description=(
        "`conflict` with `reason`: `round-over`, `checked-in`"))
    def post(self, args: dict[str, Any], round_id: int) -> Any:
        """Confirm (``confirm``) or ask for another day (``another-day`` with
        ``preferred_day`` and a short ``note``); you may change your answer until you are
        checked in."""
        service = rounds()
        p = service.reply(current_member_id(), round_id, args["answer"],
                          preferred_day=args["preferred_day"], note=args["note"])
        r = db.session.get(ExamRound, p.round_id)
        assert r is not None
        c = db.session.get(Clinic, r.clinic_id)
        assert c is not None
        return {**_round(r, c), "participant_state": p.state, "preferred_day": p.preferred_day,
                "reply_note": p.reply_note, "can_answer": True}


# -- the round's clinic -------------------------------------------------------------------------
@blp.route("/clinic/exam-rounds")
class ClinicRounds(MethodView):
    """The rounds at the calling clinic."""

    @requires_clinic
    @blp.response(200, RoundSchema(many=True))
    def get(self) -> Any:
        """The planned rounds held at your clinic, latest first."""
        clinic = current_clinic()
        row = db.session.get(Clinic, clinic.clinic_id)
        assert row is not None
        return [_round(r, row) for r in db.session.scalars(
            select(ExamRound).where(ExamRound.clinic_id == clinic.clinic_id,
                                    ExamRound.status == "planned")
            .order_by(ExamRound.first_day.desc(), ExamRound.id.desc()).limit(200))]


@blp.route("/clinic/exam-rounds/<int:round_id>/participants")
class ClinicParticipants(MethodView):
    """The members the clinic checked in."""

    @requires_clinic
    @blp.response(200, ClinicParticipantSchema(many=True))
    @blp.alt_response(404, schema=ProblemSchema, description="No such round at your clinic")
    def get(self, round_id: int) -> Any:
        """The members you checked in for this round (for the results), in check-in order;
        who else was invited is the office's, not the clinic's."""
        round_ = checkin.clinic_round(db.session, current_clinic(), round_id)
        rows = db.session.execute(
            select(ExamParticipant, Member.member_number, Member.full_name)
            .join(Member, Member.id == ExamParticipant.member_id)
            .where(ExamParticipant.round_id == round_.id,
                   ExamParticipant.state.in_(("checked-in", "examined", "delivered")))
            .order_by(ExamParticipant.checked_in_at, ExamParticipant.id))
        return [{"participant_id": p.id, "member_number": number, "full_name": name,
                 "state": p.state, "checked_in_at": p.checked_in_at,
                 "examined_at": p.examined_at} for p, number, name in rows]


def _loaded(schema: ma.Schema, body: Any) -> dict[str, Any]:
    """A JSON body as its schema loads it.

    Raises:
        ValidationFailed: every field's problem.
    """
    try:
        return dict(schema.load(body))
    except ma.ValidationError as exc:
        raise ValidationFailed("Invalid fields.", errors=field_errors(
            {"json": exc.messages})) from None


def _scanned(args: dict[str, Any]) -> str:
    if args.get("uc1") is not None:  # a handheld scanner types its line end
        return scan.from_text(checkin.without_line_end(str(args["uc1"])))
    return scan.from_ndef(args["ndef_base64"])


def _check_in_scan(client_id: str) -> tuple[str, str | None]:
    """What the desk scanned, from a JSON body or a photo (multipart/form-data), and the
    device it names.

    Raises:
        ValidationFailed: wrong fields. ScanInvalid, CardUnreadable: not a card.
    """
    if request.mimetype == MULTIPART:
        photo = request.files.get("photo")
        if photo is None or not photo.filename:
            raise ValidationFailed.field("photo", "Send the photo of the card.")
        device_id = request.form.get("device_id") or None
        if device_id is not None and len(device_id) > 64:
            raise ValidationFailed.field("device_id", "At most 64 characters.")
        data = photo.read(int(current_app.config["SCAN_MAX_BYTES"]) + 1)
        return scan.from_photo(data, scan_limits(current_app.config),
                               client=client_id), device_id
    args = _loaded(_CHECK_IN_BODY, request.get_json(silent=True) or {})
    return _scanned(args), args.get("device_id")


@blp.route("/clinic/exam-rounds/<int:round_id>/check-in")
class CheckIn(MethodView):
    """Check a member in by card."""

    @accepts(JSON, MULTIPART, max_bytes=UPLOAD_MAX_BYTES)
    @requires_clinic
    @blp.doc(requestBody={"required": True, "content": {
        JSON: {"schema": CheckInSchema},
        MULTIPART: {"schema": {"type": "object", "required": ["photo"], "properties": {
            "photo": {"type": "string", "format": "binary",
                      "description": "a photo of the card's QR code (JPEG, PNG or WebP)"},
            "device_id": {"type": "string", "maxLength": 64}}}}}})
    @blp.response(200, CheckedInSchema, headers={
        "Cache-Control": {"description": "no-store", "schema": {"type": "string"}}})
    @blp.alt_response(403, schema=ProblemSchema, description=(
        "`card-not-usable`: the card is revoked, suspended, expired or not genuine "
        "(`card_status`, `reason`); `device-not-registered`: the `device_id` is not one of "
        "the clinic's active scanner devices"))
    @blp.alt_response(413, schema=ProblemSchema, description="The body is too large")
    @blp.alt_response(415, schema=ProblemSchema, description="Not JSON or multipart/form-data")
    @blp.alt_response(404, schema=ProblemSchema, description="No such round at your clinic")
    @blp.alt_response(409, schema=ProblemSchema, description=(
        "`conflict` with `reason`: `not-in-round` (the card's holder is not invited), "
        "`round-not-begun`, `round-over`"))
    @blp.alt_response(422, schema=ProblemSchema, description=(
        "`card-unreadable`, `scan-invalid`: what was scanned is not a card"))
    def post(self, round_id: int) -> Any:
        """Check the card's holder in for today: the card is checked as at the desk (any
        way the desk takes it: the QR text as a handheld scanner types it, the NFC message,
        or a photo), without the PIN, releasing nothing of the record; a second scan answers
        the first check-in. It is in the member's access log (checked the card)."""
        clinic = current_clinic()
        text, device_id = _check_in_scan(clinic.client_id)
        try:
            done = checkin.check_in(db.session, clinic, round_id, text, device_id=device_id)
        except DomainError as error:
            denial = getattr(error, "denial", None)
            if denial is not None:  # her card was scanned: her log says so
                record_access(denial)
            raise
        if done.record is not None:
            access_log(db.session).record(done.record)
        p = done.participant
        return {"participant_id": p.id, "member_number": done.member_number,
                "full_name": done.member_name, "state": p.state,
                "checked_in_at": p.checked_in_at,
                "already_checked_in": done.already}, 200, _NO_STORE


def _result_body() -> tuple[str, Any]:
    """The request's result: ``("json", fields)`` or ``("fhir", bundle)``.

    Raises:
        BodyTooLarge, FhirInvalid, ValidationFailed.
    """
    raw = request.get_data(cache=False)
    if len(raw) > RESULT_MAX_BYTES:
        raise BodyTooLarge(f"The body is larger than {RESULT_MAX_BYTES} bytes.")
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise ValidationFailed("The body is nested too deeply.")
    try:
        body = json.loads(raw)
    except ValueError:
        raise ValidationFailed("The body is not JSON.") from None
    if request.mimetype == FHIR_JSON:
        if not isinstance(body, dict):
            raise FhirInvalid("Send a FHIR Bundle.", errors=[{
                "location": "fhir", "field": "Bundle", "pointer": "#", "detail": "not an "
                                                                           "object"}])
        return "fhir", body
    return "json", _loaded(_RESULT_BODY, body if isinstance(body, dict) else {})


@blp.route("/clinic/exam-rounds/<int:round_id>/participants/<int:participant_id>/result")
class Result(MethodView):
    """A checked-in member's result."""

    @accepts(JSON, FHIR_JSON, max_bytes=RESULT_MAX_BYTES)
    @requires_clinic
    @blp.doc(requestBody={"required": True, "content": {
        JSON: {"schema": ResultSchema},
        FHIR_JSON: {"schema": {"type": "object", "description": (
            "a FHIR R4 collection Bundle: the Patient (with the member number, "
            "`https://unioncard.vn/fhir/sid/member-number`), one occupational Encounter of "
            "the round's kind and its Observations (health class, job fitness, hazards, "
            "findings, measurements; docs/fhir-mapping.md), optionally a DiagnosticReport "
            "whose conclusion is the recommendations")}}}})
    @blp.response(201, RecordedSchema)
    @blp.alt_response(404, schema=ProblemSchema, description=(
        "No such round at your clinic, or no such participant in it"))
    @blp.alt_response(409, schema=ProblemSchema, description=(
        "`conflict` with `reason`: `not-checked-in`, `result-recorded`"))
    @blp.alt_response(413, schema=ProblemSchema, description="The body is too large")
    @blp.alt_response(415, schema=ProblemSchema, description="Not JSON or FHIR JSON")
    @blp.alt_response(422, schema=ProblemSchema, description=(
        "`validation-error` (a field, an ICD-10 code), `fhir-invalid` (each problem with its "
        "FHIR path)"))
    def post(self, round_id: int, participant_id: int) -> Any:
        """Record the result of a member your clinic checked in: it is in her record at once
        (occupational exam; a finding that is sensitive, or cannot be classified, makes the
        exam sensitive), in her access log (written, by your clinic), and on its way to the
        national health record."""
        clinic = current_clinic()
        how, body = _result_body()
        service = results.ExamResults(db.session, data_cipher())
        round_, participant, member = service.participant(clinic, round_id, participant_id)
        if how == "fhir":
            findings = findings_from_fhir(
                body, member_number=member.member_number,
                health_id=service.health_id(member.id), kind=round_.kind,
                clinic_code=clinic.facility_code, received_at=utc_now())
        else:
            findings = results.findings_from_json(body)
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        recorded = service.record(clinic, round_id, participant_id, findings,
                                  recorded_as=how, actor=f"clinic:{clinic.client_id}")
        access_log(db.session).record(recorded.record)
        if recorded.in_summary:
            on_summary_changed_for(app, f"clinic:{clinic.client_id}")(db.session)(member.id)
        return {"participant_id": participant.id, "state": participant.state,
                "in_summary": recorded.in_summary, "delivery": recorded.delivery,
                "sensitive": recorded.sensitive, "written": list(recorded.written)}, 201
