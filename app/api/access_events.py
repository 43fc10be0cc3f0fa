"""Administrators' view of the access log: the aggregate by clinic and kind, and clinics
flagged for repeated emergency access (never a member, never health content)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.clock import now
from app.composition import data_cipher, emergency_flag_policy
from app.edge.auth import ADMIN, actor, requires
from app.edge.problems import ProblemSchema
from app.extensions import db
from app.schemas.access_events import (
    AccessReportArgsSchema,
    AccessReportPageSchema,
    AccessReportSchema,
    AccessReportUpdateSchema,
    AccessSummarySchema,
    SummaryArgsSchema,
)
from app.services.access_events import views
from app.services.access_events.reports import AccessReports, ReportFilter

blp = Blueprint("access_events", __name__, url_prefix="/api/v1/admin/access-events",
                description="The access log in aggregate, and members' reports of entries "
                            "they do not recognise (administrators).")


@blp.route("/summary")
class AccessSummary(MethodView):
    """Access events per clinic and kind."""

    @requires(*ADMIN)
    @blp.arguments(SummaryArgsSchema, location="query")
    @blp.response(200, AccessSummarySchema)
    @blp.alt_response(403, schema=ProblemSchema, description="Administrators only")
    @blp.alt_response(422, schema=ProblemSchema, description="A bad or too long period")
    def get(self, args: dict[str, Any]) -> Any:
        """Count access events per clinic and kind over a period; flag repeated emergency use;
        report events changed after they were written."""
        period = views.Period.of(args.get("since"), args.get("until"), now())
        policy = emergency_flag_policy(current_app.config)
        damaged, shown = views.damaged_events(db.session, data_cipher(), period)
        return {"since": period.since, "until": period.until,
                "damaged_events": damaged, "damaged": shown,
                "items": views.summary(db.session, period),
                "emergency_threshold": policy.threshold,
                "emergency_window_hours": policy.window.total_seconds() // 3600,
                "emergency_flags": views.emergency_flags(db.session, period, policy)}


@blp.route("/reports")
class AccessReportList(MethodView):
    """Members' reports of access-log entries they do not recognise."""

    @requires(*ADMIN)
    @blp.arguments(AccessReportArgsSchema, location="query")
    @blp.response(200, AccessReportPageSchema)
    @blp.alt_response(403, schema=ProblemSchema, description="Administrators only")
    def get(self, args: dict[str, Any]) -> Any:
        """List reports by status and clinic: open first, then investigating, then closed,
        oldest first; each with its events and clinic, never health content."""
        reports = AccessReports(db.session, data_cipher())
        rows, total = reports.search(ReportFilter(args.get("status"), args.get("clinic")),
                                     page=args["page"], per_page=args["per_page"])
        return {"items": [reports.for_admin(r) for r in rows], "total": total,
                "page": args["page"], "per_page": args["per_page"]}


@blp.route("/reports/<int:report_id>")
class AccessReportItem(MethodView):
    """One report."""

    @requires(*ADMIN)
    @blp.response(200, AccessReportSchema)
    @blp.alt_response(403, schema=ProblemSchema, description="Administrators only")
    @blp.alt_response(404, schema=ProblemSchema, description="No such report")
    def get(self, report_id: int) -> Any:
        """Show one report with its events and clinic."""
        reports = AccessReports(db.session, data_cipher())
        return reports.for_admin(reports.get(report_id))

    @requires(*ADMIN)
    @blp.arguments(AccessReportUpdateSchema)
    @blp.response(200, AccessReportSchema)
    @blp.alt_response(403, schema=ProblemSchema, description="Administrators only")
    @blp.alt_response(404, schema=ProblemSchema, description="No such report")
    @blp.alt_response(409, schema=ProblemSchema,
                      description="Closed already, or a move back (closed is final)")
    @blp.alt_response(422, schema=ProblemSchema, description="A bad status, a long note, "
                                                              "closing without a note")
    def patch(self, body: dict[str, Any], report_id: int) -> Any:
        """Move a report on (open → investigating → closed) and/or set the note the member
        reads; every change is audited."""
        reports = AccessReports(db.session, data_cipher())
        note = (body["note"] or "") if "note" in body else None  # "": remove it
        row = reports.update(report_id, status=body.get("status"), note=note, actor=actor())
        return reports.for_admin(row)
