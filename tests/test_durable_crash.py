"""A worker killed with SIGKILL in the middle of a multi-step run resumes without repeating or
losing a side effect: checked against a counter kept outside the worker process."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess

import pytest

from tests.builders import Org, call, say
from tests.conftest import MESHCLAW, ROOT, write_config
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

CONFIG = (Org().user("alice")
          .scripted("script", *(call("counter.bump", key=k) for k in "abc"), say("all three bumped"))
          .agent("bumper", instructions="Bump the counter.", model="script", autonomy="auto",
                 toolsets={"counter": {"module": "tests.support.counter_tools:toolset", "grants": ["counter.bump"]}})
          .local_user("alice"))


def _counts(db: str, table: str) -> dict[str, int]:
    conn = sqlite3.connect(db)
    rows = conn.execute(f"SELECT key, count(*) FROM {table} GROUP BY key").fetchall()
    conn.close()
    return dict(rows)


def test_sigkill_mid_run_then_resume_runs_each_side_effect_exactly_once(home, tmp_path, cli):
    write_config(home, CONFIG)
    cli("promote", "bumper", check=True)
    counter = str(tmp_path / "counter.sqlite")
    env = dict(os.environ, PYTHONPATH=str(ROOT), MESHCLAW_HOME=str(home), COUNTER_DB=counter, COUNTER_HANG_ON="b")
    worker = subprocess.Popen([*MESHCLAW, "run", "bumper", "bump a, b and c"], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    marker = counter + ".b.reached"

    def reached() -> bool:
        assert worker.poll() is None, worker.stdout.read().decode()
        return os.path.exists(marker)

    wait_for(reached, 60, what="the run reaching the second call")
    os.killpg(worker.pid, signal.SIGKILL)  # mid-call: b's effect is written, its step is not checkpointed
    worker.wait(timeout=10)
    assert worker.returncode == -signal.SIGKILL

    assert _counts(counter, "effects") == {"a": 1, "b": 1}
    listing = cli("runs", "--json", check=True)
    assert '"status": "running"' in listing.stdout

    resumed = cli("resume", env={"COUNTER_DB": counter}, check=True)
    assert "succeeded" in resumed.stdout, resumed.stdout + resumed.stderr

    # Each side effect exactly once; the completed call (a) was not re-run at all, the interrupted
    # one (b) ran again with the same idempotency key, the rest (c) ran once after recovery.
    assert _counts(counter, "effects") == {"a": 1, "b": 1, "c": 1}
    assert _counts(counter, "attempts") == {"a": 1, "b": 2, "c": 1}

    show = cli("runs", "show", resumed.stdout.split()[1].rstrip(":"), check=True)
    assert "all three bumped" in show.stdout
    assert show.stdout.count("counter.bump") >= 6  # a decision and a call record for each of a, b, c
    verify_chain = cli("runs", "--json", check=True)
    assert '"status": "succeeded"' in verify_chain.stdout
