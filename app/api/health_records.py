"""The feed push: health-record feeds send members' FHIR R4 summaries (one Bundle, or a
``batch`` Bundle of them), found by the health ID on the Bundle's Patient."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.composition import data_cipher, on_summary_changed_for
from app.edge.auth import current_principal, requires_feed
from app.edge.bodies import MAX_JSON_DEPTH, accepts, json_depth
from app.edge.database import defers_writes
from app.edge.problems import ProblemSchema, error_problem
from app.extensions import db
from app.schemas.health_feeds import BatchResultSchema, PushResultSchema
from app.services.errors import BodyTooLarge, FhirInvalid
from app.services.health import push as p
from app.services.health.feeds import FeedClients

blp = Blueprint("health_records", __name__, url_prefix="/api/v1/health-records",
                description="The feed push: FHIR R4 summaries from health-record feeds "
                            "(`application/fhir+json`; a feed client's token).")
FHIR_JSON = "application/fhir+json"


def _body(setting: str) -> Any:
    """The request body as JSON, within the size limit ``setting`` and the nesting bound.

    Raises:
        BodyTooLarge: larger than the limit. FhirInvalid: not JSON, or nested too deeply.
    """
    limit = int(current_app.config[setting])
    too_large = BodyTooLarge(f"The body is larger than {limit} bytes; nothing was changed.")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    raw = request.get_data(cache=False)
    if len(raw) > limit:
        raise too_large
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise FhirInvalid("The body is nested too deeply.", errors=[{
            "location": "fhir", "field": "Bundle", "pointer": "#/",
            "detail": f"Arrays and objects nest deeper than {MAX_JSON_DEPTH} levels."}])
    return p.load_json(raw)


def feed_push() -> p.FeedPush:
    """The push service of the calling feed client."""
    principal = current_principal()
    assert principal is not None
    feed = FeedClients(db.session, data_cipher(), actor="").get(principal.id)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return p.FeedPush(db.session, data_cipher(), feed, on_summary_changed=on_summary_changed_for(
        app, f"feed:{feed.id}")(db.session))


def _item(outcome: p.Outcome) -> dict[str, Any]:
    item: dict[str, Any] = {"index": outcome.index, "status": outcome.status,
                            "bundle_id": outcome.bundle_id, "entries": outcome.entries,
                            "notes": list(outcome.notes)}
    if outcome.error is not None:
        problem = error_problem(type(outcome.error)).problem
        item["problem"] = {"type": problem.uri, "status": problem.status,
                           "detail": outcome.error.detail, "errors": outcome.error.errors}
    return item


def _fhir_body(types: list[str], description: str) -> dict[str, Any]:
    """The OpenAPI request body of a FHIR R4 Bundle of one of ``types`` (the rest of the
    Bundle is checked by the service: ``fhir-invalid``)."""
    return {"required": True, "description": description, "content": {FHIR_JSON: {"schema": {
        "type": "object", "required": ["resourceType", "type"],
        "properties": {"resourceType": {"type": "string", "enum": ["Bundle"]},
                       "type": {"type": "string", "enum": types},
                       "entry": {"type": "array", "items": {"type": "object"}}}}}}}


@blp.route("")
class HealthRecords(MethodView):
    """A member's summary, pushed."""

    @defers_writes  # validated and mapped first, then stored in one short write
    @accepts(FHIR_JSON)
    @requires_feed
    @blp.doc(requestBody=_fhir_body(["document", "collection"], "a member's IPS-shaped Bundle"))
    @blp.response(200, PushResultSchema)
    @blp.alt_response(404, schema=ProblemSchema, description=(
        "No member with the Patient's health ID is linked in a province this feed serves"))
    @blp.alt_response(413, schema=ProblemSchema, description="`bundle-too-large`")
    @blp.alt_response(415, schema=ProblemSchema, description="Not application/fhir+json")
    @blp.alt_response(422, schema=ProblemSchema, description=(
        "`fhir-invalid`: the Bundle is rejected as a whole, each problem with its FHIR path; "
        "nothing was changed"))
    def post(self) -> Any:
        """Push one member's IPS-shaped FHIR R4 Bundle (`document` or `collection`); the
        member is the one linked to the health ID (mã số BHXH) on its Patient. The same
        content again is `unchanged`."""
        outcome = feed_push().push(_body("HEALTH_FEED_MAX_BYTES"))
        return {"status": outcome.status, "bundle_id": outcome.bundle_id,
                "entries": outcome.entries, "notes": list(outcome.notes)}


@blp.route("/$batch")
class HealthRecordsBatch(MethodView):
    """Many members' summaries at once."""

    @defers_writes
    @accepts(FHIR_JSON)
    @requires_feed
    @blp.doc(requestBody=_fhir_body(["batch"], "a batch Bundle of members' Bundles"))
    @blp.response(200, BatchResultSchema)
    @blp.alt_response(413, schema=ProblemSchema, description="`bundle-too-large`")
    @blp.alt_response(415, schema=ProblemSchema, description="Not application/fhir+json")
    @blp.alt_response(422, schema=ProblemSchema, description=(
        "`fhir-invalid`: not a `batch` Bundle, or too many entries"))
    def post(self) -> Any:
        """Push a FHIR `batch` Bundle whose entries' resources are members' Bundles (each
        entry's `request` is `POST health-records`). Every Bundle is checked on its own; the
        valid ones are stored together; the answer has one item per entry, in order."""
        bundles = p.batch_items(_body("HEALTH_FEED_BATCH_MAX_BYTES"),
                                int(current_app.config["HEALTH_FEED_BATCH_MAX_ITEMS"]))
        outcomes = feed_push().push_batch(bundles)
        counts = {status: 0 for status in (p.STORED, p.UNCHANGED, p.REJECTED)}
        for outcome in outcomes:
            counts[outcome.status] += 1
        return {"counts": counts, "items": [_item(o) for o in outcomes]}
