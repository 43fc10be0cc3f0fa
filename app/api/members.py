"""Members within the officer's scope: register, search, update, status, personal-ID reveal."""

from __future__ import annotations

from typing import Any

from flask import current_app, url_for
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.composition import data_cipher, job_launcher, on_summary_changed_for, pull_settings
from app.edge.auth import STAFF, actor, current_scope, requires
from app.edge.problems import ProblemSchema
from app.extensions import db
from app.models import MemberStatus
from app.schemas.members import (
    CreateMemberSchema,
    HealthCoverageSchema,
    HealthLinkSchema,
    MemberPageSchema,
    MemberQueryArgsSchema,
    MemberSchema,
    MemberStatusSchema,
    MemberWithWarningsSchema,
    PersonalIdSchema,
    RevealSchema,
    UpdateMemberSchema,
)
from app.services.health import pull
from app.services.health.store import Coverage, HealthStore
from app.services.registry.members import MemberRegistry, SearchFilters

blp = Blueprint("members", __name__, url_prefix="/api/v1/members",
                description="Union members (đoàn viên) in your scope.")


def registry() -> MemberRegistry:
    """The register, acting for the caller."""
    return MemberRegistry(db.session, data_cipher(), actor=actor())


def health_store() -> HealthStore:
    """The health store, acting for the caller (its views show coverage, never content)."""
    return HealthStore(db.session, data_cipher(), actor=actor())


def _coverage(coverage: Coverage, job: Any = None) -> dict[str, Any]:
    """Coverage as officers see it, with the job pulling the record when this link started
    one."""
    shown: dict[str, Any] = {"linked": coverage.linked, "updated_at": coverage.updated_at}
    if job is not None:
        shown["pull_job"] = url_for("jobs.JobById", job_id=job.id)
    return shown


def _pull_state() -> str:
    """Whether linking pulls the record (``on-link``) or no FHIR server is configured."""
    return "on-link" if pull_settings(current_app.config).configured else "not-configured"


def _with_warnings(member: Any, warnings: list[Any]) -> Any:
    member.warnings = [{"field": w.field, "message": w.message} for w in warnings]
    return member


@blp.route("")
class Members(MethodView):
    """The members in your scope."""

    @requires(*STAFF)
    @blp.arguments(MemberQueryArgsSchema, location="query")
    @blp.response(200, MemberPageSchema)
    @blp.alt_response(401, schema=ProblemSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Search members by name prefix (ignoring case and diacritics), number, ID, union."""
        filters = SearchFilters(**args)
        rows, total, exact = registry().search(current_scope(), filters)
        return {"items": rows, "total": total, "total_exact": exact, "page": filters.page,
                "per_page": filters.per_page}

    @requires(*STAFF)
    @blp.arguments(CreateMemberSchema)
    @blp.response(201, MemberWithWarningsSchema)
    @blp.alt_response(409, schema=ProblemSchema,
                      description="The personal ID is registered (`existing_member` points to it)")
    @blp.alt_response(422, schema=ProblemSchema, description="Invalid fields")
    def post(self, args: dict[str, Any]) -> Any:
        """Register a member."""
        member, warnings = registry().create(current_scope(), args)
        return _with_warnings(member, warnings)


@blp.route("/<int:member_id>")
class MemberById(MethodView):
    """One member."""

    @requires(*STAFF)
    @blp.response(200, MemberSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such member in your scope")
    def get(self, member_id: int) -> Any:
        """Show a member (personal ID masked; of the health record only its coverage)."""
        member: Any = registry().get(current_scope(), member_id)
        member.health_record = health_store().coverage(member.id)
        member.health_pull = _pull_state()
        return member

    @requires(*STAFF)
    @blp.arguments(UpdateMemberSchema)
    @blp.response(200, MemberWithWarningsSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such member in your scope")
    @blp.alt_response(409, schema=ProblemSchema, description="Duplicate personal ID or number")
    def patch(self, args: dict[str, Any], member_id: int) -> Any:
        """Change a member's details."""
        member, warnings = registry().update(current_scope(), member_id, args)
        return _with_warnings(member, warnings)


@blp.route("/<int:member_id>/status")
class MemberStatusView(MethodView):
    """A member's status."""

    @requires(*STAFF)
    @blp.arguments(MemberStatusSchema)
    @blp.response(200, MemberSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such member in your scope")
    @blp.alt_response(409, schema=ProblemSchema, description="Already in that status")
    def put(self, args: dict[str, Any], member_id: int) -> Any:
        """Set a member active, suspended or left (their cards follow)."""
        member = registry().change_status(current_scope(), member_id,
                                          MemberStatus(args["status"]), args["reason"])
        return member


@blp.route("/<int:member_id>/personal-id")
class MemberPersonalId(MethodView):
    """The full personal ID, for the member's own officers; every reveal is logged."""

    @requires("officer")
    @blp.arguments(RevealSchema)
    @blp.response(200, PersonalIdSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such member in your scope")
    def post(self, args: dict[str, Any], member_id: int) -> Any:
        """Reveal the member's full personal ID (logged in the audit log)."""
        value = registry().reveal_personal_id(current_scope(), member_id, args["reason"])
        return {"personal_id": value}


@blp.route("/<int:member_id>/health-link")
class MemberHealthLink(MethodView):
    """The member's link to their health record (officers see coverage, never content)."""

    @requires(*STAFF)
    @blp.arguments(HealthLinkSchema)
    @blp.response(200, HealthCoverageSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such member in your scope")
    @blp.alt_response(409, schema=ProblemSchema,
                      description="The health ID is linked to another member")
    @blp.alt_response(422, schema=ProblemSchema, description="Not a 10-digit health ID")
    def put(self, args: dict[str, Any], member_id: int) -> Any:
        """Link the member to their social-insurance / health ID (mã số BHXH); a new link
        starts a job pulling their summary from the configured FHIR server (`pull_job`, also
        in `Location`); without a server nothing is pulled (the member's `health_pull` says
        `not-configured`)."""
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        started: list[Any] = []

        def request_pull(linked_id: int, _health_id: str) -> None:
            member = registry().get(current_scope(), linked_id)
            started.append(pull.start(db.session, member, actor=actor(),
                                      settings=pull_settings(app.config),
                                      cipher=data_cipher(), launch=job_launcher(app),
                                      on_summary_changed=on_summary_changed_for(
                                          app, pull.PULL_ACTOR)))

        store = HealthStore(db.session, data_cipher(), actor=actor(), request_pull=request_pull)
        store.link(current_scope(), member_id, args["health_id"])
        job = started[0] if started else None
        shown = _coverage(store.coverage(member_id), job)
        return (shown, 200, {"Location": shown["pull_job"]}) if job is not None else shown

    @requires(*STAFF)
    @blp.response(204)
    @blp.alt_response(404, schema=ProblemSchema,
                      description="No such member in your scope, or not linked")
    def delete(self, member_id: int) -> None:
        """Unlink the member; the record that came through the link is deleted."""
        health_store().unlink(current_scope(), member_id)
