"""At most one active signing key per issuer and purpose (a partial unique index).

Revision ID: 0006_one_active_key
Revises: 0005_card_batch_index
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_one_active_key"
down_revision = "0005_card_batch_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add uq_signing_keys_active_issuer_purpose."""
    op.create_index("uq_signing_keys_active_issuer_purpose", "signing_keys",
                    ["issuer", "purpose"], unique=True,
                    sqlite_where=sa.text("status = 'active'"),
                    postgresql_where=sa.text("status = 'active'"))


def downgrade() -> None:
    """Drop uq_signing_keys_active_issuer_purpose."""
    op.drop_index("uq_signing_keys_active_issuer_purpose", table_name="signing_keys")
