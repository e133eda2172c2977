"""Scheduled triggers the worker serves: a ``cron`` trigger starts a run of its agent at each time
its schedule names (UTC, or the trigger's ``timezone``).

Each firing has a run id derived from the agent, the trigger and the scheduled time, so several
workers serving the same organisation (PostgreSQL scale-out) start that run once: the second
worker finds the run already stored and lets it be. A time missed while no worker ran is not
made up later, as with cron. The kill switch silences schedules; the runtime makes a run of an
agent not yet promoted a rehearsal.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from meshclaw.domain.config import Agent, Trigger
from meshclaw.surfaces.cron_times import next_cron_time

log = logging.getLogger(__name__)

CRON = "cron"


def cron_triggers(agents: list[Agent]) -> list[tuple[Agent, int, Trigger]]:
    return [(a, i, t) for a in agents for i, t in enumerate(a.triggers) if t.cron is not None]


def next_fire(trigger: Trigger, after: datetime) -> datetime:
    """The first scheduled time strictly after ``after`` (a timezone-aware time), in UTC.

    Across daylight-saving changes cronie's rule applies (see cron_times): a daily job runs once
    per local day, hourly and more frequent jobs run per real hour.
    """
    zone = ZoneInfo(trigger.timezone) if trigger.timezone else timezone.utc
    return next_cron_time(trigger.cron, zone, after)


def firing_run_id(agent: Agent, index: int, trigger: Trigger, at: datetime) -> str:
    key = f"{CRON}|{agent.name}|{index}|{trigger.cron}|{at.astimezone(timezone.utc).isoformat()}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def scheduled_task(trigger: Trigger, at: datetime) -> str:
    return f"{trigger.task.strip()}\n\nTrigger: scheduled for {at.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S} UTC."


async def fire(runtime: Any, agent: Agent, index: int, trigger: Trigger, at: datetime) -> str | None:
    """Start the run for one scheduled time; None if it is not to run (stopped), already started, or
    skipped because a run of the agent is still going (scheduled runs never stack up)."""
    if runtime.store.agents.is_stopped(agent.name):
        return None  # the kill switch also silences schedules
    run_id = firing_run_id(agent, index, trigger, at)
    if runtime.store.runs.get(run_id) is not None:
        return None
    going = runtime.store.runs.active(agent=agent.name)
    if going:
        # Skipped, not stacked: the previous run (still running, or waiting for a person) covers it.
        log.info("schedule of %s skipped at %s: run %s is still %s", agent.name, at.isoformat(), going[0].id,
                 going[0].status)
        return None
    try:
        return await runtime.start(agent.name, scheduled_task(trigger, at), trigger=CRON, run_id=run_id)
    except Exception as e:  # noqa: BLE001 - another worker stored this firing first (a duplicate key)
        if runtime.store.runs.get(run_id) is not None:
            return None
        raise RuntimeError(f"schedule of {agent.name} could not start its run: {e}") from e


async def serve_schedules(runtime: Any, stop: asyncio.Event) -> list[asyncio.Task]:
    """One task per cron trigger; they end when ``stop`` is set."""
    return [asyncio.create_task(_serve_one(runtime, agent, index, trigger, stop))
            for agent, index, trigger in cron_triggers(runtime.config.agents)]


async def fire_on_times(stop: asyncio.Event, first: datetime, fire: Any, following: Any, what: str) -> None:
    """Call ``await fire(at)`` at each instant from ``first`` (aware datetimes) until ``stop`` is set;
    ``following(after)`` gives the next instant. A failed firing is logged (``what`` names it) and the
    loop goes on: one failure must not end a schedule. Waits on ``stop``, so stopping is immediate."""
    at = first
    while not stop.is_set():
        delay = (at - datetime.now(timezone.utc)).total_seconds()
        if delay > 0:
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
                return
            except TimeoutError:
                pass
        try:
            await fire(at)
        except Exception as e:  # noqa: BLE001 - one failed firing must not end the schedule
            log.error("%s: %s", what, e)
        at = following(max(at, datetime.now(timezone.utc)))


async def _serve_one(runtime: Any, agent: Agent, index: int, trigger: Trigger, stop: asyncio.Event) -> None:
    await fire_on_times(stop, next_fire(trigger, datetime.now(timezone.utc)),
                        lambda at: fire(runtime, agent, index, trigger, at),
                        lambda after: next_fire(trigger, after), f"schedule of {agent.name}")
