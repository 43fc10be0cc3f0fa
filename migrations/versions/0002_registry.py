"""Member registry: grassroots unions, members, member-number sequences, audit log, jobs.

Revision ID: 0002_registry
Revises: 0001_foundation
Create Date: 2026-11-25

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0002_registry'
down_revision: Union[str, Sequence[str], None] = '0001_foundation'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('object_type', sa.String(length=32), nullable=False),
    sa.Column('object_id', sa.String(length=64), nullable=False),
    sa.Column('province_code', sa.String(length=2), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index('ix_audit_log_object', ['object_type', 'object_id'], unique=False)
        batch_op.create_index('ix_audit_log_province_code_at', ['province_code', 'at'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('status', sa.Enum('queued', 'running', 'succeeded', 'failed', name='job_status'), nullable=False),
    sa.Column('province_code', sa.String(length=2), nullable=True),
    sa.Column('union_code', sa.String(length=20), nullable=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('checkpoint', sa.Integer(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('error', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_province_code_created_at', ['province_code', 'created_at'], unique=False)

    sequences = op.create_table('member_number_sequences',
    sa.Column('province_code', sa.String(length=2), nullable=False),
    sa.Column('next_value', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['province_code'], ['provinces.code'], name=op.f('fk_member_number_sequences_province_code_provinces')),
    sa.PrimaryKeyConstraint('province_code', name=op.f('pk_member_number_sequences'))
    )
    # one counter per province, so allocation is always a single atomic UPDATE ... RETURNING
    codes = [row[0] for row in op.get_bind().execute(sa.text("SELECT code FROM provinces"))]
    op.bulk_insert(sequences, [{"province_code": code, "next_value": 1} for code in codes])
    op.create_table('unions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('province_code', sa.String(length=2), nullable=False),
    sa.Column('employer', sa.String(length=200), nullable=False),
    sa.Column('industrial_park', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['province_code'], ['provinces.code'], name=op.f('fk_unions_province_code_provinces')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unions')),
    sa.UniqueConstraint('code', name=op.f('uq_unions_code'))
    )
    with op.batch_alter_table('unions', schema=None) as batch_op:
        batch_op.create_index('ix_unions_province_code_name', ['province_code', 'name'], unique=False)

    op.create_table('members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('province_code', sa.String(length=2), nullable=False),
    sa.Column('union_code', sa.String(length=20), nullable=False),
    sa.Column('member_number', sa.String(length=20), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('name_ascii', sa.String(length=200).with_variant(sa.String(length=200, collation='C'), 'postgresql'), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=False),
    sa.Column('sex', sa.String(length=1), nullable=False),
    sa.Column('personal_id_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('personal_id_hash', sa.String(length=64), nullable=False),
    sa.Column('personal_id_last4', sa.String(length=4), nullable=False),
    sa.Column('insurance_number', sa.String(length=10), nullable=True),
    sa.Column('phone', sa.String(length=16), nullable=True),
    sa.Column('join_date', sa.Date(), nullable=True),
    sa.Column('status', sa.Enum('active', 'suspended', 'left', name='member_status'), nullable=False),
    sa.Column('status_reason', sa.String(length=200), nullable=False),
    sa.Column('status_changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("sex IN ('M', 'F')", name=op.f('ck_members_sex')),
    sa.ForeignKeyConstraint(['province_code'], ['provinces.code'], name=op.f('fk_members_province_code_provinces')),
    sa.ForeignKeyConstraint(['union_code'], ['unions.code'], name=op.f('fk_members_union_code_unions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_members')),
    sa.UniqueConstraint('member_number', name=op.f('uq_members_member_number')),
    sa.UniqueConstraint('personal_id_hash', name=op.f('uq_members_personal_id_hash'))
    )
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.create_index('ix_members_name_ascii', ['name_ascii'], unique=False)
        batch_op.create_index('ix_members_province_code_name_ascii', ['province_code', 'name_ascii'], unique=False)
        batch_op.create_index('ix_members_status', ['status'], unique=False)
        batch_op.create_index('ix_members_union_code_name_ascii', ['union_code', 'name_ascii'], unique=False)



def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index('ix_members_union_code_name_ascii')
        batch_op.drop_index('ix_members_status')
        batch_op.drop_index('ix_members_province_code_name_ascii')
        batch_op.drop_index('ix_members_name_ascii')

    op.drop_table('members')
    with op.batch_alter_table('unions', schema=None) as batch_op:
        batch_op.drop_index('ix_unions_province_code_name')

    op.drop_table('unions')
    op.drop_table('member_number_sequences')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ix_jobs_province_code_created_at')

    op.drop_table('jobs')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_province_code_at')
        batch_op.drop_index('ix_audit_log_object')

    op.drop_table('audit_log')
    for enum_name in ("member_status", "job_status"):
        sa.Enum(name=enum_name).drop(op.get_bind(), checkfirst=True)
