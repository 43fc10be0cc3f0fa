"""Exam rounds at industrial parks (issue 26): rounds, participants, results (sealed) and the
outbox of their deliveries to the national health record; access events of kind ``write`` (a
clinic recording an exam result into the member's record).

The access-event kind's CHECK gains ``write``. On PostgreSQL the constraint is dropped and made
again; on SQLite, whose CHECK constraints cannot be altered, the table's stored definition is
widened in place (SQLite's documented procedure for a change that leaves every stored row
valid: ``writable_schema`` and a new ``schema_version``), so the append-only table, its triggers
and its hash chain are never copied or rewritten.

Revision ID: 0023_exam_rounds
Revises: 0022_worklist_indexes
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_exam_rounds"
down_revision = "0022_worklist_indexes"
branch_labels = None
depends_on = None

OLD_KINDS = ("verify", "pull", "denial", "emergency")
NEW_KINDS = (*OLD_KINDS, "write")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _event_kinds(old: tuple[str, ...], new: tuple[str, ...]) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.drop_constraint(op.f("ck_access_events_kind"), "access_events", type_="check")
        op.create_check_constraint(op.f("ck_access_events_kind"), "access_events",
                                   _one_of("kind", new))
        return
    if bind.dialect.name != "sqlite":
        raise RuntimeError(f"unsupported database {bind.dialect.name}")
    sql = bind.scalar(sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' "
                              "AND name = 'access_events'"))
    before, after = _one_of("kind", old), _one_of("kind", new)
    if before not in sql:
        raise RuntimeError("access_events' kind constraint is not the expected one")
    version = int(bind.scalar(sa.text("PRAGMA schema_version")))
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    try:
        bind.execute(sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' "
                             "AND name = 'access_events'"),
                     {"sql": sql.replace(before, after)})
        bind.execute(sa.text(f"PRAGMA schema_version = {version + 1}"))
    finally:
        bind.execute(sa.text("PRAGMA writable_schema = OFF"))


def upgrade() -> None:
    """Create the four tables and allow access events of kind ``write``."""
    op.create_table(
        "exam_rounds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("union_code", sa.String(length=20), nullable=True),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.CheckConstraint("kind IN ('periodic', 'pre-employment', 'occupational-disease')",
                           name=op.f("ck_exam_rounds_kind")),
        sa.CheckConstraint("status IN ('planned', 'cancelled')",
                           name=op.f("ck_exam_rounds_status")),
        sa.CheckConstraint("last_day >= first_day", name=op.f("ck_exam_rounds_days")),
        sa.ForeignKeyConstraint(["clinic_id"], ["clinics.id"],
                                name=op.f("fk_exam_rounds_clinic_id_clinics")),
        sa.ForeignKeyConstraint(["province_code"], ["provinces.code"],
                                name=op.f("fk_exam_rounds_province_code_provinces")),
        sa.ForeignKeyConstraint(["union_code"], ["unions.code"],
                                name=op.f("fk_exam_rounds_union_code_unions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_rounds")),
    )
    op.create_index("ix_exam_rounds_province_code_first_day", "exam_rounds",
                    ["province_code", "first_day"])
    op.create_index(op.f("ix_exam_rounds_clinic_id"), "exam_rounds", ["clinic_id"])
    op.create_table(
        "exam_participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("union_code", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("preferred_day", sa.Date(), nullable=True),
        sa.Column("reply_note", sa.String(length=300), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_in_card", sa.String(length=32), nullable=True),
        sa.Column("examined_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('invited', 'confirmed', 'asked-another-day', "
                           "'checked-in', 'examined', 'delivered', 'no-show')",
                           name=op.f("ck_exam_participants_state")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_exam_participants_member_id_members")),
        sa.ForeignKeyConstraint(["province_code"], ["provinces.code"],
                                name=op.f("fk_exam_participants_province_code_provinces")),
        sa.ForeignKeyConstraint(["round_id"], ["exam_rounds.id"],
                                name=op.f("fk_exam_participants_round_id_exam_rounds")),
        sa.ForeignKeyConstraint(["union_code"], ["unions.code"],
                                name=op.f("fk_exam_participants_union_code_unions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_participants")),
        sa.UniqueConstraint("round_id", "member_id",
                            name=op.f("uq_exam_participants_round_id")),
    )
    op.create_index("ix_exam_participants_member_id", "exam_participants", ["member_id"])
    op.create_index("ix_exam_participants_round_id_union_code", "exam_participants",
                    ["round_id", "union_code"])
    op.create_index(op.f("ix_exam_participants_province_code"), "exam_participants",
                    ["province_code"])
    op.create_table(
        "exam_results",
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("result_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("bundle_uuid", sa.String(length=36), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_as", sa.String(length=8), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("written", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["access_events.id"],
                                name=op.f("fk_exam_results_event_id_access_events")),
        sa.ForeignKeyConstraint(["participant_id"], ["exam_participants.id"],
                                name=op.f("fk_exam_results_participant_id_exam_participants")),
        sa.ForeignKeyConstraint(["province_code"], ["provinces.code"],
                                name=op.f("fk_exam_results_province_code_provinces")),
        sa.PrimaryKeyConstraint("participant_id", name=op.f("pk_exam_results")),
        sa.UniqueConstraint("bundle_uuid", name=op.f("uq_exam_results_bundle_uuid")),
    )
    op.create_index(op.f("ix_exam_results_province_code"), "exam_results", ["province_code"])
    op.create_table(
        "exam_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("province_code", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'held')",
                           name=op.f("ck_exam_deliveries_status")),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["exam_participants.id"],
            name=op.f("fk_exam_deliveries_participant_id_exam_participants")),
        sa.ForeignKeyConstraint(["province_code"], ["provinces.code"],
                                name=op.f("fk_exam_deliveries_province_code_provinces")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exam_deliveries")),
        sa.UniqueConstraint("participant_id", name=op.f("uq_exam_deliveries_participant_id")),
    )
    op.create_index("ix_exam_deliveries_status_next_attempt_at", "exam_deliveries",
                    ["status", "next_attempt_at"])
    op.create_index(op.f("ix_exam_deliveries_province_code"), "exam_deliveries",
                    ["province_code"])
    _event_kinds(OLD_KINDS, NEW_KINDS)


def downgrade() -> None:
    """Drop the four tables and narrow the access-event kinds again; refused while a ``write``
    event exists (the append-only log keeps it: restore a backup from before the upgrade).

    Raises:
        RuntimeError: write events exist.
    """
    writes = op.get_bind().scalar(sa.text("SELECT count(*) FROM access_events "
                                          "WHERE kind = 'write'"))
    if writes:
        raise RuntimeError(f"{writes} access events record exam results written: the log is "
                           "append-only; restore a backup from before 0023_exam_rounds")
    _event_kinds(NEW_KINDS, OLD_KINDS)
    op.drop_table("exam_deliveries")
    op.drop_table("exam_results")
    op.drop_table("exam_participants")
    op.drop_table("exam_rounds")
