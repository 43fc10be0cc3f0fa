"""Cards: signing keys, status lists, issued cards, and the publication counter.

Revision ID: 0004_cards
Revises: 0003_imports
Create Date: 2026-11-25

"""
from datetime import datetime, timezone
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0004_cards'
down_revision: Union[str, Sequence[str], None] = '0003_imports'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    publication = op.create_table('publication',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publication'))
    )
    op.bulk_insert(publication, [{"id": 1, "version": 1,
                                  "changed_at": datetime(2026, 11, 25, tzinfo=timezone.utc)}])
    op.create_table('signing_keys',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('issuer', sa.String(length=32), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('status', sa.Enum('active', 'retired', 'revoked', name='key_status'), nullable=False),
    sa.Column('public_jwk', sa.JSON(), nullable=False),
    sa.Column('private_pem', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_reason', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signing_keys')),
    sa.UniqueConstraint('kid', name=op.f('uq_signing_keys_kid'))
    )
    op.create_table('status_lists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('list_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('bits', sa.LargeBinary(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_lists')),
    sa.UniqueConstraint('list_id', 'purpose', name=op.f('uq_status_lists_list_id'))
    )
    op.create_table('cards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=32), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('province_code', sa.String(length=2), nullable=False),
    sa.Column('union_code', sa.String(length=20), nullable=False),
    sa.Column('issuer', sa.String(length=32), nullable=False),
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('format_version', sa.Integer(), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('active', 'suspended', 'revoked', name='card_status'), nullable=False),
    sa.Column('status_reason', sa.String(length=32), nullable=False),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status_list_id', sa.Integer(), nullable=False),
    sa.Column('status_index', sa.Integer(), nullable=False),
    sa.Column('uc1_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('qr_version', sa.Integer(), nullable=False),
    sa.Column('ndef_size', sa.Integer(), nullable=False),
    sa.Column('nfc_tag', sa.String(length=16), nullable=False),
    sa.Column('has_emergency_core', sa.Boolean(), nullable=False),
    sa.Column('activation_hash', sa.String(length=64), nullable=True),
    sa.Column('activation_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('batch_job_id', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_cards_member_id_members')),
    sa.ForeignKeyConstraint(['province_code'], ['provinces.code'], name=op.f('fk_cards_province_code_provinces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cards')),
    sa.UniqueConstraint('serial', name=op.f('uq_cards_serial')),
    sa.UniqueConstraint('status_list_id', 'status_index', name=op.f('uq_cards_status_list_id'))
    )
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.create_index('ix_cards_kid', ['kid'], unique=False)
        batch_op.create_index('ix_cards_member_id_status', ['member_id', 'status'], unique=False)
        batch_op.create_index('ix_cards_province_code_issued_at', ['province_code', 'issued_at'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.drop_index('ix_cards_province_code_issued_at')
        batch_op.drop_index('ix_cards_member_id_status')
        batch_op.drop_index('ix_cards_kid')

    op.drop_table('cards')
    op.drop_table('status_lists')
    op.drop_table('signing_keys')
    for enum_name in ("card_status", "key_status"):
        sa.Enum(name=enum_name).drop(op.get_bind(), checkfirst=True)
    op.drop_table('publication')
