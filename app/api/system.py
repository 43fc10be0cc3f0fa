"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView

from app import migrate
from app.api.blueprint import Blueprint
from app.edge.problems import PROBLEM_TYPES, ProblemSchema, problem_response
from app.extensions import db
from app.schemas.publication import HealthSchema, ReadinessSchema

blp = Blueprint("system", __name__, url_prefix="/", description="Health probes.")


@blp.route("/healthz")
class Healthz(MethodView):
    """Liveness."""

    @blp.response(200, HealthSchema, description="The process is alive")
    def get(self) -> Any:
        """The process is alive."""
        return {"status": "ok"}


@blp.route("/readyz")
class Readyz(MethodView):
    """Readiness."""

    @blp.response(200, ReadinessSchema, description="Ready to serve")
    @blp.alt_response(503, schema=ProblemSchema, description="Database down or not migrated")
    def get(self) -> Any:
        """The database answers and its schema is at the newest migration."""
        try:
            current, head = migrate.revisions(db.engine_for(current_app))
        except Exception:  # any driver error means "not ready"; details go to the log only
            current_app.logger.exception("readiness check failed")
            return problem_response(PROBLEM_TYPES["service-unavailable"],
                                    "The database is not reachable.")
        if current != head:
            return problem_response(PROBLEM_TYPES["service-unavailable"],
                                    f"The database schema is at {current}, not {head}; "
                                    "run `unioncard db upgrade`.")
        return {"status": "ready", "schema": current}
