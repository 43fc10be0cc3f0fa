"""Exam-round invitations by e-mail through the existing notification outbox (issue 26): a
message is either an emergency access (``event_id``) or an exam-round invitation
(``participant_id``, new), one per subject and kind.

Revision ID: 0024_exam_invitations
Revises: 0023_exam_rounds
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_exam_invitations"
down_revision = "0023_exam_rounds"
branch_labels = None
depends_on = None

SUBJECT = ("(kind = 'emergency-access' AND event_id IS NOT NULL) OR "
           "(kind = 'exam-invitation' AND participant_id IS NOT NULL)")


def upgrade() -> None:
    """Add the participant column, its unique key and the new kind (SQLite rebuilds the
    table; its rows stay as they are)."""
    with op.batch_alter_table("notification_outbox") as batch:
        batch.add_column(sa.Column("participant_id", sa.Integer(), nullable=True))
        batch.alter_column("event_id", existing_type=sa.Integer(), nullable=True)
        batch.drop_constraint(op.f("ck_notification_outbox_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_notification_outbox_kind"),
                                      "kind IN ('emergency-access', 'exam-invitation')")
        batch.create_check_constraint(op.f("ck_notification_outbox_subject"), SUBJECT)
        batch.create_foreign_key(
            op.f("fk_notification_outbox_participant_id_exam_participants"),
            "exam_participants", ["participant_id"], ["id"])
        batch.create_unique_constraint(op.f("uq_notification_outbox_participant_id"),
                                       ["participant_id", "kind"])


def downgrade() -> None:
    """Delete the invitations and drop the column again."""
    op.execute("DELETE FROM notification_outbox WHERE kind = 'exam-invitation'")
    with op.batch_alter_table("notification_outbox") as batch:
        batch.drop_constraint(op.f("uq_notification_outbox_participant_id"), type_="unique")
        batch.drop_constraint(op.f("fk_notification_outbox_participant_id_exam_participants"),
                              type_="foreignkey")
        batch.drop_constraint(op.f("ck_notification_outbox_subject"), type_="check")
        batch.drop_constraint(op.f("ck_notification_outbox_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_notification_outbox_kind"),
                                      "kind IN ('emergency-access')")
        batch.alter_column("event_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("participant_id")
