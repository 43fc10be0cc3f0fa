"""My exam rounds (issue 26): the invitations to an occupational exam round (a notice on the
card page and this page, where the invitation e-mail links to), and the answer — confirm, or
ask for another day with the day preferred and a short note — through the service of
``/api/v1/me/exam-rounds``. The result itself appears in the record page (the summary)."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l

from app.clock import today_in_vietnam
from app.edge.auth import actor, current_member_id
from app.edge.bodies import accepts
from app.extensions import db
from app.services.errors import DomainError, NotFound, ValidationFailed
from app.services.exams.rounds import ANSWERABLE, ExamRounds, RoundClosed
from app.web import wording
from app.web.console.exam_rounds import KINDS, parse_day
from app.web.forms import once
from app.web.portal import FORM, bp

#: My state in a round, in words.
MY_STATES = {"invited": _l("Not answered yet"), "confirmed": _l("You confirmed"),
             "asked-another-day": _l("You asked for another day"),
             "checked-in": _l("Checked in at the clinic"), "examined": _l("Examined"),
             "delivered": _l("Examined: the result is in your health record"),
             "no-show": _l("You did not come")}


def rounds() -> ExamRounds:
    """Rounds, acting for the signed-in member."""
    return ExamRounds(db.session, actor=actor())


def invitations() -> list[dict[str, Any]]:
    """The member's rounds (latest first), each with whether she can still answer."""
    today = today_in_vietnam()
    return [{"participant": p, "round": r, "clinic": c,
             "can_answer": p.state in ANSWERABLE and today <= r.last_day}
            for p, r, c in rounds().of_member(current_member_id())]


@bp.context_processor
def _open_invitations() -> dict[str, Any]:
    """``open_exam_rounds()`` for the card page's notice: the rounds she can still answer
    (a callable, so only a page that shows the notice reads them)."""
    def open_exam_rounds() -> list[dict[str, Any]]:
        return [i for i in invitations() if i["can_answer"]]
    return {"open_exam_rounds": open_exam_rounds}


def _page(errors: dict[str, str] | None = None, values: dict[str, str] | None = None,
          failed: int | None = None, status: int = 200) -> Any:
    return render_template("portal/exam_rounds.html", items=invitations(), kinds=KINDS,
                           states=MY_STATES, errors=errors or {}, values=values or {},
                           failed=failed, answered=request.args.get("answered")), status


@bp.get("/exam-rounds")
def exam_rounds() -> Any:
    """My invitations, with the answer form of each round I can still answer."""
    return _page()


@bp.post("/exam-rounds/<int:round_id>/reply")
@accepts(FORM)
@once
def exam_round_reply(round_id: int) -> Any:
    """Confirm, or ask for another day (a wrong day says so beside the field and keeps what
    was typed)."""
    answer = request.form.get("answer", "")
    values = {"answer": answer, "preferred_day": request.form.get("preferred_day", "")[:20],
              "note": request.form.get("note", "")[:300]}
    day = parse_day(values["preferred_day"]) if answer == "another-day" else None
    if answer == "another-day" and day is None:
        return _page({"preferred_day": str(_l(
            "Give the day you prefer as day/month/year, e.g. 15/03/2027."))}, values,
            round_id, 422)
    try:
        rounds().reply(current_member_id(), round_id, answer, preferred_day=day,
                       note=values["note"])
    except ValidationFailed as invalid:
        errors = {e["field"]: e["message"] for e in wording.field_errors(invalid.errors)}
        return _page(errors or {"": wording.problem(invalid)}, values, round_id, 422)
    except (RoundClosed, NotFound) as refused:
        status = 404 if isinstance(refused, NotFound) else 409
        return _page({"": wording.problem(refused) if isinstance(refused, DomainError)
                      else ""}, values, round_id, status)
    return redirect(url_for("portal.exam_rounds", answered=round_id) + f"#round-{round_id}",
                    code=303)
