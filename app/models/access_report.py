"""A member's report of an access-log entry she does not recognise, and the national
administrator's (the data-protection contact's) work on it: open → investigating → closed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now as utc_now
from app.db import Base

#: Why the member does not recognise the entry.
REPORT_REASONS = ("not-there", "saw-too-much", "no-emergency", "other")
#: Where a report stands.
REPORT_STATUSES = ("open", "investigating", "closed")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class AccessReport(Base):
    """One report of one visit of the member's access log (``first_event_id``: the visit's
    first event, so a visit is reported once); the events it covered, the clinic as the events
    recorded it, the member's reason and note, the administrator's status and note. Both
    notes are encrypted (owner: ``first_event_id``)."""

    __tablename__ = "access_reports"
    __table_args__ = (
        Index("ix_access_reports_status_created_at", "status", "created_at"),
        CheckConstraint(_one_of("reason", REPORT_REASONS), name="reason"),
        CheckConstraint(_one_of("status", REPORT_STATUSES), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"), index=True)
    first_event_id: Mapped[int] = mapped_column(ForeignKey("access_events.id"), unique=True)
    #: Every event of the visit when it was reported.
    event_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    clinic_code: Mapped[str] = mapped_column(String(16), index=True)
    clinic_name: Mapped[str] = mapped_column(String(200))
    visit_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(String(32))
    note_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="open")
    admin_note_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    handled_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    closed_at: Mapped[datetime | None]
