"""Member accounts (password, PIN, lockouts, token version) and an expiry for activation codes.

A card's unused activation code issued before this migration gets an expiry of 30 days from
the migration (``ACTIVATION_CODE_DAYS``' default): no letter already sent stops working at once.

Revision ID: 0011_member_accounts
Revises: 0010_health_feeds
Create Date: 2026-11-28
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0011_member_accounts"
down_revision = "0010_health_feeds"
branch_labels = None
depends_on = None

LEGACY_CODE_DAYS = 30


def upgrade() -> None:
    """Create member_accounts; add cards.activation_expires_at and set it on unused codes."""
    op.create_table(
        "member_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("pin_hash", sa.String(length=255), nullable=False),
        sa.Column("phone", sa.String(length=16), nullable=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("password_failures", sa.Integer(), nullable=False),
        sa.Column("password_locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pin_failures", sa.Integer(), nullable=False),
        sa.Column("pin_locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_member_accounts_member_id_members")),
        sa.ForeignKeyConstraint(["province_code"], ["provinces.code"],
                                name=op.f("fk_member_accounts_province_code_provinces")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_accounts")),
        sa.UniqueConstraint("member_id", name=op.f("uq_member_accounts_member_id")),
        sa.UniqueConstraint("phone", name=op.f("uq_member_accounts_phone")),
    )
    op.create_index(op.f("ix_member_accounts_province_code"), "member_accounts",
                    ["province_code"], unique=False)
    with op.batch_alter_table("cards") as batch:
        batch.add_column(sa.Column("activation_expires_at", sa.DateTime(timezone=True),
                                   nullable=True))
    cards = sa.table("cards", sa.column("activation_hash", sa.String),
                     sa.column("activation_used_at", sa.DateTime(timezone=True)),
                     sa.column("activation_expires_at", sa.DateTime(timezone=True)))
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=LEGACY_CODE_DAYS)
    op.execute(cards.update()
               .where(cards.c.activation_hash.is_not(None), cards.c.activation_used_at.is_(None))
               .values(activation_expires_at=expires))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("cards") as batch:
        batch.drop_column("activation_expires_at")
    op.drop_index(op.f("ix_member_accounts_province_code"), table_name="member_accounts")
    op.drop_table("member_accounts")
