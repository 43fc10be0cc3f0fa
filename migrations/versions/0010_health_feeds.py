"""Health-record feed clients (OAuth 2 client credentials; the secret kept as a keyed hash).

Revision ID: 0010_health_feeds
Revises: 0009_health
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_health_feeds"
down_revision = "0009_health"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create health_feeds."""
    op.create_table(
        "health_feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("provinces", sa.JSON(), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_feeds")),
        sa.UniqueConstraint("client_id", name=op.f("uq_health_feeds_client_id")),
    )


def downgrade() -> None:
    """Drop it again."""
    op.drop_table("health_feeds")
