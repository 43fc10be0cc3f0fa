"""Health-record feed clients: the provincial / national systems that push members' summaries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now as utc_now
from app.db import Base


class HealthFeed(Base):
    """An OAuth 2 client (client credentials) that pushes FHIR summaries for the members of the
    provinces it serves. Its secret is kept only as a keyed hash (HMAC with the lookup key): it
    is 256 random bits, so a slow hash would add cost and no strength."""

    __tablename__ = "health_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    provinces: Mapped[list[Any]] = mapped_column(JSON, default=list)
    secret_hash: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    #: Raised by a rotation or disabling: every token issued before stops working.
    token_version: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    created_by: Mapped[str] = mapped_column(String(64))
    rotated_at: Mapped[datetime | None]
