"""approval grants: wider, expiring, revocable approvals; the fatigue notice and targets key of a request

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'approval_grants',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('approval_id', sa.String(length=32), nullable=False),
        sa.Column('agent', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.String(length=64), nullable=False),
        sa.Column('tool', sa.String(length=128), nullable=False),
        sa.Column('scope', sa.String(length=16), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('shown', sa.JSON(), nullable=False),
        sa.Column('run_id', sa.String(length=64), nullable=True),
        sa.Column('created_by', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_by', sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    for column in ('approval_id', 'agent', 'user_id', 'key'):
        op.create_index(f'ix_approval_grants_{column}', 'approval_grants', [column], unique=False)
    with op.batch_alter_table('approvals', schema=None) as batch_op:
        batch_op.alter_column('scope', existing_type=sa.String(length=8), type_=sa.String(length=16))
        batch_op.add_column(sa.Column('target_key', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('notice', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('approvals', schema=None) as batch_op:
        batch_op.drop_column('notice')
        batch_op.drop_column('target_key')
        batch_op.alter_column('scope', existing_type=sa.String(length=16), type_=sa.String(length=8))
    for column in ('approval_id', 'agent', 'user_id', 'key'):
        op.drop_index(f'ix_approval_grants_{column}', table_name='approval_grants')
    op.drop_table('approval_grants')
