"""What every command shares: the app it runs in, its database session, a job's progress bar."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click
from flask import Flask

from app.config import ConfigError

if TYPE_CHECKING:  # imported when a command runs, so that ``unioncard --help`` stays quick
    from sqlalchemy.orm import Session

    from app.models import Job
    from app.services.jobs import Work

F = TypeVar("F", bound=Callable[..., Any])


def make_app() -> Flask:
    """The app configured from the environment; a configuration error is a one-line message.

    Raises:
        click.ClickException: the configuration is missing or invalid.
    """
    from app import create_app

    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def with_app(func: F) -> F:
    """Run the command inside an app context (the app given as the click context's object,
    else one made from the environment), turning expected errors into one-line messages."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from app.extensions import db as database
        from app.services.errors import DomainError

        given = click.get_current_context().find_object(Flask)
        app = given if given is not None else make_app()
        try:
            with app.app_context():
                try:
                    return func(app, *args, **kwargs)
                except DomainError as exc:
                    details = "; ".join(f"{e['field']}: {e['detail']}" for e in exc.errors)
                    raise click.ClickException(details or exc.detail) from None
        finally:
            if given is None:
                for engine in database.engines(app):
                    engine.dispose()

    return wrapper  # type: ignore[return-value]


@contextmanager
def cli_session(app: Flask) -> Iterator[Session]:
    """A database session for a command; database errors become one-line messages."""
    from sqlalchemy.exc import SQLAlchemyError

    from app.extensions import db as database

    session = database.new_session(app)
    try:
        yield session
    except SQLAlchemyError as exc:
        session.rollback()
        raise click.ClickException(f"database error: {type(exc).__name__}: "
                                   f"{str(exc).splitlines()[0]}") from None
    finally:
        session.close()


class JobProgress:
    """Runs a job (a ``jobs.Launch``), drawing its progress on standard error: on the queue,
    waiting for a ``unioncard worker`` to run it, or (``here``) in this process."""

    #: Seconds between two looks at a queued job's row.
    POLL_SECONDS = 0.5
    #: After this long with the job still queued, say that a worker is needed.
    NO_WORKER_HINT_SECONDS = 10.0

    def __init__(self, app: Flask, label: str, position: Callable[[Job], int], *,
                 here: bool = False) -> None:
        from app.extensions import db as database

        self._app = app
        self._sessions = functools.partial(database.new_session, app)
        self._label = label
        self._position = position
        self._here = here
        self._bar: Any = None
        self._done = 0

    def launch(self, job_id: str, work: Work) -> None:
        """Run the job to its end with a progress bar.

        Raises:
            DomainError: the job failed (it records the message too).
        """
        if self._here:
            self._run_here(job_id, work)
        else:
            self._enqueue_and_wait(job_id)

    def _run_here(self, job_id: str, work: Work) -> None:
        from app.services import jobs

        def observed(session: Session, job: Job) -> Mapping[str, Any]:
            total = max(int(job.counts.get("total", 0)), 1)
            with click.progressbar(length=total, file=sys.stderr, label=self._label) as bar:
                self._bar, self._done = bar, self._position(job)
                bar.update(self._done)
                try:
                    return work(session, job)
                finally:
                    self._bar = None

        jobs.run(self._sessions, job_id, observed)

    def _enqueue_and_wait(self, job_id: str) -> None:
        import time

        from app.composition import job_queue
        from app.models import Job as JobRow
        from app.models import JobStatus
        from app.services.errors import DomainError

        job_queue(self._app).enqueue(job_id)
        started = time.monotonic()
        hinted = False
        with click.progressbar(length=1, file=sys.stderr, label=self._label) as bar:
            self._bar, self._done = bar, 0
            try:
                while True:
                    session = self._sessions()
                    try:
                        job = session.get(JobRow, job_id)
                        if job is None:
                            raise DomainError(f"Job {job_id} is gone.")
                        bar.length = max(int(job.counts.get("total", 0)), 1)
                        self(job)
                        status, error = job.status, job.error
                    finally:
                        session.close()
                    if status is JobStatus.SUCCEEDED:
                        return
                    if status is JobStatus.FAILED and not error.startswith("Interrupted:"):
                        raise DomainError(error or "The job failed.")
                    if (status is JobStatus.QUEUED and not hinted
                            and time.monotonic() - started > self.NO_WORKER_HINT_SECONDS):
                        hinted = True
                        click.echo(f"\njob {job_id} is waiting for a worker: is `unioncard "
                                   "worker` running? (Ctrl-C stops waiting, not the job; "
                                   "--here runs it in this process)", err=True)
                    time.sleep(self.POLL_SECONDS)
            finally:
                self._bar = None

    def __call__(self, job: Job) -> None:
        """Advance the bar to the job's position (a ``ProgressCallback``)."""
        if self._bar is not None:
            position = self._position(job)
            self._bar.update(position - self._done)
            self._done = position

