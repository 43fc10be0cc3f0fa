"""My access log as visits (``app.services.access_events.views.member_visits``, as
``/api/v1/me/access-log/visits``) with "I don't recognise this" (``/api/v1/me/access-reports``),
and downloading my data (the right-of-access export of
``/api/v1/me/export``, JSON or FHIR, under the same per-member rate limit)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from flask import Response, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.clock import VIETNAM
from app.composition import data_cipher
from app.edge.auth import actor, current_member_id
from app.edge.bodies import accepts
from app.extensions import db, limiter
from app.services.access.export import MemberExport
from app.services.access_events import views
from app.services.access_events.reports import NOTE_MAX, AccessReports
from app.services.errors import Conflict, DomainError, NotFound
from app.web.portal import FORM, bp

#: Visits a page of the access log shows.
PER_PAGE = 10
#: Why the member does not recognise an entry, in plain words.
REPORT_REASONS: dict[str, Any] = {
    "not-there": _l("I was not at this clinic at that time"),
    "saw-too-much": _l("The clinic saw more than I agreed to"),
    "no-emergency": _l("There was no emergency"),
    "other": _l("Something else"),
}
#: Where a report stands, in plain words.
REPORT_STATUSES: dict[str, Any] = {
    "open": _l("received, waiting to be looked at"),
    "investigating": _l("being investigated"),
    "closed": _l("closed"),
}
#: What a visit was for, in plain words.
PURPOSES: dict[str, Any] = {
    "treatment": _l("treatment"),
    "occupational-health": _l("occupational health"),
    "emergency": _l("emergency"),
}


@dataclass
class LogFilter:
    """The log's filters as the URL carries them (the form's own text kept for the form),
    and what is wrong with them."""

    clinic: str = ""
    start: str = ""
    end: str = ""
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, args: Any) -> LogFilter:
        """The filters of a query string (or a form) as typed."""
        try:
            page = max(1, min(100_000, int(args.get("page", "1"))))
        except ValueError:
            page = 1
        return cls(clinic=str(args.get("clinic", "")).strip()[:16],
                   start=str(args.get("from", "")).strip()[:10],
                   end=str(args.get("to", "")).strip()[:10], page=page)

    def query(self, **changes: Any) -> dict[str, Any]:
        """The URL's query for these filters (empty ones left out), with ``changes``."""
        values = {"clinic": self.clinic, "from": self.start, "to": self.end,
                  "page": self.page if self.page > 1 else None, **changes}
        return {k: v for k, v in values.items() if v}

    def visits(self) -> views.VisitFilter:
        """The service's filter: a period of whole days in Vietnam time (``from`` and ``to``
        inclusive); a bad date or a period ending before it starts is an error of its field,
        and that bound is not applied."""
        since = self._day("from", self.start)
        last = self._day("to", self.end)
        until = last + timedelta(days=1) if last is not None else None
        if since is not None and until is not None and until <= since:
            self.errors["to"] = _("The end date is before the start date.")
            until = None
        return views.VisitFilter(self.clinic or None, since, until)

    def _day(self, name: str, text: str) -> datetime | None:
        if not text:
            return None
        try:
            day = date.fromisoformat(text)
        except ValueError:
            self.errors[name] = _("Give the date as on a calendar (yyyy-mm-dd).")
            return None
        return datetime.combine(day, time(), VIETNAM).astimezone(timezone.utc)


def _log_page(log_filter: LogFilter, *, status: int = 200, form: dict[str, Any] | None = None
              ) -> Any:
    """The access log page for ``log_filter``; ``form``: a report form sent back with its
    errors (the entry it is about, what was chosen and typed)."""
    member_id = current_member_id()
    visits, total = views.member_visits(db.session, data_cipher(), member_id,
                                        page=log_filter.page, per_page=PER_PAGE,
                                        where=log_filter.visits())
    AccessReports(db.session, data_cipher()).attach(member_id, visits)
    return render_template(
        "portal/access_log.html", visits=visits, total=total, page=log_filter.page,
        pages=max(1, -(-total // PER_PAGE)), filters=log_filter,
        clinics=views.member_clinics(db.session, member_id),
        reasons=REPORT_REASONS, statuses=REPORT_STATUSES, purposes=PURPOSES,
        form=form or {}, done=request.args.get("done"), note_max=NOTE_MAX), status


@bp.get("/access-log")
def access_log() -> Any:
    """Who looked at my card or record: each clinic's visit (the card checked, the PIN, the
    record opened) as one entry with what was actually shown, newest first; emergency access
    standing out; by clinic and period (kept in the URL); each entry's steps on demand and a
    report of an entry the member does not recognise."""
    return _log_page(LogFilter.of(request.args))


@bp.post("/access-log/report")
@accepts(FORM)
def report_entry() -> Any:
    """Report an entry the member does not recognise; back to the same log (filters, page)
    at the entry, or the log again with the form as typed and what is wrong."""
    form = request.form
    log_filter = LogFilter.of(form)
    try:
        entry_id = int(form.get("entry_id", ""))
    except ValueError:
        raise NotFound("No such entry in your access log.") from None
    reason, note = form.get("reason", ""), form.get("note", "")
    errors: dict[str, str] = {}
    sent: dict[str, Any] = {"entry_id": entry_id, "reason": reason, "note": note,
                            "errors": errors}
    if reason not in REPORT_REASONS:
        sent["errors"]["reason"] = _("Choose what is wrong.")
    if len(note.strip()) > NOTE_MAX:
        sent["errors"]["note"] = _("At most %(max)s characters (now %(count)s).",
                                   max=NOTE_MAX, count=len(note.strip()))
    if not sent["errors"]:
        try:
            AccessReports(db.session, data_cipher()).report(
                current_member_id(), entry_id, reason, note, actor=actor())
        except Conflict:
            return redirect(url_for("portal.access_log", **log_filter.query(done="already"),
                                    _anchor=f"entry-{entry_id}"), code=303)
        else:
            return redirect(url_for("portal.access_log", **log_filter.query(done="reported"),
                                    _anchor=f"entry-{entry_id}"), code=303)
    return _log_page(log_filter, status=422, form=sent)


@bp.get("/data")
def data() -> Any:
    """What the download holds, and the two download buttons."""
    return render_template("portal/data.html")


def _export_key() -> str:
    # the API's bucket: downloading from the pages counts against the same limit
    try:
        return f"export-member|{current_member_id()}"
    except DomainError:
        return f"export-address|{request.remote_addr}"


@bp.get("/data/<any(json, fhir):form>")
@limiter.shared_limit(lambda: str(current_app.config["EXPORT_RATE_LIMIT"]),
                      scope="my_export.MyExport", key_func=_export_key)
def download(form: str) -> Any:
    """Download everything held about me, as the export document or a FHIR R4 Bundle."""
    export = MemberExport(db.session, data_cipher())
    if form == "fhir":
        body, mimetype = export.fhir_bundle(current_member_id()), "application/fhir+json"
        name = "unioncard-export.fhir.json"
    else:
        body, mimetype = export.document(current_member_id()), "application/json"
        name = "unioncard-export.json"
    return Response(json.dumps(body, ensure_ascii=False), mimetype=mimetype, headers={
        "Cache-Control": "private, no-store",
        "Content-Disposition": f'attachment; filename="{name}"'})
