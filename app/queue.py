"""The background-job queue (Huey): embedded SQLite storage by default, Redis in production.

A queue message holds only a job id; the job itself — its kind, parameters, checkpoint, counts
and report — is the row in the ``jobs`` table, as before. ``unioncard worker`` takes messages
off the queue and runs the jobs (``app.worker``); the web and the commands only enqueue.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey

from app import metrics

#: The name under which the one task is registered (a queue message names it).
TASK_NAME = "unioncard.run_job"


def queue_target(config: Mapping[str, Any]) -> str:
    """Where the queue lives: ``UNIONCARD_QUEUE_URL`` or the embedded SQLite file."""
    url = str(config.get("QUEUE_URL") or "")
    if url:
        return url
    return f"sqlite:///{Path(str(config['ROOT'])) / 'var' / 'queue.db'}"


class JobQueue:
    """The queue of one configuration: its Huey instance and the job task."""

    def __init__(self, huey: Huey) -> None:
        self.huey = huey
        self._task = huey.task(name=TASK_NAME)(_run_job)

    def enqueue(self, job_id: str) -> None:
        """Put a job on the queue (its row must be committed first)."""
        self._task(job_id)
        metrics.JOBS_ENQUEUED.inc()

    def pending(self) -> int:
        """Messages waiting on the queue."""
        return int(self.huey.pending_count())


def make_queue(config: Mapping[str, Any]) -> JobQueue:
    """The queue on the configured storage, with the job task registered.

    Raises:
        ValueError: the queue URL is neither ``redis://``/``rediss://`` nor ``sqlite:///``.
    """
    url = queue_target(config)
    name = str(config.get("QUEUE_NAME") or "unioncard")
    huey: Huey
    if url.startswith(("redis://", "rediss://", "unix://")):
        huey = RedisHuey(name, url=url, results=False)
    elif url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        huey = SqliteHuey(name, filename=str(path), results=False, fsync=True)
    else:
        raise ValueError("UNIONCARD_QUEUE_URL must be redis://... or sqlite:///PATH")
    return JobQueue(huey)


def _run_job(job_id: str) -> None:
    """The task: run a job in this worker (``app.worker`` sets the worker up)."""
    from app import worker

    worker.run_job(job_id)
