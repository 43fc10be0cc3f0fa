"""Index cards by their batch job (batch sheets and letters look cards up by job).

Revision ID: 0005_card_batch_index
Revises: 0004_cards
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0005_card_batch_index"
down_revision = "0004_cards"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ix_cards_batch_job_id."""
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.create_index("ix_cards_batch_job_id", ["batch_job_id"], unique=False)


def downgrade() -> None:
    """Drop ix_cards_batch_job_id."""
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_index("ix_cards_batch_job_id")
