"""A member's own health summary: the stored document, or the IPS FHIR document Bundle."""

from __future__ import annotations

import json
from typing import Any

import marshmallow as ma
from flask import Response, request
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.composition import data_cipher
from app.edge.auth import actor, current_member_id, requires_member, use_sealed_summary
from app.edge.problems import ProblemSchema
from app.extensions import db
from app.services.health import own_summary
from app.services.health.store import HealthStore
from app.services.health.summary import SECTIONS

JSON = "application/json"
FHIR_JSON = "application/fhir+json"

blp = Blueprint("my_health", __name__, url_prefix="/api/v1/me/health-summary",
                description="A member's own health summary, all sections (sensitive entries "
                            "included), as JSON or as an IPS FHIR document Bundle.")


class SummaryArgsSchema(ma.Schema):
    """Which sections to show."""

    section = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(SECTIONS)),
                             load_default=list(SECTIONS),
                             metadata={"description": "repeat to pick several; default all"})


@blp.route("")
class MyHealthSummary(MethodView):
    """The member's health summary."""

    @requires_member(sealed_summary=True)
    @blp.arguments(SummaryArgsSchema, location="query")
    @blp.doc(responses={"200": {
        "description": "the summary document, or with `Accept: application/fhir+json` the "
                       "IPS document Bundle",
        "content": {JSON: {"schema": {"type": "object"}},
                    FHIR_JSON: {"schema": {"type": "object"}}}}})
    @blp.alt_response(404, schema=ProblemSchema, description="No summary is stored yet")
    def get(self, args: dict[str, Any]) -> Any:
        """Show the member's own health summary (all sections, or those of ``section``)."""
        store = HealthStore(db.session, data_cipher(), actor=actor())
        use_sealed_summary(store)  # read with the token: no second statement
        member_id, sections = current_member_id(), args["section"]
        if request.accept_mimetypes.best_match([JSON, FHIR_JSON], JSON) == FHIR_JSON:
            body = json.dumps(own_summary.own_fhir_document(store, member_id, sections),
                              ensure_ascii=False).encode("utf-8")
            mimetype = FHIR_JSON
        else:
            body, mimetype = own_summary.own_document_bytes(store, member_id, sections), JSON
        return Response(body, mimetype=mimetype,
                        headers={"Cache-Control": "private, no-store", "Vary": "Accept"})
