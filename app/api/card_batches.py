"""Card batches: issue cards to a union or province as a job; download its sheets and letters."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from flask import Response, current_app, send_file, url_for
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.composition import batch_settings, card_desk_for, data_cipher, job_launcher
from app.edge.auth import STAFF, current_scope, requires
from app.edge.database import writes
from app.edge.problems import ProblemSchema
from app.extensions import db
from app.models import Job
from app.schemas.card_batches import CardBatchJobSchema, SheetListSchema, StartCardBatchSchema
from app.services.issuing import batches

blp = Blueprint("card_batches", __name__, url_prefix="/api/v1/card-batches",
                description="Batch issuance: cards for every active member without one, "
                            "A4 print sheets and one-time activation letters.")


def _root() -> Path:
    return batch_settings(current_app.config).root


@blp.route("")
class CardBatches(MethodView):
    """Card batches."""

    @requires(*STAFF)
    @blp.arguments(StartCardBatchSchema)
    @blp.response(202, CardBatchJobSchema,
                  description="The batch started (or resumed); follow `Location`",
                  headers={"Location": {"description": "the job", "schema": {"type": "string"}}})
    @blp.alt_response(404, schema=ProblemSchema, description="No such union or province in "
                                                             "your scope")
    @blp.alt_response(409, schema=ProblemSchema, description="The same batch is running")
    @blp.alt_response(422, schema=ProblemSchema, description="Not exactly one of union_code "
                                                             "and province_code")
    def post(self, args: dict[str, Any]) -> Any:
        """Issue cards to every active member of a union or province who has none (a job)."""
        scope = current_scope()
        target = batches.resolve_target(db.session, scope, union_code=args.get("union_code"),
                                        province_code=args.get("province_code"))
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        job, _resumed = batches.start(db.session, scope, target,
                                      settings=batch_settings(app.config),
                                      desks=functools.partial(card_desk_for, app),
                                      launch=job_launcher(app))
        db.session.expire_all()
        return db.session.get(Job, job.id), 202, {"Location": url_for("jobs.JobById",
                                                                      job_id=job.id)}


@blp.route("/<string:job_id>")
class CardBatchById(MethodView):
    """One card batch."""

    @requires(*STAFF)
    @blp.response(200, CardBatchJobSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such batch in your scope")
    def get(self, job_id: str) -> Any:
        """A batch's status, counts, sheets and letters."""
        return batches.batch_job(db.session, current_scope(), job_id)


@blp.route("/<string:job_id>/sheets")
class CardBatchSheets(MethodView):
    """The print sheets of a batch."""

    @requires(*STAFF)
    @blp.response(200, SheetListSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such batch in your scope")
    def get(self, job_id: str) -> Any:
        """List the batch's print-sheet PDFs (once it has finished)."""
        job = batches.batch_job(db.session, current_scope(), job_id)
        items = [{**s, "href": url_for("card_batches.CardBatchSheet", job_id=job.id,
                                       number=s["number"])}
                 for s in job.result.get("sheets", [])]
        return {"job": job, "items": items}


@blp.route("/<string:job_id>/sheets/<int:number>.pdf")
class CardBatchSheet(MethodView):
    """One print sheet."""

    @requires(*STAFF)
    @blp.doc(responses={"200": {
        "description": "A4 PDF: per ten cards a page of fronts, then a page of mirrored backs "
                       "(duplex, long edge)",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}})
    @blp.alt_response(404, schema=ProblemSchema, description="No such sheet in your scope")
    def get(self, job_id: str, number: int) -> Any:
        """Download one print-sheet PDF."""
        job = batches.batch_job(db.session, current_scope(), job_id)
        path = batches.sheet_path(_root(), job, number)
        return send_file(path, mimetype="application/pdf", as_attachment=True,
                         download_name=f"cards-{job.id}-{path.name}")


@blp.route("/<string:job_id>/letters.csv")
class CardBatchLetters(MethodView):
    """The activation letters of a batch (once)."""

    @writes
    @requires(*STAFF)
    @blp.doc(responses={"200": {
        "description": "UTF-8 CSV with BOM: member_number, full_name, union_code, union_name, "
                       "card_serial, activation_code. Deleted after this download.",
        "content": {"text/csv": {"schema": {"type": "string"}}}}})
    @blp.alt_response(404, schema=ProblemSchema, description="No such batch in your scope, "
                                                             "or it has no letters (yet)")
    @blp.alt_response(410, schema=ProblemSchema, description="`letters-gone`: downloaded "
                                                             "already")
    def get(self, job_id: str) -> Any:
        """Download the activation letters once; the file is deleted as it is handed out."""
        scope = current_scope()
        job = batches.batch_job(db.session, scope, job_id)
        text = batches.take_letters(db.session, data_cipher(), _root(), job,
                                    actor=scope.principal.subject)
        return Response(text, mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="letters-{job.id}.csv"',
            "Cache-Control": "no-store"})
