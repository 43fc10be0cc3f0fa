"""The queue's bookkeeping in the jobs table: what a worker puts back on the queue, a job given
back at its checkpoint, and the queue's settings."""

from __future__ import annotations

import functools
import os
import socket
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.extensions import db
from app.models import Job, JobStatus
from app.services import jobs
from tests.app.test_upload_availability import _dead_pid
from tests.conftest import invoke


def _job(session: Session, status: JobStatus, **fields: Any) -> str:
    job = jobs.create(session, kind="test", created_by="user:1", province_code=None,
                      union_code=None, params={})
    job.status = status
    for name, value in fields.items():
        setattr(job, name, value)
    session.commit()
    return str(job.id)


def test_reclaim_puts_back_only_what_no_live_runner_holds(app: Flask, session: Session) -> None:
    host = socket.gethostname()
    dead = _job(session, JobStatus.RUNNING, checkpoint=40,
                result={"runner": f"{host}:{_dead_pid()}:1", "kept": 1})
    alive = _job(session, JobStatus.RUNNING, result={"runner": f"{host}:{os.getppid()}:1"})
    interrupted = _job(session, JobStatus.FAILED, error=jobs.interrupted_message(
        session.get(Job, dead)))
    failed = _job(session, JobStatus.FAILED, error="The file is bad.")
    stale = _job(session, JobStatus.QUEUED, updated_at=utc_now() - timedelta(minutes=20))
    fresh = _job(session, JobStatus.QUEUED)
    done = _job(session, JobStatus.SUCCEEDED)

    taken = jobs.reclaim(session, stale_queued=timedelta(minutes=10))
    assert sorted(taken) == sorted([dead, interrupted, stale])
    for job_id in taken:
        job = session.get(Job, job_id)
        session.refresh(job)
        assert job.status is JobStatus.QUEUED and job.error == ""
        assert "runner" not in job.result
    assert session.get(Job, dead).checkpoint == 40 and session.get(Job, dead).result == {"kept": 1}
    for job_id, status in ((alive, JobStatus.RUNNING), (failed, JobStatus.FAILED),
                           (fresh, JobStatus.QUEUED), (done, JobStatus.SUCCEEDED)):
        assert session.get(Job, job_id).status is status
    assert jobs.reclaim(session, stale_queued=timedelta(minutes=10)) == []  # touched: waits


def test_an_interrupted_run_gives_the_job_back_at_its_checkpoint(app: Flask,
                                                                 session: Session) -> None:
    job_id = _job(session, JobStatus.QUEUED)

    def two_batches_then_stop(work_session: Session, job: Job) -> dict[str, Any]:
        for checkpoint in (10, 20):
            jobs.record_progress(job, checkpoint, {"processed": checkpoint})
            work_session.commit()
        raise jobs.Interrupted()

    with pytest.raises(jobs.Interrupted):
        jobs.run(functools.partial(db.new_session, app), job_id, two_batches_then_stop)
    job = session.get(Job, job_id)
    session.refresh(job)
    assert job.status is JobStatus.QUEUED and job.checkpoint == 20 and job.error == ""
    assert "runner" not in job.result and job.finished_at is None


def test_the_queue_url_must_be_redis_or_sqlite(make_app: Any) -> None:
    from app.queue import make_queue, queue_target

    assert queue_target({"QUEUE_URL": "", "ROOT": "/srv/uc"}) == "sqlite:////srv/uc/var/queue.db"
    with pytest.raises(ValueError, match="UNIONCARD_QUEUE_URL"):
        make_queue({"QUEUE_URL": "amqp://broker/", "ROOT": "/tmp"})
    bad = invoke(make_app({"QUEUE_URL": "amqp://broker/"}), "worker")
    assert bad.exit_code == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert "UNIONCARD_QUEUE_URL must be" in bad.stderr
