"""usage_pruned: how far raw usage events have been pruned (events from before it are not counted)

Revision ID: 0017
Revises: 0016
"""
import sqlalchemy as sa
from alembic import op


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('usage_pruned',
                    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column('before', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('id'))


def downgrade() -> None:
    op.drop_table('usage_pruned')
