"""Roster imports: upload a CSV/XLSX roster; it runs as a job (dry run or upsert)."""

from __future__ import annotations

import os
from typing import Any

import marshmallow as ma
from flask import current_app, request, url_for
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.composition import data_cipher, import_settings, job_launcher
from app.edge.auth import STAFF, current_scope, requires
from app.edge.bodies import accepts
from app.edge.database import defers_writes
from app.edge.problems import ProblemSchema, field_errors
from app.extensions import db
from app.models import Job
from app.schemas.imports import ImportFormSchema, ImportUploadSchema, JobSchema
from app.services.errors import ValidationFailed
from app.services.registry import imports

blp = Blueprint("imports", __name__, url_prefix="/api/v1/imports",
                description="Roster imports by union offices (CSV or XLSX; see docs/roster.md).")
#: The request-level bound; the configured file limit (IMPORT_MAX_BYTES) is checked on the file.
UPLOAD_MAX_BYTES = 21 * 1024 * 1024 + 64 * 1024


def _form() -> dict[str, Any]:
    """The multipart form fields (flask-smorest documents one multipart schema per body).

    Raises:
        ValidationFailed: an invalid ``dry_run``.
    """
    try:
        return dict(ImportFormSchema().load(
            {k: v for k, v in request.form.items() if k in ("dry_run",)}))
    except ma.ValidationError as exc:
        raise ValidationFailed("Invalid form fields.", errors=field_errors(
            {"form": exc.messages})) from None


@blp.route("")
class Imports(MethodView):
    """Roster imports."""

    @defers_writes  # the upload is saved and checked before a short transaction of its own
    @accepts("multipart/form-data", max_bytes=UPLOAD_MAX_BYTES)
    @requires(*STAFF)
    @blp.arguments(ImportUploadSchema, location="files", content_type="multipart/form-data")
    @blp.response(202, JobSchema, description="The job started (or resumed); follow `Location`",
                  headers={"Location": {"description": "the job", "schema": {"type": "string"}}})
    @blp.alt_response(409, schema=ProblemSchema,
                      description="The same import is already running")
    @blp.alt_response(413, schema=ProblemSchema, description="The body is too large")
    @blp.alt_response(415, schema=ProblemSchema, description="Not multipart/form-data")
    @blp.alt_response(422, schema=ProblemSchema, description=(
        "`roster-invalid`: the file as a whole is rejected (not CSV/XLSX, encoding, unknown "
        "or missing columns, size, row, shared-string or time limits); nothing is written. The "
        "file is checked before any database transaction; a limit found only while the rows "
        "are read fails the job instead (see GET /api/v1/jobs/{id})"))
    @blp.alt_response(503, schema=ProblemSchema, description=(
        "`database-busy`: the database stayed busy with other writes; retry after "
        "`Retry-After` seconds"))
    def post(self, files: dict[str, Any]) -> Any:
        """Import a roster (or check it with dry_run=true) as a job; re-uploading resumes it."""
        form = _form()
        upload = files["file"]
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        job, _resumed = imports.start(
            db.session, current_scope(), upload.stream,
            file_name=os.path.basename(upload.filename or "roster"), dry_run=form["dry_run"],
            settings=import_settings(app.config), cipher=data_cipher(),
            launch=job_launcher(app))
        db.session.expire_all()
        return db.session.get(Job, job.id), 202, {"Location": url_for("jobs.JobById",
                                                                      job_id=job.id)}
