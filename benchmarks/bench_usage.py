"""Usage accounting at scale: ingest rate, bytes per event, and a manager's team report over N events.

Builds an organisation of ``--users`` people (a CEO, then managers with ``--span`` reports each, two
agents per person), ingests ``--events`` model requests spread over ``--days`` days (arriving in time
order, in batches as a busy worker would write them), then times, ``--reports`` times each:

- the rollup query behind a manager's team report (store only), and
- the whole team report operation (``operations.usage.team_usage``: the management chain over time,
  the rollups, outcomes from the audit log, waste, and one audit record per person read),

for a manager with ``--span`` direct reports. Prints p50/p95 of each, the ingest rate and bytes per
event (the usage tables' size divided by the events: events, rollups, runs and names together).

    nice -n 10 .venv/bin/python benchmarks/bench_usage.py --events 10000000            # SQLite
    nice -n 10 .venv/bin/python benchmarks/bench_usage.py --events 10000000 --postgres # 127.0.0.1:5432

Targets: ingest >= 50,000 events/s on SQLite, <= 200 bytes per event, team report p95 < 100 ms.
"""

from __future__ import annotations

import argparse
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
    from meshclaw.store.usage import PRICE_PUBLISHED, UsageEventIn

    start = now.timestamp() - days * 86_400
    step = days * 86_400 / n
    for b in range(0, n, batch):
        out = []
        for i in range(b, min(n, b + batch)):
            run = i // 5  # five model requests per run
            user = (run * 7919) % users
            out.append(UsageEventIn(f"run-{run}:model:{i % 5}", f"run-{run}", f"u{user}", f"u{user}-agent{run % 2}",
                                    "gpt-4o-mini" if run % 3 else "local", start + i * step, 900 + i % 700,
                                    120 + i % 200, i % 500, 0, i % 40, 0.00021 + (i % 9) * 1e-5, 400 + i % 2500,
                                    PRICE_PUBLISHED, "cron" if run % 4 == 0 else "manual", f"agent#{i % 5}"))
        yield out


def size_bytes(store) -> int:  # type: ignore[no-untyped-def]
    with store.db.engine.connect() as c:
        if store.db.dialect == "postgresql":
            return int(c.exec_driver_sql(
                "SELECT sum(pg_total_relation_size(t)) FROM unnest(ARRAY['usage_events','usage_daily','usage_runs',"
                "'usage_names']) t").scalar())
        pages = 0
        for t in ("usage_events", "usage_daily", "usage_runs", "usage_names"):
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
    ap.add_argument("--batch", type=int, default=5_000)
    ap.add_argument("--reports", type=int, default=50, help="timed team reports")
    ap.add_argument("--manager", default="u11", help="whose team (u11: 10 direct and 100 indirect reports by default)")
    ap.add_argument("--postgres", action="store_true", help="PostgreSQL at 127.0.0.1:5432 instead of SQLite")
    ap.add_argument("--reuse", action="store_true", help="--postgres: time the reports on the events a previous "
                    "run left (with --keep), without ingesting again")
    ap.add_argument("--keep", action="store_true", help="--postgres: keep the benchmark database afterwards")
    args = ap.parse_args()

    from meshclaw.domain.config import Config
    from meshclaw.operations import usage as ops
    from meshclaw.operations.actor import Actor
    from meshclaw.operations.context import Context
    from meshclaw.operations.usage_org import visible_windows
    from meshclaw.store.facade import Store
    from meshclaw.store.usage_queries import rollup

    home = Path(tempfile.mkdtemp(prefix="bench-usage-"))
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

    print(f"usage benchmark on {store.db.dialect}: {args.events:,} events, {args.users:,} people, {args.days} days, "
          f"batches of {args.batch:,}; load average {os.getloadavg()[0]:.2f}")
    done, seconds = 0, 0.0
    for batch in ([] if args.reuse else events(args.events, args.users, args.days, args.batch, now)):  # made outside the timing
        started = time.perf_counter()
        done += store.usage.record_many(batch)
        seconds += time.perf_counter() - started
    if args.reuse:
        with store.db.engine.connect() as c:
            done = int(c.exec_driver_sql("SELECT sum(requests) FROM usage_runs").scalar() or 0)
        print(f"reusing {done:,} events")
    else:
        print(f"ingest: {done:,} events in {seconds:,.1f} s = {done / seconds:,.0f} events/s (target >= 50,000 on SQLite)")
    if store.db.dialect == "postgresql":
        with store.db.engine.connect() as c:
            c.exec_driver_sql("ANALYZE")
    total = size_bytes(store)
    print(f"storage: {total / done:,.1f} bytes per event ({total / 1e6:,.1f} MB for events, daily rollups, run totals "
          "and names; target <= 200)")

    manager = args.manager
    actor = Actor.of(config, manager)
    ctx = Context(config, store, home, url)
    first, end = now.date() - timedelta(days=29), now.date() + timedelta(days=1)
    others = [u.id for u in config.users if u.id != manager]
    query, whole = [], []
    for _ in range(args.reports):
        t0 = time.perf_counter()
        windows = visible_windows(config, manager, others, first, end)
        epoch = datetime(1970, 1, 1).date()
        rollup(store.db, [(users - {manager}, (a - epoch).days, (b - epoch).days) for users, a, b in windows], ("day",))
        query.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        report = ops.team_usage(ctx, actor, by="day")
        whole.append((time.perf_counter() - t0) * 1000)
    print(f"team report of {manager} ({report.people} people, 30 days by day, {report.total.sums.requests:,} requests):")
    print(f"  rollup query:     p50 {statistics.median(query):.1f} ms, p95 {pct(query, 95):.1f} ms (target < 100)")
    print(f"  whole operation:  p50 {statistics.median(whole):.1f} ms, p95 {pct(whole, 95):.1f} ms "
          f"(includes {report.people} audit records per report, one per person read)")
    store.db.engine.dispose()
    if args.postgres and not args.keep:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
    else:
        import shutil

        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
