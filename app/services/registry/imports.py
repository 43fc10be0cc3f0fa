"""The roster import job: validate every row, then upsert members by personal ID in batches."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.clock import today_in_vietnam
from app.crypto import DataCipher
from app.db import WRITE_INTENT
from app.models import ImportIssue, Job, JobStatus, Member, MemberStatus, Union
from app.services import audit, jobs
from app.services.access.scope import Scope
from app.services.errors import RosterInvalid
from app.services.registry.identity import FieldProblem
from app.services.registry.members import (
    ELSEWHERE_DETAIL,
    ELSEWHERE_LIMIT,
    INSURANCE_CONTEXT,
    MemberData,
    MemberInvalid,
    MemberRegistry,
    insurance_columns,
    number_range_problem,
    validate_member,
)
from app.services.registry.roster import Limits, Roster, RosterRow, open_roster

KIND = "roster-import"
#: How long an import job waits for a workbook slot before it fails (it can be run again).
JOB_XLSX_WAIT_SECONDS = 600
COUNT_KEYS = ("total", "processed", "created", "updated", "unchanged", "errors", "warnings")
#: Member columns an import compares and may update (an empty cell never erases a value).
UPDATABLE = ("full_name", "name_ascii", "birth_date", "sex", "phone", "union_code", "join_date",
             "member_number")
#: ... and the social-insurance number, compared by its keyed hash (stored encrypted).
_PID_SEPARATORS = re.compile(r"[\s.\-]")
#: A personal ID (12 digits) anywhere in a cell or a reason (e.g. shifted into another column).
_PID_ANYWHERE = re.compile(r"(?<!\d)\d{8}(\d{4})(?!\d)")
ProgressCallback = Callable[[Job], None]
K = TypeVar("K", int, str)


@dataclass(frozen=True)
class ImportSettings:
    """How roster imports run: the file limits, rows per transaction, and where uploaded files
    wait for their job."""

    limits: Limits
    batch_size: int
    directory: Path


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file (identifies a roster for resuming)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def mask_value(field_name: str, value: Any) -> str:
    """A cell as shown in the report: personal IDs masked but for their last 4 characters."""
    if value is None:
        return ""
    text = value.strftime("%d/%m/%Y") if isinstance(value, date) else str(value)
    if field_name == "personal_id":
        digits = _PID_SEPARATORS.sub("", text)
        return "*" * max(0, len(digits) - 4) + digits[-4:]
    text = mask_personal_ids(text)
    return text if len(text) <= 120 else text[:117] + "..."


def mask_personal_ids(text: str) -> str:
    """``text`` with every 12-digit run (a personal ID) masked but for its last 4 digits."""
    return _PID_ANYWHERE.sub(lambda m: "********" + m.group(1), text)


def _pid_key(row: RosterRow) -> int | None:
    """The row's personal ID as an int (compact, for duplicate detection), if well formed."""
    raw = row.values.get("personal_id")
    if raw is None:
        return None
    digits = _PID_SEPARATORS.sub("", str(raw))
    return int(digits) if len(digits) == 12 and digits.isdigit() else None


def _number_key(row: RosterRow) -> str | None:
    raw = row.values.get("member_number")
    if raw is None:
        return None
    return str(raw).strip().upper() or None


# -- job creation and lookup ---------------------------------------------------------------
def fingerprint(sha256: str, dry_run: bool) -> str:
    """What identifies "the same import" for resuming: the file's hash and the mode."""
    return f"{sha256}:{'dry-run' if dry_run else 'import'}"


def start_or_resume(session: Session, scope: Scope, roster: Roster, *, sha256: str,
                    file_name: str, dry_run: bool, batch_size: int,
                    stored_path: str | None = None) -> tuple[Job, bool]:
    """The unfinished job of this officer for this file, or a new one; (job, resumed).

    Raises:
        JobBusy: the same import is running in another live process.
    """
    return jobs.retry_busy(session, lambda: _start_or_resume(
        session, scope, roster, sha256=sha256, file_name=file_name, dry_run=dry_run,
        batch_size=batch_size, stored_path=stored_path))


def _start_or_resume(session: Session, scope: Scope, roster: Roster, *, sha256: str,
                     file_name: str, dry_run: bool, batch_size: int,
                     stored_path: str | None) -> tuple[Job, bool]:
    session.connection(execution_options={WRITE_INTENT: True})  # SQLite: the lock up front
    principal = scope.principal
    job = jobs.find_resumable(session, kind=KIND, created_by=principal.subject,
                              fingerprint=fingerprint(sha256, dry_run))
    if job is not None:
        jobs.ensure_idle(job)
        return job, True
    province = None if scope.is_national else principal.province_code
    union = None if scope.is_national else principal.union_code
    job = jobs.create(session, kind=KIND, created_by=principal.subject, province_code=province,
                      union_code=union, counts={k: 0 for k in COUNT_KEYS} | {
                          "total": roster.total_rows},
                      params={"fingerprint": fingerprint(sha256, dry_run), "sha256": sha256,
                              "file_name": file_name[-200:], "dry_run": dry_run,
                              "batch_size": batch_size, "stored_path": stored_path,
                              "format": roster.format, "encoding": roster.encoding,
                              "delimiter": roster.delimiter, "role": principal.role})
    session.commit()
    return job, False


# -- the import ----------------------------------------------------------------------------
@dataclass
class _Outcome:
    """What one batch produces before it is written."""

    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    pid_keys: set[int] = field(default_factory=set)
    numbers: set[str] = field(default_factory=set)


@dataclass
class _Valid:
    row: RosterRow
    data: MemberData
    pid_hash: str
    province_code: str
    warnings: list[FieldProblem]


class RosterImport:
    """Runs one roster job for one officer's scope: dry run (report only) or upsert."""

    def __init__(self, session: Session, cipher: DataCipher, scope: Scope, *, batch_size: int,
                 today: Callable[[], date] = today_in_vietnam,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.session = session
        self.scope = scope
        self.batch_size = max(1, batch_size)
        self.registry = MemberRegistry(session, cipher, actor=scope.principal.subject,
                                       today=today, clock=clock)
        self.today = today
        self.clock = clock
        self._unions: dict[str, tuple[str, str] | None] = {}
        self._dry_run = False
        self._headers: Mapping[str, str] = {}
        self._seen_pids: set[int] = set()
        self._seen_numbers: set[str] = set()

    def run(self, job: Job, roster: Roster,
            on_progress: ProgressCallback | None = None) -> dict[str, Any]:
        """Process the rows after the job's checkpoint, a batch per transaction; the job's
        result (``jobs.run`` finishes it).

        Raises:
            RosterInvalid: the file turned out to break a limit while streaming.
        """
        dry_run = self._dry_run = bool(job.params.get("dry_run"))
        self._headers = roster.headers
        today = self.today()
        counts = {k: int(job.counts.get(k, 0)) for k in COUNT_KEYS}
        counts["total"] = roster.total_rows
        skip = job.checkpoint
        consumed = 0
        batch: list[RosterRow] = []
        for row in roster.rows():
            consumed += 1
            if consumed <= skip:
                self._remember(row)  # rebuild the in-file duplicate sets from committed rows
                continue
            batch.append(row)
            if len(batch) >= self.batch_size:
                self._commit_batch(job, batch, consumed, counts, today, dry_run)
                batch = []
                if on_progress:
                    on_progress(job)
        if batch:
            self._commit_batch(job, batch, consumed, counts, today, dry_run)
            if on_progress:
                on_progress(job)
        counts["total"] = counts["processed"]
        jobs.record_progress(job, consumed, counts)
        audit.record(self.session, actor=self.scope.principal.subject,
                     action="roster.check" if dry_run else "roster.import", object_type="job",
                     object_id=job.id, province_code=job.province_code,
                     details={"file_name": job.params.get("file_name"),
                              "sha256": job.params.get("sha256"), "dry_run": dry_run, **counts})
        return {"summary": summary_line(job)}

    def _remember(self, row: RosterRow) -> None:
        pid = _pid_key(row)
        if pid is not None:
            self._seen_pids.add(pid)
        number = _number_key(row)
        if number is not None:
            self._seen_numbers.add(number)

    def _commit_batch(self, job: Job, rows: list[RosterRow], consumed: int,
                      counts: dict[str, int], today: date, dry_run: bool) -> None:
        """Write one batch, its issues and the checkpoint in one transaction (retried on races:
        another import inserted the same person or number, or SQLite was busy; the batch is
        then re-evaluated against what is committed)."""

        def work() -> tuple[dict[str, int], _Outcome]:
            if self.session.get_bind().dialect.name == "postgresql":
                # psycopg prepares repeated statements; a generic plan made while the table
                # was small (or empty) would scan it for every batch's IN (...) lookup
                self.session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
            outcome = self._evaluate(rows, today)
            if not dry_run:
                self._write(outcome)
            if outcome.issues:
                self.session.execute(insert(ImportIssue),
                                     [{**i, "job_id": job.id} for i in outcome.issues])
            merged = {k: counts[k] + outcome.counts[k] for k in COUNT_KEYS}
            merged["total"] = counts["total"]
            jobs.record_progress(job, consumed, merged)
            return merged, outcome

        merged, outcome = jobs.commit_batch(self.session, job, work)
        counts.update(merged)
        self._seen_pids |= outcome.pid_keys
        self._seen_numbers |= outcome.numbers

    # -- evaluation: rows -> inserts/updates/issues ----------------------------------------
    def _evaluate(self, rows: list[RosterRow], today: date) -> _Outcome:
        out = _Outcome()
        valid: list[_Valid] = []
        self._load_unions({str(r.values.get("union_code") or "").strip().upper() for r in rows})
        for row in rows:
            out.counts["processed"] += 1
            problems = list(row.problems)
            _check_once(_pid_key(row), self._seen_pids, out.pid_keys, problems,
                        "personal_id", "personal ID")
            _check_once(_number_key(row), self._seen_numbers, out.numbers, problems,
                        "member_number", "member number")
            data: MemberData | None = None
            try:
                data, warnings = validate_member(row.values, today)
                problems.extend(warnings)
            except MemberInvalid as exc:
                problems.extend(exc.problems)
            if data is not None and not _has_error(problems):
                union = self._unions.get(data.union_code)
                if union is None:
                    problems.append(FieldProblem(
                        "union_code", f"No union {data.union_code} in your scope."))
                else:
                    valid.append(_Valid(row, data, self.registry.personal_id_hash(
                        data.personal_id), union[0], []))
                    valid[-1].warnings = problems
                    continue
            self._reject(out, row, problems)
        if valid:
            self._match(out, valid)
        return out

    def _load_unions(self, codes: Iterable[str]) -> None:
        """Cache which union codes exist inside the scope (one query per new set of codes)."""
        missing = [c for c in codes if c and c not in self._unions]
        if not missing:
            return
        found = self.session.execute(select(Union.code, Union.province_code)
                                     .where(Union.code.in_(missing))).all()
        for code in missing:
            self._unions[code] = None
        for code, province in found:
            if self.scope.allows(province, code):
                self._unions[code] = (province, code)

    def _match(self, out: _Outcome, valid: list[_Valid]) -> None:
        """Split valid rows into creates, updates and unchanged against the register."""
        cols = [Member.id, Member.personal_id_hash, Member.province_code, Member.union_code,
                Member.insurance_number_hash,
                *[getattr(Member, c) for c in UPDATABLE if c != "union_code"]]
        existing = {r.personal_id_hash: r for r in self.session.execute(
            select(*cols).where(Member.personal_id_hash.in_([v.pid_hash for v in valid])))}
        given = {v.data.member_number for v in valid if v.data.member_number}
        taken = dict(self.session.execute(
            select(Member.member_number, Member.personal_id_hash)
            .where(Member.member_number.in_(given))).all()) if given else {}
        now = self.clock()
        new: list[_Valid] = []
        budget = self.registry.elsewhere_budget()
        for item in valid:
            data, problems = item.data, item.warnings
            if budget <= 0:  # over the hourly limit no row is checked, so no row tells anything
                self._reject(out, item.row, [FieldProblem("personal_id", ELSEWHERE_LIMIT)])
                continue
            current = existing.get(item.pid_hash)
            owner = taken.get(data.member_number) if data.member_number else None
            out_of_range = (number_range_problem(data.member_number, item.province_code)
                            if data.member_number and owner != item.pid_hash else None)
            if out_of_range is not None:
                problems.append(out_of_range)
            elif owner is not None and owner != item.pid_hash:
                problems.append(FieldProblem(
                    "member_number", f"The member number {data.member_number} belongs to "
                                     "another member."))
            elif current is not None and not self.scope.allows(current.province_code,
                                                               current.union_code):
                budget -= 1
                self.registry.record_elsewhere(current)
                problems.append(FieldProblem("personal_id", ELSEWHERE_DETAIL))
            elif current is not None and current.province_code != item.province_code:
                problems.append(FieldProblem(
                    "union_code", "A member moves to another province by a transfer request "
                                  "of the new office."))
            if _has_error(problems):
                self._reject(out, item.row, problems)
                continue
            self._note(out, item.row, problems)
            if current is None:
                new.append(item)
                continue
            changes = _changes(current, data, self.registry.cipher)
            if changes:
                out.updates.append({"id": current.id, **changes, "updated_at": now})
                out.counts["updated"] += 1
            else:
                out.counts["unchanged"] += 1
        self._creates(out, new, now)

    def _creates(self, out: _Outcome, new: list[_Valid], now: Any) -> None:
        needing: dict[str, int] = {}
        for item in new:
            if not item.data.member_number:
                needing[item.province_code] = needing.get(item.province_code, 0) + 1
        numbers: dict[str, Iterator[str]] = {}
        for province, count in needing.items():
            # one atomic UPDATE ... RETURNING per province and batch (dry runs reserve nothing)
            numbers[province] = iter(self._allocate(province, count))
        for item in new:
            d = item.data
            number = d.member_number or next(numbers[item.province_code])
            out.inserts.append({
                "province_code": item.province_code, "union_code": d.union_code,
                "member_number": number, "full_name": d.full_name, "name_ascii": d.name_ascii,
                "birth_date": d.birth_date, "sex": d.sex, "phone": d.phone, "join_date": d.join_date, "status": MemberStatus.ACTIVE,
                "status_reason": "", "created_at": now, "updated_at": now,
                **self.registry.personal_id_columns(d.personal_id),
                **insurance_columns(self.registry.cipher, d.insurance_number)})
        out.counts["created"] += len(new)

    def _allocate(self, province: str, count: int) -> list[str]:
        if self._dry_run:
            return [""] * count
        return self.registry.allocate_member_numbers(province, count)

    def _reject(self, out: _Outcome, row: RosterRow, problems: list[FieldProblem]) -> None:
        out.counts["errors"] += 1
        if any(p.severity == "warning" for p in problems):
            out.counts["warnings"] += 1
        out.issues.extend(self._issue(row, p) for p in problems)

    def _note(self, out: _Outcome, row: RosterRow, problems: list[FieldProblem]) -> None:
        if problems:
            out.counts["warnings"] += 1
            out.issues.extend(self._issue(row, p) for p in problems)

    def _issue(self, row: RosterRow, problem: FieldProblem) -> dict[str, Any]:
        return {"row_number": row.number, "column_name": self._headers.get(problem.field, ""),
                "field": problem.field, "severity": problem.severity,
                "value": mask_value(problem.field, row.values.get(problem.field)),
                "reason": mask_personal_ids(problem.message)[:300]}

    def _write(self, out: _Outcome) -> None:
        if out.inserts:
            self.session.execute(insert(Member), out.inserts)
        if out.updates:
            self.session.execute(update(Member), out.updates)


def _check_once(key: K | None, seen: set[K], batch: set[K], problems: list[FieldProblem],
                field_name: str, what: str) -> None:
    """Report a key that an earlier row of the file (or of this batch) had; remember it."""
    if key is None:
        return
    if key in seen or key in batch:
        problems.append(FieldProblem(
            field_name, f"The same {what} appears on an earlier row of this file."))
    batch.add(key)


def _has_error(problems: Iterable[FieldProblem]) -> bool:
    return any(p.severity == "error" for p in problems)


def _changes(current: Any, data: MemberData, cipher: DataCipher) -> dict[str, Any]:
    """The fields the row changes; empty optional cells keep the stored value."""
    changes: dict[str, Any] = {}
    if data.insurance_number is not None and current.insurance_number_hash != cipher.lookup_hash(
            data.insurance_number, INSURANCE_CONTEXT):
        changes.update(insurance_columns(cipher, data.insurance_number))
    for name in UPDATABLE:
        value = getattr(data, name)
        if value is None:
            continue
        if getattr(current, name) != value:
            changes[name] = value
    return changes


def summary_line(job: Job) -> str:
    """One line: what the job did (or would do, for a dry run)."""
    c = job.counts
    verb = "would create" if job.params.get("dry_run") else "created"
    line = (f"{c.get('processed', 0)} rows: {verb} {c.get('created', 0)}, updated "
            f"{c.get('updated', 0)}, unchanged {c.get('unchanged', 0)}, "
            f"{c.get('errors', 0)} rows with errors, {c.get('warnings', 0)} with warnings")
    if job.params.get("dry_run"):
        line = line.replace("updated", "would update", 1)
    return line


def start(session: Session, scope: Scope, source: Path | IO[bytes], *, file_name: str,
          dry_run: bool, settings: ImportSettings, cipher: DataCipher, launch: jobs.Launch,
          on_progress: ProgressCallback | None = None) -> tuple[Job, bool]:
    """Check a roster, find or create its job (the same file in the same mode resumes) and
    launch it; (job, resumed).

    No transaction is open while the file is saved and checked: a large or hostile file never
    holds the database (SQLite's write lock) while it is read; the job is then found or created
    in one short transaction. A path is read where it lies. A stream (an upload) is first saved
    privately in the settings' directory, and deleted once its job has ended (succeeded or
    failed: starting the same import again resumes from the checkpoint), since it holds
    personal data.

    Raises:
        RosterInvalid: the file as a whole is rejected. JobBusy: the same import is running.
    """
    session.commit()  # end the caller's reads (authentication): hold nothing while reading
    if isinstance(source, Path):
        path, sha256, owned = source, file_sha256(source), False
    else:
        path, sha256 = save_upload(source, settings.directory, settings.limits.max_bytes)
        owned = True
    try:
        with open_roster(path, settings.limits) as roster:
            job, resumed = start_or_resume(session, scope, roster, sha256=sha256,
                                           file_name=file_name, dry_run=dry_run,
                                           batch_size=settings.batch_size)
    except BaseException:
        if owned:
            path.unlink(missing_ok=True)
        raise
    job_id = job.id
    if owned:
        stored = upload_path(settings.directory, job_id)
        os.replace(path, stored)
        path = stored
    session.commit()  # the job runs in a session of its own: hold no transaction open on it
    launch(job_id, import_work(scope, cipher, path, settings.limits, on_progress=on_progress,
                               remove=owned))
    return job, resumed


def upload_path(directory: Path, job_id: str) -> Path:
    """Where a job's uploaded roster waits for it."""
    return directory / job_id


def remove_upload(directory: Path, job: Job) -> None:
    """Delete an import job's uploaded roster once the job has ended (succeeded or failed)."""
    if job.kind == KIND and job.status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        upload_path(directory, job.id).unlink(missing_ok=True)


def import_work(scope: Scope, cipher: DataCipher, path: Path, limits: Limits, *,
                on_progress: ProgressCallback | None = None, remove: bool = False,
                today: Callable[[], date] = today_in_vietnam) -> jobs.Work:
    """The work of an import job (for ``jobs.run``): read the roster at ``path`` and run (or
    resume) the import; ``remove``: delete the file once the work ends, done or failed.

    Raises:
        RosterInvalid: the file breaks a limit discovered while streaming.
    """

    def work(session: Session, job: Job) -> dict[str, Any]:
        importer = RosterImport(session, cipher, scope, batch_size=int(job.params["batch_size"]),
                                today=today)
        keep = False
        try:
            # the job waits its turn for a workbook slot (the upload was answered at once)
            with open_roster(path, limits, wait_seconds=JOB_XLSX_WAIT_SECONDS) as roster:
                return importer.run(job, roster, on_progress)
        except jobs.Interrupted:
            keep = True  # given back to the queue: the next runner reads the file
            raise
        finally:
            if remove and not keep:
                path.unlink(missing_ok=True)

    return work


def issues(session: Session, job: Job, *, offset: int = 0,
           limit: int | None = None) -> tuple[list[ImportIssue], int]:
    """A job's report lines in file order, and how many there are."""
    total = session.scalar(select(func.count()).select_from(ImportIssue)
                           .where(ImportIssue.job_id == job.id)) or 0
    stmt = (select(ImportIssue).where(ImportIssue.job_id == job.id)
            .order_by(ImportIssue.row_number, ImportIssue.id).offset(offset))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt)), total


REPORT_COLUMNS = ("row", "column", "value", "severity", "reason")


def report_rows(session: Session, job: Job, chunk: int = 5000) -> Iterator[tuple[Any, ...]]:
    """Every report line as a tuple of ``REPORT_COLUMNS`` (streamed in chunks)."""
    last_id, last_row = 0, 0
    while True:
        stmt = (select(ImportIssue).where(
            ImportIssue.job_id == job.id,
            (ImportIssue.row_number > last_row)
            | ((ImportIssue.row_number == last_row) & (ImportIssue.id > last_id)))
            .order_by(ImportIssue.row_number, ImportIssue.id).limit(chunk))
        batch = list(session.scalars(stmt))
        if not batch:
            return
        for issue in batch:
            yield (issue.row_number, issue.column_name, issue.value, issue.severity,
                   issue.reason)
        last_row, last_id = batch[-1].row_number, batch[-1].id


def scope_of_account(session: Session, username: str) -> Scope:
    """The scope of a staff account, for imports run from the command line.

    Raises:
        NotFound: no active account with that username.
    """
    from app.models import User
    from app.services.access.tokens import Principal
    from app.services.errors import NotFound

    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None or not user.is_active:
        raise NotFound(f"No active staff account {username!r}.")
    return Scope(Principal(kind="user", id=user.id, role=user.role.value,
                           province_code=user.province_code, union_code=user.union_code,
                           token_version=user.token_version))


def save_upload(stream: IO[bytes], directory: Path, max_bytes: int) -> tuple[Path, str]:
    """Copy an uploaded file into ``directory`` (private), hashing it; (path, SHA-256).

    Raises:
        RosterInvalid: the file is larger than ``max_bytes``.
    """
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest = hashlib.sha256()
    size = 0
    handle, name = tempfile.mkstemp(dir=directory, prefix="upload-")
    try:
        with os.fdopen(handle, "wb") as out:
            for chunk in iter(lambda: stream.read(1 << 20), b""):
                size += len(chunk)
                if size > max_bytes:
                    raise RosterInvalid(f"The file is larger than {max_bytes:,} bytes. Split the "
                                        "roster into several files.")
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name), digest.hexdigest()


def write_report_csv(session: Session, job: Job, out: Any) -> int:
    """Write the job's report as CSV (UTF-8 with BOM, so Excel shows Vietnamese); line count."""
    from app.services.csv_out import CsvOut

    writer = CsvOut(out, REPORT_COLUMNS)
    count = 0
    for line in report_rows(session, job):
        writer.row(line)
        count += 1
    return count
