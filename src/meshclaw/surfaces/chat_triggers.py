"""Chat events the worker serves: a mention of the agent's account (``chat.mention``), a direct message
to it (``chat.direct_message``), a message in a watched channel (``chat.message``, settings ``watch``).

As for new mail, the run's task is the trigger's task from the configuration plus the message's ids
(channel, message, thread): nothing the sender wrote goes into the task, which the guard treats as
the owner's request. The agent reads the message through its chat tools, labelled outside content.
The run id is derived from agent, event and message id, so a message starts each agent once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from meshclaw.domain.config import Agent, Trigger
from meshclaw.domain.errors import MeshclawError

log = logging.getLogger(__name__)

CHAT_EVENTS = ("chat.mention", "chat.direct_message", "chat.message")
RETRY_AFTER_FAILURE = 5.0


def chat_triggers(agents: list[Agent]) -> list[tuple[Agent, list[Trigger]]]:
    """Agents with at least one chat trigger, each with those triggers."""
    out = []
    for a in agents:
        found = [t for t in a.triggers if t.event in CHAT_EVENTS]
        if found:
            out.append((a, found))
    return out


def events_of(message: Any, own_user_id: str, watched: list[str]) -> list[str]:
    """Which chat events one message is: a direct message, a mention of ``own_user_id``, a watched channel's."""
    out = []
    if message.is_direct:
        out.append("chat.direct_message")
    elif own_user_id in message.mentions:
        out.append("chat.mention")
    if message.channel_id in watched:
        out.append("chat.message")
    return out


def trigger_task(trigger: Trigger, message: Any, event: str) -> str:
    """The trigger's task plus the ids of the message (system data), never its text."""
    where = f"Trigger: {event} — message {message.message_id} in channel {message.channel_id}"
    if message.thread_id:
        where += f", thread {message.thread_id}"
    return f"{trigger.task.strip()}\n\n{where} (read it with chat.history or chat.thread)."


def run_id_for(agent: str, event: str, message_id: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"meshclaw:{agent}:{event}:{message_id}").hex


async def serve_chat_triggers(runtime: Any, stop: asyncio.Event, *, ready: asyncio.Event | None = None) -> list[asyncio.Task]:
    """One watcher per agent with chat triggers (its own chat account); tasks end when ``stop`` is set.

    Raises ValueError for an agent with a chat trigger but no chat toolset."""
    from meshclaw.connectors.chat.backends import open_backend, secret_ref
    from meshclaw.connectors.chat.settings import ChatSettings

    pending = chat_triggers(runtime.config.agents)
    started = {"n": 0}
    tasks = []
    for agent, triggers in pending:
        grant = agent.toolsets.get("chat")
        if grant is None:
            raise ValueError(f"agent {agent.name} has a chat trigger but no chat toolset")
        settings = ChatSettings.model_validate(grant.settings)

        async def watch(agent: Agent = agent, triggers: list[Trigger] = triggers, settings: ChatSettings = settings) -> None:
            backend, cursor = None, None
            while not stop.is_set():
                try:
                    if backend is None:
                        backend = await open_backend(settings, runtime.secrets.resolve(secret_ref(settings)))
                    if cursor is None:
                        _, cursor = await backend.poll(None)
                        started["n"] += 1
                        if ready is not None and started["n"] == len(pending):
                            ready.set()
                    events, cursor = await backend.poll(cursor, timeout_s=1.0)
                    for message in events:
                        if hasattr(message, "text"):
                            await _start_for(runtime, agent, triggers, message, backend.own_user_id, settings.watch)
                except MeshclawError as e:
                    log.warning("chat trigger of %s: %s", agent.name, e)
                    try:
                        await asyncio.wait_for(stop.wait(), RETRY_AFTER_FAILURE)
                    except TimeoutError:
                        pass
            if backend is not None:
                await backend.close()

        tasks.append(asyncio.create_task(watch()))
    if not pending and ready is not None:
        ready.set()
    return tasks


async def _start_for(runtime: Any, agent: Agent, triggers: list[Trigger], message: Any, own: str,
                     watched: list[str]) -> None:
    if runtime.store.agents.is_stopped(agent.name):
        return  # the kill switch also silences triggers
    for event in events_of(message, own, watched):
        for trigger in (t for t in triggers if t.event == event):
            run_id = run_id_for(agent.name, event, message.message_id)
            if runtime.store.runs.get(run_id) is None:
                await runtime.start(agent.name, trigger_task(trigger, message, event), trigger=event, run_id=run_id)
