"""The metering write path: ``UsageRepository.record`` queues events and writes them in batches, yet no
event is lost at a clean exit, every read counts what was queued, and budgets stay exact — in the
process that queued (queued figures are added) and in any other (a subject with a budget is written
at once)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from meshclaw.domain.errors import BudgetExceeded
from meshclaw.store.budget import Limit
from meshclaw.store.facade import Store
from meshclaw.store.usage import day_of
from meshclaw.store.usage_queries import rollup

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime.now(timezone.utc)


def _requests(store: Store, user: str) -> int:
    got = rollup(store.db, [([user], day_of(NOW) - 1, day_of(NOW) + 1)])
    return sum(s.requests for s in got.values())


def _child(home: Path, body: str) -> subprocess.Popen:
    """A separate Python process on the same store, running ``body`` (``store`` is its Store)."""
    code = f"from pathlib import Path\nfrom meshclaw.store.facade import Store\nstore = Store(Path({str(home)!r}))\n{body}"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MESHCLAW_")},
           "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_queued_events_are_written_when_the_process_exits_cleanly(home):
    Store(home)  # the schema
    child = _child(home, "\n".join([
        "store.usage.buffer.max_seconds = 3600  # no timer flush: only the exit writes them",
        "for i in range(250):",
        "    store.usage.record(f'k{i}', run_id=f'r{i // 5}', agent='mailer', user_id='alice', model='local',",
        "                       input_tokens=10, output_tokens=1)",
        "print(len(store.usage.buffer), flush=True)",
    ]))
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert out.split() == ["250"]  # they were all still queued when the script ended
    assert _requests(Store(home), "alice") == 250


def test_a_subject_with_a_budget_is_written_at_once_for_other_processes(home):
    store = Store(home)
    child = _child(home, "\n".join([
        "from meshclaw.store.budget import Limit",
        "store.usage.buffer.max_seconds = 3600",
        "limit = Limit('agent', 'mailer', 'day', 'tokens', 1_000_000)",
        "store.budget.reserve_request('q1', agent='mailer', user_id='alice', prompt_tokens=10, max_output=100,",
        "                             min_output=1, cost_per_token=0.0, limits=[limit])",
        "store.budget.settle('q1')",
        "store.usage.record('q1', run_id='r1', agent='mailer', user_id='alice', model='local', input_tokens=40,",
        "                   output_tokens=2)",
        "store.usage.record('q2', run_id='r2', agent='notes', user_id='bob', model='local', input_tokens=5,",
        "                   output_tokens=1)",
        "print(len(store.usage.buffer), flush=True)",
        "input()  # stay alive until told",
    ]))
    assert child.stdout is not None and child.stdin is not None
    assert child.stdout.readline().split() == ["1"]  # bob's request (no budget) is queued; the budgeted one is not
    assert _requests(store, "alice") == 1  # seen from this process while the other one still runs
    child.stdin.write("\n")
    child.stdin.flush()
    assert child.wait(120) == 0
    assert _requests(store, "bob") == 1  # written at its clean exit


def test_a_budget_check_counts_what_this_process_still_queues(home):
    store = Store(home)
    store.usage.buffer.max_seconds = 3600
    store.usage.record("k1", run_id="r1", agent="mailer", user_id="alice", model="local", input_tokens=880,
                       output_tokens=20)
    assert len(store.usage.buffer) == 1
    limit = Limit("agent", "mailer", "day", "tokens", 1000)
    with pytest.raises(BudgetExceeded, match="used 900 tokens"):
        store.budget.reserve_request("k2", agent="mailer", user_id="alice", prompt_tokens=50, max_output=200,
                                     min_output=100, cost_per_token=0.0, limits=[limit])
    # From now on this agent's requests are written at once (after what was queued before them).
    store.usage.record("k3", run_id="r1", agent="mailer", user_id="alice", model="local", input_tokens=1,
                       output_tokens=1)
    assert len(store.usage.buffer) == 0
    assert sorted(r.input_tokens for r in store.usage.for_run("r1")) == [1, 880]


def test_a_read_in_this_process_counts_every_queued_event_once(home):
    store, other = Store(home), Store(home)  # two stores on one database, as a runtime and a report may be
    store.usage.buffer.max_seconds = 3600
    for i in range(3):
        store.usage.record(f"k{i}", run_id="r1", agent="mailer", user_id="alice", model="local", input_tokens=10,
                           output_tokens=1)
    store.usage.record("k0", run_id="r1", agent="mailer", user_id="alice", model="local", input_tokens=10,
                       output_tokens=1)  # a replayed step, queued twice
    assert _requests(other, "alice") == 3
    assert other.usage.totals(run_id="r1").requests == 3


def test_the_queued_event_tuple_has_the_field_order_of_UsageEventIn(home):
    """``record`` queues plain tuples read by position (``usage_writer.EV_*``); a batch of UsageEventIn
    (``record_many``) is read by the same positions, so both must name the same fields."""
    from meshclaw.store import usage_writer
    from meshclaw.store.usage import UsageEventIn

    positions = {name: getattr(usage_writer, name) for name in dir(usage_writer) if name.startswith("EV_")}
    fields = ("key", "run_id", "user_id", "agent", "model", "at", "input_tokens", "output_tokens", "cached_tokens",
              "cache_write_tokens", "reasoning_tokens", "cost", "latency_ms", "price", "trigger", "step")
    assert sorted(positions.values()) == list(range(len(fields)))
    assert UsageEventIn._fields[:len(fields)] == fields
    store = Store(home)
    store.usage.record("k1", run_id="r1", agent="a", user_id="u", model="m", input_tokens=7, output_tokens=3,
                       cost=0.5, seconds=1.5, at=NOW)
    queued = store.usage.buffer._events[0]
    assert type(queued) is tuple
    assert queued[usage_writer.EV_IN] == 7 and queued[usage_writer.EV_OUT] == 3
    assert queued[usage_writer.EV_USER] == "u" and queued[usage_writer.EV_AGENT] == "a"
    assert queued[usage_writer.EV_COST] == 0.5 and queued[usage_writer.EV_LATENCY] == 1500
    store.usage.record_many([UsageEventIn("k2", "r1", "u", "a", "m", NOW.timestamp(), input_tokens=5, output_tokens=1)])
    assert _requests(store, "u") == 2
    assert store.usage.totals(run_id="r1").input_tokens == 12


def test_events_of_a_store_dropped_before_they_are_written_are_not_lost(home):
    """``meshclaw run`` without a worker drops its store when the run ends; the events it queued are
    written all the same (at the latest when the process exits: ``flush_all``)."""
    import gc

    from meshclaw.store.usage_writer import flush_all

    store = Store(home)
    store.usage.buffer.max_seconds = 3600  # no timer write during the test: only the exit flush can save them
    store.usage.record("dropped-1", run_id="r-dropped", agent="a", user_id="dana", model="m", input_tokens=11,
                       output_tokens=2, at=NOW)
    del store
    gc.collect()
    flush_all()
    assert _requests(Store(home), "dana") == 1
