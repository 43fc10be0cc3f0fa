"""Clinics, their OAuth 2 API clients (the secret kept as a keyed hash) and scanner devices.

Revision ID: 0014_clinics
Revises: 0012_consents
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_clinics"
down_revision = "0013_member_export"  # re-chained in branch pages; the integrator chains for good
branch_labels = None
depends_on = None


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    """Create clinics, clinic_clients and scanner_devices."""
    op.create_table(
        "clinics",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("facility_code", sa.String(length=5), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_ascii", sa.String(length=200), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("facility_type", sa.String(length=40), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("accreditation", sa.String(length=16), nullable=False),
        sa.Column("accreditation_reason", sa.String(length=500), nullable=False),
        sa.Column("accreditation_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(_one_of("accreditation", ("accredited", "suspended", "withdrawn")),
                           name=op.f("ck_clinics_accreditation")),
        sa.ForeignKeyConstraint(["province_code"], ["provinces.code"],
                                name=op.f("fk_clinics_province_code_provinces")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinics")),
        sa.UniqueConstraint("facility_code", name=op.f("uq_clinics_facility_code")),
    )
    op.create_index("ix_clinics_province_code_name_ascii", "clinics",
                    ["province_code", "name_ascii"])
    op.create_table(
        "clinic_clients",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_one_of("status", ("active", "disabled")),
                           name=op.f("ck_clinic_clients_status")),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"],
                                name=op.f("fk_clinic_clients_clinic_id_clinics")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clinic_clients")),
        sa.UniqueConstraint("client_id", name=op.f("uq_clinic_clients_client_id")),
    )
    op.create_index(op.f("ix_clinic_clients_clinic_id"), "clinic_clients", ["clinic_id"])
    op.create_table(
        "scanner_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_one_of("status", ("active", "disabled")),
                           name=op.f("ck_scanner_devices_status")),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"],
                                name=op.f("fk_scanner_devices_clinic_id_clinics")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scanner_devices")),
        sa.UniqueConstraint("clinic_id", "device_id",
                            name="uq_scanner_devices_clinic_id_device_id"),
    )
    op.create_index(op.f("ix_scanner_devices_clinic_id"), "scanner_devices", ["clinic_id"])


def downgrade() -> None:
    """Drop them again."""
    op.drop_index(op.f("ix_scanner_devices_clinic_id"), table_name="scanner_devices")
    op.drop_table("scanner_devices")
    op.drop_index(op.f("ix_clinic_clients_clinic_id"), table_name="clinic_clients")
    op.drop_table("clinic_clients")
    op.drop_index("ix_clinics_province_code_name_ascii", table_name="clinics")
    op.drop_table("clinics")
