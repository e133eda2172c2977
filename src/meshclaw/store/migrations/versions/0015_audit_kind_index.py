"""audit: an index on (kind, at), for reads of one kind of record over a period

Revision ID: 0015
Revises: 0014
"""
from alembic import op


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_audit_kind_at', 'audit', ['kind', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_kind_at', table_name='audit')
