"""jobs.run: claim, work, finish; or fail with a one-line message (logged when launched)."""

from __future__ import annotations

import functools
import logging
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Job, JobStatus
from app.services import jobs
from app.services.errors import Conflict, ValidationFailed


def new_job(session: Session) -> Job:
    job = jobs.create(session, kind="test", created_by="user:1", province_code=None,
                      union_code=None, params={})
    session.commit()
    return job


def test_run_claims_works_and_finishes_once(app: Flask, session: Session) -> None:
    job = new_job(session)
    seen: list[Any] = []

    def work(work_session: Session, claimed: Job) -> dict[str, Any]:
        seen.append((claimed.id, claimed.status, claimed.result.get("runner") == jobs.runner_id()))
        return {"summary": "done"}

    sessions = functools.partial(db.new_session, app)
    jobs.run(sessions, job.id, work)
    session.refresh(job)
    assert seen == [(job.id, JobStatus.RUNNING, True)]
    assert job.status is JobStatus.SUCCEEDED and job.result == {"summary": "done"}
    with pytest.raises(Conflict):
        jobs.run(sessions, job.id, work)
    assert len(seen) == 1


def test_a_failing_job_records_one_line(app: Flask, session: Session,
                                        caplog: pytest.LogCaptureFixture) -> None:
    sessions = functools.partial(db.new_session, app)
    expected = new_job(session)

    def invalid(work_session: Session, claimed: Job) -> dict[str, Any]:
        raise ValidationFailed("The file is bad.\nThe details follow.")

    with pytest.raises(ValidationFailed):
        jobs.run(sessions, expected.id, invalid)
    session.refresh(expected)
    assert expected.status is JobStatus.FAILED and expected.error == "The file is bad."
    assert "runner" not in expected.result

    broken = new_job(session)

    def crash(work_session: Session, claimed: Job) -> dict[str, Any]:
        raise RuntimeError("no personal data in the job, please")

    with caplog.at_level(logging.WARNING, logger="unioncard.jobs"):
        jobs.run_logged(sessions, broken.id, crash)  # what a launched job does: log, not raise
    session.refresh(broken)
    assert broken.status is JobStatus.FAILED and broken.error == "internal error (RuntimeError)"
    assert [r.levelname for r in caplog.records] == ["ERROR"]
