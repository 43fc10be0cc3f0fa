"""Background jobs on the real queue (Huey on its embedded SQLite storage, and on the Redis
server of this machine), run by ``unioncard worker`` subprocesses: a worker killed with
SIGKILL in the middle of a roster import or a card batch is replaced by another, which resumes
the job on its own, and every row and card ends up exactly once; SIGTERM lets a worker finish
its batch, give the job back to the queue and exit."""

from __future__ import annotations

import dataclasses
import functools
import io
import os
import secrets
import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.models import Card, Job, JobStatus, Member
from tests.app.roster_fixtures import people, to_csv
from tests.app.test_batches_jobs import QUEVO, add_members
from tests.app.worker_helpers import start_worker
from tests.conftest import unioncard_env

REDIS = ("127.0.0.1", 6379)


def _redis_up() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(params=["sqlite", "redis"])
def queue_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The queue's settings: an embedded SQLite file, or Redis under a name of its own."""
    if request.param == "sqlite":
        yield {"QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}"}
        return
    if not _redis_up():
        pytest.fail("Redis is not running on 127.0.0.1:6379")
    settings = {"QUEUE_URL": f"redis://{REDIS[0]}:{REDIS[1]}/0",
                "QUEUE_NAME": f"uc-test-{secrets.token_hex(4)}"}
    yield settings
    from app.queue import make_queue

    make_queue({**settings, "ROOT": str(tmp_path)}).huey.flush()


@pytest.fixture
def office(committed_office: Any, tmp_path: Path, queue_settings: dict[str, str]) -> Any:
    return committed_office("worker", IMPORT_DIR=str(tmp_path / "imports"),
                            CARD_BATCH_DIR=str(tmp_path / "batches"), CARD_BATCH_WORKERS=0,
                            **queue_settings)


def _session(app: Any) -> Any:
    from app.extensions import db

    return db.new_session(app)


def _env(app: Any) -> dict[str, str]:
    return unioncard_env(app.config["DATABASE_URL"], IMPORT_DIR=app.config["IMPORT_DIR"],
                         CARD_BATCH_DIR=app.config["CARD_BATCH_DIR"], CARD_BATCH_WORKERS="0",
                         QUEUE_URL=app.config["QUEUE_URL"], QUEUE_NAME=app.config["QUEUE_NAME"])


def _job(app: Any, job_id: str) -> Job:
    session = _session(app)
    try:
        job = session.get(Job, job_id)
        assert job is not None
        session.expunge(job)
        return job
    finally:
        session.close()


def _wait_for(app: Any, job_id: str, ready: Callable[[Job], bool], *, timeout: float = 120,
              workers: tuple[Any, ...] = ()) -> Job:
    deadline = time.monotonic() + timeout
    while True:
        job = _job(app, job_id)
        if ready(job):
            return job
        for worker in workers:
            assert worker.poll() is None, f"a worker exited with {worker.returncode}"
        assert time.monotonic() < deadline, f"job {job_id}: {job.status} at {job.checkpoint}"
        time.sleep(0.02)


def _scope(app: Any) -> Any:
    from app.services.registry import imports

    session = _session(app)
    try:
        return imports.scope_of_account(session, "lan.bn")
    finally:
        session.close()


def _start_import(app: Any, rows: int, batch_size: int) -> str:
    """Start an import as the web does (the upload saved, the job enqueued); its id."""
    from app.composition import cipher_for_config, import_settings, job_launcher
    from app.services.registry import imports

    session = _session(app)
    try:
        job, _ = imports.start(
            session, _scope(app), io.BytesIO(to_csv(people(rows, QUEVO)).encode()),
            file_name="roster.csv", dry_run=False,
            settings=dataclasses.replace(import_settings(app.config), batch_size=batch_size),
            cipher=cipher_for_config(app.config), launch=job_launcher(app))
        return str(job.id)
    finally:
        session.close()


def _start_batch(app: Any, batch_size: int) -> str:
    """Start a card batch as the web does (the job enqueued); its id."""
    from app.composition import batch_settings, card_desk_for, job_launcher
    from app.services.issuing import batches

    session = _session(app)
    try:
        scope = _scope(app)
        target = batches.resolve_target(session, scope, union_code=QUEVO)
        job, _ = batches.start(
            session, scope, target,
            settings=dataclasses.replace(batch_settings(app.config), batch_size=batch_size,
                                         sheet_cards=50),
            desks=functools.partial(card_desk_for, app), launch=job_launcher(app))
        return str(job.id)
    finally:
        session.close()


def _check_import(app: Any, job: Job, rows: int) -> None:
    assert job.status is JobStatus.SUCCEEDED, job.error
    assert job.counts["created"] == rows and job.counts["processed"] == rows, job.counts
    session = _session(app)
    try:
        numbers = list(session.scalars(select(Member.personal_id_hash)
                                       .where(Member.union_code == QUEVO)))
    finally:
        session.close()
    assert len(numbers) == rows and len(set(numbers)) == rows  # every row once
    assert not (Path(app.config["IMPORT_DIR"]) / job.id).exists()


def _check_batch(app: Any, job: Job, members: int) -> None:
    assert job.status is JobStatus.SUCCEEDED, job.error
    session = _session(app)
    try:
        per_member = dict(session.execute(
            select(Card.member_id, func.count()).where(Card.batch_job_id == job.id)
            .group_by(Card.member_id)).all())
    finally:
        session.close()
    assert len(per_member) == members and set(per_member.values()) == {1}  # every card once
    assert job.counts["issued"] == members, job.counts
    assert job.result["letters"]["count"] == members
    sheets = sorted((Path(app.config["CARD_BATCH_DIR"]) / job.id).glob("sheet-*.pdf"))
    assert len(sheets) == -(-members // 50)


@pytest.mark.slow
def test_a_killed_worker_is_replaced_mid_import(office: Any, tmp_path: Path) -> None:
    app, rows = office, 1200
    job_id = _start_import(app, rows, batch_size=20)
    with (tmp_path / "worker.log").open("w") as log:
        first = start_worker(_env(app), log)
        try:
            running = _wait_for(app, job_id, lambda j: j.checkpoint >= 100, workers=(first,))
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=30)
        finally:
            if first.poll() is None:
                first.kill()
        stopped = _job(app, job_id)
        assert stopped.status is JobStatus.RUNNING and stopped.checkpoint < rows, \
            "the job ended before the worker was killed: make it longer"
        assert stopped.checkpoint >= running.checkpoint
        second = start_worker(_env(app), log)
        try:
            done = _wait_for(app, job_id, lambda j: j.status in (JobStatus.SUCCEEDED,
                                                                  JobStatus.FAILED),
                             workers=(second,))
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=60) == 0
    _check_import(app, done, rows)
    assert "put back on the queue" in (tmp_path / "worker.log").read_text()


@pytest.mark.slow
def test_a_killed_worker_is_replaced_mid_card_batch(office: Any, tmp_path: Path) -> None:
    app, members = office, 240
    add_members(app, QUEVO, members)
    job_id = _start_batch(app, batch_size=10)
    with (tmp_path / "worker.log").open("w") as log:
        first = start_worker(_env(app), log)
        try:
            _wait_for(app, job_id, lambda j: int(j.counts.get("processed", 0)) >= 30,
                      workers=(first,))
            os.kill(first.pid, signal.SIGKILL)
            first.wait(timeout=30)
        finally:
            if first.poll() is None:
                first.kill()
        stopped = _job(app, job_id)
        assert stopped.status is JobStatus.RUNNING
        assert int(stopped.counts.get("processed", 0)) < members, "make the batch longer"
        second = start_worker(_env(app), log)
        try:
            done = _wait_for(app, job_id, lambda j: j.status in (JobStatus.SUCCEEDED,
                                                                  JobStatus.FAILED),
                             workers=(second,))
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=60) == 0
    _check_batch(app, done, members)


@pytest.mark.slow
def test_sigterm_finishes_the_batch_and_gives_the_job_back(office: Any, tmp_path: Path) -> None:
    app, members = office, 200
    add_members(app, QUEVO, members)
    job_id = _start_batch(app, batch_size=10)
    with (tmp_path / "worker.log").open("w") as log:
        first = start_worker(_env(app), log)
        _wait_for(app, job_id, lambda j: int(j.counts.get("processed", 0)) >= 20,
                  workers=(first,))
        first.send_signal(signal.SIGTERM)
        assert first.wait(timeout=60) == 0  # it exits by itself, after its batch
        given_back = _job(app, job_id)
        assert given_back.status is JobStatus.QUEUED, given_back.error
        processed = int(given_back.counts["processed"])
        assert 0 < processed < members and processed % 10 == 0  # a whole batch, no part
        assert given_back.checkpoint > 0
        second = start_worker(_env(app), log)
        try:
            done = _wait_for(app, job_id, lambda j: j.status in (JobStatus.SUCCEEDED,
                                                                  JobStatus.FAILED),
                             workers=(second,))
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=60) == 0
    _check_batch(app, done, members)
    assert "given back to the queue" in (tmp_path / "worker.log").read_text()
