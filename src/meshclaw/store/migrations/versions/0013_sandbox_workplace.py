"""sandbox workplace: mail folders and messages, outside mail, calendars and chat kept in the store

Revision ID: 0013
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('workplaces',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('workplace_folders',
    sa.Column('workplace', sa.String(length=64), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('folder', sa.String(length=200), nullable=False),
    sa.Column('uidvalidity', sa.Integer(), nullable=False),
    sa.Column('uidnext', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('workplace', 'owner', 'folder')
    )
    op.create_table('workplace_mail',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('workplace', sa.String(length=64), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('folder', sa.String(length=200), nullable=False),
    sa.Column('uid', sa.Integer(), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('flags', sa.JSON(), nullable=False),
    sa.Column('internal_date', sa.DateTime(timezone=True), nullable=False),
    sa.Column('message_id', sa.String(length=250), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workplace', 'owner', 'folder', 'uid', name='uq_workplace_mail_uid')
    )
    op.create_index('ix_workplace_mail_workplace', 'workplace_mail', ['workplace'], unique=False)
    op.create_index('ix_workplace_mail_owner', 'workplace_mail', ['owner'], unique=False)
    op.create_index('ix_workplace_mail_message_id', 'workplace_mail', ['message_id'], unique=False)
    op.create_table('workplace_outside',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('workplace', sa.String(length=64), nullable=False),
    sa.Column('sender', sa.String(length=64), nullable=False),
    sa.Column('recipients', sa.JSON(), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_workplace_outside_workplace', 'workplace_outside', ['workplace'], unique=False)
    op.create_table('workplace_events',
    sa.Column('workplace', sa.String(length=64), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('calendar', sa.String(length=200), nullable=False),
    sa.Column('uid', sa.String(length=250), nullable=False),
    sa.Column('ics', sa.Text(), nullable=False),
    sa.Column('etag', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('workplace', 'owner', 'calendar', 'uid')
    )
    op.create_table('workplace_channels',
    sa.Column('workplace', sa.String(length=64), nullable=False),
    sa.Column('channel_id', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('topic', sa.Text(), nullable=False),
    sa.Column('is_direct', sa.Boolean(), nullable=False),
    sa.Column('members', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('workplace', 'channel_id')
    )
    op.create_table('workplace_chat',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('workplace', sa.String(length=64), nullable=False),
    sa.Column('channel_id', sa.String(length=100), nullable=False),
    sa.Column('author_id', sa.String(length=64), nullable=False),
    sa.Column('author_name', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('thread_id', sa.String(length=100), nullable=True),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=100), nullable=True),
    sa.Column('mentions', sa.JSON(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('idempotency_key')
    )
    op.create_index('ix_workplace_chat_workplace', 'workplace_chat', ['workplace'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_workplace_chat_workplace', table_name='workplace_chat')
    op.drop_table('workplace_chat')
    op.drop_table('workplace_channels')
    op.drop_table('workplace_events')
    op.drop_index('ix_workplace_outside_workplace', table_name='workplace_outside')
    op.drop_table('workplace_outside')
    op.drop_index('ix_workplace_mail_message_id', table_name='workplace_mail')
    op.drop_index('ix_workplace_mail_owner', table_name='workplace_mail')
    op.drop_index('ix_workplace_mail_workplace', table_name='workplace_mail')
    op.drop_table('workplace_mail')
    op.drop_table('workplaces')
