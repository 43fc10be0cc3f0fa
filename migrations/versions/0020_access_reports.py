"""Access reports: a member's "I don't recognise this" about one visit of her access log, and
the national administrator's status (open → investigating → closed) and note.

Revision ID: 0020_access_reports
Revises: 0019_login_names
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_access_reports"
down_revision = "0019_login_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create access_reports."""
    op.create_table(
        "access_reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("first_event_id", sa.Integer(), nullable=False),
        sa.Column("event_ids", sa.JSON(), nullable=False),
        sa.Column("clinic_code", sa.String(length=16), nullable=False),
        sa.Column("clinic_name", sa.String(length=200), nullable=False),
        sa.Column("visit_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("note_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("admin_note_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("handled_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("reason IN ('not-there', 'saw-too-much', 'no-emergency', 'other')",
                           name=op.f("ck_access_reports_reason")),
        sa.CheckConstraint("status IN ('open', 'investigating', 'closed')",
                           name=op.f("ck_access_reports_status")),
        sa.ForeignKeyConstraint(["first_event_id"], ["access_events.id"],
                                name=op.f("fk_access_reports_first_event_id_access_events")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_access_reports_member_id_members")),
        sa.ForeignKeyConstraint(["province_code"], ["provinces.code"],
                                name=op.f("fk_access_reports_province_code_provinces")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_reports")),
        sa.UniqueConstraint("first_event_id", name=op.f("uq_access_reports_first_event_id")),
    )
    op.create_index(op.f("ix_access_reports_member_id"), "access_reports", ["member_id"])
    op.create_index(op.f("ix_access_reports_province_code"), "access_reports",
                    ["province_code"])
    op.create_index(op.f("ix_access_reports_clinic_code"), "access_reports", ["clinic_code"])
    op.create_index("ix_access_reports_status_created_at", "access_reports",
                    ["status", "created_at"])


def downgrade() -> None:
    """Drop access_reports (the reports go with it)."""
    op.drop_index("ix_access_reports_status_created_at", table_name="access_reports")
    op.drop_index(op.f("ix_access_reports_clinic_code"), table_name="access_reports")
    op.drop_index(op.f("ix_access_reports_province_code"), table_name="access_reports")
    op.drop_index(op.f("ix_access_reports_member_id"), table_name="access_reports")
    op.drop_table("access_reports")
