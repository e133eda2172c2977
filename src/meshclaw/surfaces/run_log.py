"""The worker's log of runs: one line when a run starts and one when it finishes.

Read from the store's ``runs`` table (every run, whoever started it: a schedule, new mail, a run
handed over by ``meshclaw run``), so it needs no hook in the runtime: ``agent``, ``trigger``,
``run id`` and, at the end, ``status``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Any, Callable

from meshclaw.domain.runs import FINISHED
from meshclaw.domain.visible_text import neutralise

POLL_SECONDS = 1.0


def run_line(run: Any, finished: bool) -> str:
    """``run started: agent assistant, trigger cron, run 1a2b...`` (``status`` added when finished);
    a trigger's text (an event's details) is neutralised: no control character reaches the terminal."""
    what = f"agent {run.agent}, trigger {run.trigger}, run {run.id}" + (" (rehearsal)" if run.rehearsal else "")
    return neutralise(f"run finished: {what}, status {run.status}" if finished else f"run started: {what}")


async def log_runs(store: Any, echo: Callable[[str], None], stop: asyncio.Event, *,
                   since: datetime | None = None, poll: float = POLL_SECONDS) -> None:
    """Echo a line for each run created since ``since`` (default: now) as it starts and as it ends,
    until ``stop`` is set; looks every ``poll`` seconds."""
    since = since or datetime.now(timezone.utc)
    started: set[str] = set()
    done: set[str] = set()
    while not stop.is_set():
        rows = await asyncio.to_thread(store.runs.list, since=since, limit=500)
        for run in reversed(rows):  # oldest first
            if run.id not in started:
                started.add(run.id)
                echo(run_line(run, finished=False))
            if run.id not in done and run.status in FINISHED:
                done.add(run.id)
                echo(run_line(run, finished=True))
        try:
            await asyncio.wait_for(stop.wait(), timeout=poll)
        except TimeoutError:
            pass
