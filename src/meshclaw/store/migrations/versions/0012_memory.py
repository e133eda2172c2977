"""memory: episodes, versioned entries, the dream diary, consolidation leases, full-text index

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('memory_episodes',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('agent', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('trigger', sa.String(length=64), nullable=False),
    sa.Column('task', sa.Text(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('decisions', sa.JSON(), nullable=False),
    sa.Column('corrections', sa.JSON(), nullable=False),
    sa.Column('trust', sa.String(length=16), nullable=False),
    sa.Column('origins', sa.String(length=300), nullable=False),
    sa.Column('embedding', sa.LargeBinary(), nullable=True),
    sa.Column('dreamt_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id')
    )
    for col in ('owner', 'agent', 'at', 'dreamt_by'):
        op.create_index(f'ix_memory_episodes_{col}', 'memory_episodes', [col])
    op.create_table('memory_entries',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('current', sa.Boolean(), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('agent', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('sources', sa.JSON(), nullable=False),
    sa.Column('trust', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=32), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('by', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('embedding', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key', 'version', name='uq_memory_entry_version')
    )
    for col in ('key', 'current', 'owner', 'agent', 'status'):
        op.create_index(f'ix_memory_entries_{col}', 'memory_entries', [col])
    op.create_table('memory_dreams',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('agent', sa.String(length=64), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('episodes', sa.Integer(), nullable=False),
    sa.Column('changes', sa.JSON(), nullable=False),
    sa.Column('diary', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id')
    )
    op.create_index('ix_memory_dreams_owner', 'memory_dreams', ['owner'])
    op.create_index('ix_memory_dreams_agent', 'memory_dreams', ['agent'])
    op.create_table('memory_leases',
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('holder', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        # Full-text index of episodes and current entries: doc is "e:ID" (episode) or "m:ID" (entry row).
        op.execute("CREATE VIRTUAL TABLE memory_fts USING fts5(text, doc UNINDEXED, owner UNINDEXED, "
                   "tokenize='porter unicode61')")
    elif bind.dialect.name == 'postgresql':
        op.execute("CREATE INDEX ix_memory_episodes_fts ON memory_episodes USING gin "
                   "(to_tsvector('english', task || ' ' || summary))")
        op.execute("CREATE INDEX ix_memory_entries_fts ON memory_entries USING gin "
                   "(to_tsvector('english', subject || ' ' || text))")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite':
        op.execute("DROP TABLE IF EXISTS memory_fts")
    for table in ('memory_leases', 'memory_dreams', 'memory_entries', 'memory_episodes'):
        op.drop_table(table)
