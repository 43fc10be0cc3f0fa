"""One-time form tokens already used on the pages, and what each one's first use answered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now as utc_now
from app.db import Base


class FormSubmission(Base):
    """A page form's one-time token, taken by its first submission.

    ``token_key`` is SHA-256 of the signed-in actor and the form's random token (never the
    token itself); ``result`` is the path the first submission redirected to ("" when it
    answered with a page or a file), so a repeat is sent there instead of acting again. Rows
    older than a day are deleted as new ones come (a session lasts 8 hours).
    """

    __tablename__ = "form_submissions"

    token_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    result: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
