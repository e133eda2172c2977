"""Rehearsal on recorded inputs: reads are answered from an earlier run's checkpoints, writes are
captured, and the workplace (here a counter kept in a separate SQLite file) is neither read nor changed."""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.builders import Org, call, say
from tests.conftest import write_config

pytestmark = pytest.mark.slow

COUNTER = "tests.support.counter_tools:toolset"
CONFIG = (Org().user("alice", email="alice@example.com")
          .scripted("script", call("counter.get", key="a"), call("counter.bump", key="a"), say("bumped a"))
          .scripted("other", call("counter.get", key="zzz"), say("looked"))
          .agent("bumper", instructions="Bump the counter.", model="script", autonomy="auto",
                 toolsets={"counter": {"module": COUNTER, "grants": ["counter.get", "counter.bump"]}})
          .agent("looker", instructions="Look at the counter.", model="other", autonomy="auto",
                 toolsets={"counter": {"module": COUNTER, "grants": ["counter.get"]}})
          .local_user("alice"))


def _rows(path: str, table: str) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [r[0] for r in conn.execute(f"SELECT key FROM {table}")]


def _run_id(stderr: str) -> str:
    return [line.split()[1] for line in stderr.splitlines() if line.startswith("run ")][-1]


@pytest.fixture
def recorded(home, cli, tmp_path):
    """A real run of bumper that read the counter (value 0) and bumped it."""
    counter = str(tmp_path / "counter.sqlite")
    write_config(home, CONFIG)
    cli("promote", "bumper", check=True)
    real = cli("run", "bumper", "bump a", env={"COUNTER_DB": counter}, check=True)
    assert _rows(counter, "reads") == ["a"] and _rows(counter, "effects") == ["a"]
    return counter, _run_id(real.stderr)


def test_rehearsal_reads_only_recorded_inputs_and_captures_writes(recorded, cli):
    counter, source = recorded
    p = cli("rehearse", "bumper", "bump a", "--inputs-from", source[:8], env={"COUNTER_DB": counter}, check=True)
    # Nothing real happened: no new read, no new effect, not even an attempt.
    assert _rows(counter, "reads") == ["a"]
    assert _rows(counter, "effects") == ["a"] and _rows(counter, "attempts") == ["a"]
    assert 'would counter.bump {"key": "a"}' in p.stdout
    assert f"reads: 1 answered from run {source}, 0 not recorded" in p.stdout
    # The rehearsal saw what the recorded run saw (a count of 0), not today's count of 1.
    rehearsal = _run_id(p.stderr)
    records = json.loads(cli("audit", "show", "--run", rehearsal, "--json", check=True).stdout)
    [replayed] = [r for r in records if r["kind"] == "replayed"]
    assert replayed["tool"] == "counter.get" and replayed["data"]["result"] == "a: 0"
    assert replayed["data"]["from_run"] == source


def test_a_read_the_recording_lacks_is_not_made_live(recorded, cli):
    counter, source = recorded
    cli("promote", "looker", check=True)
    p = cli("rehearse", "looker", "look", "--inputs-from", source, env={"COUNTER_DB": counter}, check=True)
    assert _rows(counter, "reads") == ["a"]  # zzz was never read from the real counter
    assert f"reads: 0 answered from run {source}, 1 not recorded" in p.stdout
    assert '  not recorded: counter.get {"key": "zzz"}' in p.stdout
    rehearsal = _run_id(p.stderr)
    records = json.loads(cli("audit", "show", "--run", rehearsal, "--json", check=True).stdout)
    [missing] = [r for r in records if r["kind"] == "replayed"]
    assert missing["verdict"] == "not recorded"
    # What the model is told: the call was not recorded, and which calls were.
    assert missing["reason"] == (f'counter.get with {{"key": "zzz"}} was not recorded in run {source}; '
                                 'its recorded counter.get calls have these arguments: {"key": "a"}')


def test_unknown_source_run_is_a_clear_error(home, cli):
    write_config(home, CONFIG)
    p = cli("rehearse", "bumper", "bump a", "--inputs-from", "nosuchrun")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "meshclaw: no run nosuchrun to take recorded inputs from (see `meshclaw runs`)" in p.stderr
    assert "[]" == cli("runs", "--json", check=True).stdout.strip()  # nothing was started
