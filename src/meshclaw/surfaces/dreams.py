"""Nightly dreaming: the worker consolidates each agent's new episodes once a night, at 03:00 in
its owner's time zone (the organisation's when the owner has none).

Each night's consolidation has a run id derived from the agent and the night, so several workers
start it once; an agent with no new episodes, or stopped, is skipped (no model call is spent).
The consolidation is bounded in model calls and seconds (``runtime/memory/dreaming.py``) and holds
a lease, so it never runs twice at once for the same owner and agent.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from meshclaw.surfaces.cron_times import next_cron_time
from meshclaw.surfaces.schedules import fire_on_times

log = logging.getLogger(__name__)

DREAM_CRON = "0 3 * * *"
DREAM_TRIGGER = "dream"


def owner_zone(config: Any, agent: Any) -> ZoneInfo:
    """The agent's owner's time zone (the organisation's if the owner has none)."""
    owner = next((u for u in config.users if u.id == agent.owner), None)
    return ZoneInfo((owner.timezone if owner and owner.timezone else None) or config.organisation.timezone or "UTC")


def next_dream(config: Any, agent: Any, after: datetime) -> datetime:
    """The next 03:00 in the owner's time zone strictly after ``after``, in UTC."""
    return next_cron_time(DREAM_CRON, owner_zone(config, agent), after)


def dream_run_id(agent: Any, at: datetime) -> str:
    key = f"{DREAM_TRIGGER}|{agent.name}|{at.astimezone(timezone.utc).isoformat()}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


async def fire_dream(runtime: Any, agent: Any, at: datetime) -> str | None:
    """Start the night's consolidation of ``agent``; None when stopped, nothing new, or already started."""
    from meshclaw.runtime.memory.episodes import DREAM_WORKFLOW

    if agent.workflow == DREAM_WORKFLOW or runtime.store.agents.is_stopped(agent.name):
        return None
    if runtime.store.memory.count_episodes(agent.owner, agent.name, undreamt=True) == 0:
        return None
    run_id = dream_run_id(agent, at)
    if runtime.store.runs.get(run_id) is not None:
        return None
    try:
        return await runtime.start(agent.name, "consolidate memory (nightly)", trigger=DREAM_TRIGGER, run_id=run_id,
                                   workflow=DREAM_WORKFLOW)
    except Exception as e:  # noqa: BLE001 - another worker stored this night's run first
        if runtime.store.runs.get(run_id) is not None:
            return None
        raise RuntimeError(f"nightly consolidation of {agent.name} could not start: {e}") from e


async def serve_dreams(runtime: Any, stop: asyncio.Event) -> list[asyncio.Task]:
    """One task per agent, ending when ``stop`` is set."""
    return [asyncio.create_task(_serve_one(runtime, agent, stop)) for agent in runtime.config.agents]


async def _serve_one(runtime: Any, agent: Any, stop: asyncio.Event) -> None:
    await fire_on_times(stop, next_dream(runtime.config, agent, datetime.now(timezone.utc)),
                        lambda at: fire_dream(runtime, agent, at),
                        lambda after: next_dream(runtime.config, agent, after), f"dreaming of {agent.name}")
