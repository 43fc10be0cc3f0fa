"""Administrators' views: the audit log and the signing keys."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.composition import key_store
from app.edge.auth import ADMIN, requires
from app.edge.problems import ProblemSchema
from app.extensions import db
from app.schemas.admin import AuditPageSchema, AuditQueryArgsSchema, SigningKeySchema
from app.services import audit

blp = Blueprint("admin", __name__, url_prefix="/api/v1",
                description="Audit log and signing keys (administrators).")


@blp.route("/audit")
class AuditLog(MethodView):
    """Who did what, when and why."""

    @requires(*ADMIN)
    @blp.arguments(AuditQueryArgsSchema, location="query")
    @blp.response(200, AuditPageSchema)
    @blp.alt_response(403, schema=ProblemSchema, description="Administrators only")
    def get(self, args: dict[str, Any]) -> Any:
        """Search the audit log (issuance, status changes, key operations, ID reveals)."""
        items, total = audit.search(db.session, **args)
        return {"items": items, "total": total, "page": args["page"],
                "per_page": args["per_page"]}


@blp.route("/keys")
class Keys(MethodView):
    """The signing keys."""

    @requires(*ADMIN)
    @blp.response(200, SigningKeySchema(many=True))
    @blp.alt_response(403, schema=ProblemSchema, description="Administrators only")
    def get(self) -> Any:
        """List every signing key (card keys and the root key) with its status."""
        return key_store(db.session, current_app.config, "api").all_keys()
