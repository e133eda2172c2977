"""The scale-out store: PostgreSQL at 127.0.0.1:5432, a throwaway database per test session."""

from __future__ import annotations

import multiprocessing as mp
import os

import pytest

from meshclaw.store.facade import Store
from tests.runtime_support import run, runtime
from tests.test_runs import config

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def test_durable_run_on_postgres(home, pg_url):
    with runtime(home, config(), store_url=pg_url) as rt:
        assert rt.store.db.dialect == "postgresql"
        outcome, _ = run(rt, "keeper", "remember to buy milk")
        assert outcome.status == "succeeded"
        assert [n.text for n in rt.store.notes.list("alice")] == ["buy milk"]
        assert rt.store.usage.totals(run_id=outcome.run_id).requests == 3
        assert rt.store.audit.verify().ok


def _append_many(url: str, home: str, worker: int, n: int) -> None:
    store = Store(__import__("pathlib").Path(home), url)
    for i in range(n):
        store.audit.append(f"w{worker}-{i}", "test", data={"worker": worker, "i": i})


def test_concurrent_writers_keep_one_unbroken_chain(home, pg_url, monkeypatch):
    monkeypatch.setenv("MESHCLAW_AUDIT_KEY", "shared-key-for-all-workers")
    Store(home, pg_url)  # migrate once
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(pg_url, str(home), w, 40)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = Store(home, pg_url)
    result = store.audit.verify()
    assert result.ok, result.problem
    assert result.checked >= 160
    assert os.environ["MESHCLAW_AUDIT_KEY"]
