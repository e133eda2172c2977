"""note provenance: the trust of the run that wrote each note

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL for notes written before labels were kept: read back as untrusted (nobody knows what
    # their run had read).
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trust', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('origin', sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('notes', schema=None) as batch_op:
        batch_op.drop_column('origin')
        batch_op.drop_column('trust')
