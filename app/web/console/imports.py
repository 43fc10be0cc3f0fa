"""Console pages for roster imports and other jobs: the upload form (dry run or import), the
job page with a live progress bar, and the dry run's report as a table and as CSV.

A file refused as a whole (wrong columns, encoding, size) is said on the form itself, with the
columns by name in the page's language. A dry run keeps its file server-side (under the import
directory's ``staged/``, for ``STAGED_SECONDS``) behind a signed token tied to the officer, so
"import this file for real" imports the file already checked without choosing it again."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import (
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, or_, select

from app import clock
from app.composition import data_cipher, import_settings, job_launcher
from app.edge.auth import current_scope
from app.edge.bodies import accepts
from app.edge.database import defers_writes, writes
from app.extensions import db
from app.models import Job, JobStatus, Member
from app.services import jobs
from app.services.csv_out import CsvOut
from app.services.errors import NotFound, RosterInvalid
from app.services.issuing import batches
from app.services.registry import imports
from app.services.registry.roster import TEMPLATE_HEADERS
from app.web import wording
from app.web.console import bp
from app.web.forms import once

#: The request-level bound, as the API's; the configured file limit is checked on the file.
UPLOAD_MAX_BYTES = 21 * 1024 * 1024 + 64 * 1024
#: How many report lines the job page shows (the whole report is a CSV download).
REPORT_LIMIT = 500
#: How long a dry run's file is kept for "import this file for real" (seconds).
STAGED_SECONDS = 3600
#: How many of an import's members the job page lists (the rest by search).
MEMBERS_LIMIT = 20
_TOKEN_SALT = "console.staged-roster"
_MISSING = re.compile(r"^Missing required column\(s\): (?P<columns>.+)\.$", re.DOTALL)
_UNKNOWN = re.compile(r"^Unknown column\(s\): (?P<columns>.+?)\. Accepted headers: ", re.DOTALL)
_NAMED = re.compile(r"\((\w+)\)")
_UNKNOWN_ONE = re.compile(r"^'(?P<header>.*)' \(column (?P<n>\d+)\)$", re.DOTALL)
_UNNAMED_ONE = re.compile(r"^column (?P<n>\d+) has no header$")


def _header(name: str) -> str:
    """A roster column's header as the template has it, in the page's language."""
    vietnamese, english = TEMPLATE_HEADERS[name]
    return english if _language() == "en" else vietnamese


def _language() -> str:
    from app.web.i18n import current_language

    return str(current_language())


def roster_problems(error: RosterInvalid) -> list[str]:
    """What is wrong with a roster file as a whole, in the page's language: the missing and
    unknown columns by name, else the service's own sentence (translated when the catalogs
    know it)."""
    detail = error.detail
    missing = _MISSING.match(detail)
    if missing:
        names = [n for n in _NAMED.findall(missing["columns"]) if n in TEMPLATE_HEADERS]
        return [_("Missing required columns: %(columns)s.",
                  columns=", ".join(_header(n) for n in names))]
    unknown = _UNKNOWN.match(detail)
    if unknown:
        said: list[str] = []
        for part in unknown["columns"].split("; "):
            one, unnamed = _UNKNOWN_ONE.match(part), _UNNAMED_ONE.match(part)
            if one:
                said.append(_("“%(header)s” (column %(n)s)", header=one["header"],
                              n=one["n"]))
            elif unnamed:
                said.append(_("column %(n)s has no header", n=unnamed["n"]))
            else:
                said.append(part)
        accepted = ", ".join(_header(n) for n in TEMPLATE_HEADERS)
        return [_("Unknown columns: %(columns)s.", columns="; ".join(said)),
                _("The accepted headers are: %(headers)s (and STT or Ghi chú, which are "
                  "ignored).", headers=accepted)]
    sentence = wording.message(detail)
    if sentence != detail or _language() == "en":
        return [sentence]
    return [wording.problem(error), detail]


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(str(current_app.config["SECRET_KEY"]), salt=_TOKEN_SALT)


def _staged_dir() -> Path:
    return import_settings(current_app.config).directory / "staged"


def _staged_path(job_id: str) -> Path:
    return _staged_dir() / job_id


def _sweep_staged() -> None:
    """Delete dry-run files kept longer than ``STAGED_SECONDS`` (they hold personal data)."""
    directory = _staged_dir()
    if not directory.is_dir():
        return
    oldest = clock.timestamp() - STAGED_SECONDS
    for path in directory.iterdir():
        try:
            if path.stat().st_mtime < oldest:
                path.unlink(missing_ok=True)
        except OSError:
            continue


def staged_token(job: Job) -> str | None:
    """The token that imports a finished dry run's file for real: only for the officer who
    checked it, while the file is kept; None otherwise."""
    if job.kind != imports.KIND or not job.params.get("dry_run") \
            or job.status is not JobStatus.SUCCEEDED \
            or job.created_by != current_scope().principal.subject:
        return None
    path = _staged_path(job.id)
    try:
        if path.stat().st_mtime < clock.timestamp() - STAGED_SECONDS:
            return None
    except OSError:
        return None
    return str(_serializer().dumps({"job": job.id, "by": job.created_by,
                                    "sha256": job.params.get("sha256")}))


def _form(status: int = 200, problems: list[str] | None = None, dry_run: bool = True) -> Any:
    return render_template("console/import_form.html", problems=problems or [],
                           dry_run=dry_run), status


@bp.get("/imports")
def imports_form() -> Any:
    """Upload a roster (CSV or XLSX), checking it first with a dry run."""
    _sweep_staged()
    return _form()


@bp.post("/imports")
@defers_writes  # the upload is saved and checked before a short transaction of its own
@accepts("multipart/form-data", max_bytes=UPLOAD_MAX_BYTES)
@once  # a form sent twice (a double click, Back and send) starts one job
def start_import() -> Any:
    """Start (or resume) an import job and follow it on the job page; a file refused as a
    whole is said on the form (422), the mode kept. A dry run's file is kept for importing it
    for real (``confirm_import``)."""
    dry_run = request.form.get("dry_run") != "0"
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _form(422, [_("Choose a roster file (CSV or XLSX).")], dry_run)
    settings = import_settings(current_app.config)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    kept: Path | None = None
    try:
        if dry_run:
            _sweep_staged()
            kept, _sha = imports.save_upload(upload.stream, _staged_dir(),
                                             settings.limits.max_bytes)
            with kept.open("rb") as source:
                job, _resumed = imports.start(
                    db.session, current_scope(), source,
                    file_name=os.path.basename(upload.filename), dry_run=True,
                    settings=settings, cipher=data_cipher(), launch=job_launcher(app))
            os.replace(kept, _staged_path(job.id))
            kept = None
        else:
            job, _resumed = imports.start(
                db.session, current_scope(), upload.stream,
                file_name=os.path.basename(upload.filename), dry_run=False,
                settings=settings, cipher=data_cipher(), launch=job_launcher(app))
    except RosterInvalid as invalid:
        return _form(422, roster_problems(invalid), dry_run)
    finally:
        if kept is not None:
            kept.unlink(missing_ok=True)
    return redirect(url_for("console.job", job_id=job.id), code=303)


@bp.post("/imports/confirm")
@defers_writes  # as ``start_import``
@accepts("application/x-www-form-urlencoded")
@once
def confirm_import() -> Any:
    """Import for real the file a finished dry run checked (kept server-side; never sent
    again): the token names the dry run and its officer and expires with the kept file. The
    kept file is used once; its import job is followed on the job page."""
    try:
        claim = _serializer().loads(request.form.get("token", ""), max_age=STAGED_SECONDS)
    except BadSignature:
        claim = None
    scope = current_scope()
    if not isinstance(claim, dict) or claim.get("by") != scope.principal.subject:
        return _form(410, [_("The checked file is no longer kept. Choose it again and "
                             "import it.")], False)
    checked = jobs.get_in_scope(db.session, scope, str(claim.get("job")))
    path = _staged_path(checked.id)
    if not path.is_file() or imports.file_sha256(path) != claim.get("sha256"):
        return _form(410, [_("The checked file is no longer kept. Choose it again and "
                             "import it.")], False)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        with path.open("rb") as source:
            job, _resumed = imports.start(
                db.session, scope, source, file_name=str(checked.params.get("file_name", "")),
                dry_run=False, settings=import_settings(app.config), cipher=data_cipher(),
                launch=job_launcher(app))
    except RosterInvalid as invalid:
        return _form(422, roster_problems(invalid), False)
    path.unlink(missing_ok=True)
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
    token: str | None = None
    members: list[Member] = []
    unions: list[tuple[str, int]] = []
    if found.status is JobStatus.SUCCEEDED:
        if found.kind == imports.KIND:
            report, report_total = imports.issues(db.session, found, limit=REPORT_LIMIT)
            summary = imports.summary_line(found)
            token = staged_token(found)
            if not found.params.get("dry_run"):
                members, unions = _imported(found)
        elif found.kind == batches.KIND:
            summary = batches.summary_line(found)
            sheets = list(found.result.get("sheets", []))
    return render_template("console/job.html", job=found, progress=_progress(found),
                           report=report, report_total=report_total, summary=summary,
                           sheets=sheets, import_kind=imports.KIND, token=token,
                           members=members, unions=unions, members_limit=MEMBERS_LIMIT)


def _imported(job: Job) -> tuple[list[Member], list[tuple[str, int]]]:
    """The members an import created or changed (the register's rows written while the job
    ran, within its scope) — the first ``MEMBERS_LIMIT`` by name — and how many by union."""
    if job.finished_at is None:
        return [], []
    window = (job.created_at - timedelta(seconds=1), job.finished_at + timedelta(seconds=1))
    written = or_(Member.created_at.between(*window), Member.updated_at.between(*window))
    where = [written]
    if job.province_code:
        where.append(Member.province_code == job.province_code)
    if job.union_code:
        where.append(Member.union_code == job.union_code)
    members = list(db.session.scalars(select(Member).where(*where)
                                      .order_by(Member.name_ascii, Member.id)
                                      .limit(MEMBERS_LIMIT)))
    unions = [(str(code), int(count)) for code, count in db.session.execute(
        select(Member.union_code, func.count()).where(*where)
        .group_by(Member.union_code).order_by(Member.union_code))]
    return members, unions


@bp.get("/jobs/<job_id>/report.csv")
def job_report_csv(job_id: str) -> Any:
    """An import job's whole report as CSV, through the service's one CSV writer (UTF-8 with
    a BOM for Excel, formula cells neutralised)."""
    found = jobs.get_in_scope(db.session, current_scope(), job_id)
    if found.kind != imports.KIND:
        raise NotFound("This job has no report.")
    headers = (_("Row"), _("Column"), _("Value"), _("Severity"), _("Reason"))
    severity = {"error": _("error"), "warning": _("warning")}

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = CsvOut(buffer, headers)
        for count, (row, column, value, level, reason) in enumerate(
                imports.report_rows(db.session, found), start=1):
            writer.row((row, column, value, severity.get(level, level), wording.message(reason)))
            if count % 1000 == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(str(found.params.get("file_name") or "roster"))
                  .stem)[:60] or "roster"
    return Response(stream_with_context(generate()), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{stem}-report.csv"'})


@bp.get("/jobs/<job_id>/progress.json")
@writes  # as ``job``
@defers_writes
def job_progress(job_id: str) -> Any:
    """A job's progress for the progress bar's script (polled while the job runs)."""
    response = jsonify(_progress(_job(job_id)))
    response.headers["Cache-Control"] = "no-store"
    return response
