"""Grassroots unions within the officer's scope."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.edge.auth import STAFF, current_scope, requires
from app.edge.problems import ProblemSchema
from app.extensions import db
from app.schemas.unions import (
    CreateUnionSchema,
    UnionPageSchema,
    UnionQueryArgsSchema,
    UnionSchema,
    UpdateUnionSchema,
)
from app.services.registry import unions

blp = Blueprint("unions", __name__, url_prefix="/api/v1/unions",
                description="Grassroots unions (công đoàn cơ sở).")


@blp.route("")
class Unions(MethodView):
    """The unions in your scope."""

    @requires(*STAFF)
    @blp.arguments(UnionQueryArgsSchema, location="query")
    @blp.response(200, UnionPageSchema)
    @blp.alt_response(401, schema=ProblemSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """List unions in your scope."""
        rows, total = unions.list_unions(db.session, current_scope(),
                                         province_code=args.get("province_code"),
                                         q=args.get("q"), page=args["page"],
                                         per_page=args["per_page"])
        return {"items": rows, "total": total, "page": args["page"],
                "per_page": args["per_page"]}

    @requires(*STAFF)
    @blp.arguments(CreateUnionSchema)
    @blp.response(201, UnionSchema)
    @blp.alt_response(409, schema=ProblemSchema, description="The code exists")
    def post(self, args: dict[str, Any]) -> Any:
        """Create a union in a province of your scope."""
        union = unions.create_union(db.session, current_scope(), args)
        return union


@blp.route("/<code>")
class UnionByCode(MethodView):
    """One union."""

    @requires(*STAFF)
    @blp.response(200, UnionSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such union in your scope")
    def get(self, code: str) -> Any:
        """Show a union."""
        return unions.get_union(db.session, current_scope(), code)

    @requires(*STAFF)
    @blp.arguments(UpdateUnionSchema)
    @blp.response(200, UnionSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such union in your scope")
    def patch(self, args: dict[str, Any], code: str) -> Any:
        """Change a union's name, employer or industrial park."""
        union = unions.update_union(db.session, current_scope(), code, args)
        return union
