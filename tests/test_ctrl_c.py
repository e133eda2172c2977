"""Ctrl-C on a run in the command's own process: one line, the run cancelled, and nothing it had not
done yet happens later (not in a worker, not on `meshclaw resume`)."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from tests.conftest import MESHCLAW, ROOT, write_config
from tests.test_approvals import config
from tests.waiting import wait_for

pytestmark = pytest.mark.slow


def test_ctrl_c_cancels_the_run_cleanly_and_for_good(home, cli):
    write_config(home, config(expiry=3600))
    cli("promote", "keeper", check=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), MESHCLAW_HOME=str(home))
    proc = subprocess.Popen([*MESHCLAW, "run", "keeper", "remember milk", "--here"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: '"status": "waiting"' in cli("runs", "--json").stdout, 90, 0.3, what="the run waiting for approval")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted: run ") and "cancelled" in lines[0], err
    assert "Traceback" not in err and len(err) < 400
    assert '"status": "cancelled"' in cli("runs", "--json", check=True).stdout
    assert "no pending approvals" in cli("approvals", check=True).stdout  # nothing left to approve
    resumed = cli("resume", check=True)
    assert "no interrupted runs" in resumed.stdout
    assert cli("runs", "show", "--json", _first_run(cli), check=True).stdout.count('"kind": "call"') == 0


def _first_run(cli) -> str:  # type: ignore[no-untyped-def]
    import json

    return json.loads(cli("runs", "--json", check=True).stdout)[0]["id"]
