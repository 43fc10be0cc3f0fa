"""One-time form tokens: a console form sent again (Back and Reload, a double click) answers
with its first result instead of acting twice.

Revision ID: 0021_form_submissions
Revises: 0020_access_reports
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_form_submissions"
down_revision = "0020_access_reports"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create form_submissions."""
    op.create_table(
        "form_submissions",
        sa.Column("token_key", sa.String(length=64), nullable=False),
        sa.Column("result", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_key", name=op.f("pk_form_submissions")),
    )
    op.create_index(op.f("ix_form_submissions_created_at"), "form_submissions",
                    ["created_at"])


def downgrade() -> None:
    """Drop form_submissions."""
    op.drop_index(op.f("ix_form_submissions_created_at"), table_name="form_submissions")
    op.drop_table("form_submissions")
