"""Schemas of roster imports and jobs."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import url_for
from flask_smorest.fields import Upload


class ImportUploadSchema(ma.Schema):
    """A roster upload: multipart/form-data with the part ``file`` and the field ``dry_run``."""

    file = Upload(required=True, metadata={
        "description": "The roster: CSV (UTF-8, UTF-8 with BOM, or UTF-16 with BOM; comma, "
                       "semicolon or tab) or XLSX; see docs/roster.md for the columns."})
    dry_run = ma.fields.Boolean(load_default=False, metadata={
        "description": "true: validate every row and build the report, writing no member."})


class ImportFormSchema(ma.Schema):
    """The form fields of a roster upload (parsed from the same multipart body)."""

    dry_run = ma.fields.Boolean(load_default=False)


def _links(job: Any) -> dict[str, str]:
    links = {"self": url_for("jobs.JobById", job_id=job.id)}
    if job.kind == "roster-import":
        links.update(report=url_for("jobs.JobReport", job_id=job.id),
                     report_csv=url_for("jobs.JobReportCsv", job_id=job.id))
    return links



class JobSchema(ma.Schema):
    """A long-running job and its progress."""

    id = ma.fields.String(dump_only=True)
    kind = ma.fields.String(dump_only=True, metadata={"description": "e.g. roster-import"})
    status = ma.fields.Function(lambda j: j.status.value, dump_only=True, metadata={
        "description": "queued, running, succeeded or failed"})
    dry_run = ma.fields.Function(lambda j: bool(j.params.get("dry_run")), dump_only=True)
    file_name = ma.fields.Function(lambda j: j.params.get("file_name"), dump_only=True)
    checkpoint = ma.fields.Integer(dump_only=True, metadata={
        "description": "rows committed (a rerun resumes after them)"})
    counts = ma.fields.Function(lambda j: dict(j.counts), dump_only=True,
                                metadata={"description": "rows or members by outcome, e.g. total, processed, created, updated, unchanged, errors, warnings for a roster import"})
    summary = ma.fields.Function(lambda j: j.result.get("summary", ""), dump_only=True)
    error = ma.fields.String(dump_only=True, metadata={"description": "why a job failed"})
    created_at = ma.fields.DateTime(dump_only=True)
    updated_at = ma.fields.DateTime(dump_only=True)
    finished_at = ma.fields.DateTime(dump_only=True, allow_none=True)
    links = ma.fields.Function(_links, dump_only=True)


class ReportArgsSchema(ma.Schema):
    """Paging of a report."""

    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=1_000_000))
    per_page = ma.fields.Integer(load_default=500, validate=ma.validate.Range(min=1, max=5000))


class IssueSchema(ma.Schema):
    """One finding about one row of the file."""

    row = ma.fields.Integer(attribute="row_number", metadata={
        "description": "the row number as in the file (the header is row 1)"})
    column = ma.fields.String(attribute="column_name", metadata={
        "description": "the column header as written in the file ('' for the whole row)"})
    field = ma.fields.String(metadata={"description": "the member field (full_name, ...)"})
    value = ma.fields.String(metadata={
        "description": "the cell as written; personal IDs masked but for the last 4 digits"})
    severity = ma.fields.String(metadata={"description": "error (row skipped) or warning"})
    reason = ma.fields.String()


class ReportSchema(ma.Schema):
    """The report of an import job: counts and the findings, in file order."""

    job = ma.fields.Nested(JobSchema)
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
    total = ma.fields.Integer(metadata={"description": "findings in the whole report"})
    items = ma.fields.List(ma.fields.Nested(IssueSchema))
