"""A member's own access log and notification address."""

from __future__ import annotations

from typing import Any

from flask import Response, after_this_request
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.composition import data_cipher
from app.edge.auth import current_member_id, requires_member
from app.edge.problems import ProblemSchema
from app.extensions import db
from app.schemas.access_events import (
    AccessEventPageSchema,
    AccessLogArgsSchema,
    NotificationSettingsSchema,
)
from app.services.access_events import views
from app.services.access_events.addresses import NotificationAddresses

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
        """Set the e-mail address told of emergency access (null or empty removes it)."""
        addresses = NotificationAddresses(db.session, data_cipher())
        row = addresses.set(current_member_id(), body["email"])
        return {"email": addresses.email(row.member_id) if row is not None else None,
                "updated_at": row.updated_at if row is not None else None}
