"""The service's Prometheus metrics (prometheus_client), shared by the web and worker processes.

Labels hold only fixed vocabularies — route templates, HTTP methods and statuses, job kinds,
audit action names — never a member, user, card, address or token. Under gunicorn (and for
``unioncard worker``) ``PROMETHEUS_MULTIPROC_DIR`` makes every process write its values to
files there, which ``/metrics`` adds up (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from sqlalchemy import event
from sqlalchemy.orm import Session


def _make_multiprocess_dir() -> None:
    """Create ``PROMETHEUS_MULTIPROC_DIR`` (private) when it is set but missing.

    In multiprocess mode prometheus_client opens a file there as soon as a metric is made (at
    import), so on a fresh install the first command of any process (``unioncard db upgrade``
    before gunicorn has ever run, ``unioncard restore`` into a new root) would fail.
    """
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, mode=0o700, exist_ok=True)


_make_multiprocess_dir()

HTTP_REQUESTS = Counter("unioncard_http_requests", "HTTP requests answered",
                        ["method", "route", "status"])
HTTP_LATENCY = Histogram("unioncard_http_request_duration_seconds",
                         "Time to answer an HTTP request", ["method", "route", "status"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
AUDITED = Counter("unioncard_audit_events", "Audited actions recorded, by action",
                  ["action"])
CARDS_ISSUED = Counter("unioncard_cards_issued", "Cards issued (reissues included)", ["how"])
CARD_STATUS = Counter("unioncard_card_status_changes", "Card status changes", ["action"])
LOGIN_FAILURES = Counter("unioncard_login_failures",
                         "Refused logins: wrong password or PIN, or locked",
                         ["account", "reason"])
JOBS_FINISHED = Counter("unioncard_jobs_finished", "Background jobs ended", ["kind", "outcome"])
JOB_PROGRESS = Counter("unioncard_job_rows", "Rows (roster rows, members) jobs have processed",
                       ["kind"])
JOBS_ENQUEUED = Counter("unioncard_jobs_enqueued",
                        "Background jobs put on the queue (again, when resumed)")

#: Audit actions that are card status changes.
_STATUS_ACTIONS = {"card.revoke", "card.suspend", "card.reinstate"}


def audited(action: str) -> None:
    """Count an audited action (and a card issue or status change, when it is one)."""
    AUDITED.labels(action=action).inc()
    if action in ("card.issue", "card.reissue"):
        CARDS_ISSUED.labels(how=action.removeprefix("card.")).inc()
    elif action in _STATUS_ACTIONS:
        CARD_STATUS.labels(action=action.removeprefix("card.")).inc()


_PENDING = "unioncard.metrics.audited"


def audited_on_commit(session: Session, action: str) -> None:
    """Count an audited action when ``session`` commits (not if it rolls back)."""
    session.info.setdefault(_PENDING, []).append(action)


@event.listens_for(Session, "after_commit")
def _count_committed(session: Session) -> None:
    for action in session.info.pop(_PENDING, []):
        audited(action)


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session, *_: Any) -> None:
    session.info.pop(_PENDING, None)


def exposition() -> tuple[bytes, str]:
    """The metrics in Prometheus text format (every process's, in multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
