"""Usage accounting in the store: compact events, rollups kept current, pruning that changes no total,
and the migration of the old per-request rows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from meshclaw.store.facade import Store
from meshclaw.store.usage import PRICE_FREE, UsageEventIn, day_of
from meshclaw.store.usage_queries import rollup

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)


def _events(n: int, *, users: int = 20, runs_per_user: int = 50, start: datetime = NOW) -> list[UsageEventIn]:
    return [UsageEventIn(f"wf-{i}:model:{i % 7}", f"run-{i % (users * runs_per_user)}", f"user{i % users}",
                         f"agent{i % users}-{i % 3}", "gpt-4o-mini" if i % 2 else "local",
                         (start - timedelta(minutes=i)).timestamp(), 1200 + i % 500, 150 + i % 90, i % 400, 0, i % 30,
                         0.000321 * (i % 5), 800 + i % 3000, PRICE_FREE, "cron", f"agent#{i % 9}")
            for i in range(n)]


def test_a_request_is_recorded_once_with_every_figure_and_attribution(home):
    store = Store(home)
    store.runs.create("run-1", "keeper", "alice", "t", {}, trigger="cron")
    for _ in range(2):  # a replayed step records nothing new
        store.usage.record("wf:model:1", run_id="run-1", agent="keeper", user_id="alice", model="local",
                           input_tokens=900, output_tokens=40, cache_read_tokens=300, reasoning_tokens=12,
                           cost=0.0012345, seconds=1.2345, step="agent#1", price=PRICE_FREE, at=NOW)
    [row] = store.usage.for_run("run-1")
    assert (row.model, row.input_tokens, row.output_tokens, row.cache_read_tokens, row.reasoning_tokens) == (
        "local", 900, 40, 300, 12)
    assert row.cost == pytest.approx(0.001234, abs=1e-6) and row.seconds == pytest.approx(1.234, abs=1e-3)
    assert (row.user_id, row.agent, row.step, row.price) == ("alice", "keeper", "agent#1", PRICE_FREE)
    [(key, sums)] = rollup(store.db, [(["alice"], day_of(NOW), day_of(NOW) + 1)], ("trigger",)).items()
    assert key == ("cron",) and sums.requests == 1 and sums.tokens == 940  # the run's trigger, from the runs table


def test_an_event_takes_at_most_200_bytes_on_sqlite(home):
    store = Store(home)
    store.usage.record_many(_events(1000))  # names, runs and pages exist before measuring

    def used() -> int:
        with store.db.engine.connect() as c:
            pages = c.exec_driver_sql("PRAGMA page_count").scalar() - c.exec_driver_sql("PRAGMA freelist_count").scalar()
            return pages * c.exec_driver_sql("PRAGMA page_size").scalar()

    before = used()
    n = 20_000
    assert store.usage.record_many(_events(n + 1000)[1000:]) == n
    per_event = (used() - before) / n
    assert 20 < per_event <= 200, per_event


def test_pruning_raw_events_changes_no_reported_total(home):
    store = Store(home)
    old = _events(3000, start=NOW - timedelta(days=120))
    recent = [UsageEventIn(f"new-{i}", f"new-run-{i % 10}", "user1", "agent1-0", "local", (NOW - timedelta(hours=i)).timestamp(),
                           100, 10) for i in range(50)]
    store.usage.record_many(old + recent)
    users = [f"user{i}" for i in range(20)]
    window = [(users, day_of(NOW) - 400, day_of(NOW) + 1)]
    before = {by: rollup(store.db, window, by) for by in ((), ("day",), ("agent",), ("model",), ("user", "trigger"))}
    run_before = store.usage.totals(run_id="run-3")
    assert len(store.usage.for_run("run-3")) > 0

    deleted = store.usage.prune(NOW - timedelta(days=90))

    assert deleted == 3000
    assert {by: rollup(store.db, window, by) for by in before} == before
    assert store.usage.totals(run_id="run-3") == run_before and run_before.requests > 0
    assert store.usage.for_run("run-3") == []  # the per-request detail is what retention removes
    assert len(store.usage.for_run("new-run-1")) == 5

    # A replayed step from before the horizon cannot be checked against its pruned first recording: not
    # counted, in this process or another one (a new store on the same database), so no total changes.
    again = Store(home)
    for s in (store, again):
        assert s.usage.record_many([old[3], old[7]]) == 0
        assert {by: rollup(s.db, window, by) for by in before} == before
    assert again.usage.record_many([UsageEventIn("later", "new-run-1", "user1", "agent1-0", "local",
                                                 NOW.timestamp(), 7, 1)]) == 1


def test_old_per_request_rows_move_into_the_compact_tables(home):
    from alembic import command
    from alembic.config import Config as AlembicConfig

    from meshclaw.store.database import MIGRATIONS, Database, sqlite_url

    db = Database(sqlite_url(home))
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0005")
    old = sa.table("usage", *(sa.column(c) for c in ("event_key", "at", "run_id", "agent", "user_id", "model",
                                                        "input_tokens", "output_tokens", "cache_read_tokens",
                                                        "cache_write_tokens", "cost", "seconds")))
    with db.engine.begin() as conn:
        conn.execute(old.insert(), [{"event_key": f"k{i}", "at": NOW - timedelta(days=i % 3), "run_id": f"r{i % 2}",
                                     "agent": "keeper", "user_id": "alice", "model": "local", "input_tokens": 10,
                                     "output_tokens": 5, "cache_read_tokens": 1, "cache_write_tokens": 0,
                                     "cost": 0.5, "seconds": 0.25} for i in range(6)])
    db.engine.dispose()

    store = Store(home)

    assert store.usage.totals(run_id="r0").requests == 3
    t = store.usage.totals(user_id="alice")
    assert (t.requests, t.input_tokens, t.output_tokens, t.cost, t.seconds) == (6, 60, 30, 3.0, 1.5)
    with store.db.engine.connect() as conn:
        assert "usage" not in sa.inspect(conn).get_table_names()


@pytest.mark.postgres
@pytest.mark.slow
def test_accounting_and_pruning_on_postgres(home, pg_url):
    store = Store(home, pg_url)
    assert store.usage.record_many(_events(2000, start=NOW - timedelta(days=100))) == 2000
    assert store.usage.record_many(_events(2000, start=NOW - timedelta(days=100))) == 0  # replayed: nothing new
    users = [f"user{i}" for i in range(20)]
    window = [(users, 0, day_of(NOW) + 1)]
    before = rollup(store.db, window, ("day",))
    assert store.usage.prune(NOW) == 2000
    assert rollup(store.db, window, ("day",)) == before
    assert sum(s.requests for s in before.values()) == 2000
    store.db.engine.dispose()
