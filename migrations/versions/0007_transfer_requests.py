"""Transfer requests between offices, and an index to count an actor's recent audit entries.

Revision ID: 0007_transfer_requests
Revises: 0006_one_active_key
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_transfer_requests"
down_revision = "0006_one_active_key"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create transfer_requests and ix_audit_log_actor_action_at."""
    op.create_table(
        "transfer_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("to_province_code", sa.String(length=2), nullable=False),
        sa.Column("to_union_code", sa.String(length=20), nullable=False),
        sa.Column("status", sa.Enum("pending", "accepted", "rejected", name="transfer_status"),
                  nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decision_reason", sa.String(length=500), nullable=False),
        sa.Column("from_province_code", sa.String(length=2), nullable=True),
        sa.Column("from_union_code", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_transfer_requests_member_id_members")),
        sa.ForeignKeyConstraint(["to_province_code"], ["provinces.code"],
                                name=op.f("fk_transfer_requests_to_province_code_provinces")),
        sa.ForeignKeyConstraint(["to_union_code"], ["unions.code"],
                                name=op.f("fk_transfer_requests_to_union_code_unions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_requests")),
    )
    op.create_index("ix_transfer_requests_member_id_status", "transfer_requests",
                    ["member_id", "status"])
    op.create_index("ix_transfer_requests_to_province_code_created_at", "transfer_requests",
                    ["to_province_code", "created_at"])
    op.create_index("ix_audit_log_actor_action_at", "audit_log", ["actor", "action", "at"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_index("ix_audit_log_actor_action_at", table_name="audit_log")
    op.drop_index("ix_transfer_requests_to_province_code_created_at",
                  table_name="transfer_requests")
    op.drop_index("ix_transfer_requests_member_id_status", table_name="transfer_requests")
    op.drop_table("transfer_requests")
    sa.Enum(name="transfer_status").drop(op.get_bind(), checkfirst=True)
