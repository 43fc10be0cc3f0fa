"""Delivering the outbox by e-mail over SMTP: claimed, sent, marked, retried with backoff.

The guarantee: a message is sent at least once while the SMTP conversation fails before the
server answers the message (each failure retried with exponential backoff, up to a number of
attempts), and never sent again after a delivering process stopped between the server
accepting it and the row being marked: a row is claimed (``sending``, committed) before its
message is sent, a claimed row is never picked again, and one left claimed beyond the lease
becomes ``uncertain`` for an operator to look at (``--requeue-uncertain`` sends it again).
The one case that can repeat a message is a connection lost after the server took it but
before it answered; every attempt carries the same Message-ID, so mail systems can drop the
copy.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.crypto import DataCipher
from app.models.access_event import AccessEvent
from app.models.notification import OutboxMessage
from app.services.access_events.addresses import NotificationAddresses
from app.services.access_events.email_text import emergency_email

#: The outbox kind of an exam-round invitation (``app.services.exams.rounds``).
EXAM_INVITATION = "exam-invitation"

log = logging.getLogger("unioncard.notifications")
TLS_MODES = ("none", "starttls", "ssl")
#: The longest wait between two attempts of one message.
MAX_BACKOFF = timedelta(hours=6)
SessionFactory = Callable[[], Session]


class DeliveryStopped(Exception):
    """The SMTP server cannot be used now (unreachable, login refused): the run stops."""


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send e-mail.

    Raises:
        ValueError: no host or sender, an unknown TLS mode, or a password sent without TLS to
            another machine.
    """

    host: str
    port: int
    sender: str
    tls: str = "starttls"
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 10.0
    #: PEM file of the certificate authorities to trust (empty: the system's).
    ca_file: str = ""

    def __post_init__(self) -> None:
        if not self.host or not self.sender:
            raise ValueError("SMTP_HOST and SMTP_FROM must be set to send e-mail")
        if self.tls not in TLS_MODES:
            raise ValueError(f"SMTP_TLS must be one of {', '.join(TLS_MODES)}")
        if self.tls == "none" and self.password and self.host not in ("localhost", "127.0.0.1",
                                                                      "::1"):
            raise ValueError("SMTP_PASSWORD would cross the network in clear: set SMTP_TLS")


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts per message, the first wait (doubling after each failure), and how long a
    claimed message may stay claimed before it is judged uncertain."""

    max_attempts: int = 8
    base: timedelta = timedelta(seconds=60)
    lease: timedelta = timedelta(minutes=10)

    def wait(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt."""
        return min(self.base * (1 << min(max(attempts - 1, 0), 20)), MAX_BACKOFF)


@dataclass
class DeliveryReport:
    """What one run did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    no_address: int = 0
    uncertain: int = 0
    stopped: str = ""


class SmtpConnection:
    """One SMTP session for a run, opened on first use."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None

    def send(self, message: EmailMessage) -> None:
        """Send one message (opening the session first if needed)."""
        if self._smtp is None:
            self._smtp = self._open()
        self._smtp.send_message(message)

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        try:
            context = ssl.create_default_context(cafile=s.ca_file or None)
        except (OSError, ssl.SSLError) as exc:
            raise DeliveryStopped(f"cannot read SMTP_CA_FILE {s.ca_file}: {exc}") from exc
        try:
            smtp = (smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
                    if s.tls == "ssl" else smtplib.SMTP(s.host, s.port, timeout=s.timeout))
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryStopped(f"cannot reach the SMTP server {s.host}:{s.port}: "
                                  f"{type(exc).__name__}: {exc}"[:300]) from exc
        try:
            if s.tls == "starttls":
                smtp.starttls(context=context)
            if s.username:
                smtp.login(s.username, s.password)
        except smtplib.SMTPAuthenticationError as exc:
            smtp.close()
            raise DeliveryStopped(f"the SMTP server refused the login ({exc.smtp_code})") from exc
        except (OSError, smtplib.SMTPException) as exc:
            smtp.close()
            raise DeliveryStopped(f"cannot use the SMTP server {s.host}:{s.port}: "
                                  f"{type(exc).__name__}: {exc}"[:300]) from exc
        return smtp

    def close(self) -> None:
        """End the SMTP session, if one was opened."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._smtp = None


def _permanent(exc: smtplib.SMTPException) -> bool:
    """Whether the server refused the message for good (a 5xx answer)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    code = getattr(exc, "smtp_code", 0)
    return isinstance(code, int) and code >= 500


class Delivery:
    """Delivers due outbox messages, each in its own short transactions."""

    def __init__(self, sessions: SessionFactory, cipher: DataCipher, settings: SmtpSettings,
                 policy: RetryPolicy, *, access_log_url: str,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.sessions = sessions
        self.cipher = cipher
        self.settings = settings
        self.policy = policy
        self.access_log_url = access_log_url
        self.clock = clock

    def run(self, *, limit: int = 1000) -> DeliveryReport:
        """Send up to ``limit`` due messages; idempotent (a sent message is never picked
        again, nor is one another run has claimed)."""
        report = DeliveryReport(uncertain=self._expire_claims())
        connection = SmtpConnection(self.settings)
        try:
            for outbox_id in self._due(limit):
                if not self._claim(outbox_id):
                    continue  # another run took it
                try:
                    self._deliver(outbox_id, connection, report)
                except DeliveryStopped as exc:
                    self._release(outbox_id, str(exc))
                    report.stopped = str(exc)
                    log.warning("notification delivery stopped: %s", exc)
                    break
        finally:
            connection.close()
        return report

    def requeue_uncertain(self) -> int:
        """Put the uncertain messages back in the queue (they may reach members twice)."""
        with self._transaction() as session:
            result = session.execute(update(OutboxMessage)
                                     .where(OutboxMessage.status == "uncertain")
                                     .values(status="pending", next_attempt_at=self.clock()))
            return int(result.rowcount)  # type: ignore[attr-defined]

    # -- steps, each its own transaction -------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        """A session whose work is committed when the block ends without an error."""
        with self.sessions() as session:
            yield session
            session.commit()

    def _expire_claims(self) -> int:
        with self._transaction() as session:
            result = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.status == "sending",
                       OutboxMessage.claimed_at < self.clock() - self.policy.lease)
                .values(status="uncertain",
                        last_error="a delivery run stopped after claiming it; it may have "
                                   "been sent"))
            count = int(result.rowcount)  # type: ignore[attr-defined]
        if count:
            log.warning("%d notification(s) left claimed by a stopped run are now uncertain",
                        count)
        return count

    def _due(self, limit: int) -> list[int]:
        with self._transaction() as session:
            return list(session.scalars(
                select(OutboxMessage.id)
                .where(OutboxMessage.status == "pending",
                       OutboxMessage.next_attempt_at <= self.clock())
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)))

    def _claim(self, outbox_id: int) -> bool:
        with self._transaction() as session:
            result = session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == outbox_id, OutboxMessage.status == "pending")
                .values(status="sending", claimed_at=self.clock(),
                        attempts=OutboxMessage.attempts + 1))
            return int(result.rowcount) == 1  # type: ignore[attr-defined]

    def _deliver(self, outbox_id: int, connection: SmtpConnection,
                 report: DeliveryReport) -> None:
        with self.sessions() as session:
            row = session.get(OutboxMessage, outbox_id)
            assert row is not None
            to = NotificationAddresses(session, self.cipher).email(row.member_id)
            message: EmailMessage | None = None
            if to is not None and row.kind == EXAM_INVITATION and row.participant_id:
                from app.services.exams.email_text import invitation_email

                message = invitation_email(
                    session, row.participant_id, outbox_id=outbox_id,
                    sender=self.settings.sender, to=to, at=row.created_at,
                    portal_url=self.access_log_url.removesuffix("/access-log") + "/exam-rounds")
                if message is None:  # the round was cancelled since
                    to = None
            elif to is not None:
                event = session.get(AccessEvent, row.event_id)
                assert event is not None
                message = emergency_email(event, outbox_id=outbox_id,
                                          sender=self.settings.sender, to=to,
                                          access_log_url=self.access_log_url)
            attempts = row.attempts
        if message is None:
            self._finish(outbox_id, "no-address", "the member gave no e-mail address")
            report.no_address += 1
            return
        try:
            connection.send(message)
        except smtplib.SMTPException as exc:
            if isinstance(exc, smtplib.SMTPServerDisconnected):
                connection.close()
            self._failed(outbox_id, attempts, exc, permanent=_permanent(exc), report=report)
            return
        except OSError as exc:  # the connection broke: retry later, stop this run
            connection.close()
            self._failed(outbox_id, attempts, exc, permanent=False, report=report)
            raise DeliveryStopped(f"connection lost: {type(exc).__name__}") from exc
        self._finish(outbox_id, "sent", "")
        report.sent += 1

    def _failed(self, outbox_id: int, attempts: int, exc: Exception, *, permanent: bool,
                report: DeliveryReport) -> None:
        error = f"{type(exc).__name__}: {exc}"[:300]
        if permanent or attempts >= self.policy.max_attempts:
            self._finish(outbox_id, "failed", error)
            report.failed += 1
            log.warning("notification %d failed for good: %s", outbox_id, error)
            return
        with self._transaction() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id)
                            .values(status="pending", last_error=error,
                                    next_attempt_at=self.clock() + self.policy.wait(attempts)))
        report.retrying += 1

    def _release(self, outbox_id: int, error: str) -> None:
        """Give back a claimed message that was not tried (the server could not be used)."""
        with self._transaction() as session:
            session.execute(update(OutboxMessage)
                            .where(OutboxMessage.id == outbox_id,
                                   OutboxMessage.status == "sending")
                            .values(status="pending", last_error=error[:300],
                                    attempts=OutboxMessage.attempts - 1))

    def _finish(self, outbox_id: int, status: str, error: str) -> None:
        with self._transaction() as session:
            session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id)
                            .values(status=status, last_error=error,
                                    sent_at=self.clock() if status == "sent" else None))
