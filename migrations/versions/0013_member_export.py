"""The member's last login; the social-insurance number encrypted at rest.

``members.insurance_number`` (plaintext) becomes ``insurance_number_encrypted`` (envelope
encryption, context ``member.insurance_number``, owner its keyed hash), ``insurance_number_hash``
(keyed hash: compares without decrypting) and ``insurance_number_last4`` (what officers see).
Existing values are moved, and moved back by the downgrade: both need the data keys, which
``unioncard db upgrade`` / ``downgrade`` hand over (``migrate.upgrade(url, cipher=...)``). A
database holding no insurance number migrates without them.

Revision ID: 0013_member_export
Revises: 0012_consents
Create Date: 2026-11-29
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0013_member_export"
down_revision = "0012_consents"
branch_labels = None
depends_on = None

CONTEXT = "member.insurance_number"  # app.services.registry.members.INSURANCE_CONTEXT
_BATCH = 1000
_members = sa.table("members", sa.column("id", sa.Integer),
                    sa.column("insurance_number", sa.String),
                    sa.column("insurance_number_encrypted", sa.LargeBinary),
                    sa.column("insurance_number_hash", sa.String),
                    sa.column("insurance_number_last4", sa.String))


def _cipher(needed: bool) -> Any:
    config = op.get_context().config
    cipher = config.attributes.get("cipher") if config is not None else None
    if needed and cipher is None:
        raise RuntimeError("migration 0013 moves social-insurance numbers into (or out of) "
                           "encryption and needs the data keys: run it with `unioncard db "
                           "upgrade` (or `downgrade`)")
    return cipher


def _rows(conn: sa.Connection, column: Any) -> list[Any]:
    return list(conn.execute(sa.select(_members.c.id, column).where(column.is_not(None))))


def upgrade() -> None:
    """Add member_accounts.last_login_at; encrypt members.insurance_number."""
    with op.batch_alter_table("member_accounts") as batch:
        batch.add_column(sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("insurance_number_encrypted", sa.LargeBinary(),
                                   nullable=True))
        batch.add_column(sa.Column("insurance_number_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("insurance_number_last4", sa.String(length=4),
                                   nullable=True))
    conn = op.get_bind()
    rows = _rows(conn, _members.c.insurance_number)
    cipher = _cipher(bool(rows))
    for start in range(0, len(rows), _BATCH):
        values = []
        for member_id, number in rows[start:start + _BATCH]:
            digest = cipher.lookup_hash(number, CONTEXT)
            values.append({"b_id": member_id, "enc": cipher.encrypt(number, CONTEXT, digest),
                           "hash": digest, "last4": number[-4:]})
        conn.execute(_members.update().where(_members.c.id == sa.bindparam("b_id")).values(
            insurance_number_encrypted=sa.bindparam("enc"),
            insurance_number_hash=sa.bindparam("hash"),
            insurance_number_last4=sa.bindparam("last4")), values)
    with op.batch_alter_table("members") as batch:
        batch.drop_column("insurance_number")


def downgrade() -> None:
    """Decrypt members.insurance_number back into plaintext; drop last_login_at."""
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("insurance_number", sa.String(length=10), nullable=True))
    conn = op.get_bind()
    rows = list(conn.execute(sa.select(_members.c.id, _members.c.insurance_number_encrypted,
                                       _members.c.insurance_number_hash)
                             .where(_members.c.insurance_number_encrypted.is_not(None))))
    cipher = _cipher(bool(rows))
    for start in range(0, len(rows), _BATCH):
        values = [{"b_id": member_id, "plain": cipher.decrypt(blob, CONTEXT, digest)}
                  for member_id, blob, digest in rows[start:start + _BATCH]]
        conn.execute(_members.update().where(_members.c.id == sa.bindparam("b_id"))
                     .values(insurance_number=sa.bindparam("plain")), values)
    with op.batch_alter_table("members") as batch:
        batch.drop_column("insurance_number_last4")
        batch.drop_column("insurance_number_hash")
        batch.drop_column("insurance_number_encrypted")
    with op.batch_alter_table("member_accounts") as batch:
        batch.drop_column("last_login_at")
