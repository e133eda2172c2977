"""A deploy whose process is killed mid-call is not started twice when the run resumes.

``meshclaw run`` deploys through a proxy in front of Podman's API that passes the start of the
new container to Podman but keeps its answer back, so the process is inside the tool call (its
durable step not yet checkpointed) when it is killed with SIGKILL. ``meshclaw resume`` runs the
step again with the same idempotency key: it finds the deploy already started and reports it;
Podman saw one create and one start in all.
"""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.builders import Org, call, say
from tests.conftest import MESHCLAW, ROOT, write_config
from tests.servers.podman import podman_service  # noqa: F401
from tests.test_deploy_core import Target
from tests.test_deploy_faults import HoldingProxy, unix_listener, unix_upstream
from tests.waiting import wait_for

pytestmark = pytest.mark.slow


def test_sigkill_mid_deploy_then_resume_deploys_once(home, tmp_path, cli, podman_service) -> None:  # noqa: F811
    target = Target("docker", podman_service, tmp_path)
    svc = target.service
    import asyncio

    from meshclaw.connectors.deploy.tools import deploy_deploy

    asyncio.run(deploy_deploy(target.ctx("setup"), service=svc, version="1.0"))

    def starts(line: str, body: bytes) -> bool:
        return line.startswith("POST ") and line.split()[1].split("?")[0].endswith("/start")

    sock = tmp_path / "proxy.sock"
    proxy = HoldingProxy(unix_listener(sock), unix_upstream(Path(podman_service.socket)), starts, forward_held=True)
    settings = {**target.settings, "url": f"unix://{sock}", "timeout": 120}
    write_config(home, Org().user("alice")
                 .scripted("script", call("deploy.deploy", service=svc, version="2.0"), say("deployed"))
                 .agent("releaser", instructions="Deploy what the owner asks.", model="script", autonomy="auto",
                        toolsets={"deploy": {"settings": settings, "grants": ["deploy.deploy", "deploy.services"]}})
                 .local_user("alice"))
    cli("promote", "releaser", check=True)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT)]), MESHCLAW_HOME=str(home))
    try:
        worker = subprocess.Popen([*MESHCLAW, "run", "releaser", f"deploy version 2.0 of {svc}"], env=env, cwd=ROOT,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)

        def started() -> bool:
            assert worker.poll() is None, worker.stdout.read().decode()  # type: ignore[union-attr]
            return bool(proxy.held)

        wait_for(started, 60, what="the deploy reaching the start of the new container")
        os.killpg(worker.pid, signal.SIGKILL)  # inside the call: Podman started it, the step is not checkpointed
        worker.wait(timeout=10)

        resumed = cli("resume", check=True)
        assert "succeeded" in resumed.stdout, resumed.stdout + resumed.stderr
    finally:
        proxy.close()

    creates = [line for line, _ in proxy.requests if line.startswith("POST ") and "/containers/create" in line]
    assert len(creates) == 1 and len(proxy.held) == 1  # one container made, one start sent, across both processes
    assert target.deployments() == 2  # the setup deploy and this one
    runs = cli("runs", "--json", check=True).stdout
    assert '"status": "succeeded"' in runs
    import json

    calls = [r for r in json.loads(cli("audit", "show", "--kind", "call", "--json", check=True).stdout)
             if r["tool"] == "deploy.deploy"]
    assert len(calls) == 1, calls  # the interrupted attempt never finished; the resumed one reported
    assert "already started by this same call earlier" in json.dumps(calls[0]["data"]), calls[0]
    from meshclaw.connectors.deploy import DeploySettings
    from meshclaw.connectors.deploy.tools import open_backend

    state = open_backend(DeploySettings.model_validate(target.settings), None).state(svc)
    assert (state.version, state.state) == ("2.0", "running")
