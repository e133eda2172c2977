"""Scale-out recovery: a worker takes over the runs of a process on another host once that process
has stopped sending heartbeats, and never while they are fresh (PostgreSQL, real processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from tests.conftest import MESHCLAW, ROOT, write_config
from tests.support.local_user import mapped

pytestmark = pytest.mark.postgres

CONFIG = mapped("""
users: [{id: alice, name: Alice, email: alice@example.com}]
models:
  script:
    kind: scripted
    turns:
      - {tool: notes.add, args: {text: "buy milk"}}
      - {text: "saved"}
agents:
  - name: keeper
    owner: alice
    instructions: Keep notes.
    model: script
    autonomy: ask
    toolsets:
      notes: {grants: [notes.add]}
""")


def test_a_dead_process_on_another_host_is_taken_over_after_its_heartbeats_stop(home, cli, pg_url):
    write_config(home, CONFIG)
    db = {"MESHCLAW_DATABASE_URL": pg_url}
    cli("promote", "keeper", env=db, check=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), MESHCLAW_HOME=str(home), MESHCLAW_HOST="other-host", **db)
    remote = subprocess.Popen([*MESHCLAW, "run", "keeper", "remember milk", "--here"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while not (pending := json.loads(cli("approvals", "--json", env=db, check=True).stdout)):
        assert time.monotonic() < deadline and remote.poll() is None
        time.sleep(0.2)
    os.killpg(remote.pid, signal.SIGKILL)  # the other host's process dies without a word
    remote.wait(10)
    cli("approve", pending[0]["id"], env=db, check=True)

    # Its last heartbeat is seconds old: a worker here must not take its runs yet.
    fresh = cli("worker", "--once", env=db, check=True)
    assert "recovered 0 interrupted run(s)" in fresh.stdout
    time.sleep(3)
    stale = cli("worker", "--once", env={**db, "MESHCLAW_EXECUTOR_DEAD_AFTER": "2"}, check=True)
    assert "recovered 1 interrupted run(s)" in stale.stdout

    [run] = json.loads(cli("runs", "--json", env=db, check=True).stdout)
    assert run["status"] == "succeeded" and run["output"] == "saved"
    shown = cli("runs", "show", run["id"], env=db, check=True).stdout
    assert shown.count("call  done  notes.add") == 1
