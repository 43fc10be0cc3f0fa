"""Members' notification addresses and the e-mail outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, synonym

from app.clock import now as utc_now
from app.db import Base

#: What an outbox message announces: an emergency access (``event_id``) or an exam-round
#: invitation (``participant_id``, issue 26).
MESSAGE_KINDS = ("emergency-access", "exam-invitation")
#: pending (to send, at ``next_attempt_at``), sending (claimed by a delivery run), sent,
#: failed (refused for good or out of attempts), uncertain (a run stopped between claiming and
#: marking: the server may have it; never resent by itself), no-address (nothing to send to).
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed", "uncertain", "no-address")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class NotificationAddress(Base):
    """A member's e-mail address for notifications (optional), encrypted, bound to the member."""

    __tablename__ = "notification_addresses"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"), index=True)
    email_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    #: The key under the name every encrypted table's rotation pages by.
    id: Mapped[int] = synonym("member_id")


class OutboxMessage(Base):
    """A message to a member, queued in the transaction that caused it and delivered later.

    It holds no text and no address: the delivery composes the e-mail from the access event (or
    the exam round of ``participant_id``) and reads the member's address at that moment.
    """

    __tablename__ = "notification_outbox"
    __table_args__ = (
        UniqueConstraint("kind", "event_id"),
        UniqueConstraint("participant_id", "kind"),
        Index("ix_notification_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        CheckConstraint(_one_of("kind", MESSAGE_KINDS), name="kind"),
        CheckConstraint(_one_of("status", OUTBOX_STATUSES), name="status"),
        CheckConstraint("(kind = 'emergency-access' AND event_id IS NOT NULL) OR "
                        "(kind = 'exam-invitation' AND participant_id IS NOT NULL)",
                        name="subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("access_events.id"))
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("exam_participants.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utc_now)
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(String(300), default="")
