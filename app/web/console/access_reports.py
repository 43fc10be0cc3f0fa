"""The data-protection queue (national administrators only): members' reports of access-log
entries they do not recognise, by status and clinic; one report with its events and clinic
(never health content), moved open → investigating → closed with the note the member reads —
the service of ``/api/v1/admin/access-events/reports``, every change audited."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.composition import data_cipher
from app.edge.auth import ADMIN, actor, current_principal
from app.edge.bodies import accepts
from app.extensions import db
from app.models.access_report import REPORT_STATUSES
from app.services.access_events.reports import MOVES, NOTE_MAX, AccessReports, ReportFilter
from app.services.errors import Conflict, Forbidden, ValidationFailed
from app.web.console import FORM, bp

#: Reports a page of the queue shows.
PER_PAGE = 25
#: A report's status, in words.
STATUSES: dict[str, Any] = {
    "open": _l("open"), "investigating": _l("investigating"), "closed": _l("closed")}
#: The member's reason, in words.
REASONS: dict[str, Any] = {
    "not-there": _l("was not at this clinic then"),
    "saw-too-much": _l("the clinic saw more than agreed"),
    "no-emergency": _l("there was no emergency"),
    "other": _l("something else"),
}
#: What an event was, in words.
KINDS: dict[str, Any] = {
    "verify": _l("card checked"), "pull": _l("record opened"), "denial": _l("refused"),
    "emergency": _l("emergency access")}


def _admin_only() -> None:
    """National administrators only (the data-protection contact).

    Raises:
        Forbidden: an officer.
    """
    principal = current_principal()
    if principal is None or principal.role not in ADMIN:
        raise Forbidden("Your role may not perform this action.")


def _reports() -> AccessReports:
    return AccessReports(db.session, data_cipher())


@bp.get("/access-reports")
def access_reports() -> Any:
    """The queue: open reports first, then investigating, then closed; by status and clinic."""
    _admin_only()
    status = request.args.get("status", "")
    status = status if status in REPORT_STATUSES else ""
    clinic = request.args.get("clinic", "").strip()[:16]
    try:
        page = max(1, min(100_000, int(request.args.get("page", "1"))))
    except ValueError:
        page = 1
    reports = _reports()
    rows, total = reports.search(ReportFilter(status or None, clinic or None), page=page,
                                 per_page=PER_PAGE)
    return render_template("console/access_reports.html", rows=rows, total=total, page=page,
                           pages=max(1, -(-total // PER_PAGE)), status=status, clinic=clinic,
                           statuses=STATUSES, reasons=REASONS)


def _report_page(report_id: int, *, status: int = 200,
                 form: dict[str, Any] | None = None) -> Any:
    reports = _reports()
    report = reports.for_admin(reports.get(report_id))
    return render_template("console/access_report.html", report=report, statuses=STATUSES,
                           reasons=REASONS, kinds=KINDS, moves=MOVES[report["status"]],
                           form=form or {}, note_max=NOTE_MAX,
                           done=request.args.get("done")), status


@bp.get("/access-reports/<int:report_id>")
def access_report(report_id: int) -> Any:
    """One report: the member's reason and note, the visit's events and clinic, the status
    and the form to move it on."""
    _admin_only()
    return _report_page(report_id)


@bp.post("/access-reports/<int:report_id>")
@accepts(FORM)
def update_access_report(report_id: int) -> Any:
    """Move the report on and/or set the note the member reads; the form again with what
    was typed when something is wrong."""
    _admin_only()
    form = request.form
    status = form.get("status", "")
    note = form.get("note", "")
    sent: dict[str, Any] = {"status": status, "note": note, "errors": {}}
    if status and status not in REPORT_STATUSES:
        sent["errors"]["status"] = _("Choose a status from the list.")
    if len(note.strip()) > NOTE_MAX:
        sent["errors"]["note"] = _("At most %(max)s characters (now %(count)s).",
                                   max=NOTE_MAX, count=len(note.strip()))
    if status == "closed" and not note.strip():
        sent["errors"]["note"] = _("Say what was found before closing.")
    code = 422
    if not sent["errors"]:
        try:
            _reports().update(report_id, status=status or None, note=note, actor=actor())
        except Conflict:
            code = 409
            sent["errors"]["status"] = _("The report changed meanwhile or is closed; see "
                                         "where it stands now.")
        except ValidationFailed:
            sent["errors"]["note"] = _("Say what was found before closing.")
        else:
            return redirect(url_for("console.access_report", report_id=report_id,
                                    done="saved"), code=303)
    return _report_page(report_id, status=code, form=sent)
