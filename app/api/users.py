"""Staff accounts: administrators manage them; officers see the accounts in their scope."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.edge.auth import ADMIN, STAFF, actor, current_scope, requires
from app.edge.problems import ProblemSchema
from app.extensions import db
from app.models import Role
from app.schemas.users import AccountChangeSchema, CreateUserSchema, UserSchema
from app.services.access import accounts

blp = Blueprint("users", __name__, url_prefix="/api/v1/users",
                description="Staff accounts (administrators and union officers).")


@blp.route("")
class Users(MethodView):
    """The staff accounts."""

    @requires(*STAFF)
    @blp.response(200, UserSchema(many=True))
    @blp.alt_response(401, schema=ProblemSchema)
    def get(self) -> Any:
        """List the staff accounts in your scope."""
        return accounts.list_users(db.session, current_scope())

    @requires(*ADMIN)
    @blp.arguments(CreateUserSchema)
    @blp.response(201, UserSchema)
    @blp.alt_response(403, schema=ProblemSchema, description="Only administrators")
    @blp.alt_response(409, schema=ProblemSchema, description="Username taken")
    def post(self, args: dict[str, Any]) -> Any:
        """Create a staff account (administrators only)."""
        user = accounts.create_user(db.session, username=args["username"],
                                    password=args["password"], role=Role(args["role"]),
                                    province_code=args["province_code"],
                                    union_code=args["union_code"], full_name=args["full_name"])
        return user


@blp.route("/<int:user_id>")
class UserById(MethodView):
    """One staff account."""

    @requires(*STAFF)
    @blp.response(200, UserSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such account in your scope")
    def get(self, user_id: int) -> Any:
        """Show one staff account."""
        return accounts.get_user(db.session, current_scope(), user_id)


@blp.route("/<int:user_id>/disable")
class DisableUser(MethodView):
    """Disabling an account."""

    @requires(*ADMIN)
    @blp.arguments(AccountChangeSchema)
    @blp.response(200, UserSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such account")
    def post(self, args: dict[str, Any], user_id: int) -> Any:
        """Disable an account and revoke all its tokens at once (administrators; audited)."""
        user = accounts.get_user(db.session, current_scope(), user_id)
        return accounts.disable_user(db.session, user, actor=actor(), reason=args["reason"])


@blp.route("/<int:user_id>/enable")
class EnableUser(MethodView):
    """Enabling a disabled account."""

    @requires(*ADMIN)
    @blp.arguments(AccountChangeSchema)
    @blp.response(200, UserSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such account")
    def post(self, args: dict[str, Any], user_id: int) -> Any:
        """Let a disabled account log in again; its old tokens stay revoked (administrators;
        audited)."""
        user = accounts.get_user(db.session, current_scope(), user_id)
        return accounts.enable_user(db.session, user, actor=actor(), reason=args["reason"])
