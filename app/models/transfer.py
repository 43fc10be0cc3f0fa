"""Transfer requests: a member moves to another province's office when that office asks."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now as utc_now
from app.db import Base


class TransferStatus(str, enum.Enum):
    """A request waits for the member's current office, which accepts or rejects it."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class TransferRequest(Base):
    """An office's request to take over a member registered by another office."""

    __tablename__ = "transfer_requests"
    __table_args__ = (
        Index("ix_transfer_requests_member_id_status", "member_id", "status"),
        Index("ix_transfer_requests_to_province_code_created_at", "to_province_code",
              "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    to_province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"))
    to_union_code: Mapped[str] = mapped_column(ForeignKey("unions.code"))
    status: Mapped[TransferStatus] = mapped_column(
        Enum(TransferStatus, name="transfer_status",
             values_callable=lambda e: [m.value for m in e], validate_strings=True),
        default=TransferStatus.PENDING)
    reason: Mapped[str] = mapped_column(String(500))
    requested_by: Mapped[str] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decision_reason: Mapped[str] = mapped_column(String(500), default="")
    from_province_code: Mapped[str | None] = mapped_column(String(2))
    from_union_code: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    decided_at: Mapped[datetime | None]
