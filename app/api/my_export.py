"""A member's right of access: everything held about them, as JSON or a FHIR Bundle."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.composition import data_cipher
from app.edge.auth import current_member_id, requires_member
from app.edge.problems import ProblemSchema
from app.extensions import db, limiter
from app.services.access.export import MemberExport
from app.services.errors import DomainError

JSON = "application/json"
FHIR_JSON = "application/fhir+json"

blp = Blueprint("my_export", __name__, url_prefix="/api/v1/me/export",
                description="A member's right of access: a full export of everything held "
                            "about them (register record, union, cards, account, health "
                            "summary with provenance, consents with evidence).")


def _export_limit() -> str:
    return str(current_app.config["EXPORT_RATE_LIMIT"])


def _export_key() -> str:
    """Rate-limit exports per member."""
    return f"export-member|{current_member_id()}"


def _not_a_member() -> bool:
    """A caller who is not a member with a valid token is not counted: the view refuses them
    (401 or 403) whatever the exports of others, never 429 before 401."""
    try:
        current_member_id()
    except DomainError:
        return True
    return False


@blp.route("")
class MyExport(MethodView):
    """The member's export."""

    decorators = [limiter.limit(_export_limit, key_func=_export_key, methods=["GET", "HEAD"],
                                exempt_when=_not_a_member)]

    @requires_member()
    @blp.doc(responses={"200": {
        "description": "the export document, or with `Accept: application/fhir+json` a FHIR "
                       "R4 collection Bundle (Patient, Organization, the IPS resources with "
                       "Provenance, Consent)",
        "content": {JSON: {"schema": {"type": "object"}},
                    FHIR_JSON: {"schema": {"type": "object"}}}}})
    @blp.alt_response(429, schema=ProblemSchema, description="Too many exports in a while")
    def get(self) -> Any:
        """Download everything held about you (right of access), as JSON or FHIR."""
        export = MemberExport(db.session, data_cipher())
        if request.accept_mimetypes.best_match([JSON, FHIR_JSON], JSON) == FHIR_JSON:
            body, mimetype = export.fhir_bundle(current_member_id()), FHIR_JSON
        else:
            body, mimetype = export.document(current_member_id()), JSON
        return Response(json.dumps(body, ensure_ascii=False), mimetype=mimetype, headers={
            "Cache-Control": "private, no-store", "Vary": "Accept, Authorization",
            "Content-Disposition": 'attachment; filename="unioncard-export.json"'})
