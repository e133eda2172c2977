"""Event triggers the worker serves: new mail starts a run of each agent that watches its inbox.

The run's task is the trigger's task from the configuration plus the message's uid and folder:
nothing an outside sender wrote goes into the task, which the guard treats as the owner's request.
The agent reads the message through its (guarded, labelled) email tools like any other content.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from meshclaw.domain.config import Agent, Trigger

log = logging.getLogger(__name__)

EMAIL_RECEIVED = "email.received"


def email_triggers(agents: list[Agent]) -> list[tuple[Agent, Trigger]]:
    return [(a, t) for a in agents for t in a.triggers if t.event == EMAIL_RECEIVED]


def trigger_task(trigger: Trigger, message: dict[str, Any]) -> str:
    return f"{trigger.task.strip()}\n\nTrigger: new message uid {int(message['uid'])} in folder {message['folder']!r}."


async def serve_email_triggers(runtime: Any, stop: asyncio.Event, *, poll_interval: float = 30.0,
                               ready: asyncio.Event | None = None) -> list[asyncio.Task]:
    """Start one inbox watcher per watching agent; returns their tasks (they end when ``stop`` is set)."""
    from meshclaw.connectors.email import EmailSettings, watch_inbox

    tasks = []
    pending = email_triggers(runtime.config.agents)
    started = {"n": 0}
    for agent, trigger in pending:
        grant = agent.toolsets.get("email")
        if grant is None:
            raise ValueError(f"agent {agent.name} has an {EMAIL_RECEIVED} trigger but no email toolset")
        settings = EmailSettings.model_validate(grant.settings)
        password = runtime.secrets.resolve(settings.password)

        async def on_message(item: Any, agent: Agent = agent, trigger: Trigger = trigger) -> None:
            if runtime.store.agents.is_stopped(agent.name):
                return  # the kill switch also silences triggers
            await runtime.start(agent.name, trigger_task(trigger, item.value), trigger=EMAIL_RECEIVED)

        def on_ready(mode: str, agent: Agent = agent) -> None:
            log.info("watching %s's inbox (%s)", agent.name, mode)
            started["n"] += 1
            if ready is not None and started["n"] == len(pending):
                ready.set()

        tasks.append(asyncio.create_task(watch_inbox(settings, password, on_message, stop, poll_interval=poll_interval,
                                                     on_ready=on_ready)))
    if not pending and ready is not None:
        ready.set()
    return tasks


DEPLOY_HEALTH_CHANGED = "deploy.health_changed"


def deploy_triggers(agents: list[Agent]) -> list[tuple[Agent, Trigger]]:
    return [(a, t) for a in agents for t in a.triggers if t.event == DEPLOY_HEALTH_CHANGED]


def deploy_trigger_task(trigger: Trigger, change: Any) -> str:
    """The trigger's task plus the change, in system terms only (service, versions, states, reason)."""
    return (f"{trigger.task.strip()}\n\nTrigger: service {change.service!r} is now {change.change} "
            f"(version {change.version}, process {change.state}" + (f", {change.reason}" if change.reason else "")
            + ").")


async def serve_deploy_triggers(runtime: Any, stop: asyncio.Event, *, interval: float = 10.0,
                                ready: asyncio.Event | None = None,
                                listeners_for: Any = None) -> list[asyncio.Task]:
    """Start one health watcher per agent with a ``deploy.health_changed`` trigger; returns their tasks.

    Each change starts a run of the agent (unless it is stopped). ``listeners_for(change)`` may give
    run-event listeners for that run (for measuring); ``ready`` is set once every watcher has its baseline.
    """
    from meshclaw.connectors.deploy import DeploySettings
    from meshclaw.connectors.deploy.tools import open_backend
    from meshclaw.connectors.deploy.watch import watch_health

    tasks = []
    pending = deploy_triggers(runtime.config.agents)
    count = {"n": 0}
    for agent, trigger in pending:
        grant = agent.toolsets.get("deploy")
        if grant is None:
            raise ValueError(f"agent {agent.name} has a {DEPLOY_HEALTH_CHANGED} trigger but no deploy toolset")
        settings = DeploySettings.model_validate(grant.settings)
        password = runtime.secrets.resolve(settings.password) if settings.password else None
        state = None
        if settings.backend == "sandbox":  # the services of a sandbox workplace in the store, as the owner sees them
            from meshclaw.store.workplace_access import WorkplaceState

            state = WorkplaceState(runtime.store.workplaces, runtime.store.workplace_chat, agent.owner,
                                   settings.workplace, {}, {})
        backend = open_backend(settings, password, state)

        async def on_change(change: Any, agent: Agent = agent, trigger: Trigger = trigger) -> None:
            if runtime.store.agents.is_stopped(agent.name):
                return  # the kill switch also silences triggers
            log.info("%s: %s is %s (%s)", agent.name, change.service, change.change, change.reason)
            await runtime.start(agent.name, deploy_trigger_task(trigger, change), trigger=DEPLOY_HEALTH_CHANGED,
                                listeners=listeners_for(change) if listeners_for is not None else None)

        def on_ready() -> None:
            count["n"] += 1
            if ready is not None and count["n"] == len(pending):
                ready.set()

        tasks.append(asyncio.create_task(watch_health(settings, backend, on_change, stop, interval=interval,
                                                      on_ready=on_ready)))
    if not pending and ready is not None:
        ready.set()
    return tasks
