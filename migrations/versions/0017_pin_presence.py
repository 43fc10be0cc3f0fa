"""PIN presence guards: per-client wrong-PIN counts, escalating locks, presence tokens bound to
the first clinic that presents them.

Revision ID: 0017_pin_presence
Revises: 0016_exam_dates
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_pin_presence"
down_revision = "0016_exam_dates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add member_accounts.pin_lock_count; create pin_client_windows and presence_bindings."""
    with op.batch_alter_table("member_accounts") as batch:
        batch.add_column(sa.Column("pin_lock_count", sa.Integer(), server_default="0",
                                   nullable=False))
    op.create_table(
        "pin_client_windows",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("clinic_code", sa.String(length=16), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("capped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("client_id", "window_start", name=op.f("pk_pin_client_windows")),
    )
    op.create_index(op.f("ix_pin_client_windows_window_start"), "pin_client_windows",
                    ["window_start"], unique=False)
    op.create_table(
        "presence_bindings",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("clinic_code", sa.String(length=16), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("card_serial", sa.String(length=32), nullable=False),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_presence_bindings")),
    )
    op.create_index(op.f("ix_presence_bindings_expires_at"), "presence_bindings",
                    ["expires_at"], unique=False)


def downgrade() -> None:
    """Drop presence_bindings, pin_client_windows and member_accounts.pin_lock_count."""
    op.drop_index(op.f("ix_presence_bindings_expires_at"), table_name="presence_bindings")
    op.drop_table("presence_bindings")
    op.drop_index(op.f("ix_pin_client_windows_window_start"), table_name="pin_client_windows")
    op.drop_table("pin_client_windows")
    with op.batch_alter_table("member_accounts") as batch:
        batch.drop_column("pin_lock_count")
