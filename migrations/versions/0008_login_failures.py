"""Failed-login counters on staff accounts: the count and a password-login lock.

Revision ID: 0008_login_failures
Revises: 0007_transfer_requests
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_login_failures"
down_revision = "0007_transfer_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add users.failed_logins and users.login_locked_until."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("failed_logins", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("login_locked_until", sa.DateTime(timezone=True),
                                   nullable=True))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("users") as batch:
        batch.drop_column("login_locked_until")
        batch.drop_column("failed_logins")
