"""The demo night's deployments: Alice's sandbox deploy connection, the health watch, the deploy-watcher run.

    settings = deploy_settings("demo")                        # backend sandbox, payments and search
    watch = health_baseline(store, "demo")                    # right after seeding: both healthy
    record = await watch_deployments(night, runtime, say)     # later in the night

This is what ``meshclaw worker`` does with a ``deploy.health_changed`` trigger (``surfaces/triggers``:
a ``HealthWatcher`` over the deploy backend, and on a change a run of the agent whose task names the
change), done in the demo's own process on the sandbox backend: the watcher takes its baseline at
set-up, sees ``payments`` fail when the seeded script says (``demo_seed.FAIL_AFTER``, during Alice's
meeting), and starts deploy-watcher. The run reads health, free/busy and logs, posts the incident note
to the team channel and asks Alice before rolling back; the demo does not answer for her, so the run
is left waiting for her approval (durably: ``meshclaw approve ID`` then ``meshclaw resume`` finishes
it) and the morning summary lists it under what waits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone
from typing import Any

from .demo_seed import DEPLOY_SERVICES

WATCHER = "deploy-watcher"
TEAM_CHANNEL = "team"
NOTICE_SECONDS = 30.0  # how long after the scripted failure the watch keeps looking before it gives up
ASK_SECONDS = 120.0  # how long the night waits for the run to reach its approval request (no model is asked)


class _LeftWaiting(logging.Filter):
    """DBOS's note that a run's task was cancelled as the demo's event loop closed: the run is left
    waiting on purpose (its state is durable; `meshclaw resume` finishes it), so the note is dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Asyncio task cancelled for workflow or step" not in record.getMessage()


def deploy_settings(workplace: str) -> dict[str, Any]:
    """Alice's sandbox deploy connection: both services of the workplace; deploys wait 2 s for health."""
    return {"backend": "sandbox", "workplace": workplace, "services": DEPLOY_SERVICES, "start_wait": 2}


def health_baseline(store: Any, workplace: str) -> Any:
    """A health watcher on the sandbox backend, its baseline taken now (call it right after seeding)."""
    from meshclaw.connectors.deploy import DeploySettings
    from meshclaw.connectors.deploy.sandbox_backend import open_sandbox
    from meshclaw.connectors.deploy.watch import HealthWatcher
    from meshclaw.store.workplace_access import WorkplaceState

    settings = DeploySettings.model_validate(deploy_settings(workplace))
    state = WorkplaceState(store.workplaces, store.workplace_chat, "alice", workplace, {}, {})
    watcher = HealthWatcher(settings, open_sandbox(settings, state))
    watcher.poll()  # the baseline: nothing is reported for a first look
    return watcher


def watcher_printer(say: Any) -> Any:
    """Run-event listener: one short line per deploy-watcher act."""
    def on(event: Any) -> None:
        event = event.as_dict() if hasattr(event, "as_dict") else event
        kind, tool, args = event.get("kind"), event.get("tool", ""), event.get("args") or {}
        if kind == "approval":
            say(f"  [yellow]waiting for Alice[/yellow]: {tool} {', '.join(f'{k}={v}' for k, v in args.items())} "
                f"({event.get('reason', '')}); the demo leaves it for her")
        elif kind != "tool" or event.get("verdict") == "ask":
            return
        elif event.get("verdict") == "deny":
            say(f"  [red]refused[/red] {tool}: {event.get('reason', '')}")
        elif tool == "deploy.health":
            say(f"  checked the health of {args.get('service')}")
        elif tool == "calendar.freebusy":
            say("  looked at Alice's free/busy: is she in a meeting?")
        elif tool == "deploy.logs":
            say(f"  read the last {args.get('lines', 50)} log lines of {args.get('service')} (counted, never quoted)")
        elif tool == "chat.post":
            say(f"  posted an incident note to #{args.get('channel_id')}")
    return on


async def _noticed(watch: Any, fails_at: datetime) -> Any | None:
    """The first "failing" change the watch sees, looking every 0.5 s until NOTICE_SECONDS after ``fails_at``."""
    while True:
        failing = [c for c in await asyncio.to_thread(watch.poll) if c.change == "failing"]
        if failing:
            return failing[0]
        if (datetime.now(timezone.utc) - fails_at).total_seconds() > NOTICE_SECONDS:
            return None
        await asyncio.sleep(0.5)


async def watch_deployments(night: Any, runtime: Any, say: Any, record_type: Any) -> Any | None:
    """Watch the services until the scripted failure, then run deploy-watcher as its trigger would.

    Returns the night's record (``record_type(agent, task)``, appended to ``night.runs``) of the run,
    or None when deploy-watcher is not installed or nothing failed. The run is left waiting when it
    asks Alice; the record's status is then ``waiting``."""
    from meshclaw.domain.runs import FINISHED
    from meshclaw.surfaces.triggers import DEPLOY_HEALTH_CHANGED, deploy_trigger_task

    installed = {i.template: i.name for i in night.installed}
    seeded = getattr(night.seeded, "deploy", None)
    if WATCHER not in installed or night.health is None or seeded is None:
        return None
    agent = runtime.config.agent(installed[WATCHER])
    trigger = next(t for t in agent.triggers if t.event == DEPLOY_HEALTH_CHANGED)
    say(f"[bold]health watch[/bold]: {', '.join(seeded.services)} (baseline at set-up: all healthy); Alice is in "
        f"“{seeded.meeting}” {seeded.meeting_start:%H:%M}–{seeded.meeting_end:%H:%M}")
    began = time.monotonic()
    change = await _noticed(night.health, seeded.fails_at)
    if change is None:
        say("  no service changed health: deploy-watcher was not started")
        return None
    task = deploy_trigger_task(trigger, change)
    record = record_type(agent.name, task)
    night.runs.append(record)
    say(f"  {change.service} {change.version} is now {change.change} ({change.reason}): starting "
        f"[bold]{agent.name}[/bold], as the worker's {DEPLOY_HEALTH_CHANGED} trigger would")
    record.run_id = await runtime.start(agent.name, task, trigger=DEPLOY_HEALTH_CHANGED,
                                        listeners=[watcher_printer(say)])
    store = runtime.store
    deadline = time.monotonic() + ASK_SECONDS
    while time.monotonic() < deadline:
        run = store.runs.get(record.run_id)
        if store.approvals.pending(run_id=record.run_id) or (run is not None and run.status in FINISHED):
            break
        await asyncio.sleep(0.2)
    run = store.runs.get(record.run_id)
    if run is not None and run.status in FINISHED:
        done = await runtime.wait(record.run_id)
        record.status, record.output, record.error = done.status, done.output or "", done.error or ""
    else:
        record.status = run.status if run is not None else "unknown"
        logging.getLogger("dbos").addFilter(_LeftWaiting())
    record.seconds = time.monotonic() - began
    say(f"  {agent.name} {record.status} after {record.seconds:.1f} s")
    return record
