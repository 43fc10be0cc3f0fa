"""Wrong passwords counted per login name (keyed hash), not per account: an unknown username,
member number or phone locks as a known one does. The staff accounts' own counters go.

Revision ID: 0019_login_names
Revises: 0018_event_integrity
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_login_names"
down_revision = "0018_event_integrity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create login_name_failures; drop users.failed_logins and users.login_locked_until
    (a lock running at the upgrade ends with it)."""
    op.create_table(
        "login_name_failures",
        sa.Column("name_key", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name_key", name=op.f("pk_login_name_failures")),
    )
    with op.batch_alter_table("users") as batch:
        batch.drop_column("login_locked_until")
        batch.drop_column("failed_logins")


def downgrade() -> None:
    """Give users their counters back (at zero) and drop login_name_failures."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("failed_logins", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("login_locked_until", sa.DateTime(timezone=True),
                                   nullable=True))
    op.drop_table("login_name_failures")
