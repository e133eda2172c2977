"""The kill switch (``meshclaw stop`` / ``meshclaw start``) and promotion out of rehearsal, as the user
this login maps to."""

from __future__ import annotations

from typing import Optional

import typer

from meshclaw.domain.errors import UsageError

from .app_context import context, local_actor


def stop(
    agent: Optional[str] = typer.Argument(None, help="The agent to stop."),
    all_agents: bool = typer.Option(False, "--all", help="Stop every agent (admins)."),
) -> None:
    """Stop an agent now: running and waiting runs are cancelled, nothing new starts until `meshclaw start`."""
    from meshclaw.operations import control

    if bool(agent) == all_agents:
        raise UsageError("name one agent, or use --all")
    ctx = context()
    done = control.stop(ctx, local_actor(ctx.config), agent)
    typer.echo(f"stopped {done.agent or 'all agents'}; cancelled {len(done.cancelled_runs)} run(s). Re-enable with "
               f"`meshclaw start {done.agent or '--all'}`")


def start(
    agent: Optional[str] = typer.Argument(None, help="The agent to re-enable."),
    all_agents: bool = typer.Option(False, "--all", help="Lift `meshclaw stop --all` (admins)."),
) -> None:
    """Lift the kill switch for an agent (or the global one with --all)."""
    from meshclaw.operations import control

    if bool(agent) == all_agents:
        raise UsageError("name one agent, or use --all")
    ctx = context()
    done = control.start(ctx, local_actor(ctx.config), agent)
    still = " (note: `meshclaw stop --all` is still in force)" if done.still_stopped else ""
    if not done.was_stopped:
        typer.echo(f"{done.agent} was not stopped: nothing to re-enable" if done.agent
                   else "`meshclaw stop --all` was not in force: nothing to re-enable")
        return
    typer.echo(f"re-enabled {done.agent or 'all agents'}{still}")


def promote(agent: str = typer.Argument(..., help="The agent to promote out of rehearsal.")) -> None:
    """Let an agent act for real. New agents only rehearse: their writes are captured, not executed."""
    from meshclaw.operations import control

    ctx = context()
    done = control.promote(ctx, local_actor(ctx.config), agent)
    typer.echo(f"{done.agent} is promoted: its runs now act for real, within its grants")
