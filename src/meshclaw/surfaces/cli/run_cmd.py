"""``meshclaw run``, ``meshclaw rehearse``, ``meshclaw resume`` and ``meshclaw worker``: thin wrappers
over ``meshclaw.operations.runs`` and the worker loop (``surfaces/worker.py``)."""

from __future__ import annotations

import asyncio
from typing import List, Optional

import typer

from .app_context import home, load, local_actor, open_runtime
from .home import config_path, store_url
from .running import run_and_print


def run(
    agent: str = typer.Argument(..., help="The agent's name in the configuration."),
    task: str = typer.Argument(..., help="What the agent should do, in words."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the final answer."),
    rehearse: bool = typer.Option(False, "--rehearse", help="Capture every write instead of executing it."),
    here: bool = typer.Option(False, "--here", help="Run in this process even if a worker is running."),
) -> None:
    """Run an agent on a task now, printing each step as it happens.

    If `meshclaw worker` is running (same data dir and configuration), the run is handed to it,
    which starts faster; otherwise this command runs the agent itself."""
    run_and_print(agent, task, quiet, rehearse, here=here)


def rehearse(
    agent: str = typer.Argument(..., help="The agent's name in the configuration."),
    task: str = typer.Argument(..., help="The task to rehearse."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the summary."),
    inputs_from: Optional[str] = typer.Option(
        None, "--inputs-from", metavar="RUN",
        help="Answer every read from what run RUN read (its recorded results), so nothing real is read either."),
    here: bool = typer.Option(False, "--here", help="Run in this process even if a worker is running."),
) -> None:
    """Run an agent with every write captured instead of executed, and print what it would have done.

    Reads go to the agent's workplace, or with --inputs-from to the recorded inputs of an earlier run."""
    run_and_print(agent, task, quiet, True, inputs_from, here=here)


def resume(
    executor: Optional[List[str]] = typer.Option(None, "--executor", help="Also take over runs of this executor id now (another host's dead worker that has not yet missed its heartbeats for MESHCLAW_EXECUTOR_DEAD_AFTER seconds)."),
) -> None:
    """Finish the runs that a crashed process left pending (no completed step is repeated)."""
    from meshclaw.operations.runs import resume as resume_runs

    from .printer import echo

    config = load()
    actor = local_actor(config)
    runtime = open_runtime(config)
    try:
        def waiting(run_id: str, approvals: list[str]) -> None:
            asks = ", ".join(f"`meshclaw approve {a}` or `meshclaw deny {a}`" for a in approvals) or "an answer"
            typer.echo(f"run {run_id[:12]} is waiting for approval: {asks} (this command waits for it; "
                       "Ctrl-C leaves it pending for a worker or a later resume)", err=True)

        resumed = resume_runs(runtime, actor, list(executor or []), on_waiting=waiting)
        if not resumed:
            typer.echo("no interrupted runs")
        for r in resumed:
            echo(f"run {r.run_id}: {r.status}" + (f" ({r.error})" if r.error else ""))
    finally:
        runtime.shutdown()


def worker(
    once: bool = typer.Option(False, "--once", help="Recover interrupted runs, wait for them, then exit."),
) -> None:
    """Run the background worker: recovers interrupted runs and serves triggers (schedules, new mail)."""
    from ..worker import serve
    from .printer import echo

    runtime = open_runtime()
    try:
        if once:
            handles = runtime.recover()
            typer.echo(f"recovered {len(handles)} interrupted run(s)")
            for h in handles:
                h.get_result()
            return
        asyncio.run(serve(runtime, home(), config_path(), store_url(), load, echo,
                          lambda line: echo(line, err=True)))
    finally:
        runtime.shutdown()
