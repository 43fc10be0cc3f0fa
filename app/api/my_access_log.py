"""A member's own access log and notification address."""

from __future__ import annotations

from typing import Any

from flask import Response, after_this_request
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.composition import data_cipher
from app.edge.auth import actor, current_member_id, requires_member
from app.edge.problems import ProblemSchema
from app.extensions import db
from app.schemas.access_events import (
    AccessEventPageSchema,
    AccessLogArgsSchema,
    MyAccessReportListSchema,
    MyAccessReportSchema,
    NewAccessReportSchema,
    NotificationSettingsSchema,
    VisitArgsSchema,
    VisitPageSchema,
)
from app.services.access_events import views
from app.services.access_events.addresses import NotificationAddresses
from app.services.access_events.reports import AccessReports

blp = Blueprint("my_access_log", __name__, url_prefix="/api/v1/me",
                description="A member's own access log (every clinic's verify, pull, denial "
                            "and emergency access, kept at least 3 years) and the e-mail "
                            "address that is told of emergency access.")


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _not_cached() -> None:
    """The answer is the member's own data: no shared or stored copy."""
    after_this_request(_private)


@blp.route("/access-log")
class MyAccessLog(MethodView):
    """The member's access log."""

    @requires_member()
    @blp.arguments(AccessLogArgsSchema, location="query")
    @blp.response(200, AccessEventPageSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """List who accessed the member's card or record, newest first."""
        _not_cached()
        items, total = views.member_events(db.session, data_cipher(), current_member_id(),
                                           page=args["page"], per_page=args["per_page"])
        return {"items": items, "total": total, "page": args["page"],
                "per_page": args["per_page"]}


@blp.route("/access-log/visits")
class MyVisits(MethodView):
    """The member's access log as visits."""

    @requires_member()
    @blp.arguments(VisitArgsSchema, location="query")
    @blp.response(200, VisitPageSchema)
    @blp.alt_response(422, schema=ProblemSchema, description="A bad filter")
    def get(self, args: dict[str, Any]) -> Any:
        """List the member's visits, newest first: each clinic's card check, PIN and record
        opened as one entry with what was actually shown, emergency access flagged, damaged
        entries marked, the member's report of it; by clinic and period."""
        _not_cached()
        member_id = current_member_id()
        where = views.VisitFilter(args.get("clinic"), args.get("since"), args.get("until"))
        items, total = views.member_visits(db.session, data_cipher(), member_id,
                                           page=args["page"], per_page=args["per_page"],
                                           where=where)
        AccessReports(db.session, data_cipher()).attach(member_id, items)
        return {"items": items, "total": total, "page": args["page"],
                "per_page": args["per_page"]}


@blp.route("/access-reports")
class MyAccessReports(MethodView):
    """"I don't recognise this": the member's reports of visits in her log."""

    @requires_member()
    @blp.response(200, MyAccessReportListSchema)
    def get(self) -> Any:
        """List the member's reports and where each stands, newest first."""
        _not_cached()
        reports = AccessReports(db.session, data_cipher())
        return {"items": [reports.for_member(r)
                          for r in reports.of_member(current_member_id())]}

    @requires_member()
    @blp.arguments(NewAccessReportSchema)
    @blp.response(201, MyAccessReportSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such entry in the log")
    @blp.alt_response(409, schema=ProblemSchema, description="The visit is reported already")
    @blp.alt_response(422, schema=ProblemSchema, description="An unknown reason, a long note")
    def post(self, body: dict[str, Any]) -> Any:
        """Report a visit of the log the member does not recognise; the national
        administrator (the data-protection contact) works it: open → investigating → closed."""
        _not_cached()
        reports = AccessReports(db.session, data_cipher())
        row = reports.report(current_member_id(), body["entry_id"], body["reason"],
                             body.get("note"), actor=actor())
        return reports.for_member(row)


@blp.route("/notifications")
class MyNotifications(MethodView):
    """The member's notification address."""

    @requires_member()
    @blp.response(200, NotificationSettingsSchema)
    def get(self) -> Any:
        """Show the e-mail address told of emergency access (null: none)."""
        _not_cached()
        addresses = NotificationAddresses(db.session, data_cipher())
        member_id = current_member_id()
        row = addresses.get(member_id)
        return {"email": addresses.email(member_id),
                "updated_at": row.updated_at if row is not None else None}

    @requires_member()
    @blp.arguments(NotificationSettingsSchema)
    @blp.response(200, NotificationSettingsSchema)
    @blp.alt_response(422, schema=ProblemSchema, description="Not a valid e-mail address")
    def put(self, body: dict[str, Any]) -> Any:
        """Set the e-mail address told of emergency access (null or empty removes it); a
        change is audited (``member.notification-email``, without the address)."""
        addresses = NotificationAddresses(db.session, data_cipher())
        row = addresses.set(current_member_id(), body["email"], actor=actor())
        return {"email": addresses.email(row.member_id) if row is not None else None,
                "updated_at": row.updated_at if row is not None else None}
