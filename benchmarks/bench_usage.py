"""Usage accounting at scale: ingest rate, bytes per event, and a manager's team report over N events.

Builds an organisation of ``--users`` people (a CEO, then managers with ``--span`` reports each, two
agents per person), ingests ``--events`` model requests spread over ``--days`` days (arriving in time
order, through ``UsageRepository.record`` — the call the runtime makes for each model request, which
queues the event and writes batches), then times, ``--reports`` times each:

- the rollup query behind a manager's team report (store only), and
- the whole team report operation (``operations.usage.team_usage``: the management chain over time,
  the rollups, outcomes from the audit log, waste, and one audit record per person read),

for a manager with ``--span`` direct reports. Prints p50/p95 of each, the ingest rate (wall clock, and
per CPU second of this process, as the machine may be shared), and bytes per event two ways: the raw
table ``usage_events`` with its indexes divided by its rows, and all usage tables (events, daily
rollups, run totals, names) divided by the events (``size_bytes`` says what is counted).

    nice -n 10 .venv/bin/python benchmarks/bench_usage.py --events 10000000            # SQLite
    nice -n 10 .venv/bin/python benchmarks/bench_usage.py --events 10000000 --postgres # 127.0.0.1:5432

Garbage collection: each chunk of made events is frozen (``gc.freeze``) before it is timed, so the
collector's passes walk only what the write path keeps, not this benchmark's inputs; before the
reports, the objects alive are frozen as the long-lived processes that serve reports do once started
(``surfaces/long_lived.py``).

Targets: ingest >= 50,000 events/s on SQLite, <= 200 bytes per event, team report p95 < 100 ms.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_DB = "meshclaw_bench_usage"


def org(users: int, span: int) -> list[dict]:
    """A tree: user 0 is the CEO; user i reports to user (i - 1) // span."""
    out = [{"id": "u0", "name": "U0", "roles": ["admin"]}]
    for i in range(1, users):
        out.append({"id": f"u{i}", "name": f"U{i}", "manager": f"u{(i - 1) // span}"})
    return out


def events(n: int, users: int, days: int, batch: int, now: datetime):
    """Lists of ``(event key, keywords of UsageRepository.record)``: what the runtime's metered model
    passes for each model request (made outside the timing)."""
    from meshclaw.store.usage import PRICE_PUBLISHED

    start = now.timestamp() - days * 86_400
    step = days * 86_400 / n
    for b in range(0, n, batch):
        out = []
        for i in range(b, min(n, b + batch)):
            run = i // 5  # five model requests per run
            user = (run * 7919) % users
            out.append((f"run-{run}:model:{i % 5}", {
                "run_id": f"run-{run}", "agent": f"u{user}-agent{run % 2}", "user_id": f"u{user}",
                "model": "gpt-4o-mini" if run % 3 else "local", "input_tokens": 900 + i % 700,
                "output_tokens": 120 + i % 200, "cache_read_tokens": i % 500, "cache_write_tokens": 0,
                "cost": 0.00021 + (i % 9) * 1e-5, "seconds": (400 + i % 2500) / 1000, "reasoning_tokens": i % 40,
                "trigger": "cron" if run % 4 == 0 else "manual", "step": f"agent#{i % 5}", "price": PRICE_PUBLISHED,
                "at": datetime.fromtimestamp(start + i * step, timezone.utc)}))
        yield out


TABLES = ("usage_events", "usage_daily", "usage_runs", "usage_names")


def size_bytes(store, tables=TABLES) -> int:  # type: ignore[no-untyped-def]
    """Bytes the tables take with their indexes: PostgreSQL ``pg_total_relation_size`` (heap, indexes,
    TOAST, free space and visibility maps), SQLite the pages ``dbstat`` counts for the tables and their indexes."""
    with store.db.engine.connect() as c:
        if store.db.dialect == "postgresql":
            names = ", ".join(f"'{t}'" for t in tables)
            return int(c.exec_driver_sql(
                f"SELECT sum(pg_total_relation_size(t)) FROM unnest(ARRAY[{names}]) t").scalar())
        pages = 0
        for t in tables:
            pages += int(c.exec_driver_sql(f"SELECT count(*) FROM dbstat WHERE name = '{t}' OR name IN "
                                           f"(SELECT name FROM sqlite_master WHERE tbl_name = '{t}')").scalar())
        return pages * int(c.exec_driver_sql("PRAGMA page_size").scalar())


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--users", type=int, default=2_000)
    ap.add_argument("--span", type=int, default=10, help="direct reports per manager")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--batch", type=int, default=5_000, help="events made at a time (outside the timing)")
    ap.add_argument("--reports", type=int, default=50, help="timed team reports")
    ap.add_argument("--manager", default="u11", help="whose team (u11: 10 direct and 100 indirect reports by default)")
    ap.add_argument("--postgres", action="store_true", help="PostgreSQL at 127.0.0.1:5432 instead of SQLite")
    ap.add_argument("--reuse", action="store_true", help="time the reports on the events a previous run left "
                    "(with --keep; SQLite: in --home), without ingesting again")
    ap.add_argument("--keep", action="store_true", help="keep the benchmark database afterwards")
    ap.add_argument("--home", help="SQLite: the data directory (default a new temporary one)")
    args = ap.parse_args()

    from meshclaw.domain.config import Config
    from meshclaw.operations import usage as ops
    from meshclaw.operations.actor import Actor
    from meshclaw.operations.context import Context
    from meshclaw.operations.usage_org import visible_windows
    from meshclaw.store.facade import Store
    from meshclaw.store.usage_queries import rollup

    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="bench-usage-"))
    home.mkdir(parents=True, exist_ok=True)
    url = None
    if args.postgres:
        import psycopg

        if not args.reuse:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{PG_DB}"')
        url = f"postgresql://postgres@127.0.0.1:5432/{PG_DB}"
    store = Store(home, url)
    config = Config.model_validate({"users": org(args.users, args.span), "models": {"local": {"kind": "bundled"}}})
    now = datetime.now(timezone.utc)

    print(f"usage benchmark on {store.db.dialect}: {'the kept' if args.reuse else f'{args.events:,}'} events, {args.users:,} people, {args.days} days, "
          f"made in chunks of {args.batch:,} outside the timing, written by the buffered writer in batches of up to "
          f"{store.usage.buffer.max_events:,}; load average {os.getloadavg()[0]:.2f}")
    done, seconds, cpu = 0, 0.0, 0.0
    record = store.usage.record  # the runtime's write path (runtime/metered.py): queued, written in batches
    for batch in ([] if args.reuse else events(args.events, args.users, args.days, args.batch, now)):  # made outside the timing
        # The chunk's keyword dicts are this benchmark's inputs, alive for the whole chunk: frozen, so that the
        # garbage collector's passes during the timing walk only what the write path itself keeps (left
        # tracked, they made the collector take about a fifth of the ingest time, a cost the runtime never
        # has: its metered model makes one request's keywords at a time).
        gc.freeze()
        started, c0 = time.perf_counter(), time.process_time()
        for key, kw in batch:
            record(key, **kw)
        seconds += time.perf_counter() - started
        cpu += time.process_time() - c0
        done += len(batch)
    started, c0 = time.perf_counter(), time.process_time()
    store.usage.flush()  # the last partial batch
    seconds += time.perf_counter() - started
    cpu += time.process_time() - c0
    with store.db.engine.connect() as c:
        recorded = int(c.exec_driver_sql("SELECT sum(requests) FROM usage_runs").scalar() or 0)
        raw = int(c.exec_driver_sql("SELECT count(*) FROM usage_events").scalar() or 0)
    if args.reuse:
        done = recorded
        print(f"reusing {done:,} events")
    else:
        assert recorded == done and raw == done, (recorded, raw, done)  # every event written, once
        print(f"ingest: {done:,} events in {seconds:,.1f} s = {done / seconds:,.0f} events/s through "
              f"UsageRepository.record (target >= 50,000 on SQLite)")
        print(f"        this process's CPU time {cpu:,.1f} s = {done / cpu:,.0f} events per CPU second (the machine is "
              f"shared: load average now {os.getloadavg()[0]:.2f})")
    if store.db.dialect == "postgresql":
        with store.db.engine.connect() as c:
            c.exec_driver_sql("ANALYZE")
    events_only = size_bytes(store, ("usage_events",))
    total = size_bytes(store)
    print(f"storage: {events_only / raw:,.1f} bytes per event in usage_events with its indexes "
          f"({events_only / 1e6:,.1f} MB / {raw:,} rows; target <= 200)")
    print(f"         {total / done:,.1f} bytes per event with the daily rollups, run totals and names too "
          f"({total / 1e6:,.1f} MB / {done:,} events)")

    from meshclaw.surfaces.long_lived import freeze_startup_objects

    freeze_startup_objects()  # as the long-lived processes that serve reports do once started (the MCP server, metrics)
    manager = args.manager
    actor = Actor.of(config, manager)
    ctx = Context(config, store, home, url)
    first, end = now.date() - timedelta(days=29), now.date() + timedelta(days=1)
    others = [u.id for u in config.users if u.id != manager]
    query, whole, whole_cpu = [], [], []
    for _ in range(args.reports):
        t0 = time.perf_counter()
        windows = visible_windows(config, manager, others, first, end)
        epoch = datetime(1970, 1, 1).date()
        rollup(store.db, [(users - {manager}, (a - epoch).days, (b - epoch).days) for users, a, b in windows], ("day",))
        query.append((time.perf_counter() - t0) * 1000)
        t0, c0 = time.perf_counter(), time.process_time()
        report = ops.team_usage(ctx, actor, by="day")
        whole.append((time.perf_counter() - t0) * 1000)
        whole_cpu.append((time.process_time() - c0) * 1000)
    print(f"team report of {manager} ({report.people} people, 30 days by day, {report.total.sums.requests:,} requests):")
    print(f"  rollup query:     p50 {statistics.median(query):.1f} ms, p95 {pct(query, 95):.1f} ms (target < 100)")
    print(f"  whole operation:  p50 {statistics.median(whole):.1f} ms, p95 {pct(whole, 95):.1f} ms "
          f"(includes {report.people} audit records per report, one per person read)")
    print(f"  whole operation, this process's CPU time: p50 {statistics.median(whole_cpu):.1f} ms, "
          f"p95 {pct(whole_cpu, 95):.1f} ms; load average now {os.getloadavg()[0]:.2f}")
    store.db.engine.dispose()
    if args.postgres and not args.keep:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
    elif not args.keep:
        import shutil

        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
