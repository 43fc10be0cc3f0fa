"""Data-key rotation as a background job: started by ``unioncard keys rotate-data-key``, run by
a ``unioncard worker`` (or in the command's process), resumable like every job — and, since each
row carries its KEK version, a rerun needs no checkpoint to continue (``data_keys``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from app.crypto import DataCipher
from app.models import Job
from app.services import jobs
from app.services.data_keys import TARGETS, DataKeyRotation, Progress
from app.services.errors import Conflict

KIND = "data-key-rotation"
#: The owner recorded on rotation jobs (an operator command, not a staff account).
OWNER = "system:keys"


def start(session: Session, *, batch_size: int) -> tuple[Job, bool]:
    """The unfinished rotation job (its batch size updated), or a new one; (job, resumed).
    Commits.

    Raises:
        JobBusy: a rotation is running in another live process.
    """
    job = jobs.find_resumable(session, kind=KIND, created_by=OWNER, fingerprint=KIND)
    resumed = job is not None
    if job is not None:
        jobs.ensure_idle(job)
        job.params = {**job.params, "batch_size": batch_size}
    else:
        job = jobs.create(session, kind=KIND, created_by=OWNER, province_code=None,
                          union_code=None, params={"fingerprint": KIND,
                                                   "batch_size": batch_size})
    session.commit()
    return job, resumed


def rotation_work(cipher: DataCipher, *, on_batch: Callable[[Progress], None] | None = None,
                  on_progress: Callable[[Job], None] | None = None) -> jobs.Work:
    """The job's work: rotate every target, recording progress after each committed batch.

    The work fails (and the job with it) when rows cannot be read with the configured keys,
    or some remain under older keys (written meanwhile by a process with the old settings).
    """

    def work(session: Session, job: Job) -> dict[str, Any]:
        rotation = DataKeyRotation(session, cipher, batch_size=int(job.params["batch_size"]))
        total = sum(rotation.left(name) for name in TARGETS)
        session.commit()
        done: dict[str, int] = {}

        def batch(progress: Progress) -> None:
            done[progress.target] = progress.rewrapped

            def record() -> None:
                jobs.record_progress(job, sum(done.values()), {
                    "total": total, "processed": sum(done.values())})
                session.commit()

            jobs.retry_busy(session, record)
            if on_batch is not None:
                on_batch(progress)
            if on_progress is not None:
                on_progress(job)

        results = rotation.run(on_batch=batch)
        unreadable = [i for p in results for i in p.unreadable]
        left = sum(p.left for p in results)
        if unreadable:
            raise Conflict(f"{len(unreadable)} rows could not be read with the configured keys "
                           f"(ids {', '.join(map(str, unreadable[:20]))}): keep their key in "
                           "UNIONCARD_DATA_KEYS_PREVIOUS")
        if left:
            raise Conflict(f"{left} rows are still under older keys: make sure every process "
                           "runs with the new UNIONCARD_DATA_KEY, then rerun")
        return {"kek": cipher.current, "targets": [
            {"target": p.target, "rewrapped": p.rewrapped, "skipped": p.skipped,
             "left": p.left} for p in results]}

    return work
