"""Roster imports: upload a CSV/XLSX roster; it runs as a job (dry run or upsert)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import marshmallow as ma
from flask import current_app, request
from flask.views import MethodView
from sqlalchemy.orm import Session

from app.api.blueprint import Blueprint
from app.composition import data_cipher, launch_job
from app.edge.auth import STAFF, current_scope, requires
from app.edge.bodies import accepts
from app.edge.problems import ProblemSchema, field_errors
from app.extensions import db
from app.models import Job
from app.schemas.imports import ImportFormSchema, ImportUploadSchema, JobSchema
from app.services import imports
from app.services.errors import RosterInvalid, ValidationFailed
from app.services.roster import Limits, open_roster
from app.services.scope import Scope

blp = Blueprint("imports", __name__, url_prefix="/api/v1/imports",
                description="Roster imports by union offices (CSV or XLSX; see docs/roster.md).")
#: The request-level bound; the configured file limit (IMPORT_MAX_BYTES) is checked on the file.
UPLOAD_MAX_BYTES = 21 * 1024 * 1024 + 64 * 1024


def _work(scope: Scope, path: Path, limits: Limits) -> Any:
    cipher = data_cipher()

    def work(session: Session, job_id: str) -> None:
        job = session.get(Job, job_id)
        assert job is not None
        try:
            imports.run_job(session, cipher, scope, job, path, limits)
        except RosterInvalid:
            path.unlink(missing_ok=True)
            return
        path.unlink(missing_ok=True)  # the roster holds personal data: keep it no longer

    return work


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
        "or missing columns, size or row limits); nothing is written"))
    def post(self, files: dict[str, Any]) -> Any:
        """Import a roster (or check it with dry_run=true) as a job; re-uploading resumes it."""
        form = _form()
        config = current_app.config
        scope = current_scope()
        limits = imports.limits_from(config)
        upload = files["file"]
        directory = imports.upload_dir(config)
        path, sha256 = imports.save_upload(upload.stream, directory, limits.max_bytes)
        try:
            with open_roster(path, limits) as roster:
                job, _resumed = imports.start_or_resume(
                    db.session, scope, roster, sha256=sha256,
                    file_name=os.path.basename(upload.filename or "roster"),
                    dry_run=form["dry_run"], batch_size=int(config.get("IMPORT_BATCH_SIZE",
                                                                     1000)))
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        stored = directory / job.id
        os.replace(path, stored)
        work = _work(scope, stored, limits)
        launch_job(job.id, work)
        db.session.expire_all()
        return db.session.get(Job, job.id), 202, {"Location": f"/api/v1/jobs/{job.id}"}
