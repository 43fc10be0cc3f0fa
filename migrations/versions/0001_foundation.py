"""Provinces (reference data) and staff accounts.

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_foundation"
down_revision = None
branch_labels = None
depends_on = None

# The 34 province-level units of Decision 19/2025/QĐ-TTg: code, name, merged from.
PROVINCES = [
    ('01', 'Thành phố Hà Nội', ''),
    ('04', 'Cao Bằng', ''),
    ('08', 'Tuyên Quang', 'Hà Giang'),
    ('11', 'Điện Biên', ''),
    ('12', 'Lai Châu', ''),
    ('14', 'Sơn La', ''),
    ('15', 'Lào Cai', 'Yên Bái'),
    ('19', 'Thái Nguyên', 'Bắc Kạn'),
    ('20', 'Lạng Sơn', ''),
    ('22', 'Quảng Ninh', ''),
    ('24', 'Bắc Ninh', 'Bắc Giang'),
    ('25', 'Phú Thọ', 'Vĩnh Phúc;Hòa Bình'),
    ('31', 'Thành phố Hải Phòng', 'Hải Dương'),
    ('33', 'Hưng Yên', 'Thái Bình'),
    ('37', 'Ninh Bình', 'Hà Nam;Nam Định'),
    ('38', 'Thanh Hóa', ''),
    ('40', 'Nghệ An', ''),
    ('42', 'Hà Tĩnh', ''),
    ('44', 'Quảng Trị', 'Quảng Bình'),
    ('46', 'Thành phố Huế', ''),
    ('48', 'Thành phố Đà Nẵng', 'Quảng Nam'),
    ('51', 'Quảng Ngãi', 'Kon Tum'),
    ('52', 'Gia Lai', 'Bình Định'),
    ('56', 'Khánh Hòa', 'Ninh Thuận'),
    ('66', 'Đắk Lắk', 'Phú Yên'),
    ('68', 'Lâm Đồng', 'Đắk Nông;Bình Thuận'),
    ('75', 'Đồng Nai', 'Bình Phước'),
    ('79', 'Thành phố Hồ Chí Minh', 'Bình Dương;Bà Rịa - Vũng Tàu'),
    ('80', 'Tây Ninh', 'Long An'),
    ('82', 'Đồng Tháp', 'Tiền Giang'),
    ('86', 'Vĩnh Long', 'Bến Tre;Trà Vinh'),
    ('91', 'An Giang', 'Kiên Giang'),
    ('92', 'Thành phố Cần Thơ', 'Sóc Trăng;Hậu Giang'),
    ('96', 'Cà Mau', 'Bạc Liêu'),
]


def upgrade() -> None:
    """Create provinces (with their rows) and users."""
    provinces = op.create_table(
        "provinces",
        sa.Column("code", sa.String(2), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("merged_from", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_provinces")),
    )
    op.bulk_insert(provinces, [
        {"code": c, "name": n, "merged_from": m} for c, n, m in PROVINCES
    ])
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.Enum("admin", "officer", name="user_role"), nullable=False),
        sa.Column("province_code", sa.String(2), nullable=True),
        sa.Column("union_code", sa.String(20), nullable=True),
        sa.Column("full_name", sa.String(200), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.CheckConstraint("role = 'admin' OR province_code IS NOT NULL",
                           name=op.f("ck_users_officer_has_province")),
        sa.ForeignKeyConstraint(["province_code"], ["provinces.code"],
                                name=op.f("fk_users_province_code_provinces")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )


def downgrade() -> None:
    """Drop users and provinces."""
    op.drop_table("users")
    op.drop_table("provinces")
    sa.Enum(name="user_role").drop(op.get_bind(), checkfirst=True)
