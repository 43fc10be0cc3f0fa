"""The office's lists to work from read active members in name order by province or union
and check each one's card, account, link or exam: two partial indexes on the active members,
(province_code, name_ascii, id) and (union_code, name_ascii, id), so the scan and its count
are index-only (the existing indexes hold no id and every row's status is on the heap). On
1.02 million members (30,000 a province) a province's list with nobody on it went from about
1 s to 0.1 s.

Revision ID: 0022_worklist_indexes
Revises: 0021_form_submissions
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_worklist_indexes"
down_revision = "0021_form_submissions"
branch_labels = None
depends_on = None

ACTIVE = "status = 'active'"


def upgrade() -> None:
    """Create the two partial indexes."""
    op.create_index("ix_members_active_province_code_name_ascii_id", "members",
                    ["province_code", "name_ascii", "id"],
                    sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))
    op.create_index("ix_members_active_union_code_name_ascii_id", "members",
                    ["union_code", "name_ascii", "id"],
                    sqlite_where=sa.text(ACTIVE), postgresql_where=sa.text(ACTIVE))


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_members_active_union_code_name_ascii_id", table_name="members")
    op.drop_index("ix_members_active_province_code_name_ascii_id", table_name="members")
