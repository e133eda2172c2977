"""tool pins

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tool_pins',
    sa.Column('agent', sa.String(length=64), nullable=False),
    sa.Column('tool', sa.String(length=128), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('definition', sa.JSON(), nullable=False),
    sa.Column('pinned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('pinned_by', sa.String(length=64), nullable=False),
    sa.Column('pending_fingerprint', sa.String(length=64), nullable=True),
    sa.Column('pending_definition', sa.JSON(), nullable=True),
    sa.Column('pending_since', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('agent', 'tool')
    )


def downgrade() -> None:
    op.drop_table('tool_pins')
