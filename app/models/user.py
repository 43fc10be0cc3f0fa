"""Staff accounts: administrators and union officers."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now as utc_now
from app.db import Base


class Role(str, enum.Enum):
    """What a staff account may do."""

    ADMIN = "admin"
    OFFICER = "officer"


class User(Base):
    """A staff login: an administrator (national) or an officer scoped to a province/union."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role = 'admin' OR province_code IS NOT NULL", name="officer_has_province"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(
        Enum(Role, name="user_role", values_callable=lambda e: [m.value for m in e],
             validate_strings=True)
    )
    province_code: Mapped[str | None] = mapped_column(ForeignKey("provinces.code"))
    union_code: Mapped[str | None] = mapped_column(String(20))
    full_name: Mapped[str] = mapped_column(String(200), default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    token_version: Mapped[int] = mapped_column(default=0)
