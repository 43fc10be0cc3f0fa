"""Long-running jobs (roster imports, later batch issuance): status, counts and reports."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from flask import Response, stream_with_context
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.edge.auth import STAFF, current_scope, requires
from app.edge.database import defers_writes, writes
from app.edge.problems import ProblemSchema
from app.extensions import db
from app.models import Job
from app.schemas.imports import JobSchema, ReportArgsSchema, ReportSchema
from app.services import jobs
from app.services.csv_out import CsvOut
from app.services.errors import NotFound
from app.services.registry import imports

blp = Blueprint("jobs", __name__, url_prefix="/api/v1/jobs",
                description="Long-running jobs: progress, counts and reports.")


def _job(job_id: str) -> Job:
    return jobs.get_in_scope(db.session, current_scope(), job_id)


def _import_job(job_id: str) -> Job:
    job = _job(job_id)
    if job.kind != imports.KIND:
        raise NotFound("This job has no report.")
    return job


@blp.route("/<string:job_id>")
class JobById(MethodView):
    """One job."""

    @writes  # a job whose runner died is settled (``jobs.settle_if_dead``) in its own commit
    @defers_writes
    @requires(*STAFF)
    @blp.response(200, JobSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such job in your scope")
    def get(self, job_id: str) -> Any:
        """Show a job's status, checkpoint and counts (a job whose runner stopped is shown
        failed: interrupted, until a worker puts it back on the queue and resumes it)."""
        job = _job(job_id)
        jobs.settle_if_dead(db.session, job)  # its upload stays: a worker resumes the job
        return job


@blp.route("/<string:job_id>/report")
class JobReport(MethodView):
    """The report of an import job."""

    @requires(*STAFF)
    @blp.arguments(ReportArgsSchema, location="query")
    @blp.response(200, ReportSchema)
    @blp.alt_response(404, schema=ProblemSchema, description="No such import job in your scope")
    def get(self, args: dict[str, Any], job_id: str) -> Any:
        """The row errors and warnings of an import job, in file order (paged)."""
        job = _import_job(job_id)
        page, per_page = args["page"], args["per_page"]
        items, total = imports.issues(db.session, job, offset=(page - 1) * per_page,
                                      limit=per_page)
        return {"job": job, "page": page, "per_page": per_page, "total": total,
                "items": items}


@blp.route("/<string:job_id>/report.csv")
class JobReportCsv(MethodView):
    """The report of an import job as CSV."""

    @requires(*STAFF)
    @blp.doc(responses={"200": {
        "description": "UTF-8 CSV with BOM: row, column, value, severity, reason",
        "content": {"text/csv": {"schema": {"type": "string"}}}}})
    @blp.alt_response(404, schema=ProblemSchema, description="No such import job in your scope")
    def get(self, job_id: str) -> Any:
        """The whole report as CSV (opens in Excel with Vietnamese text intact)."""
        job = _import_job(job_id)

        def generate() -> Iterator[str]:
            buffer = io.StringIO()
            writer = CsvOut(buffer, imports.REPORT_COLUMNS)
            for count, line in enumerate(imports.report_rows(db.session, job), start=1):
                writer.row(line)
                if count % 1000 == 0:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
            yield buffer.getvalue()

        return Response(stream_with_context(generate()), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="import-{job.id}-report.csv"'})
