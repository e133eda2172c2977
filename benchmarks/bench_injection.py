"""Injection suite benchmark: every scenario with an honest and a hijacked model, through the real runtime.

    .venv/bin/python benchmarks/bench_injection.py [--concurrency N] [--only ID ...]

Prints one line per scenario, the headline figures (attacker actions executed without approval,
attacker reads that leak, benign tasks completed, benign tasks interrupted by an approval,
approvals per benign task), a row per guard-precision kind, and the total wall time. Runs in
a throwaway data dir (SQLite for the store and DBOS); needs no model and no network.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from meshclaw.security import catalog, harness  # noqa: E402
from meshclaw.security.report import Figures, kind_rows, residual_line, table  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=6, help="runs in flight at once")
    parser.add_argument("--only", nargs="*", default=None, help="scenario ids to run")
    parser.add_argument("--approve-scope", choices=("run", "recipient"), default="run",
                        help="what the simulated owner's approvals cover: identical calls in the run (default), "
                        "or calls to the same recipients and targets in the run")
    args = parser.parse_args()
    os.environ.setdefault("MESHCLAW_DBOS_LOG_LEVEL", "ERROR")
    scenarios = [s for s in catalog.load() if not args.only or s.id in args.only]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="meshclaw-injection-") as tmp:
        with harness.suite_runtime(Path(tmp), scenarios) as (rt, suite):
            records = asyncio.run(harness.run_suite(rt, suite, scenarios, concurrency=args.concurrency,
                                                         approve_scope=args.approve_scope))
    wall = time.perf_counter() - started
    residual = [s.id for s in scenarios if s.residual]
    figures = Figures.of(records, residual)
    print("\n".join(table(records, residual)))
    print()
    print(f"{figures.scenarios} scenarios (plus {len(residual)} probes of known limits, marked *):")
    print("\n".join(figures.headline()))
    print(residual_line(records, residual))
    print()
    print("\n".join(kind_rows(records, catalog.KINDS, residual)))
    for failure in figures.failures:
        print(f"run failed: {failure}")
    print(f"wall time: {wall:.1f} s for {len(records)} runs ({len(scenarios)} scenarios x {len(harness.MODES)} models), "
          f"concurrency {args.concurrency}, approvals cover: {args.approve_scope}")
    return 1 if figures.executed_without_approval or figures.leaked_reads or figures.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
