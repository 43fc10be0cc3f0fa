"""Administrators' view of the access log: the aggregate by clinic and kind, and clinics
flagged for repeated emergency access (never a member, never health content)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.clock import now
from app.composition import data_cipher, emergency_flag_policy
from app.edge.auth import ADMIN, requires
from app.edge.problems import ProblemSchema
from app.extensions import db
from app.schemas.access_events import AccessSummarySchema, SummaryArgsSchema
from app.services.access_events import views

blp = Blueprint("access_events", __name__, url_prefix="/api/v1/admin/access-events",
                description="The access log in aggregate (administrators).")


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
