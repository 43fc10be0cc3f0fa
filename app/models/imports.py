"""Row-level findings of a roster import job (its report)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base


class ImportIssue(Base):
    """One error or warning about one row (and column) of an imported roster file."""

    __tablename__ = "import_issues"
    __table_args__ = (Index("ix_import_issues_job_id_row_number", "job_id", "row_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    row_number: Mapped[int]
    column_name: Mapped[str] = mapped_column(String(100), default="")
    field: Mapped[str] = mapped_column(String(32), default="")
    value: Mapped[str] = mapped_column(String(120), default="")
    severity: Mapped[str] = mapped_column(String(8), default="error")
    reason: Mapped[str] = mapped_column(String(300))
