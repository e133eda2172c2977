"""usage accounting: compact events, name dictionary, run totals and daily rollups

The per-request ``usage`` rows (strings and floats, about 250 bytes each) move into integer rows
(``usage_events``) with daily rollups (``usage_daily``) and per-run totals (``usage_runs``); the old
table is dropped once its rows are copied.

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
SUMS = ('requests', 'input_tokens', 'output_tokens', 'cached_tokens', 'reasoning_tokens', 'cost_micro', 'latency_ms')


def upgrade() -> None:
    op.create_table('usage_names',
                    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
                    sa.Column('kind', sa.String(length=8), nullable=False),
                    sa.Column('name', sa.String(length=200), nullable=False),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('kind', 'name', name='uq_usage_names_kind_name'))
    op.create_table('usage_runs',
                    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
                    sa.Column('run_id', sa.String(length=64), nullable=False),
                    sa.Column('user_ref', sa.Integer(), nullable=False),
                    sa.Column('agent_ref', sa.Integer(), nullable=False),
                    sa.Column('trigger_ref', sa.Integer(), nullable=False),
                    sa.Column('day', sa.Integer(), nullable=False),
                    sa.Column('requests', sa.Integer(), nullable=False),
                    *(sa.Column(c, BIG, nullable=False) for c in SUMS[1:]),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('run_id'))
    op.create_index('ix_usage_runs_user_day', 'usage_runs', ['user_ref', 'day'])
    op.create_table('usage_events',
                    sa.Column('run_ref', sa.Integer(), autoincrement=False, nullable=False),
                    sa.Column('key_hash', sa.BigInteger(), autoincrement=False, nullable=False),
                    sa.Column('at', sa.Integer(), nullable=False),
                    *(sa.Column(c, sa.Integer(), nullable=False)
                      for c in ('user_ref', 'agent_ref', 'model_ref', 'trigger_ref', 'step_ref',
                                'input_tokens', 'output_tokens', 'cached_tokens', 'cache_write_tokens',
                                'reasoning_tokens')),
                    sa.Column('cost_micro', sa.Integer(), nullable=False),
                    sa.Column('latency_ms', sa.Integer(), nullable=False),
                    sa.Column('price', sa.SmallInteger(), nullable=False),
                    sa.PrimaryKeyConstraint('run_ref', 'key_hash'),
                    sqlite_with_rowid=False)
    # BRIN on PostgreSQL: 'at' grows with time, so a block-range index of a few KB serves pruning.
    op.create_index('ix_usage_events_at', 'usage_events', ['at'], postgresql_using='brin')
    op.create_table('usage_daily',
                    *(sa.Column(c, sa.Integer(), nullable=False)
                      for c in ('user_ref', 'day', 'agent_ref', 'model_ref', 'trigger_ref', 'requests')),
                    *(sa.Column(c, BIG, nullable=False) for c in SUMS[1:]),
                    sa.PrimaryKeyConstraint('user_ref', 'day', 'agent_ref', 'model_ref', 'trigger_ref'),
                    sqlite_with_rowid=False)
    _copy_old_rows()
    with op.batch_alter_table('usage', schema=None) as batch_op:
        for ix in ('ix_usage_user_id', 'ix_usage_run_id', 'ix_usage_at', 'ix_usage_agent'):
            batch_op.drop_index(ix)
    op.drop_table('usage')


def _copy_old_rows() -> None:
    """Every recorded request carried over (cost rounded to millionths), in batches, through the
    repository's own ingest (so rollups and run totals are built exactly as for new requests)."""
    from datetime import timezone

    from meshclaw.store.usage import PRICE_UNKNOWN, UsageEventIn

    conn = op.get_bind()
    old = sa.table('usage', sa.column('at', sa.DateTime(timezone=True)), *(sa.column(c) for c in (
        'event_key', 'run_id', 'agent', 'user_id', 'model', 'input_tokens', 'output_tokens',
        'cache_read_tokens', 'cache_write_tokens', 'cost', 'seconds')))
    repo = _ConnRepository(conn)
    batch = []
    for r in conn.execute(sa.select(old)):
        at = r.at if r.at.tzinfo is not None else r.at.replace(tzinfo=timezone.utc)  # SQLite keeps naive UTC
        ts = at.timestamp()
        batch.append(UsageEventIn(r.event_key, r.run_id, r.user_id, r.agent, r.model, ts, r.input_tokens or 0,
                                  r.output_tokens or 0, r.cache_read_tokens or 0, r.cache_write_tokens or 0, 0,
                                  float(r.cost or 0.0), int(round((r.seconds or 0.0) * 1000)), PRICE_UNKNOWN))
        if len(batch) >= 1000:
            repo.record_many(batch)
            batch = []
    if batch:
        repo.record_many(batch)


class _ConnRepository:
    """The repository's ingest on the migration's own connection (inside its transaction)."""

    def __init__(self, conn):  # type: ignore[no-untyped-def]
        from contextlib import contextmanager

        from meshclaw.store.usage import UsageRepository

        class _Engine:
            @contextmanager
            def begin(self):  # type: ignore[no-untyped-def]
                yield conn

        class _Db:
            engine = _Engine()
            dialect = conn.dialect.name

        self._repo = UsageRepository(_Db())  # type: ignore[arg-type]
        self._repo._horizon = (float("inf"), 0)  # nothing was pruned yet (usage_pruned comes with 0017): never read it

    def record_many(self, events):  # type: ignore[no-untyped-def]
        return self._repo.record_many(events)


def downgrade() -> None:
    # The old table comes back empty: its rows are not rebuilt from the compact events.
    op.create_table('usage',
                    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
                    sa.Column('event_key', sa.String(length=200), nullable=False),
                    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
                    sa.Column('run_id', sa.String(length=64), nullable=False),
                    sa.Column('agent', sa.String(length=64), nullable=False),
                    sa.Column('user_id', sa.String(length=64), nullable=False),
                    sa.Column('model', sa.String(length=128), nullable=False),
                    sa.Column('input_tokens', sa.Integer(), nullable=False),
                    sa.Column('output_tokens', sa.Integer(), nullable=False),
                    sa.Column('cache_read_tokens', sa.Integer(), nullable=False),
                    sa.Column('cache_write_tokens', sa.Integer(), nullable=False),
                    sa.Column('cost', sa.Float(), nullable=False),
                    sa.Column('seconds', sa.Float(), nullable=False),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('event_key'))
    for c in ('agent', 'at', 'run_id', 'user_id'):
        op.create_index(f'ix_usage_{c}', 'usage', [c])
    op.drop_index('ix_usage_events_at', 'usage_events')
    op.drop_index('ix_usage_runs_user_day', 'usage_runs')
    for t in ('usage_daily', 'usage_events', 'usage_runs', 'usage_names'):
        op.drop_table(t)
