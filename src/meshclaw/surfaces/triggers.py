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
