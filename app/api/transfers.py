"""Transfers between offices: ask for a member another office holds; accept or reject."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.composition import data_cipher
from app.edge.auth import STAFF, actor, current_scope, requires
from app.edge.problems import ProblemSchema
from app.extensions import db
from app.schemas.transfers import (
    IncomingTransferSchema,
    TransferCreateSchema,
    TransferDecisionSchema,
    TransferSchema,
)
from app.services.registry.transfers import TransferDesk

blp = Blueprint("transfers", __name__, url_prefix="/api/v1/transfers",
                description="Members moving between offices (by request of the new office).")


def desk() -> TransferDesk:
    """The transfer desk, acting for the caller."""
    return TransferDesk(db.session, data_cipher(), actor=actor())


@blp.route("")
class Transfers(MethodView):
    """Requests made by your office."""

    @requires(*STAFF)
    @blp.response(200, TransferSchema(many=True))
    def get(self) -> Any:
        """Your office's requests, newest first."""
        return desk().outgoing(current_scope())

    @requires(*STAFF)
    @blp.arguments(TransferCreateSchema)
    @blp.response(201, TransferSchema)
    @blp.alt_response(409, schema=ProblemSchema,
                      description="Already in your scope, or a request is pending")
    @blp.alt_response(422, schema=ProblemSchema,
                      description="Unknown union, or nobody has this personal ID")
    @blp.alt_response(429, schema=ProblemSchema,
                      description="Too many run-ins with other offices' members this hour")
    def post(self, args: dict[str, Any]) -> Any:
        """Ask the office holding this person to transfer them to one of your unions."""
        transfer = desk().request(current_scope(), args["personal_id"], args["union_code"],
                                  args["reason"])
        return transfer


@blp.route("/incoming")
class IncomingTransfers(MethodView):
    """Pending requests for members your office holds."""

    @requires(*STAFF)
    @blp.response(200, IncomingTransferSchema(many=True))
    def get(self) -> Any:
        """Pending requests for your members, oldest first."""
        return [{"id": t.id, "status": t.status, "to_province_code": t.to_province_code,
                 "to_union_code": t.to_union_code, "reason": t.reason,
                 "created_at": t.created_at, "decided_at": t.decided_at,
                 "decision_reason": t.decision_reason, "member_id": m.id,
                 "member_number": m.member_number, "full_name": m.full_name,
                 "union_code": m.union_code}
                for t, m in desk().incoming(current_scope())]


@blp.route("/<int:transfer_id>/<any(accept, reject):decision>")
class DecideTransfer(MethodView):
    """Answer a request for one of your members."""

    @requires(*STAFF)
    @blp.arguments(TransferDecisionSchema)
    @blp.response(200, TransferSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such request for your members")
    @blp.alt_response(409, schema=ProblemSchema, description="Already decided")
    def post(self, args: dict[str, Any], transfer_id: int, decision: str) -> Any:
        """`accept`: the member moves to the requesting union (a new number in a new province;
        their cards follow them and should be re-issued by the new office). `reject`: they stay."""
        decide = desk().accept if decision == "accept" else desk().reject
        return decide(current_scope(), transfer_id, args["reason"])
