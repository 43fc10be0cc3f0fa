"""Access events hash-chained per member, chain heads, checkpoints; notification addresses and
the e-mail outbox. Triggers make access events and checkpoints append-only.

Revision ID: 0015_access_events
Revises: 0012_consents
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_access_events"
down_revision = "0014_clinics"  # re-chained in branch verify (which needs both); the integrator chains for good
branch_labels = None
depends_on = None

#: The tables whose rows are never updated or deleted once written.
APPEND_ONLY = ("access_events", "access_checkpoints", "access_checkpoint_heads")

_PG_FUNCTION = """
CREATE FUNCTION unioncard_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'unioncard: % is append-only (% refused)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _append_only(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION unioncard_append_only()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION unioncard_append_only()")
    elif op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, 'unioncard: {table} is append-only'); END")


def _drop_append_only(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    elif op.get_bind().dialect.name == "sqlite":
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")


def _events() -> None:
    op.create_table(
        "access_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chain_key", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("province_code", sa.String(length=2), nullable=True),
        sa.Column("card_serial", sa.String(length=32), nullable=True),
        sa.Column("clinic_code", sa.String(length=16), nullable=False),
        sa.Column("clinic_name", sa.String(length=200), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.String(length=64), nullable=True),
        sa.Column("practitioner", sa.String(length=200), nullable=True),
        sa.Column("purpose", sa.String(length=32), nullable=True),
        sa.Column("released", sa.JSON(), nullable=False),
        sa.Column("denied", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("emergency_reason", sa.String(length=64), nullable=True),
        sa.Column("emergency_text_digest", sa.String(length=64), nullable=True),
        sa.CheckConstraint(_one_of("kind", ("verify", "pull", "denial", "emergency")),
                           name=op.f("ck_access_events_kind")),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_access_events_seq")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_access_events_member_id_members")),
        sa.ForeignKeyConstraint(["province_code"], ["provinces.code"],
                                name=op.f("fk_access_events_province_code_provinces")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_events")),
        sa.UniqueConstraint("chain_key", "seq", name=op.f("uq_access_events_chain_key")),
    )
    op.create_index("ix_access_events_member_id_at", "access_events", ["member_id", "at"])
    op.create_index("ix_access_events_clinic_code_at", "access_events", ["clinic_code", "at"])
    op.create_index("ix_access_events_at_kind", "access_events", ["at", "kind"])
    op.create_index(op.f("ix_access_events_province_code"), "access_events", ["province_code"])
    op.create_table(
        "access_event_texts",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=True),
        sa.Column("text_encrypted", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["access_events.id"],
                                name=op.f("fk_access_event_texts_event_id_access_events")),
        sa.ForeignKeyConstraint(["province_code"], ["provinces.code"],
                                name=op.f("fk_access_event_texts_province_code_provinces")),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_access_event_texts")),
    )
    op.create_index(op.f("ix_access_event_texts_province_code"), "access_event_texts",
                    ["province_code"])


def _chains() -> None:
    op.create_table(
        "access_chain_heads",
        sa.Column("chain_key", sa.String(length=40), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("province_code", sa.String(length=2), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("checkpointed_seq", sa.Integer(), nullable=False),
        sa.CheckConstraint("seq >= 0", name=op.f("ck_access_chain_heads_seq")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_access_chain_heads_member_id_members")),
        sa.ForeignKeyConstraint(["province_code"], ["provinces.code"],
                                name=op.f("fk_access_chain_heads_province_code_provinces")),
        sa.PrimaryKeyConstraint("chain_key", name=op.f("pk_access_chain_heads")),
    )
    op.create_index(op.f("ix_access_chain_heads_member_id"), "access_chain_heads", ["member_id"])
    op.create_index(op.f("ix_access_chain_heads_province_code"), "access_chain_heads",
                    ["province_code"])
    op.create_table(
        "access_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prev_digest", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("heads", sa.Integer(), nullable=False),
        sa.Column("made_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_checkpoints")),
        sa.UniqueConstraint("digest", name=op.f("uq_access_checkpoints_digest")),
        sa.UniqueConstraint("prev_digest", name=op.f("uq_access_checkpoints_prev_digest")),
    )
    op.create_table(
        "access_checkpoint_heads",
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("chain_key", sa.String(length=40), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"], ["access_checkpoints.id"],
            name=op.f("fk_access_checkpoint_heads_checkpoint_id_access_checkpoints")),
        sa.PrimaryKeyConstraint("checkpoint_id", "chain_key",
                                name=op.f("pk_access_checkpoint_heads")),
    )
    op.create_index(op.f("ix_access_checkpoint_heads_chain_key"), "access_checkpoint_heads",
                    ["chain_key"])


def _notifications() -> None:
    op.create_table(
        "notification_addresses",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("email_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_notification_addresses_member_id_members")),
        sa.ForeignKeyConstraint(["province_code"], ["provinces.code"],
                                name=op.f("fk_notification_addresses_province_code_provinces")),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_notification_addresses")),
    )
    op.create_index(op.f("ix_notification_addresses_province_code"), "notification_addresses",
                    ["province_code"])
    op.create_table(
        "notification_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=False),
        sa.CheckConstraint(_one_of("kind", ("emergency-access",)),
                           name=op.f("ck_notification_outbox_kind")),
        sa.CheckConstraint(_one_of("status", ("pending", "sending", "sent", "failed",
                                              "uncertain", "no-address")),
                           name=op.f("ck_notification_outbox_status")),
        sa.ForeignKeyConstraint(["event_id"], ["access_events.id"],
                                name=op.f("fk_notification_outbox_event_id_access_events")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_notification_outbox_member_id_members")),
        sa.ForeignKeyConstraint(["province_code"], ["provinces.code"],
                                name=op.f("fk_notification_outbox_province_code_provinces")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_outbox")),
        sa.UniqueConstraint("kind", "event_id", name=op.f("uq_notification_outbox_kind")),
    )
    op.create_index("ix_notification_outbox_status_next_attempt_at", "notification_outbox",
                    ["status", "next_attempt_at"])
    op.create_index(op.f("ix_notification_outbox_member_id"), "notification_outbox",
                    ["member_id"])
    op.create_index(op.f("ix_notification_outbox_province_code"), "notification_outbox",
                    ["province_code"])


def upgrade() -> None:
    """Create the access-event, checkpoint and notification tables and the append-only
    triggers."""
    _events()
    _chains()
    _notifications()
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
    for table in APPEND_ONLY:
        _append_only(table)


def downgrade() -> None:
    """Drop them again."""
    for table in APPEND_ONLY:
        _drop_append_only(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS unioncard_append_only()")
    for table in ("notification_outbox", "notification_addresses", "access_checkpoint_heads",
                  "access_checkpoints", "access_chain_heads", "access_event_texts",
                  "access_events"):
        op.drop_table(table)
