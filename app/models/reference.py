"""Reference data: the 34 province-level units (Decision 19/2025/QĐ-TTg)."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class Province(Base):
    """A province-level unit with its 2-digit code."""

    __tablename__ = "provinces"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    merged_from: Mapped[str] = mapped_column(String(200), default="")
