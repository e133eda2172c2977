"""sandbox deployments: a workplace's services (versions, history, health, logs) and scripted changes

Revision ID: 0014
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('workplace_services',
    sa.Column('workplace', sa.String(length=64), nullable=False),
    sa.Column('service', sa.String(length=100), nullable=False),
    sa.Column('version', sa.String(length=100), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('versions', sa.JSON(), nullable=False),
    sa.Column('history', sa.JSON(), nullable=False),
    sa.Column('health_status', sa.Integer(), nullable=True),
    sa.Column('health_body', sa.Text(), nullable=False),
    sa.Column('logs', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('workplace', 'service')
    )
    op.create_table('workplace_service_changes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('workplace', sa.String(length=64), nullable=False),
    sa.Column('service', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.String(length=100), nullable=True),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('health_status', sa.Integer(), nullable=True),
    sa.Column('health_body', sa.Text(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('logs', sa.JSON(), nullable=False),
    sa.Column('applied', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_workplace_service_changes_workplace', 'workplace_service_changes', ['workplace'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_workplace_service_changes_workplace', table_name='workplace_service_changes')
    op.drop_table('workplace_service_changes')
    op.drop_table('workplace_services')
