"""A crashed service starts the watching agent: a real container (or program) is killed, the health
watcher sees it fail, and a guarded run of the agent with the ``deploy.health_changed`` trigger
begins; bringing the service back reports ``recovered`` and starts another run."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest

from meshclaw.connectors.deploy.tools import deploy_deploy, open_backend
from meshclaw.connectors.deploy import DeploySettings
from meshclaw.surfaces.triggers import serve_deploy_triggers
from tests.builders import Org, call, say
from tests.runtime_support import runtime
from tests.servers.podman import podman_service  # noqa: F401
from tests.servers.supervisord import supervisord  # noqa: F401
from tests.test_deploy_core import Target
from tests.waiting import wait_for_async

pytestmark = pytest.mark.slow


def config(settings: dict[str, Any], service: str) -> Org:
    """oncall: started by a health change, it checks the service's health and reads its logs."""
    return (Org().organisation()
            .user("alice", email="alice@example.com")
            .scripted("script", call("deploy.health", service=service), call("deploy.logs", service=service, lines=5),
                      say("looked"))
            .agent("oncall", instructions="Look after the services.", model="script", autonomy="auto",
                   triggers=[{"event": "deploy.health_changed", "task": "A service's health changed: look into it."}],
                   toolsets={"deploy": {"settings": settings,
                                        "grants": ["deploy.health", "deploy.logs", "deploy.services"]}}))


def main_pid(target: Target) -> int:
    if target.kind == "docker":
        backend = open_backend(DeploySettings.model_validate(target.settings), None)
        pid = backend.main_pid(target.service)
        assert pid
        return pid
    return target.server.pid(target.service)


@pytest.fixture(params=["docker", "supervisor"])
def target(request, tmp_path) -> Target:
    if request.param == "docker":
        return Target("docker", request.getfixturevalue("podman_service"), tmp_path)
    return Target("supervisor", request.getfixturevalue("supervisord"), tmp_path)


def test_a_crash_triggers_the_agent_and_recovery_too(home, target: Target) -> None:
    (home / "secrets.env").write_text(f"deploy_pw={target.password}\n")
    svc = target.service
    first_steps: list[Any] = []

    async def deploy(version: str, call_id: str) -> None:
        result = await deploy_deploy(target.ctx(call_id), service=svc, version=version)
        assert result["health"]["health"] == "healthy"

    with runtime(home, config(target.settings, svc)) as rt:
        async def go() -> list:  # type: ignore[type-arg]
            await deploy("1.0", "setup-1")
            stop, ready = asyncio.Event(), asyncio.Event()
            watchers = await serve_deploy_triggers(
                rt, stop, interval=0.2, ready=ready,
                listeners_for=lambda change: [lambda event, change=change: first_steps.append((change, event))])
            await asyncio.wait_for(ready.wait(), 10)
            os.kill(main_pid(target), signal.SIGKILL)  # the service crashes

            def runs(n: int) -> Any:
                found = rt.store.runs.list(agent="oncall")
                done = [r for r in found if r.status not in ("pending", "running", "waiting")]
                return found if len(done) >= n else []

            await wait_for_async(lambda: runs(1), 30, 0.1, what="a run triggered by the crash finishing")
            await deploy("2.0", "setup-2")  # a new version comes up healthy: recovered
            found = await wait_for_async(lambda: runs(2), 30, 0.1, what="a run triggered by the recovery finishing")
            stop.set()
            await asyncio.gather(*watchers)
            return sorted(found, key=lambda r: r.created_at)

        failing, recovered = asyncio.run(go())

    assert failing.trigger == "deploy.health_changed" and failing.status == "succeeded", failing.error
    assert f"service {svc!r} is now failing (version 1.0, process " in failing.task
    assert f"service {svc!r} is now recovered (version 2.0, process running)" in recovered.task
    assert recovered.status == "succeeded", recovered.error
    decisions = [(r.tool, r.verdict) for r in rt.store.audit.records(run_id=failing.id) if r.kind == "decision"]
    assert decisions == [("deploy.health", "allow"), ("deploy.logs", "allow")]
    # Each triggered run reported its steps to the watcher's listener, first the failing one's.
    assert first_steps and first_steps[0][0].change == "failing"
