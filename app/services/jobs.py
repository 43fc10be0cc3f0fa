"""Generic resumable jobs: create, find one to resume, claim, record progress, finish, run."""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from app import metrics
from app.clock import now as utc_now
from app.db import is_busy
from app.models import Job, JobStatus
from app.services.access.scope import Scope
from app.services.errors import Conflict, DomainError, JobBusy, NotFound

log = logging.getLogger("unioncard.jobs")
T = TypeVar("T")
#: A job's work: given a session and the claimed job, do all of it; what to add to its result.
Work = Callable[[Session, Job], Mapping[str, Any]]
#: Starts a job's work (``run`` here and now, or ``run_in_thread``).
Launch = Callable[[str, Work], object]
SessionFactory = Callable[[], Session]

#: A runner on another host that has not recorded progress for this long is presumed dead.
LEASE = timedelta(minutes=5)
BATCH_ATTEMPTS = 5
UNFINISHED = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.FAILED)
#: How a job interrupted because its runner stopped says so (``interrupted_message``).
INTERRUPTED_PREFIX = "Interrupted:"


class Interrupted(Exception):  # noqa: N818 (not an error: the runner was asked to stop)
    """Raised by a job's work between two batches when its runner is asked to stop (SIGTERM
    to a worker): ``run`` puts the job back on the queue, at its checkpoint."""


def retry_busy(session: Session, work: Callable[[], T], attempts: int = 8) -> T:
    """Run a short transaction, retrying when the database reports itself busy or locked.

    SQLite cannot upgrade a read transaction to a write one after another writer committed; the
    whole transaction is then rolled back and run again. PostgreSQL waits on locks up to its
    lock timeout, and is retried after that too.
    """
    for attempt in range(attempts):
        try:
            return work()
        except OperationalError as exc:
            session.rollback()
            if not is_busy(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.01 * 2 ** attempt + random.random() * 0.01)
    raise AssertionError("unreachable")


def commit_batch(session: Session, job: Job, work: Callable[[], T],
                 attempts: int = BATCH_ATTEMPTS) -> T:
    """Run one batch of a job as one transaction and commit it; on a race (a unique key taken
    by a concurrent writer) or a busy SQLite database, roll back and run it again.

    The transaction's first statement writes the job row, so SQLite holds its write lock
    before the batch reads anything. ``work`` records the checkpoint with ``record_progress``.
    """
    for attempt in range(attempts):
        try:
            session.execute(update(Job).where(Job.id == job.id).values(updated_at=utc_now()))
            result = work()
            session.commit()
            return result
        except (IntegrityError, OperationalError):
            session.rollback()
            session.refresh(job)
            if attempt == attempts - 1:
                raise
            time.sleep(0.02 * 2 ** attempt)
    raise AssertionError("unreachable")


def create(session: Session, *, kind: str, created_by: str, province_code: str | None,
           union_code: str | None, params: Mapping[str, Any],
           counts: Mapping[str, int] | None = None) -> Job:
    """Add a queued job owned by a scope (flushed, not committed)."""
    job = Job(id=uuid.uuid4().hex, kind=kind, status=JobStatus.QUEUED,
              province_code=province_code, union_code=union_code, created_by=created_by,
              params=dict(params), checkpoint=0, counts=dict(counts or {}), result={}, error="")
    session.add(job)
    session.flush()
    return job


def find_resumable(session: Session, *, kind: str, created_by: str,
                   fingerprint: str) -> Job | None:
    """The newest unfinished job of this kind, owner and input fingerprint, if any."""
    stmt = (select(Job).where(Job.kind == kind, Job.created_by == created_by,
                              Job.status.in_(UNFINISHED))
            .order_by(Job.created_at.desc()))
    for job in session.scalars(stmt):
        if job.params.get("fingerprint") == fingerprint:
            return job
    return None


def get_in_scope(session: Session, scope: Scope, job_id: str) -> Job:
    """A job whose owner scope lies inside the caller's scope.

    Raises:
        NotFound: no such job, or it belongs to another scope.
    """
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound("No such job.")
    scope.ensure(job.province_code, job.union_code, "job")
    return job


def runner_id() -> str:
    """This process (and thread) as a job runner: host, pid, thread."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _runner_alive(runner: str, job: Job) -> bool:
    host, _, rest = runner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname():
        return utc_now() - job.updated_at < LEASE
    if not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        thread_text = rest.partition(":")[2]
        idents = {str(t.ident) for t in threading.enumerate()}
        return runner != runner_id() and thread_text in idents
    return process_alive(pid)


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ensure_idle(job: Job) -> None:
    """Check that no other live runner holds the job.

    Raises:
        JobBusy: another live process or thread is running it.
    """
    holder = str(job.result.get("runner", ""))
    if job.status is JobStatus.RUNNING and holder and _runner_alive(holder, job):
        raise JobBusy(f"Job {job.id} is already running.", job_id=job.id)


def claim(session: Session, job: Job) -> None:
    """Mark the job running in this process, unless another live runner holds it (commits).

    Raises:
        JobBusy: another live process or thread is running the job.
        Conflict: the job has already succeeded.
    """
    job_id = job.id

    def attempt() -> None:
        _locked(session, job_id, job)
        _claim(session, job)

    retry_busy(session, attempt)


def _claim(session: Session, job: Job) -> None:
    if job.status is JobStatus.SUCCEEDED:
        raise Conflict("The job has already finished.")
    try:
        ensure_idle(job)
    except JobBusy:
        session.rollback()
        raise
    job.status = JobStatus.RUNNING
    job.error = ""
    job.result = {**job.result, "runner": runner_id()}
    job.updated_at = utc_now()
    session.commit()


def record_progress(job: Job, checkpoint: int, counts: Mapping[str, int]) -> None:
    """Set the checkpoint and counts (committed with the caller's batch)."""
    if checkpoint > job.checkpoint:
        metrics.JOB_PROGRESS.labels(kind=job.kind).inc(checkpoint - job.checkpoint)
    job.checkpoint = checkpoint
    job.counts = dict(counts)
    job.updated_at = utc_now()


def finish(session: Session, job: Job, result: Mapping[str, Any] | None = None) -> None:
    """Mark the job succeeded (commits)."""
    job.status = JobStatus.SUCCEEDED
    job.result = {k: v for k, v in {**job.result, **(result or {})}.items() if k != "runner"}
    job.finished_at = job.updated_at = utc_now()
    session.commit()
    metrics.JOBS_FINISHED.labels(kind=job.kind, outcome="succeeded").inc()


def _locked(session: Session, job_id: str, job: Job | None = None) -> Job | None:
    """The job, reloaded after taking its row's write lock: the write comes first, so SQLite
    holds its write lock before reading (PostgreSQL: the row lock). None when it is gone."""
    session.execute(update(Job).where(Job.id == job_id).values(updated_at=Job.updated_at))
    job = job if job is not None else session.get(Job, job_id)
    if job is not None:
        session.refresh(job)
    return job


def fail(session: Session, job_id: str, message: str) -> None:
    """Mark the job failed with a one-line message (commits; the checkpoint is kept; retried
    while SQLite is busy, so a job whose work lost to a busy database is not left running)."""
    session.rollback()

    def attempt() -> None:
        job = _locked(session, job_id)
        if job is None:
            return
        _mark_failed(job, message)
        session.commit()
        metrics.JOBS_FINISHED.labels(kind=job.kind, outcome="failed").inc()

    retry_busy(session, attempt, attempts=12)


def _mark_failed(job: Job, message: str) -> None:
    job.status = JobStatus.FAILED
    job.error = message.splitlines()[0][:500] if message else "failed"
    job.result = {k: v for k, v in job.result.items() if k != "runner"}
    job.finished_at = job.updated_at = utc_now()


def interrupted_message(job: Job) -> str:
    """What a job whose runner stopped says: where it stopped and how it resumes (any
    ``unioncard worker`` puts it back on the queue by itself, see ``reclaim``)."""
    return (f"{INTERRUPTED_PREFIX} the process running this job stopped after row {job.checkpoint} "
            "(restart or crash). A worker resumes it from there by itself; without a running "
            "worker, start one (or run the same import or batch again).")


def settle_if_dead(session: Session, job: Job) -> bool:
    """Mark a job failed (interrupted) when it is shown running but its runner is gone (a dead
    thread or process, or a remote runner past its lease); whether it did (commits then).

    Nothing is written for a job that is not running or whose runner is alive.
    """
    if not _runner_gone(job):
        return False
    job_id = job.id

    def attempt() -> bool:
        _locked(session, job_id, job)
        if not _runner_gone(job):  # it finished, or another runner claimed it meanwhile
            session.rollback()
            return False
        _mark_failed(job, interrupted_message(job))
        session.commit()
        metrics.JOBS_FINISHED.labels(kind=job.kind, outcome="interrupted").inc()
        log.warning("job %s interrupted: its runner %s is gone", job_id,
                    job.result.get("runner", "") or "(none)")
        return True

    return retry_busy(session, attempt)


def _runner_gone(job: Job) -> bool:
    if job.status is not JobStatus.RUNNING:
        return False
    holder = str(job.result.get("runner", ""))
    return not holder or not _runner_alive(holder, job)


def run(session_factory: SessionFactory, job_id: str, work: Work) -> None:
    """Claim the job, do its work and finish it, in a session of its own; if the work fails,
    mark the job failed with a one-line message and raise the error again.

    Raises:
        NotFound: no such job. JobBusy: another live runner holds it. Conflict: it has
        finished already. Whatever ``work`` raises.
    """
    session = session_factory()
    try:
        job = session.get(Job, job_id)
        if job is None:
            raise NotFound("No such job.")
        claim(session, job)
        try:
            finish(session, job, work(session, job))
        except Interrupted:
            release(session, job_id)
            raise
        except DomainError as exc:
            fail(session, job_id, exc.detail)
            raise
        except Exception as exc:
            fail(session, job_id, f"internal error ({type(exc).__name__})")
            raise
    finally:
        session.close()


def release(session: Session, job_id: str) -> None:
    """Put a job this runner holds back to queued, at its checkpoint (commits)."""
    session.rollback()

    def attempt() -> None:
        job = _locked(session, job_id)
        if job is None:
            return
        if job.status is JobStatus.RUNNING and job.result.get("runner") == runner_id():
            _requeue(job)
        session.commit()

    retry_busy(session, attempt, attempts=12)


def _requeue(job: Job) -> None:
    job.status = JobStatus.QUEUED
    job.error = ""
    job.finished_at = None
    job.result = {k: v for k, v in job.result.items() if k != "runner"}
    job.updated_at = utc_now()


def reclaim(session: Session, *, stale_queued: timedelta) -> list[str]:
    """The jobs a worker should put on the queue again, marked queued (commits): those shown
    running whose runner is gone (a worker killed, a host lost past its lease), those failed
    as interrupted, and those queued for longer than ``stale_queued`` without being started
    (their queue message lost); the latter are touched so that they wait again.

    Enqueuing a job twice is harmless: the second run finds it finished (``Conflict``) or held
    by a live runner (``JobBusy``).
    """
    now = utc_now()
    candidates = list(session.scalars(select(Job.id).where(
        (Job.status == JobStatus.RUNNING)
        | ((Job.status == JobStatus.FAILED) & Job.error.startswith(INTERRUPTED_PREFIX))
        | ((Job.status == JobStatus.QUEUED) & (Job.updated_at < now - stale_queued)))))
    session.rollback()
    taken: list[str] = []
    for job_id in candidates:

        def attempt(job_id: str = job_id) -> bool:
            session.execute(update(Job).where(Job.id == job_id)
                            .values(updated_at=Job.updated_at))
            job = session.get(Job, job_id)
            if job is None:
                return False
            session.refresh(job)
            due = (_runner_gone(job)
                   or (job.status is JobStatus.FAILED
                       and job.error.startswith(INTERRUPTED_PREFIX))
                   or (job.status is JobStatus.QUEUED
                       and job.updated_at < utc_now() - stale_queued))
            if not due:
                session.rollback()
                return False
            _requeue(job)
            session.commit()
            log.warning("job %s put back on the queue at row %s", job_id, job.checkpoint)
            return True

        if retry_busy(session, attempt):
            taken.append(job_id)
    return taken


def run_logged(session_factory: SessionFactory, job_id: str, work: Work) -> None:
    """``run`` the job, logging a failure instead of raising it (the job records it)."""
    try:
        run(session_factory, job_id, work)
    except DomainError as exc:
        log.warning("job %s failed: %s", job_id, exc.detail)
    except Exception:
        log.exception("job %s failed", job_id)


def run_in_thread(session_factory: SessionFactory, job_id: str,
                  work: Work) -> threading.Thread:
    """``run_logged`` the job in a background thread."""
    thread = threading.Thread(target=run_logged, args=(session_factory, job_id, work),
                              name=f"job-{job_id}", daemon=True)
    thread.start()
    return thread
