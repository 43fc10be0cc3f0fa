"""Console pages of exam rounds (issue 26): the rounds in the officer's scope, a form to plan
one (whole unions or only their members due an exam, an eligible clinic of the province, the
days and the kind) and a round's page per union — invited, confirmed, asked for another day,
checked in, examined, delivered to the health record, no-shows: counts and names, never
results. The pages call ``app.services.exams.rounds`` as the API does."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.edge.auth import actor, current_scope
from app.edge.bodies import accepts
from app.extensions import db
from app.models import Clinic
from app.models.exam_round import ROUND_FACILITY_TYPES, ROUND_KINDS
from app.services.errors import ValidationFailed
from app.services.exams.rounds import REPORT_STATES, ExamRounds, Plan
from app.services.registry import unions
from app.web import wording
from app.web.console import FORM, bp
from app.web.forms import once

#: The kinds of round in words.
KINDS = {"periodic": _l("Periodic exam"), "pre-employment": _l("Pre-employment exam"),
         "occupational-disease": _l("Occupational-disease screening")}
#: A participant's state in words (the round page's columns and each person's line).
STATES = {"invited": _l("Invited"), "confirmed": _l("Confirmed"),
          "asked-another-day": _l("Asked for another day"), "checked-in": _l("Checked in"),
          "examined": _l("Examined"), "delivered": _l("Delivered to the health record"),
          "no-show": _l("Did not come")}
#: A result's way to the national health record in words.
DELIVERY = {"pending": _l("waiting to be sent"), "sending": _l("being sent"),
            "sent": _l("delivered"), "failed": _l("refused: see the log"),
            "held": _l("held: health record not linked")}
_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
FIELDS = ("title", "kind", "clinic_code", "first_day", "last_day")

assert set(KINDS) == set(ROUND_KINDS) and set(STATES) == set(REPORT_STATES)


def rounds() -> ExamRounds:
    """Rounds, acting for the signed-in staff member."""
    return ExamRounds(db.session, actor=actor())


def parse_day(text: str) -> date | None:
    """A day typed as day/month/year (or ISO, as a date picker sends it); None if not one."""
    text = text.strip()
    dmy, iso = _DMY.match(text), _ISO.match(text)
    try:
        if dmy:
            return date(int(dmy.group(3)), int(dmy.group(2)), int(dmy.group(1)))
        if iso:
            return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
    except ValueError:
        return None
    return None


def eligible_clinics() -> list[Clinic]:
    """The clinics a round may be held at: accredited industrial-park clinics and
    occupational-health centres of the officer's province."""
    scope = current_scope()
    if scope.is_national:
        return []
    found = db.session.scalars(select(Clinic).where(
        Clinic.province_code == scope.principal.province_code,
        Clinic.facility_type.in_(ROUND_FACILITY_TYPES)).order_by(Clinic.name))
    return [c for c in found if c.accredited]


@bp.get("/exam-rounds")
def exam_rounds() -> Any:
    """The rounds in the officer's scope, latest first."""
    return render_template("console/exam_rounds.html", rows=rounds().in_scope(current_scope()),
                           kinds=KINDS, can_plan=not current_scope().is_national)


@bp.route("/exam-rounds/new", methods=["GET", "POST"])
@accepts(FORM)
@once  # a form sent twice (Back, Reload, a double click) plans one round
def new_exam_round() -> Any:
    """Plan a round (the same checks as the API: scope, clinic, days, kind, nobody to
    invite); a wrong field shows its message and the form keeps what was typed."""
    scope = current_scope()
    choices, _total = unions.list_unions(db.session, scope, page=1, per_page=500)
    values: dict[str, Any] = {"kind": "periodic", "union_codes": [], "members_due": False}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {name: request.form.get(name, "").strip()[:200] for name in FIELDS}
        values["union_codes"] = [c.strip().upper()[:20] for c in
                                 request.form.getlist("union_codes")[:500] if c.strip()]
        values["members_due"] = request.form.get("members_due") == "1"
        first, last = parse_day(values["first_day"]), parse_day(values["last_day"])
        day_hint = str(_l("Give the day as day/month/year, e.g. 15/03/2027."))
        if first is None:
            errors["first_day"] = day_hint
        if last is None:
            errors["last_day"] = day_hint
        if not errors and first is not None and last is not None:
            plan = Plan(values["clinic_code"], values["kind"], values["title"], first, last,
                        tuple(values["union_codes"]), bool(values["members_due"]))
            try:
                round_, _invited = rounds().plan(scope, plan)
            except ValidationFailed as invalid:
                errors = {e["field"]: e["message"]
                          for e in wording.field_errors(invalid.errors)} \
                    or {"": wording.problem(invalid)}
            else:
                return redirect(url_for("console.exam_round", round_id=round_.id), code=303)
    return render_template("console/exam_round_form.html", values=values, errors=errors,
                           unions=choices, clinics=eligible_clinics(), kinds=KINDS,
                           national=scope.is_national), 422 if errors else 200


@bp.get("/exam-rounds/<int:round_id>")
def exam_round(round_id: int) -> Any:
    """A round's page: per union in scope, counts per state and the people — never a
    result."""
    round_, clinic, union_reports = rounds().report(current_scope(), round_id)
    counts = {u.union_code: reached(u.counts) for u in union_reports}
    totals = {s: sum(c[s] for c in counts.values()) for s in REPORT_STATES}
    return render_template("console/exam_round.html", round=round_, clinic=clinic,
                           unions=union_reports, counts=counts, totals=totals, kinds=KINDS,
                           states=STATES, delivery=DELIVERY, columns=REPORT_STATES)


def reached(counts: dict[str, int]) -> dict[str, int]:
    """The round page's counts: everyone invited; who confirmed, asked for another day or
    did not come; and each step by everyone who reached it (a delivered result was also
    examined and checked in)."""
    return {"invited": counts["total"], "confirmed": counts["confirmed"],
            "asked-another-day": counts["asked-another-day"],
            "checked-in": counts["checked_in_total"], "examined": counts["examined_total"],
            "delivered": counts["delivered"], "no-show": counts["no-show"]}
