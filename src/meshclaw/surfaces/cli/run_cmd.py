"""``meshclaw run``, ``meshclaw resume`` and ``meshclaw worker``."""

from __future__ import annotations

import asyncio
import signal
from typing import List, Optional

import typer

from .app_context import CliError, home, load, open_runtime
from .home import config_path, store_url, worker_socket


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
    _start(agent, task, quiet, rehearse, here=here)


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
    _start(agent, task, quiet, True, inputs_from, here=here)


def _start(agent: str, task: str, quiet: bool, rehearse: bool, inputs_from: str | None = None, *,
           here: bool = False) -> None:
    if not task.strip():
        raise CliError("the task is empty: say what the agent should do")
    if not here:
        from .handoff_client import hand_over

        code = hand_over(agent, task, quiet=quiet, rehearse=rehearse, inputs_from=inputs_from)
        if code is not None:
            if code:
                raise typer.Exit(code)
            return
    from .printer import err_console, print_event

    config = load()
    config.agent(agent)  # unknown agent: a clear error before anything starts
    runtime = open_runtime(config)
    if not rehearse and not runtime.store.agents.is_promoted(agent):
        rehearse = True
        from ..handoff import new_agent_notice

        err_console.print(f"[yellow]{new_agent_notice(agent)}[/yellow]")
    try:
        listeners = [] if quiet else [print_event]
        outcome = asyncio.run(_run(runtime, agent, task, rehearse, listeners, inputs_from))
    except ValueError as e:  # a bad --inputs-from: nothing was started
        raise CliError(str(e)) from None
    finally:
        runtime.shutdown()
    if quiet and outcome.output:
        typer.echo(outcome.output)
    if rehearse:
        for line in rehearsal_summary(runtime.store, outcome.run_id):
            typer.echo(line)
    typer.echo(f"run {outcome.run_id}", err=True)
    if outcome.status != "succeeded":
        if quiet and outcome.error:
            typer.echo(outcome.error, err=True)
        raise typer.Exit(1)


def rehearsal_summary(store, run_id: str) -> list[str]:  # type: ignore[no-untyped-def]
    """What a rehearsal would have done (its captured writes), and where its reads came from."""
    import json

    def args(r) -> str:  # type: ignore[no-untyped-def]
        return json.dumps(r.data.get("args"), ensure_ascii=False, default=str)

    records = store.audit.records(run_id=run_id)
    captured = [r for r in records if r.kind == "captured"]
    lines = [f"rehearsal: {len(captured)} write(s) captured, none executed" + (":" if captured else "")]
    lines += [f"  would {r.tool} {args(r)}" for r in captured]
    replayed = [r for r in records if r.kind == "replayed"]
    if replayed:
        missing = [r for r in replayed if r.verdict != "done"]
        lines.append(f"reads: {len(replayed) - len(missing)} answered from run {replayed[0].data['from_run']}, "
                     f"{len(missing)} not recorded" + (":" if missing else ""))
        lines += [f"  not recorded: {r.tool} {args(r)}" for r in missing]
    return lines


async def _run(runtime, agent, task, rehearse, listeners, inputs_from=None):  # type: ignore[no-untyped-def]
    run_id = await runtime.start(agent, task, rehearsal=rehearse, listeners=listeners, inputs_from=inputs_from)
    return await runtime.wait(run_id)


def resume(
    executor: Optional[List[str]] = typer.Option(None, "--executor", help="Also take over runs of this executor id now (another host's dead worker that has not yet missed its heartbeats for MESHCLAW_EXECUTOR_DEAD_AFTER seconds)."),
) -> None:
    """Finish the runs that a crashed process left pending (no completed step is repeated)."""
    runtime = open_runtime()
    try:
        handles = runtime.recover(list(executor or []))
        if not handles:
            typer.echo("no interrupted runs")
        for h in handles:
            status = h.get_result()
            run = runtime.store.runs.get(h.workflow_id)
            typer.echo(f"run {h.workflow_id}: {status}" + (f" ({run.error})" if run and run.error else ""))
    finally:
        runtime.shutdown()


def worker(
    once: bool = typer.Option(False, "--once", help="Recover interrupted runs, wait for them, then exit."),
) -> None:
    """Run the background worker: recovers interrupted runs and serves triggers (schedules, new mail)."""
    runtime = open_runtime()
    try:
        if once:
            handles = runtime.recover()
            typer.echo(f"recovered {len(handles)} interrupted run(s)")
            for h in handles:
                h.get_result()
            return
        asyncio.run(_serve(runtime))
    finally:
        runtime.shutdown()


async def _serve(runtime) -> None:  # type: ignore[no-untyped-def]
    from ..handoff import serve_handoff
    from ..schedules import serve_schedules
    from ..triggers import serve_email_triggers

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    recovered = await asyncio.to_thread(runtime.recover)
    watchers = await serve_email_triggers(runtime, stop)
    schedules = await serve_schedules(runtime, stop)
    handoff = await serve_handoff(runtime, home(), config_path(), store_url(), _config_reloader(runtime.config),
                                  rehearsal_summary)
    typer.echo(f"worker ready: recovered {len(recovered)} interrupted run(s), {len(watchers)} inbox watcher(s), "
               f"{len(schedules)} schedule(s); `meshclaw run` hands runs to this worker")
    warming = asyncio.create_task(_warm_triggered_agents(runtime))
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=5)
        except TimeoutError:
            await asyncio.to_thread(runtime.recover)
    handoff.close()
    worker_socket().unlink(missing_ok=True)
    warming.cancel()
    await asyncio.gather(warming, *watchers, *schedules, return_exceptions=True)


def _config_reloader(config):  # type: ignore[no-untyped-def]
    """The current configuration for each handed-over run: read again only when the file changed."""
    seen = {"stamp": _stamp(), "config": config}

    def current():  # type: ignore[no-untyped-def]
        stamp = _stamp()
        if stamp != seen["stamp"]:
            seen["config"], seen["stamp"] = load(), stamp  # a broken file raises: that request gets the error
        return seen["config"]

    return current


def _stamp() -> tuple[int, int] | None:
    try:
        st = config_path().stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


async def _warm_triggered_agents(runtime) -> None:  # type: ignore[no-untyped-def]
    """Agents that run unattended start from the bundled model's prefix cache (a no-op for other models)."""
    import time

    for agent in runtime.config.agents:
        if not agent.triggers or runtime.store.agents.is_stopped(agent.name):
            continue
        started = time.perf_counter()
        try:
            if await runtime.warm(agent.name):
                typer.echo(f"warmed {agent.name}'s prompt prefix in {time.perf_counter() - started:.1f} s")
        except Exception as e:  # noqa: BLE001 - warming only saves time; runs work without it
            typer.echo(f"could not warm {agent.name}'s prompt prefix: {e}", err=True)
