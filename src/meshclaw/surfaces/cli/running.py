"""Running an agent from the command line and printing it as it goes: in a running worker (handed
over on its socket) or in this process, as this login's user (``meshclaw.operations.runs``)."""

from __future__ import annotations

import asyncio

import typer

from meshclaw.domain.errors import UsageError

from .app_context import load, local_actor, open_runtime


def run_and_print(agent: str, task: str, quiet: bool, rehearse: bool, inputs_from: str | None = None, *,
                  here: bool = False) -> None:
    """Run ``agent`` on ``task`` as this login's user (in a running worker unless ``here``), printing it;
    exits 1 unless the run succeeded."""
    if not task.strip():
        raise UsageError("the task is empty: say what the agent should do")
    if not here:
        from .handoff_client import hand_over

        code = hand_over(agent, task, quiet=quiet, rehearse=rehearse, inputs_from=inputs_from)
        if code is not None:
            if code:
                raise typer.Exit(code)
            return
    from meshclaw.operations.runs import cancel_run, finish, start_run

    from .printer import err_console, escape, print_event

    config = load()
    actor = local_actor(config)  # no authority: a clear error before the runtime loads
    runtime = open_runtime(config)

    interrupted = []

    async def go():  # type: ignore[no-untyped-def]
        started = await start_run(runtime, actor, agent, task, rehearse=rehearse, inputs_from=inputs_from,
                                  listeners=[] if quiet else [print_event])
        if started.notice:
            err_console.print(f"[yellow]{escape(started.notice)}[/yellow]")
        try:
            return await finish(runtime, started)
        except asyncio.CancelledError:
            # Ctrl-C: the run is cancelled for good, so nothing the person interrupted runs later.
            interrupted.append(True)
            import logging

            logging.getLogger("dbos").setLevel(logging.ERROR)  # its notes on the cancelled tasks are expected
            return await cancel_run(runtime, actor, started, f"interrupted by {actor.user_id} (Ctrl-C)")

    try:
        outcome = asyncio.run(go())
    finally:
        runtime.shutdown()
    from .printer import echo

    if interrupted:
        echo(f"interrupted: run {outcome.run_id[:12]} {outcome.status} — {outcome.error}", err=True)
        raise typer.Exit(130)
    if quiet and outcome.output:
        echo(outcome.output)
    for line in outcome.summary:
        echo(line)
    echo(f"run {outcome.run_id}", err=True)
    if not outcome.succeeded:
        if quiet and outcome.error:
            echo(outcome.error, err=True)
        raise typer.Exit(1)
