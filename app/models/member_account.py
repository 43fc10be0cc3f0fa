"""A member's own login: password and PIN (argon2id), activation, lockouts, token version."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now as utc_now
from app.db import Base


class MemberAccount(Base):
    """One account per member, created by activation with the card's one-time code.

    The password and the PIN each count their own wrong attempts and have their own lock;
    ``token_version`` moves on at logout, password change and re-activation, which ends
    every token issued before. ``phone`` is the member's phone as a second login name, kept
    only while no other account uses it.
    """

    __tablename__ = "member_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), unique=True)
    province_code: Mapped[str] = mapped_column(ForeignKey("provinces.code"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    pin_hash: Mapped[str] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(16), unique=True)
    activated_at: Mapped[datetime]
    password_failures: Mapped[int] = mapped_column(default=0)
    password_locked_until: Mapped[datetime | None] = mapped_column(default=None)
    pin_failures: Mapped[int] = mapped_column(default=0)
    pin_locked_until: Mapped[datetime | None] = mapped_column(default=None)
    #: The PIN's locks in a row (each longer than the last); a right PIN, a new PIN, a new
    #: activation or an administrator ends the run.
    pin_lock_count: Mapped[int] = mapped_column(default=0, server_default="0")
    token_version: Mapped[int] = mapped_column(default=0)
    #: The last successful password login (the member's export shows it).
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now, onupdate=utc_now)
