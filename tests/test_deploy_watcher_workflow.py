"""The deploy-watcher workflow on the real deploy connector (Podman) and a real calendar (Radicale).

A broken version is running. While the owner sits in a meeting (a real event on their CalDAV
calendar), the workflow reads the service's state, health and logs through the deploy tools and
asks its owner before rolling it back (the rollback is consequential), then rolls it back once; when the owner is free it only reports and changes nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from meshclaw.connectors.deploy import DeploySettings
from meshclaw.connectors.deploy.tools import deploy_deploy, open_backend
from meshclaw.runtime.control import answer_approval
from tests.builders import Org
from tests.runtime_support import run, runtime
from tests.servers.calendar_fixtures import calendar_settings, write_secrets
from tests.servers.podman import podman_service  # noqa: F401
from tests.servers.radicale import start_radicale
from tests.test_deploy_core import Target
from tests.waiting import wait_for_async

pytestmark = pytest.mark.slow


def meeting_now(server: Any) -> None:
    """An hour-long meeting on alice's work calendar that started ten minutes ago."""
    start = datetime.now(timezone.utc) - timedelta(minutes=10)
    fmt = "%Y%m%dT%H%M%SZ"
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
           f"UID:{uuid.uuid4()}@example.com\r\nDTSTAMP:{start.strftime(fmt)}\r\nDTSTART:{start.strftime(fmt)}\r\n"
           f"DTEND:{(start + timedelta(hours=1)).strftime(fmt)}\r\nSUMMARY:Board review\r\n"
           "END:VEVENT\r\nEND:VCALENDAR\r\n")
    principal = server.client("alice").principal()
    principal.make_calendar(name="Work", cal_id="work").add_event(ics)


def org(deploy_settings: dict[str, Any], calendar: dict[str, Any] | None, **options: Any) -> Org:
    toolsets: dict[str, Any] = {"deploy": {"settings": deploy_settings, "grants": [
        "deploy.services", "deploy.health", "deploy.logs", "deploy.rollback"]}}
    if calendar is not None:
        toolsets["calendar"] = {"settings": calendar, "grants": ["calendar.freebusy"]}
    return (Org().organisation().user("alice", email="alice@example.com", timezone="Europe/Berlin")
            .scripted("script", {"text": "unused"})
            .agent("watcher", instructions="Watch the services.", model="script", autonomy="auto",
                   limits={"approval_seconds": 60},
                   workflow="deploy-watcher", toolsets=toolsets, options=options))


@pytest.fixture
def broken(podman_service, tmp_path) -> Target:  # noqa: F811
    target = Target("docker", podman_service, tmp_path)
    for call_id, version in (("d1", "1.0"), ("d2", "3.0-broken")):
        asyncio.run(deploy_deploy(target.ctx(call_id), service=target.service, version=version))
    return target


def state(target: Target) -> tuple[str | None, str]:
    s = open_backend(DeploySettings.model_validate(target.settings), None).state(target.service)
    return s.version, s.state


def test_while_the_owner_is_in_a_meeting_a_failing_service_is_rolled_back_once_approved(home, broken: Target) -> None:
    with start_radicale(users=("alice",), seeded=False) as cal:
        meeting_now(cal)
        write_secrets(home / "secrets.env", cal)
        with runtime(home, org(broken.settings, calendar_settings(cal, "alice"))) as rt:
            async def go() -> Any:
                run_id = await rt.start("watcher", "A service's health changed.", trigger="deploy.health_changed")
                [request] = await wait_for_async(lambda: rt.store.approvals.pending(), 30, 0.1,
                                                 what="the rollback asking for approval")
                # The consequential call waits for the owner, with its exact arguments.
                assert (request.tool, request.args) == ("deploy.rollback", {"service": broken.service})
                assert state(broken) == ("3.0-broken", "running")  # nothing changed before the answer
                rt.store.approvals.decide(request.id, "approved", "alice", scope="call")
                answer_approval(rt.home, None, request.run_id, request.id, "approved")
                return await rt.wait(run_id)

            outcome = asyncio.run(go())
    assert outcome.status == "succeeded", outcome.error
    assert f"{broken.service} 3.0-broken: failing (health URL answered HTTP 404)" in outcome.output
    assert f"{broken.service}: rolled back to 1.0 (health now healthy)" in outcome.output, outcome.output
    assert state(broken) == ("1.0", "running")
    assert broken.deployments() == 3  # 1.0, 3.0-broken, and the one rollback


def test_when_the_owner_is_free_it_only_reports(home, broken: Target) -> None:
    (home / "secrets.env").write_text("")
    with runtime(home, org(broken.settings, None)) as rt:
        outcome, _ = run(rt, "watcher", "A service's health changed.")
    assert outcome.status == "succeeded", outcome.error
    assert "You are not in a meeting, so I only tell you." in outcome.output
    assert state(broken) == ("3.0-broken", "running")  # nothing was changed


@pytest.fixture
def first_deploy_broken(podman_service, tmp_path) -> Target:  # noqa: F811
    target = Target("docker", podman_service, tmp_path)
    asyncio.run(deploy_deploy(target.ctx("d1"), service=target.service, version="3.0-broken"))
    return target


def test_with_no_earlier_version_it_posts_a_note_and_asks_for_no_rollback(home, first_deploy_broken: Target) -> None:
    """decision.decide: a rollback needs a version to return to; the workflow does not ask for one it cannot make."""
    target = first_deploy_broken
    with start_radicale(users=("alice",), seeded=False) as cal:
        meeting_now(cal)
        write_secrets(home / "secrets.env", cal)
        with runtime(home, org(target.settings, calendar_settings(cal, "alice"), recheck_seconds="0.1")) as rt:
            outcome, _ = run(rt, "watcher", "A service's health changed.")
            assert not rt.store.approvals.pending()
            tools = [r.tool for r in rt.store.audit.records(run_id=outcome.run_id) if r.kind == "decision"]
    assert outcome.status == "succeeded", outcome.error
    assert "3.0-broken: failing (health URL answered HTTP 404); checks failing, failing, failing" in outcome.output
    assert "not rolled back: no recorded previous version (deploy a version by name)" in outcome.output
    assert tools.count("deploy.health") == 3 and "deploy.rollback" not in tools
    assert state(target) == ("3.0-broken", "running") and target.deployments() == 1
