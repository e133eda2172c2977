"""`meshclaw run` hands its run to a running worker over the data dir's Unix socket, and prints the
steps the worker streams back; without a worker (or with another configuration) it runs the agent itself."""

from __future__ import annotations

import os
import signal
import stat
import subprocess

import pytest

from tests.builders import Org, call, say
from tests.conftest import MESHCLAW, ROOT, write_config
from tests.support.local_user import LOGIN
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

KEEPER = (Org().user("alice", email="alice@example.com")
          .scripted("script", call("notes.add", text="buy milk"), say("saved"))
          .agent("keeper", instructions="Keep notes.", model="script", toolsets={"notes": ["notes.add", "notes.list"]})
          .local_user("alice"))


@pytest.fixture
def worker(home):
    procs = []

    def start(autonomy: str = "auto") -> subprocess.Popen:
        write_config(home, KEEPER.agent("keeper", autonomy=autonomy))
        env = dict(os.environ, PYTHONPATH=str(ROOT), MESHCLAW_HOME=str(home))
        p = subprocess.Popen([*MESHCLAW, "worker"], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
        procs.append(p)
        assert "worker ready" in p.stdout.readline()
        return p

    yield start
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            p.communicate(timeout=30)


def test_run_is_handed_to_the_worker_and_streamed_back(home, cli, worker):
    worker()
    sock = home / "worker.sock"
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600  # only the data dir's owner can hand over runs
    cli("promote", "keeper", check=True)
    p = cli("run", "keeper", "remember milk", check=True)
    assert "(in the worker)" in p.stderr
    assert 'allow notes.add {"text": "buy milk"}' in p.stdout and "saved" in p.stdout
    shown = cli("runs", "show", p.stderr.split()[1], check=True).stdout
    assert "call  done  notes.add" in shown
    quiet = cli("run", "keeper", "remember milk", "-q", check=True)
    assert quiet.stdout == "saved\n"


def test_worker_answers_bad_requests_with_the_same_one_line_errors(home, cli, worker):
    worker()
    p = cli("run", "nobody", "hi")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.startswith("meshclaw: ") and "nobody" in p.stderr and len(p.stderr.strip().splitlines()) == 1
    here = cli("run", "nobody", "hi", "--here")
    assert here.stderr == p.stderr and here.returncode == 2  # the same as when the command runs the agent itself


def test_the_worker_acts_as_the_connecting_login(home, cli, worker):
    import json
    import socket

    worker()
    cli("promote", "keeper", check=True)
    p = cli("run", "keeper", "remember milk", check=True)
    assert "(in the worker)" in p.stderr
    # The worker reloads the configuration: this login is now bob, who may not run alice's agent.
    write_config(home, KEEPER.agent("keeper", autonomy="auto").user("bob").local_user("bob"))
    refused = cli("run", "keeper", "remember milk")
    assert refused.returncode == 3
    assert refused.stderr.strip() == ("meshclaw: bob may not run keeper: only its owner alice, a delegate or an admin "
                                      "may")
    # A request naming another login than the connecting process's is refused.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(str(home / "worker.sock"))
        s.sendall((json.dumps({"op": "run", "agent": "keeper", "task": "hi", "config": str(home / "meshclaw.yaml"),
                               "store": None, "login": "someone-else"}) + "\n").encode())
        answer = json.loads(s.makefile("r").readline())
    assert answer["kind"] == "error" and answer["code"] == 3
    assert answer["message"] == f"the request names login 'someone-else', but comes from {LOGIN!r}"
    write_config(home, KEEPER.agent("keeper", autonomy="auto"))  # alice again: she reads what concerns her agent
    operations = [(r["data"]["operation"], r["data"]["actor"], r["verdict"])
                  for r in json.loads(cli("audit", "show", "--kind", "operation", "--json", check=True).stdout)]
    assert operations == [("promote", "alice", "done"), ("run", "alice", "done"), ("run", "bob", "refused")]


def test_an_agent_not_yet_promoted_rehearses_in_the_worker_too(home, cli, worker):
    worker()
    p = cli("run", "keeper", "remember milk", check=True)
    assert "keeper is new, so this is a rehearsal" in p.stderr and "(in the worker)" in p.stderr
    assert 'would notes.add {"text": "buy milk"}' in p.stdout


def test_a_handed_over_run_waits_for_approval_in_the_worker(home, cli, worker):
    import json

    worker("ask")
    cli("promote", "keeper", check=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), MESHCLAW_HOME=str(home))
    watching = subprocess.Popen([*MESHCLAW, "run", "keeper", "remember milk"], env=env, cwd=ROOT, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def asked() -> list:
        assert watching.poll() is None, "the run ended before asking"
        return json.loads(cli("approvals", "--json", check=True).stdout)

    pending = wait_for(asked, 60, 0.2, what="the approval request")
    cli("approve", pending[0]["id"], check=True)
    out, err = watching.communicate(timeout=60)
    assert watching.returncode == 0, err
    assert f"waiting for approval {pending[0]['id']}" in out and "saved" in out and "(in the worker)" in err


def test_without_a_live_worker_or_with_another_config_the_command_runs_the_agent(home, cli, worker):
    w = worker()
    cli("promote", "keeper", check=True)
    other = home / "other.yaml"
    other.write_text((home / "meshclaw.yaml").read_text())
    p = cli("run", "keeper", "remember milk", env={"MESHCLAW_CONFIG": str(other)}, check=True)
    assert "(in the worker)" not in p.stderr and "saved" in p.stdout
    assert "(in the worker)" not in cli("run", "keeper", "remember milk", "--here", check=True).stderr
    os.kill(w.pid, signal.SIGKILL)  # leaves its socket file behind
    w.wait(10)
    assert (home / "worker.sock").exists()
    p = cli("run", "keeper", "remember milk", check=True)
    assert "(in the worker)" not in p.stderr and "saved" in p.stdout
