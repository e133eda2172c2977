"""The deploy tools on both backends, against real servers: Podman's Docker API and supervisord.

The same core set runs on each: deploy a healthy version, deploy a broken one and see its health
fail, roll back, read the logs (labelled outside content), and a re-run of the same tool call
(a durable step replayed after a crash) that does not deploy again.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai import ModelRetry

from meshclaw.connectors.deploy.tools import (deploy_deploy, deploy_health, deploy_logs, deploy_rollback,
                                              deploy_services)
from meshclaw.domain.provenance import Trust
from meshclaw.policy.provenance import LabelledFields
from tests.servers.podman import PodmanService, podman_service  # noqa: F401
from tests.servers.supervisord import Supervisord, supervisord  # noqa: F401

pytestmark = pytest.mark.slow


def deploy_context(settings: dict[str, Any], secrets_dir: Path, *, password: str = "", tool_call_id: str = "t1",
                   run_id: str = "run-1") -> Any:
    """A deploy tool's RunContext as the guard pipeline builds it (``secret:deploy_pw`` resolves to ``password``)."""
    from pydantic_ai import RunContext
    from pydantic_ai.models.test import TestModel
    from pydantic_ai.usage import RunUsage

    from meshclaw.domain.config import Agent, Config, ScriptedModel, ToolsetGrant, User
    from meshclaw.domain.secrets import Secrets
    from meshclaw.runtime.context import RunDeps
    from meshclaw.runtime.tool_context import tool_context

    secrets_file = secrets_dir / "secrets.env"
    secrets_file.write_text(f"deploy_pw={password}\n")
    secrets_file.chmod(0o600)
    owner = User(id="alice", name="Alice Example", email="alice@example.com")
    agent = Agent(name="releaser", owner="alice", instructions="Keep the services up.", model="script",
                  toolsets={"deploy": ToolsetGrant(settings=settings)})
    config = Config(users=[owner], agents=[agent], models={"script": ScriptedModel(kind="scripted", turns=[{"text": "ok"}])})
    deps = RunDeps(run_id=run_id, agent=agent, owner=owner, config=config, store=None,  # type: ignore[arg-type]
                   secrets=Secrets(secrets_file))
    return RunContext(deps=tool_context(deps, "deploy"), model=TestModel(), usage=RunUsage(), tool_call_id=tool_call_id)


class Target:
    """One backend with a fresh service: ``ctx(call_id)`` builds a tool context for it."""

    def __init__(self, kind: str, server: Any, tmp_path: Path, **spec_extra: Any):
        self.kind, self.server, self.tmp_path = kind, server, tmp_path
        self.service, spec = server.new_service()
        spec.update(spec_extra)
        self.settings = server.settings({self.service: spec})
        self.password = getattr(server, "password", "")

    def ctx(self, call_id: str = "t1", run_id: str = "run-1", **overrides: Any) -> Any:
        return deploy_context({**self.settings, **overrides}, self.tmp_path, password=self.password,
                              tool_call_id=call_id, run_id=run_id)

    def deployments(self) -> int:
        """How many deploys the backend itself shows for the service (containers made, or journal lines)."""
        if self.kind == "docker":
            import docker

            client = docker.DockerClient(base_url=self.server.url, version="1.41")
            found = client.containers.list(all=True, filters={"label": f"io.meshclaw.service={self.service}"})
            import json

            return max((len(json.loads(c.labels["io.meshclaw.history"])) for c in found), default=0)
        journal = Path(self.settings["services"][self.service]["root"]) / "deploys.jsonl"
        return len(journal.read_text().splitlines()) if journal.exists() else 0


@pytest.fixture(params=["docker", "supervisor"])
def target(request, tmp_path) -> Target:
    if request.param == "docker":
        return Target("docker", request.getfixturevalue("podman_service"), tmp_path)
    return Target("supervisor", request.getfixturevalue("supervisord"), tmp_path)


def trust_of(view: LabelledFields, key: str) -> Trust:
    return view.labels[key].trust


def test_deploy_broken_version_then_roll_back(target: Target) -> None:
    svc = target.service

    async def go() -> None:
        listed = await deploy_services(target.ctx("list-0"))
        assert listed["services"][0]["version"] is None and listed["services"][0]["state"] in ("missing", "stopped")
        assert listed["services"][0]["versions"] == ["1.0", "2.0", "3.0-broken"]

        first = await deploy_deploy(target.ctx("d1"), service=svc, version="1.0")
        assert first["deployed"] and first["started_now"] and first["version"] == "1.0"
        assert first["health"]["health"] == "healthy", first["health"]
        assert first["health"]["basis"] == "process state and health URL"

        broken = await deploy_deploy(target.ctx("d2"), service=svc, version="3.0-broken")
        assert broken["started_now"] and broken["previous_version"] == "1.0"
        health = await deploy_health(target.ctx("h1"), service=svc)
        assert health["health"] == "failing" and health["state"] == "running"
        assert health["http"]["status"] == 404 and "HTTP 404" in health["reason"]

        back = await deploy_rollback(target.ctx("r1"), service=svc)
        assert back["rolled_back"] and back["version"] == "1.0" and back["started_now"]
        assert back["health"]["health"] == "healthy"
        listed = await deploy_services(target.ctx("list-1"))
        row = listed["services"][0]
        assert (row["version"], row["state"], row["previous_version"]) == ("1.0", "running", "3.0-broken")

        logs = await deploy_logs(target.ctx("l1"), service=svc, lines=20)
        assert any("serving 1.0" in line for line in logs["lines"]), logs["lines"]
        # What the service wrote is outside content; the service's name and version are system data.
        assert trust_of(logs, "lines") is Trust.UNTRUSTED and trust_of(logs, "version") is Trust.TRUSTED

    asyncio.run(go())
    assert target.deployments() == 3


def test_a_rerun_tool_call_does_not_deploy_again(target: Target) -> None:
    svc = target.service

    async def go() -> None:
        await deploy_deploy(target.ctx("a1", run_id="run-a"), service=svc, version="1.0")
        assert target.deployments() == 1
        second = await deploy_deploy(target.ctx("a2", run_id="run-a"), service=svc, version="2.0")
        assert second["started_now"] and target.deployments() == 2
        # The durable step of call a1 runs again after a crash: same run, same call id, same key.
        again = await deploy_deploy(target.ctx("a1", run_id="run-a"), service=svc, version="1.0")
        assert not again["started_now"] and "not started again" in again["note"]
        assert target.deployments() == 2
        state = await deploy_services(target.ctx("s"))
        assert state["services"][0]["version"] == "2.0"  # the replay did not put 1.0 back
        # The same for a rollback replayed after a newer deploy.
        await deploy_rollback(target.ctx("b1", run_id="run-a"), service=svc)
        again = await deploy_rollback(target.ctx("b1", run_id="run-a"), service=svc)
        assert not again["started_now"] and again["version"] == "1.0" and target.deployments() == 3

    asyncio.run(go())


def test_unknown_version_and_service_are_for_the_model_to_fix(target: Target) -> None:
    async def go() -> None:
        with pytest.raises(ModelRetry, match=r"no version '9\.9'.*versions: 1\.0, 2\.0, 3\.0-broken"):
            await deploy_deploy(target.ctx("x1"), service=target.service, version="9.9")
        with pytest.raises(ModelRetry, match="there is no service 'nope'"):
            await deploy_health(target.ctx("x2"), service="nope")
        with pytest.raises(ModelRetry, match="no recorded previous version"):
            await deploy_rollback(target.ctx("x3"), service=target.service)

    asyncio.run(go())
    assert target.deployments() == 0


def test_a_service_without_health_url_reports_its_process_state_only(request, tmp_path) -> None:
    server = request.getfixturevalue("podman_service")
    t = Target("docker", server, tmp_path, health_url=None)

    async def go() -> None:
        result = await deploy_deploy(t.ctx("n1"), service=t.service, version="3.0-broken")
        health = result["health"]
        assert health["basis"] == "process state only: no health URL is configured for this service"
        assert health["health"] == "healthy" and "http" not in health

    asyncio.run(go())
