"""Roster imports: the per-row report (errors and warnings) of an import job.

Revision ID: 0003_imports
Revises: 0002_registry
Create Date: 2026-11-25

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = '0003_imports'
down_revision: Union[str, Sequence[str], None] = '0002_registry'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('import_issues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.String(length=32), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('column_name', sa.String(length=100), nullable=False),
    sa.Column('field', sa.String(length=32), nullable=False),
    sa.Column('value', sa.String(length=120), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_import_issues_job_id_jobs'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_issues'))
    )
    with op.batch_alter_table('import_issues', schema=None) as batch_op:
        batch_op.create_index('ix_import_issues_job_id_row_number', ['job_id', 'row_number'],
                              unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('import_issues', schema=None) as batch_op:
        batch_op.drop_index('ix_import_issues_job_id_row_number')

    op.drop_table('import_issues')
