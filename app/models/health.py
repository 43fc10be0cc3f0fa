"""The member's health record (encrypted summary document) and health-identity link."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now as utc_now
from app.db import Base


class HealthRecord(Base):
    """A member's health summary document, sealed under its own data key (envelope encryption).

    ``summary_encrypted`` is readable only with ``data_key_wrapped``, which the key-encryption
    key ``kek_version`` unwraps; both are bound to this member. ``content_hash`` is a keyed hash
    of the document, so an identical re-push changes nothing.
    """

    __tablename__ = "health_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), unique=True)
    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"), index=True)
    summary_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    data_key_wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    kek_version: Mapped[str] = mapped_column(String(8), index=True)
    source: Mapped[str] = mapped_column(String(200))
    bundle_id: Mapped[str] = mapped_column(String(200))
    content_hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    #: the latest routine (periodic or pre-employment) occupational exam in the summary, kept
    #: in clear for counting exams due (app/services/health/exam_dates.py); no finding, no
    #: result, and never an exam the feed marked sensitive
    last_routine_exam_on: Mapped[date | None]


class HealthLink(Base):
    """A member's link to their health identity (social-insurance / health ID, 10 digits):
    stored encrypted, found by keyed hash; one member per health ID and one ID per member."""

    __tablename__ = "health_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), unique=True)
    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"), index=True)
    health_id_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    health_id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    linked_at: Mapped[datetime] = mapped_column(default=utc_now)
    linked_by: Mapped[str] = mapped_column(String(64))
