"""Periodic exam rounds at industrial parks (issue 26): a round planned by an office at an
accredited industrial-park clinic or occupational-health centre, its participants (members
invited, their answers, check-in by card, the exam), the clinic's results (encrypted at rest)
and the outbox that sends each result to the national health record as a FHIR transaction."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, synonym

from app.clock import now as utc_now
from app.db import Base

#: The kinds of round (a subset of the summary's occupational exam types).
ROUND_KINDS = ("periodic", "pre-employment", "occupational-disease")
#: The kinds whose exam moves ``health_records.last_routine_exam_on``.
ROUTINE_KINDS = ("periodic", "pre-employment")
#: The facility types that may run a round (``app.facility_types``).
ROUND_FACILITY_TYPES = ("industrial-park-clinic", "occupational-health-centre")
ROUND_STATUSES = ("planned", "cancelled")
#: A participant's way through a round: invited -> confirmed | asked-another-day ->
#: checked-in -> examined -> delivered (the result reached the national record); no-show
#: (the round's days passed without a check-in).
PARTICIPANT_STATES = ("invited", "confirmed", "asked-another-day", "checked-in", "examined",
                      "delivered", "no-show")
#: An outbox row: pending (to send at ``next_attempt_at``), sending (claimed by a run, with
#: a lease), sent, failed (refused for good or out of attempts), held (the member has no
#: linked health ID yet: nothing to send it under).
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "held")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class ExamRound(Base):
    """A round: where (the clinic), when (first and last day), what kind, for whom (the
    province and, for a union-scoped office, its union; participants are its members)."""

    __tablename__ = "exam_rounds"
    __table_args__ = (
        CheckConstraint(_one_of("kind", ROUND_KINDS), name="kind"),
        CheckConstraint(_one_of("status", ROUND_STATUSES), name="status"),
        CheckConstraint("last_day >= first_day", name="days"),
        Index("ix_exam_rounds_province_code_first_day", "province_code", "first_day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"))
    #: Set when the round belongs to one union's office (a union-scoped officer planned it).
    union_code: Mapped[str | None] = mapped_column(ForeignKey("unions.code"))
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    first_day: Mapped[date]
    last_day: Mapped[date]
    status: Mapped[str] = mapped_column(String(16), default="planned")
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by: Mapped[str] = mapped_column(String(64))


class ExamParticipant(Base):
    """A member in a round and where they are on its way (``PARTICIPANT_STATES``)."""

    __tablename__ = "exam_participants"
    __table_args__ = (
        UniqueConstraint("round_id", "member_id"),
        CheckConstraint(_one_of("state", PARTICIPANT_STATES), name="state"),
        Index("ix_exam_participants_member_id", "member_id"),
        Index("ix_exam_participants_round_id_union_code", "round_id", "union_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("exam_rounds.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"), index=True)
    union_code: Mapped[str] = mapped_column(ForeignKey("unions.code"))
    state: Mapped[str] = mapped_column(String(24), default="invited")
    invited_at: Mapped[datetime] = mapped_column(default=utc_now)
    #: The member's answer: when, and for another day the day they prefer and a short note.
    replied_at: Mapped[datetime | None]
    preferred_day: Mapped[date | None]
    reply_note: Mapped[str] = mapped_column(String(300), default="")
    checked_in_at: Mapped[datetime | None]
    checked_in_card: Mapped[str | None] = mapped_column(String(32))
    examined_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]


class ExamResult(Base):
    """The clinic's result for one participant, sealed (AES-256-GCM envelope, bound to the
    participant): the JSON form of ``app.services.exams.results.ExamFindings``. ``bundle_uuid``
    names the FHIR transaction that carries it to the national record, the same on every
    attempt (idempotency)."""

    __tablename__ = "exam_results"

    participant_id: Mapped[int] = mapped_column(ForeignKey("exam_participants.id"),
                                                primary_key=True)
    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"), index=True)
    result_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    bundle_uuid: Mapped[str] = mapped_column(String(36), unique=True)
    recorded_at: Mapped[datetime] = mapped_column(default=utc_now)
    recorded_by: Mapped[str] = mapped_column(String(64))
    #: How it came: ``json`` or ``fhir``.
    recorded_as: Mapped[str] = mapped_column(String(8))
    #: The access event that logged the write in the member's access log.
    event_id: Mapped[int | None] = mapped_column(ForeignKey("access_events.id"))
    #: What was written, by section (no content): for the round's own checks.
    written: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: The key under the name every encrypted table's rotation pages by.
    id: Mapped[int] = synonym("participant_id")


class ExamDelivery(Base):
    """The outbox row that sends one result to the national health record (one per result,
    claimed with a lease before it is sent; see ``app.services.exams.delivery``)."""

    __tablename__ = "exam_deliveries"
    __table_args__ = (
        CheckConstraint(_one_of("status", DELIVERY_STATUSES), name="status"),
        Index("ix_exam_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("exam_participants.id"),
                                                unique=True)
    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utc_now)
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(String(300), default="")
