"""Scale-out recovery: a worker takes over the runs of a process on another host once that process
has stopped sending heartbeats, and never while they are fresh (PostgreSQL, real processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from tests.builders import Org, call, say
from tests.conftest import MESHCLAW, ROOT, write_config
from tests.waiting import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CONFIG = (Org().user("alice", email="alice@example.com")
          .scripted("script", call("notes.add", text="buy milk"), say("saved"))
          .agent("keeper", instructions="Keep notes.", model="script", autonomy="ask", toolsets={"notes": ["notes.add"]})
          .local_user("alice"))


def _heartbeat_age(home, pg_url: str, host: str) -> float:
    """Seconds since the last heartbeat of ``host``'s executor, from the shared store."""
    from datetime import datetime, timezone

    from sqlalchemy import select

    from meshclaw.store.facade import Store
    from meshclaw.store.tables import Executor

    with Store(home, pg_url).db.session() as s:
        [last] = s.scalars(select(Executor.last_seen).where(Executor.host == host)).all()
    last = last if last.tzinfo else last.replace(tzinfo=timezone.utc)
    return (datetime.now(timezone.utc) - last).total_seconds()


def test_a_dead_process_on_another_host_is_taken_over_after_its_heartbeats_stop(home, cli, pg_url):
    write_config(home, CONFIG)
    db = {"MESHCLAW_DATABASE_URL": pg_url}
    cli("promote", "keeper", env=db, check=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), MESHCLAW_HOME=str(home), MESHCLAW_HOST="other-host", **db)
    remote = subprocess.Popen([*MESHCLAW, "run", "keeper", "remember milk", "--here"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def asked() -> list:
        assert remote.poll() is None, "the other host's run ended before asking"
        return json.loads(cli("approvals", "--json", env=db, check=True).stdout)

    pending = wait_for(asked, 60, 0.2, what="the approval request")
    os.killpg(remote.pid, signal.SIGKILL)  # the other host's process dies without a word
    remote.wait(10)
    cli("approve", pending[0]["id"], env=db, check=True)

    # Its last heartbeat is seconds old: a worker here must not take its runs yet.
    fresh = cli("worker", "--once", env=db, check=True)
    assert "recovered 0 interrupted run(s)" in fresh.stdout
    # Now let its heartbeats grow older than the 2 s the next worker is told to wait.
    wait_for(lambda: _heartbeat_age(home, pg_url, "other-host") > 2.5, 30, 0.2, what="the heartbeat growing stale")
    stale = cli("worker", "--once", env={**db, "MESHCLAW_EXECUTOR_DEAD_AFTER": "2"}, check=True)
    assert "recovered 1 interrupted run(s)" in stale.stdout

    [run] = json.loads(cli("runs", "--json", env=db, check=True).stdout)
    assert run["status"] == "succeeded" and run["output"] == "saved"
    shown = cli("runs", "show", run["id"], env=db, check=True).stdout
    assert shown.count("call  done  notes.add") == 1
