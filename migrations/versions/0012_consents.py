"""Consents (append-only versions with their evidence) and the card's reprint flag.

Revision ID: 0012_consents
Revises: 0011_member_accounts
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_consents"
down_revision = "0011_member_accounts"
branch_labels = None
depends_on = None

_SCOPES = ("emergency-core", "allergies", "conditions", "medications", "immunizations",
           "vitals-labs", "occ-exam-summary", "occ-exam-detail", "sensitive", "on-card")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    """Create consent_versions; add cards.reprint_needed."""
    op.create_table(
        "consent_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consent_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("scope", sa.String(length=32), nullable=False),
        sa.Column("grantee_kind", sa.String(length=16), nullable=False),
        sa.Column("grantee_value", sa.String(length=40), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notice_version", sa.String(length=16), nullable=False),
        sa.Column("notice_language", sa.String(length=2), nullable=False),
        sa.Column("notice_sha256", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.CheckConstraint(_one_of("scope", _SCOPES), name=op.f("ck_consent_versions_scope")),
        sa.CheckConstraint(_one_of("grantee_kind", ("all-accredited", "facility-type",
                                                    "facility")),
                           name=op.f("ck_consent_versions_grantee_kind")),
        sa.CheckConstraint(_one_of("purpose", ("treatment", "occupational-health")),
                           name=op.f("ck_consent_versions_purpose")),
        sa.CheckConstraint(_one_of("method", ("app", "web", "paper-at-office")),
                           name=op.f("ck_consent_versions_method")),
        sa.CheckConstraint(_one_of("action", ("grant", "renew", "withdraw")),
                           name=op.f("ck_consent_versions_action")),
        sa.CheckConstraint(_one_of("status", ("active", "withdrawn")),
                           name=op.f("ck_consent_versions_status")),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_consent_versions_period")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_consent_versions_version")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_consent_versions_member_id_members")),
        sa.ForeignKeyConstraint(["province_code"], ["provinces.code"],
                                name=op.f("fk_consent_versions_province_code_provinces")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_versions")),
        sa.UniqueConstraint("consent_id", "version",
                            name=op.f("uq_consent_versions_consent_id")),
    )
    op.create_index("ix_consent_versions_member_id_scope", "consent_versions",
                    ["member_id", "scope"])
    op.create_index(op.f("ix_consent_versions_province_code"), "consent_versions",
                    ["province_code"])
    with op.batch_alter_table("cards") as batch:
        batch.add_column(sa.Column("reprint_needed", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("cards") as batch:
        batch.drop_column("reprint_needed")
    op.drop_index(op.f("ix_consent_versions_province_code"), table_name="consent_versions")
    op.drop_index("ix_consent_versions_member_id_scope", table_name="consent_versions")
    op.drop_table("consent_versions")
