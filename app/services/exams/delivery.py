"""Sending exam results to the national health record: the ``exam_deliveries`` outbox, run by
the worker (``app.duties``: the ``exam-results`` duty) or by hand (``Delivery.run``).

The guarantees:

- **durable**: a result's row is written in the transaction that recorded the result; it
  outlives any process;
- **at least once**: a row is claimed (``sending``, committed, with a lease) before its Bundle
  is sent; a failure that may pass (timeout, unreachable, 429, 5xx) puts it back to
  ``pending`` with exponential backoff (``RetryPolicy``), up to ``max_attempts``; a row left
  claimed beyond the lease (its worker was killed mid-delivery) is claimed again;
- **never twice**: the Bundle is the same on every attempt (built from the sealed result and
  its ``bundle_uuid``), and every entry is a conditional create (``ifNoneExist`` on its stable
  identifier), so a repeat after a lost answer creates nothing new on the server; a ``sent``
  row is never picked again;
- a member without a linked health ID has her row ``held``; it becomes ``pending`` on the first
  run after she is linked;
- **no consent is asked**: the national health record is the member's own record (kept under
  her health ID), not a disclosure to a clinic, so the whole result goes there, sensitive and
  unclassifiable findings included; what a clinic may see is decided on release from her
  summary, where the exam is classified fail-closed (``results.exam_entry``) and a sensitive
  one needs her consent to sensitive information.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.crypto import DataCipher
from app.models import Clinic, HealthLink
from app.models.exam_round import ExamDelivery, ExamParticipant, ExamResult, ExamRound
from app.services.errors import DomainError, HealthRecordUnavailable
from app.services.exams.fhir import transaction
from app.services.exams.results import ExamResults
from app.services.health.fhir_client import FhirPullClient, TransactionRejected

log = logging.getLogger("unioncard.exams")
SessionFactory = Callable[[], Session]
ClientFactory = Callable[[], FhirPullClient]


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff between attempts (``base * 2**(n-1)``, at most ``max_wait``), the attempts
    before a row fails for good, and the lease of a claim."""

    base: timedelta = timedelta(seconds=30)
    max_wait: timedelta = timedelta(hours=6)
    max_attempts: int = 12
    lease: timedelta = timedelta(minutes=5)

    def wait(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt."""
        wait: timedelta = self.base * (2 ** max(0, attempts - 1))
        return min(wait, self.max_wait)


@dataclass
class DeliveryReport:
    """What one run did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0  # held rows whose member is now linked
    reclaimed: int = 0  # rows left claimed by a stopped run, claimed again
    stopped: str = ""


class Delivery:
    """Delivers due results, each in its own short transactions."""

    def __init__(self, sessions: SessionFactory, cipher: DataCipher, client: ClientFactory, *,
                 policy: RetryPolicy = RetryPolicy(),
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.sessions = sessions
        self.cipher = cipher
        self.client = client
        self.policy = policy
        self.clock = clock

    def run(self, *, limit: int = 500) -> DeliveryReport:
        """Send up to ``limit`` due results; safe to run in several processes at once."""
        report = DeliveryReport(released=self._release_held(),
                                reclaimed=self._expire_claims())
        due = self._due(limit)
        if not due:
            return report
        with self.client() as client:
            for delivery_id in due:
                if not self._claim(delivery_id):
                    continue  # another run took it
                try:
                    self._deliver(delivery_id, client, report)
                except HealthRecordUnavailable as exc:
                    report.stopped = exc.detail  # the server is down: the rest waits too
                    break
        return report

    # -- steps, each its own transaction ----------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self.sessions() as session:
            yield session
            session.commit()

    def _release_held(self) -> int:
        with self._transaction() as session:
            linked = select(ExamParticipant.id).join(
                HealthLink, HealthLink.member_id == ExamParticipant.member_id)
            result = session.execute(
                update(ExamDelivery)
                .where(ExamDelivery.status == "held", ExamDelivery.participant_id.in_(linked))
                .values(status="pending", next_attempt_at=self.clock(), last_error=""))
            return int(result.rowcount)  # type: ignore[attr-defined]

    def _expire_claims(self) -> int:
        with self._transaction() as session:
            result = session.execute(
                update(ExamDelivery)
                .where(ExamDelivery.status == "sending",
                       ExamDelivery.claimed_at < self.clock() - self.policy.lease)
                .values(status="pending", next_attempt_at=self.clock(),
                        last_error="a delivery run stopped after claiming it; sent again "
                                   "(conditional creates: never stored twice)"))
            count = int(result.rowcount)  # type: ignore[attr-defined]
        if count:
            log.warning("%d exam result(s) left claimed by a stopped run are sent again", count)
        return count

    def _due(self, limit: int) -> list[int]:
        with self._transaction() as session:
            return list(session.scalars(
                select(ExamDelivery.id)
                .where(ExamDelivery.status == "pending",
                       ExamDelivery.next_attempt_at <= self.clock())
                .order_by(ExamDelivery.next_attempt_at, ExamDelivery.id).limit(limit)))

    def _claim(self, delivery_id: int) -> bool:
        with self._transaction() as session:
            result = session.execute(
                update(ExamDelivery)
                .where(ExamDelivery.id == delivery_id, ExamDelivery.status == "pending")
                .values(status="sending", claimed_at=self.clock(),
                        attempts=ExamDelivery.attempts + 1))
            return int(result.rowcount) == 1  # type: ignore[attr-defined]

    def bundle(self, session: Session, participant_id: int) -> dict[str, object] | None:
        """The transaction Bundle of a participant's result (None: the member is no longer
        linked, or the result is gone)."""
        row = session.execute(
            select(ExamResult, ExamParticipant.member_id, ExamRound, Clinic)
            .join(ExamParticipant, ExamParticipant.id == ExamResult.participant_id)
            .join(ExamRound, ExamRound.id == ExamParticipant.round_id)
            .join(Clinic, Clinic.id == ExamRound.clinic_id)
            .where(ExamResult.participant_id == participant_id)).first()
        if row is None:
            return None
        result, member_id, round_, clinic = row
        results = ExamResults(session, self.cipher)
        health_id = results.health_id(member_id)
        findings = results.load(participant_id)
        if health_id is None or findings is None:
            return None
        return transaction(findings, bundle_uuid=result.bundle_uuid, health_id=health_id,
                           kind=round_.kind, clinic_code=clinic.facility_code,
                           clinic_name=clinic.name, now=result.recorded_at)

    def _deliver(self, delivery_id: int, client: FhirPullClient,
                 report: DeliveryReport) -> None:
        with self.sessions() as session:
            row = session.get(ExamDelivery, delivery_id)
            assert row is not None
            participant_id, attempts = row.participant_id, row.attempts
            bundle = self.bundle(session, participant_id)
        if bundle is None:
            self._finish(delivery_id, "held", "the member has no linked health ID")
            return
        try:
            answer = client.transaction(bundle)
        except TransactionRejected as exc:
            self._finish(delivery_id, "failed", exc.detail)
            report.failed += 1
            log.warning("exam result %d refused for good: %s", delivery_id, exc.detail)
            return
        except HealthRecordUnavailable as exc:
            self._retry(delivery_id, attempts, exc.detail, report)
            raise
        except DomainError as exc:
            self._retry(delivery_id, attempts, exc.detail, report)
            return
        problems = [e for e in answer.get("entry") or ()
                    if isinstance(e, dict) and not str((e.get("response") or {}).get(
                        "status", "")).startswith(("200", "201"))]
        if problems:
            self._retry(delivery_id, attempts, "the server did not store every entry", report)
            return
        now = self.clock()
        with self._transaction() as session:
            session.execute(update(ExamDelivery).where(ExamDelivery.id == delivery_id)
                            .values(status="sent", last_error="", sent_at=now))
            session.execute(update(ExamParticipant)
                            .where(ExamParticipant.id == participant_id,
                                   ExamParticipant.state == "examined")
                            .values(state="delivered", delivered_at=now))
        report.sent += 1

    def _retry(self, delivery_id: int, attempts: int, error: str,
               report: DeliveryReport) -> None:
        if attempts >= self.policy.max_attempts:
            self._finish(delivery_id, "failed", f"out of attempts: {error}")
            report.failed += 1
            return
        with self._transaction() as session:
            session.execute(update(ExamDelivery).where(ExamDelivery.id == delivery_id)
                            .values(status="pending", last_error=error[:300],
                                    next_attempt_at=self.clock() + self.policy.wait(attempts)))
        report.retrying += 1

    def _finish(self, delivery_id: int, status: str, error: str) -> None:
        with self._transaction() as session:
            session.execute(update(ExamDelivery).where(ExamDelivery.id == delivery_id)
                            .values(status=status, last_error=error[:300]))
