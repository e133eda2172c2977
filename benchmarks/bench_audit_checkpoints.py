"""The audit log's signed checkpoints: what they add to an append, and how fast verify is.

Appends N records to a fresh SQLite store with a checkpoint after each, then N without (the same
log, checkpoints switched off), and times ``verify`` over all 2N records (every checkpoint's
signature checked). The machine's load average is printed: on a shared 2-core machine it explains outliers.

    nice -n 10 .venv/bin/python benchmarks/bench_audit_checkpoints.py [--records 2000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=2000)
    n = parser.parse_args().records
    from meshclaw.store.facade import Store

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MESHCLAW_HOME"] = tmp
        store = Store(Path(tmp) / "home")
        started = time.perf_counter()
        for i in range(n):
            store.audit.append(f"a{i}", "decision", tool="email.send", verdict="allow", data={"i": i})
        anchored = time.perf_counter() - started
        checkpoints, store.audit.checkpoints = store.audit.checkpoints, None
        started = time.perf_counter()
        for i in range(n):
            store.audit.append(f"b{i}", "decision", tool="email.send", verdict="allow", data={"i": i})
        plain = time.perf_counter() - started
        store.audit.checkpoints = checkpoints
        started = time.perf_counter()
        result = store.audit.verify()
        verify = time.perf_counter() - started
    print(f"load average: {os.getloadavg()[0]:.2f}")
    print(f"append with checkpoint: {anchored / n * 1e6:.0f} us/record; without: {plain / n * 1e6:.0f} us/record")
    print(f"verify {2 * n} records ({n} checkpoints): {verify:.2f} s ({2 * n / verify:,.0f} records/s), ok={result.ok}")


if __name__ == "__main__":
    main()
