"""Console pages for roster imports and other jobs: the upload form (dry run or import), the
job page with a live progress bar, and the dry run's report as a table."""

from __future__ import annotations

import os
from typing import Any

from flask import current_app, jsonify, redirect, render_template, request, url_for

from app.composition import data_cipher, import_settings, job_launcher
from app.edge.auth import current_scope
from app.edge.bodies import accepts
from app.edge.database import defers_writes, writes
from app.extensions import db
from app.models import Job, JobStatus
from app.services import jobs
from app.services.errors import ValidationFailed
from app.services.issuing import batches
from app.services.registry import imports
from app.web.console import bp

#: The request-level bound, as the API's; the configured file limit is checked on the file.
UPLOAD_MAX_BYTES = 21 * 1024 * 1024 + 64 * 1024
#: How many report lines the job page shows (the whole report is a CSV download).
REPORT_LIMIT = 500


@bp.get("/imports")
def imports_form() -> Any:
    """Upload a roster (CSV or XLSX), checking it first with a dry run."""
    return render_template("console/import_form.html")


@bp.post("/imports")
@defers_writes  # the upload is saved and checked before a short transaction of its own
@accepts("multipart/form-data", max_bytes=UPLOAD_MAX_BYTES)
def start_import() -> Any:
    """Start (or resume) an import job and follow it on the job page."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise ValidationFailed("Choose a roster file (CSV or XLSX).")
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    job, _resumed = imports.start(
        db.session, current_scope(), upload.stream,
        file_name=os.path.basename(upload.filename), dry_run=request.form.get("dry_run") == "1",
        settings=import_settings(app.config), cipher=data_cipher(), launch=job_launcher(app))
    return redirect(url_for("console.job", job_id=job.id), code=303)


def _job(job_id: str) -> Job:
    job = jobs.get_in_scope(db.session, current_scope(), job_id)
    if jobs.settle_if_dead(db.session, job):
        imports.remove_upload(import_settings(current_app.config).directory, job)
    return job


def _progress(job: Job) -> dict[str, Any]:
    counts = job.counts or {}
    total = int(counts.get("total", 0) or 0)
    done = int(counts.get("processed", 0) or 0)
    finished = job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED)
    return {"status": job.status.value, "processed": done, "total": max(total, done),
            "finished": finished,
            "percent": 100 if finished and job.status is JobStatus.SUCCEEDED
            else (round(100 * done / total) if total else 0)}


@bp.get("/jobs/<job_id>")
@writes  # a job whose runner died is settled (``jobs.settle_if_dead``) in its own commit
@defers_writes
def job(job_id: str) -> Any:
    """A job's page: progress while it runs; a dry run's or import's report, or a batch's
    print sheets, when it has finished."""
    found = _job(job_id)
    report: list[Any] = []
    report_total, summary, sheets = 0, "", []
    if found.status is JobStatus.SUCCEEDED:
        if found.kind == imports.KIND:
            report, report_total = imports.issues(db.session, found, limit=REPORT_LIMIT)
            summary = imports.summary_line(found)
        elif found.kind == batches.KIND:
            summary = batches.summary_line(found)
            sheets = list(found.result.get("sheets", []))
    return render_template("console/job.html", job=found, progress=_progress(found),
                           report=report, report_total=report_total, summary=summary,
                           sheets=sheets, import_kind=imports.KIND)


@bp.get("/jobs/<job_id>/progress.json")
@writes  # as ``job``
@defers_writes
def job_progress(job_id: str) -> Any:
    """A job's progress for the progress bar's script (polled while the job runs)."""
    response = jsonify(_progress(_job(job_id)))
    response.headers["Cache-Control"] = "no-store"
    return response
