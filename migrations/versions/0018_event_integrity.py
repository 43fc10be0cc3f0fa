"""Access-event integrity: every stored field under the hash, signed checkpoints.

``access_events.hash_version``: the events written so far keep version 1 (their hash covers
every column but ``id``); every event written from now on is version 2, whose hash covers every
column (``id`` and ``hash_version`` included). ``access_checkpoints.signature``: the HMAC of each
new checkpoint under the service's checkpoint key; the checkpoints made so far stay unsigned and
are covered by the digest chain of the first signed one.

Revision ID: 0018_event_integrity
Revises: 0017_pin_presence
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_event_integrity"
down_revision = "0017_pin_presence"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the hash version of events (1 for those already written) and the checkpoints'
    signature (adding a column is neither an UPDATE nor a DELETE: the append-only triggers
    stay as they are)."""
    op.add_column("access_events", sa.Column("hash_version", sa.SmallInteger(),
                                             server_default="1", nullable=False))
    op.add_column("access_checkpoints", sa.Column("signature", sa.String(length=64),
                                                  nullable=True))


def downgrade() -> None:
    """Drop them again; refused while any event is hashed under version 2 or any checkpoint is
    signed (the older code could no longer verify them).

    Raises:
        RuntimeError: version-2 events or signed checkpoints exist.
    """
    conn = op.get_bind()
    newer = conn.scalar(sa.text("SELECT count(*) FROM access_events WHERE hash_version <> 1"))
    signed = conn.scalar(sa.text("SELECT count(*) FROM access_checkpoints "
                                 "WHERE signature IS NOT NULL"))
    if newer or signed:
        raise RuntimeError(f"{newer} access events are hashed under version 2 and {signed} "
                           "checkpoints are signed: the code before 0018_event_integrity could "
                           "not verify them; restore a backup from before the upgrade instead")
    op.drop_column("access_checkpoints", "signature")
    op.drop_column("access_events", "hash_version")
