"""The desk's exam-round mode (issue 26): choose one of the clinic's rounds, then check each
member in by scanning the card (a handheld QR reader typing the card's text and Enter into the
one code field, or the text pasted) — no PIN, nothing of the record released — with a running
list of today's check-ins (name, union, time); a card whose holder is not in the round says
so. Then the result form of a checked-in member (health class I–V, fitness for the job,
hazards examined, findings with ICD-10 codes, recommendations), recorded through the same
services as ``/api/v1/clinic/exam-rounds`` (``app.services.exams``)."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta, timezone
from typing import Any

from flask import current_app, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.clock import VIETNAM, today_in_vietnam
from app.composition import access_log, data_cipher, on_summary_changed_for
from app.edge.access import record_access
from app.edge.auth import current_clinic
from app.edge.bodies import accepts
from app.edge.problems import error_problem
from app.extensions import db
from app.models import Member, Union
from app.models.exam_round import ExamParticipant, ExamRound
from app.services.clinic_flow import scan as scans
from app.services.errors import DomainError, NotFound, ValidationFailed
from app.services.exams import checkin, results
from app.services.health import summary as s
from app.web import wording
from app.web.console.exam_rounds import KINDS
from app.web.scanner import bp

FORM = "application/x-www-form-urlencoded"
#: How many of today's check-ins the running list shows (latest first).
LIST_MAX = 200
#: Fitness for the job in words.
FITNESS = {"fit": _l("Fit for the job"),
           "fit-with-restrictions": _l("Fit for the job with restrictions"),
           "temporarily-unfit": _l("Temporarily unfit for the job"),
           "unfit": _l("Unfit for the job")}
#: The result form's fields.
RESULT_FIELDS = ("health_class", "fitness", "fitness_text", "hazards", "findings",
                 "recommendations", "practitioner")
_LINE = re.compile(r"^\s*(\S+)\s*(?:[-—:]\s*)?(.*?)\s*$")

assert set(FITNESS) == set(s.FITNESS)


def _round(round_id: int) -> ExamRound:
    return checkin.clinic_round(db.session, current_clinic(), round_id)


def checked_in_today(round_: ExamRound) -> list[dict[str, Any]]:
    """Today's check-ins of the round at this clinic, latest first: name, union, time, state
    (nothing of the record)."""
    day = today_in_vietnam()
    start = datetime.combine(day, time(0), tzinfo=VIETNAM).astimezone(timezone.utc)
    rows = db.session.execute(
        select(ExamParticipant, Member.full_name, Member.member_number, Union.name)
        .join(Member, Member.id == ExamParticipant.member_id)
        .join(Union, Union.code == ExamParticipant.union_code)
        .where(ExamParticipant.round_id == round_.id,
               ExamParticipant.checked_in_at >= start,
               ExamParticipant.checked_in_at < start + timedelta(days=1))
        .order_by(ExamParticipant.checked_in_at.desc(), ExamParticipant.id.desc())
        .limit(LIST_MAX))
    return [{"participant_id": p.id, "full_name": name, "member_number": number,
             "union_name": union, "checked_in_at": p.checked_in_at, "state": p.state}
            for p, name, number, union in rows]


@bp.get("/exam-rounds")
def exam_rounds() -> Any:
    """The planned rounds held at this clinic, the current ones first."""
    clinic = current_clinic()
    today = today_in_vietnam()
    found = list(db.session.scalars(
        select(ExamRound).where(ExamRound.clinic_id == clinic.clinic_id,
                                ExamRound.status == "planned")
        .order_by(ExamRound.first_day.desc(), ExamRound.id.desc()).limit(200)))
    found.sort(key=lambda r: not (r.first_day <= today <= r.last_day))
    return render_template("scanner/exam_rounds.html", rounds=found, today=today, kinds=KINDS)


def _checkin_page(round_: ExamRound, *, done: dict[str, Any] | None = None,
                  recorded: dict[str, Any] | None = None, refusal: str | None = None,
                  text: str = "", status: int = 200) -> Any:
    today = today_in_vietnam()
    return render_template(
        "scanner/exam_checkin.html", round=round_, kinds=KINDS, rows=checked_in_today(round_),
        done=done, recorded=recorded, refusal=refusal, text=text,
        open=round_.first_day <= today <= round_.last_day), status


@bp.get("/exam-rounds/<int:round_id>")
def exam_checkin(round_id: int) -> Any:
    """The round's check-in mode: the code field, the last answer and today's list."""
    round_ = _round(round_id)
    rows = checked_in_today(round_)

    def row_of(name: str) -> dict[str, Any] | None:
        value = request.args.get(name, "")
        if not (value.isdigit() and len(value) < 12):
            return None
        return next((r for r in rows if r["participant_id"] == int(value)), None)

    done = row_of("last")
    if done is not None:
        done = {**done, "already": request.args.get("already") == "1"}
    return _checkin_page(round_, done=done, recorded=row_of("recorded"))


@bp.post("/exam-rounds/<int:round_id>/check-in")
@accepts(FORM)
def exam_check_in(round_id: int) -> Any:
    """Check in the holder of the scanned card for today (no PIN, nothing released); then
    back to the check-in page with the answer (a refusal is said on the page, the text
    kept)."""
    round_ = _round(round_id)
    clinic = current_clinic()
    sent = request.form.get("uc1", "")[:4096]
    try:
        text = scans.from_text(checkin.without_line_end(sent))
        done = checkin.check_in(db.session, clinic, round_.id, text)
    except DomainError as refused:  # the edge commits nothing of a refused request...
        denial = getattr(refused, "denial", None)
        if denial is not None:  # ...but her card was scanned: her access log says so
            record_access(denial)
        return _checkin_page(_round(round_id), refusal=wording.problem(refused),
                             text=sent.strip(),
                             status=error_problem(type(refused)).problem.status)
    if done.record is not None:
        access_log(db.session).record(done.record)
    return redirect(url_for("scanner.exam_checkin", round_id=round_.id,
                            last=done.participant.id, already="1" if done.already else None),
                    code=303)


def _coded(text: str, upper: bool) -> list[dict[str, str]]:
    """Lines of 'CODE text' (a finding's ICD-10 code or a hazard's code, then its words)."""
    items: list[dict[str, str]] = []
    for line in text.splitlines()[:50]:
        found = _LINE.match(line)
        if found is None or not found.group(1):
            continue
        code = found.group(1)
        items.append({"code": code.upper() if upper else code.lower(),
                      "text": found.group(2)[:500]})
    return items


@bp.route("/exam-rounds/<int:round_id>/participants/<int:participant_id>/result",
          methods=["GET", "POST"])
@accepts(FORM)
def exam_result(round_id: int, participant_id: int) -> Any:
    """The result form of a member the clinic checked in; recorded into her record, her
    access log and the national health record's outbox, as the API records it. A wrong field
    is said beside it and the form keeps what was typed."""
    clinic = current_clinic()
    service = results.ExamResults(db.session, data_cipher())
    round_, participant, member = service.participant(clinic, round_id, participant_id)
    if participant.checked_in_at is None:  # who else was invited is the office's, not the desk's
        raise NotFound("No such participant in this round.")
    values: dict[str, str] = {"health_class": "", "fitness": "", "fitness_text": "",
                              "hazards": "", "findings": "", "recommendations": "",
                              "practitioner": ""}
    errors: dict[str, str] = {}
    refusal = None
    status = 200
    if request.method == "POST":
        values = {name: request.form.get(name, "").strip()[:2000] for name in RESULT_FIELDS}
        findings_list = _coded(values["findings"], True)
        hazards_list = _coded(values["hazards"], False)
        body = {"health_class": values["health_class"], "fitness": values["fitness"],
                "fitness_text": values["fitness_text"][:500], "hazards": hazards_list,
                "findings": findings_list, "recommendations": values["recommendations"],
                "practitioner": values["practitioner"][:200] or None}
        try:
            findings = results.findings_from_json(body)
            recorded = service.record(clinic, round_id, participant_id, findings,
                                      recorded_as="json",
                                      actor=f"clinic:{clinic.client_id}")
        except ValidationFailed as invalid:
            for e in wording.field_errors(invalid.errors):
                errors.setdefault(e["field"].split(".")[0], e["message"])
            status = 422
        except DomainError as refused:
            refusal = wording.problem(refused)
            status = error_problem(type(refused)).problem.status
        else:
            access_log(db.session).record(recorded.record)
            if recorded.in_summary:
                app = current_app._get_current_object()  # type: ignore[attr-defined]
                on_summary_changed_for(app, f"clinic:{clinic.client_id}")(db.session)(
                    member.id)
            return redirect(url_for("scanner.exam_checkin", round_id=round_id,
                                    recorded=participant_id), code=303)
    return render_template("scanner/exam_result.html", round=round_, participant=participant,
                           member=member, values=values, errors=errors, refusal=refusal,
                           fitness=FITNESS, classes=s.HEALTH_CLASSES, kinds=KINDS), status
