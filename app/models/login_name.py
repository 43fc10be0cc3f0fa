"""Wrong passwords counted per login name (a username, member number or phone), whether or
not an account has that name."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now as utc_now
from app.db import Base


class LoginNameFailures(Base):
    """The wrong passwords in a row given with one login name, and its password-login lock.

    ``name_key`` is the keyed hash (HMAC-SHA256 under the lookup key) of the name's kind and
    its normalised form, never the name itself: an unknown name counts and locks as a known
    one does, so the answers cannot tell whether an account has that name. A successful login
    deletes the row.
    """

    __tablename__ = "login_name_failures"

    name_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: Wrong passwords since the last successful login (reset when a lock begins).
    failures: Mapped[int] = mapped_column(default=0)
    #: Password login with this name is refused until then.
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    last_failure_at: Mapped[datetime] = mapped_column(default=utc_now)
