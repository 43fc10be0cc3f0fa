"""The date of a member's latest routine occupational exam, in clear beside the sealed record,
so the office dashboard can count exams due without opening anyone's health record.

Revision ID: 0016_exam_dates
Revises: 0015_access_events
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_exam_dates"
down_revision = "0015_access_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add health_records.last_routine_exam_on (filled as records are next stored)."""
    with op.batch_alter_table("health_records") as batch:
        batch.add_column(sa.Column("last_routine_exam_on", sa.Date(), nullable=True))


def downgrade() -> None:
    """Drop health_records.last_routine_exam_on."""
    with op.batch_alter_table("health_records") as batch:
        batch.drop_column("last_routine_exam_on")
