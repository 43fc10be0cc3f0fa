"""The member's health record (encrypted summary) and health-identity link.

Existing personal IDs stay in the older one-key format (still readable) until
``unioncard keys rotate-data-key`` rewrites them: a migration has no keys to decrypt with.

Revision ID: 0009_health
Revises: 0007_transfer_requests
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_health"
down_revision = "0008_login_failures"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create health_records and health_links."""
    op.create_table(
        "health_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("summary_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("data_key_wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("kek_version", sa.String(length=8), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("bundle_id", sa.String(length=200), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_health_records_member_id_members")),
        sa.ForeignKeyConstraint(["province_code"], ["provinces.code"],
                                name=op.f("fk_health_records_province_code_provinces")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_records")),
        sa.UniqueConstraint("member_id", name=op.f("uq_health_records_member_id")),
    )
    op.create_index(op.f("ix_health_records_province_code"), "health_records", ["province_code"])
    op.create_index(op.f("ix_health_records_kek_version"), "health_records", ["kek_version"])
    op.create_table(
        "health_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("health_id_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("health_id_hash", sa.String(length=64), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("linked_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_health_links_member_id_members")),
        sa.ForeignKeyConstraint(["province_code"], ["provinces.code"],
                                name=op.f("fk_health_links_province_code_provinces")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_links")),
        sa.UniqueConstraint("member_id", name=op.f("uq_health_links_member_id")),
        sa.UniqueConstraint("health_id_hash", name=op.f("uq_health_links_health_id_hash")),
    )
    op.create_index(op.f("ix_health_links_province_code"), "health_links", ["province_code"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_index(op.f("ix_health_links_province_code"), table_name="health_links")
    op.drop_table("health_links")
    op.drop_index(op.f("ix_health_records_kek_version"), table_name="health_records")
    op.drop_index(op.f("ix_health_records_province_code"), table_name="health_records")
    op.drop_table("health_records")
