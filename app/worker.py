"""``unioncard worker``'s engine: take job ids off the queue and run the jobs; put back on the
queue the jobs whose runner died; on SIGTERM (or SIGINT) finish the current batch and exit.

Each kind of job is rebuilt from its row (kind, parameters, owner, checkpoint): roster imports
(the uploaded file waits in ``IMPORT_DIR``), card batches (issuance, print sheets, activation
letters), health-record pulls and data-key rotations.
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from types import FrameType
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from app.duties import Duty
from app.models import Job, User
from app.queue import JobQueue
from app.services import jobs
from app.services.access.scope import Scope
from app.services.access.tokens import Principal, parse_subject
from app.services.errors import Conflict, DomainError, JobBusy, NotFound

log = logging.getLogger("unioncard.worker")


@dataclass
class _State:
    """The worker of this process: its app, its stop flag, the jobs it gave back."""

    app: Flask | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    given_back: list[str] = field(default_factory=list)


_STATE = _State()


def scope_of_subject(session: Session, subject: str) -> Scope:
    """The scope of the staff account that started a job (as it is now).

    Raises:
        NotFound: the account no longer exists or is disabled.
    """
    try:
        kind, user_id = parse_subject(subject)
    except ValueError:
        raise NotFound(f"The job's owner {subject!r} is not a staff account.") from None
    user = session.get(User, user_id) if kind == "user" else None
    if user is None or not user.is_active:
        raise NotFound("The staff account that started this job is gone or disabled.")
    return Scope(Principal(kind="user", id=user.id, role=user.role.value,
                           province_code=user.province_code, union_code=user.union_code,
                           token_version=user.token_version))


def work_for(app: Flask, session: Session, job: Job,
             on_progress: Any) -> jobs.Work:
    """The work of a job, rebuilt from its row.

    Raises:
        NotFound: a kind no worker knows, its owner gone, or an import's file gone.
    """
    from app.composition import (
        batch_settings,
        card_desk_for,
        cipher_for_config,
        import_settings,
        on_summary_changed_for,
        pull_settings,
    )
    from app.services import data_key_jobs
    from app.services.health import pull
    from app.services.issuing import batches
    from app.services.registry import imports

    config = app.config
    if job.kind == imports.KIND:
        settings = import_settings(config)
        path = imports.upload_path(settings.directory, job.id)
        if not path.is_file():
            raise NotFound("The roster file of this import is gone; start the import again.")
        return imports.import_work(scope_of_subject(session, job.created_by),
                                   cipher_for_config(config), path, settings.limits,
                                   on_progress=on_progress, remove=True)
    if job.kind == batches.KIND:
        return batches.batch_work(scope_of_subject(session, job.created_by),
                                  batch_settings(config), functools.partial(card_desk_for, app),
                                  on_progress)
    if job.kind == pull.KIND:
        return pull.pull_work(cipher_for_config(config), pull_settings(config),
                              on_summary_changed=on_summary_changed_for(app, pull.PULL_ACTOR))
    if job.kind == data_key_jobs.KIND:
        return data_key_jobs.rotation_work(cipher_for_config(config), on_progress=on_progress)
    raise NotFound(f"No worker runs jobs of kind {job.kind!r}.")


def run_job(job_id: str) -> None:
    """Run one job in this worker (the queue task); outcomes are recorded on the job."""
    from app.extensions import db

    app = _STATE.app
    if app is None:
        raise RuntimeError("run_job outside a worker")
    sessions = functools.partial(db.new_session, app)
    stop = _STATE.stop

    def checkpoint_reached(job: Job) -> None:
        if stop.is_set():  # the batch just committed: stop here, resumable
            raise jobs.Interrupted()

    session = sessions()
    try:
        job = session.get(Job, job_id)
        if job is None:
            log.warning("job %s: no such job (dropped)", job_id)
            return
        try:
            work = work_for(app, session, job, checkpoint_reached)
        except DomainError as exc:
            jobs.fail(session, job_id, exc.detail)
            return
    finally:
        session.close()
    try:
        jobs.run(sessions, job_id, work)
        log.info("job %s finished", job_id)
    except jobs.Interrupted:
        log.warning("job %s given back to the queue (worker stopping)", job_id)
        _STATE.given_back.append(job_id)
    except (JobBusy, Conflict) as exc:
        log.info("job %s not run: %s", job_id, exc.detail)  # a repeated message
    except DomainError as exc:
        log.warning("job %s failed: %s", job_id, exc.detail)
    except Exception:
        log.exception("job %s failed", job_id)


class Worker:
    """One worker process: runs a job at a time off the queue until asked to stop."""

    def __init__(self, app: Flask, queue: JobQueue, *, reap_seconds: float,
                 stale_queued: timedelta, poll_seconds: float = 1.0,
                 install_signals: bool = True, duties: Sequence[Duty] = ()) -> None:
        self.app = app
        self.queue = queue
        self.duties = list(duties)  # beside the jobs (``app.duties``), in a thread of their own
        self.reap_seconds = reap_seconds
        self.stale_queued = stale_queued
        self.poll_seconds = poll_seconds
        self.install_signals = install_signals  # only the main thread can (tests run others)

    def stop(self, signum: int = 0, frame: FrameType | None = None) -> None:
        """Ask the worker to stop after the current batch (the SIGTERM/SIGINT handler)."""
        log.info("worker stopping (signal %s): finishing the current batch", signum)
        _STATE.stop.set()

    def run(self) -> None:
        """Take jobs off the queue until stopped; then put back what was given back."""
        _STATE.app = self.app
        _STATE.stop.clear()
        _STATE.given_back.clear()
        if self.install_signals:
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        next_reap = 0.0
        duties = None
        if self.duties:  # beside the jobs: a long batch does not hold up an e-mail
            duties = threading.Thread(target=self._run_duties, name="worker-duties",
                                      daemon=True)
            duties.start()
        log.info("worker started")
        while not _STATE.stop.is_set():
            if time.monotonic() >= next_reap:
                self.reap()
                next_reap = time.monotonic() + self.reap_seconds
            task = self.queue.huey.dequeue()
            if task is None:
                _STATE.stop.wait(self.poll_seconds)
                continue
            self.queue.huey.execute(task)
        for job_id in _STATE.given_back:
            self.queue.enqueue(job_id)
        if duties is not None:
            duties.join(timeout=60)  # a duty in progress finishes (SMTP and SQL time out)
        log.info("worker stopped")

    def _run_duties(self) -> None:
        """The duties' thread: each when it is due, until the worker stops."""
        with self.app.app_context():
            while not _STATE.stop.is_set():
                for duty in self.duties:
                    duty.run_if_due()
                _STATE.stop.wait(min(1.0, self.poll_seconds))

    def reap(self) -> list[str]:
        """Put back on the queue the jobs whose runner died (and lost queue messages)."""
        from app.extensions import db

        session = db.new_session(self.app)
        try:
            taken = jobs.reclaim(session, stale_queued=self.stale_queued)
        except Exception:  # a database hiccup: try again at the next round
            log.exception("reaping interrupted jobs failed")
            return []
        finally:
            session.close()
        for job_id in taken:
            self.queue.enqueue(job_id)
        return taken
