"""A member's own consents (grant, renew, withdraw, list, history, FHIR) and the notices."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Response
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.composition import consent_service
from app.edge.auth import actor, current_member_id, requires_member
from app.edge.problems import ProblemSchema
from app.extensions import db
from app.models import ConsentVersion
from app.schemas.consents import (
    ConsentGrantSchema,
    ConsentHistoryArgsSchema,
    ConsentRenewSchema,
    ConsentSchema,
    ConsentVersionSchema,
    ConsentWithdrawSchema,
    NoticeSchema,
    evidence,
)
from app.services.access import member_accounts
from app.services.errors import ValidationFailed
from app.services.health import consent_fhir
from app.services.health.consent import ConsentState, status_at
from app.services.health.consent_notices import LANGUAGES, NOTICE_VERSIONS, notice

FHIR_JSON = "application/fhir+json"

blp = Blueprint("consents", __name__, url_prefix="/api/v1/me/consents",
                description="A member's own consents to release health-summary sections: "
                            "grant, renew, withdraw, and every version with its evidence.")
notices_blp = Blueprint("consent_notices", __name__, url_prefix="/api/v1/consent-notices",
                        description="The consent notices' exact texts (public).")


#: The service's field names -> the request body's.
_BODY_FIELDS = {"starts_at": "starts", "ends_at": "ends", "notice_sha256": "notice.shown_sha256"}


@contextmanager
def _body_fields(grantee_kind: str = "") -> Iterator[None]:
    """Name the request body's fields (not the service's) in a validation error."""
    try:
        yield
    except ValidationFailed as error:
        value = {"facility-type": "grantee.facility_type",
                 "facility": "grantee.facility_code"}.get(grantee_kind, "grantee")
        for item in error.errors:
            name = item.get("field", "")
            name = value if name == "grantee.value" else _BODY_FIELDS.get(name, name)
            item.update(field=name, pointer="#/" + name.replace(".", "/"))
        raise


def _state(version: ConsentVersion) -> ConsentState:
    """A new version as it stands now."""
    return ConsentState(version, status_at(version, consent_service(actor()).clock()))


@blp.route("")
class Consents(MethodView):
    """The member's consents."""

    @requires_member()
    @blp.arguments(ConsentHistoryArgsSchema, location="query")
    @blp.response(200, ConsentSchema(many=True))
    def get(self, args: dict[str, Any]) -> Any:
        """List the member's consents as they stand now (withdrawn and expired ones only
        with ``include_ended``); nothing is released without one."""
        return consent_service(actor()).current(current_member_id(),
                                                include_ended=args["include_ended"])

    @requires_member()
    @blp.arguments(ConsentGrantSchema)
    @blp.response(201, ConsentSchema)
    @blp.alt_response(422, schema=ProblemSchema,
                      description="Unknown terms or grantee, a period in the past or longer "
                                  "than 12 months, an unknown notice or a wrong hash")
    def post(self, args: dict[str, Any]) -> Any:
        """Grant a consent: one scope, for a grantee and a purpose, for at most 12 months."""
        with _body_fields(args["grantee"].kind):
            version = consent_service(actor()).grant(
                current_member_id(), args["scope"], args["grantee"], args["purpose"],
                evidence(args, actor()), ends_at=args["ends"], starts_at=args.get("starts"))
        return _state(version)


@blp.route("/history")
class History(MethodView):
    """Every version of the member's consents."""

    @requires_member()
    @blp.response(200, ConsentVersionSchema(many=True))
    def get(self) -> Any:
        """Every version of every consent of the member, with its evidence, oldest first."""
        return consent_service(actor()).history(current_member_id())


@blp.route("/fhir")
class Fhir(MethodView):
    """The member's consents as FHIR."""

    @requires_member()
    @blp.doc(responses={"200": {"description": "a FHIR R4 collection Bundle of Consent",
                                "content": {FHIR_JSON: {"schema": {"type": "object"}}}}})
    def get(self) -> Any:
        """Every version of the member's consents as FHIR R4 Consent resources in a
        ``collection`` Bundle."""
        service = consent_service(actor())
        member_number = member_accounts.profile(db.session, current_member_id()).member_number
        resources = consent_fhir.consent_resources(
            service.history(current_member_id()), member_number=member_number,
            now=service.clock())
        bundle = {"resourceType": "Bundle", "type": "collection",
                  "timestamp": service.clock().isoformat(),
                  "entry": [{"fullUrl": f"urn:uuid:consent-{r['id']}-{r['meta']['versionId']}",
                             "resource": r} for r in resources]}
        return Response(json.dumps(bundle, ensure_ascii=False), mimetype=FHIR_JSON,
                        headers={"Cache-Control": "private, no-store"})


@blp.route("/<string:consent_id>/history")
class ConsentHistory(MethodView):
    """Every version of one consent."""

    @requires_member()
    @blp.response(200, ConsentVersionSchema(many=True))
    @blp.alt_response(404, schema=ProblemSchema, description="No such consent of the member")
    def get(self, consent_id: str) -> Any:
        """Every version of one consent, with its evidence, oldest first."""
        return consent_service(actor()).history(current_member_id(), consent_id)


@blp.route("/<string:consent_id>/renew")
class Renew(MethodView):
    """Renewing a consent."""

    @requires_member()
    @blp.arguments(ConsentRenewSchema)
    @blp.response(200, ConsentSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such consent of the member")
    @blp.alt_response(409, schema=ProblemSchema, description="The consent was withdrawn")
    @blp.alt_response(422, schema=ProblemSchema,
                      description="The new end does not extend the period, or is too far")
    def post(self, args: dict[str, Any], consent_id: str) -> Any:
        """Renew a consent to a later end (at most 12 months from now or its start)."""
        with _body_fields():
            version = consent_service(actor()).renew(
                current_member_id(), consent_id, evidence(args, actor()), ends_at=args["ends"])
        return _state(version)


@blp.route("/<string:consent_id>/withdraw")
class Withdraw(MethodView):
    """Withdrawing a consent."""

    @requires_member()
    @blp.arguments(ConsentWithdrawSchema)
    @blp.response(200, ConsentSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such consent of the member")
    @blp.alt_response(409, schema=ProblemSchema, description="Withdrawn already")
    def post(self, args: dict[str, Any], consent_id: str) -> Any:
        """Withdraw a consent: the next release decision denies what it covered."""
        with _body_fields():
            version = consent_service(actor()).withdraw(current_member_id(), consent_id,
                                                        evidence(args, actor()))
        return _state(version)


@notices_blp.route("/<string:version>/<string:language>")
class Notice(MethodView):
    """One consent notice."""

    @notices_blp.doc(parameters=[  # the shipped notices (others: 422)
        {"in": "path", "name": "version", "required": True,
         "schema": {"type": "string", "enum": list(NOTICE_VERSIONS)}},
        {"in": "path", "name": "language", "required": True,
         "schema": {"type": "string", "enum": list(LANGUAGES)}}])
    @notices_blp.response(200, NoticeSchema)
    @notices_blp.alt_response(422, schema=ProblemSchema, description="No such notice")
    def get(self, version: str, language: str) -> Any:
        """The exact text of a consent notice and its SHA-256, to show it and to hash it."""
        return notice(version, language)
