"""Union members; the personal ID and the social-insurance number are stored encrypted, each
with a keyed hash."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now as utc_now
from app.db import Base

# Prefix search on the transliterated name must use an index: byte order on PostgreSQL.
ASCII_NAME = String(200).with_variant(String(200, collation="C"), "postgresql")


class MemberStatus(str, enum.Enum):
    """Membership status."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    LEFT = "left"


class Member(Base):
    """A union member, owned by a province (every member-owned table carries it)."""

    __tablename__ = "members"
    __table_args__ = (
        CheckConstraint("sex IN ('M', 'F')", name="sex"),
        Index("ix_members_province_code_name_ascii", "province_code", "name_ascii"),
        Index("ix_members_name_ascii", "name_ascii"),
        Index("ix_members_union_code_name_ascii", "union_code", "name_ascii"),
        Index("ix_members_status", "status"),
        # the office's lists to work from (app/services/registry/worklists.py): index-only
        # scans of the active members in name order, by province or by union
        Index("ix_members_active_province_code_name_ascii_id", "province_code", "name_ascii",
              "id", sqlite_where=text("status = 'active'"),
              postgresql_where=text("status = 'active'")),
        Index("ix_members_active_union_code_name_ascii_id", "union_code", "name_ascii", "id",
              sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"))
    union_code: Mapped[str] = mapped_column(ForeignKey("unions.code"))
    member_number: Mapped[str] = mapped_column(String(20), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    name_ascii: Mapped[str] = mapped_column(ASCII_NAME)
    birth_date: Mapped[date]
    sex: Mapped[str] = mapped_column(String(1))
    personal_id_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    personal_id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    personal_id_last4: Mapped[str] = mapped_column(String(4))
    #: The social-insurance number (mã số BHXH) sealed like the personal ID (owner: its keyed
    #: hash, which also tells whether an import changes it); officers see the last 4 digits.
    insurance_number_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    insurance_number_hash: Mapped[str | None] = mapped_column(String(64))
    insurance_number_last4: Mapped[str | None] = mapped_column(String(4))
    phone: Mapped[str | None] = mapped_column(String(16))
    join_date: Mapped[date | None]
    status: Mapped[MemberStatus] = mapped_column(
        Enum(MemberStatus, name="member_status", values_callable=lambda e: [m.value for m in e],
             validate_strings=True), default=MemberStatus.ACTIVE)
    status_reason: Mapped[str] = mapped_column(String(200), default="")
    status_changed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)


class MemberNumberSequence(Base):
    """The next member-number sequence value of a province (allocated in blocks, atomically)."""

    __tablename__ = "member_number_sequences"

    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"), primary_key=True)
    next_value: Mapped[int] = mapped_column(default=1)
