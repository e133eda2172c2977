"""The kill switch (``meshclaw stop`` / ``meshclaw start``) and promotion out of rehearsal."""

from __future__ import annotations

from typing import Optional

import typer

from .app_context import CliError, actor, home, load, open_store
from .home import store_url

def stop(
    agent: Optional[str] = typer.Argument(None, help="The agent to stop."),
    all_agents: bool = typer.Option(False, "--all", help="Stop every agent."),
    by: Optional[str] = typer.Option(None, "--by", help="Who stops it (default: the current login)."),
) -> None:
    """Stop an agent now: running and waiting runs are cancelled, nothing new starts until `meshclaw start`."""
    from meshclaw.runtime.control import cancel_runs
    from meshclaw.store.agent_state import ALL

    if bool(agent) == all_agents:
        raise CliError("name one agent, or use --all", 2)
    if agent:
        load().agent(agent)
    who = actor(by)
    target = ALL if all_agents else agent
    store = open_store()
    store.agents.set_stopped(target, True, who)  # first, so nothing new starts while we cancel
    active = store.runs.active(agent=None if all_agents else agent)
    cancel_runs(home(), store_url(), [r.id for r in active])
    for r in active:
        store.runs.set_status(r.id, "stopped", error=f"stopped by {who} (kill switch)")
    store.audit.append(f"stop:{target}:{_now()}", "kill-switch", agent=None if all_agents else agent, verdict="stopped",
                       data={"by": who, "agent": target, "cancelled_runs": [r.id for r in active]})
    typer.echo(f"stopped {'all agents' if all_agents else agent}; cancelled {len(active)} run(s). Re-enable with "
               f"`meshclaw start {'--all' if all_agents else agent}`")


def start(
    agent: Optional[str] = typer.Argument(None, help="The agent to re-enable."),
    all_agents: bool = typer.Option(False, "--all", help="Lift `meshclaw stop --all`."),
    by: Optional[str] = typer.Option(None, "--by", help="Who re-enables it."),
) -> None:
    """Lift the kill switch for an agent (or the global one with --all)."""
    from meshclaw.store.agent_state import ALL

    if bool(agent) == all_agents:
        raise CliError("name one agent, or use --all", 2)
    who = actor(by)
    target = ALL if all_agents else agent
    store = open_store()
    store.agents.set_stopped(target, False, who)
    store.audit.append(f"start:{target}:{_now()}", "kill-switch", agent=None if all_agents else agent, verdict="started",
                       data={"by": who, "agent": target})
    still = " (note: `meshclaw stop --all` is still in force)" if not all_agents and store.agents.is_stopped(agent or "") else ""
    typer.echo(f"re-enabled {'all agents' if all_agents else agent}{still}")


def promote(
    agent: str = typer.Argument(..., help="The agent to promote out of rehearsal."),
    by: Optional[str] = typer.Option(None, "--by", help="Who promotes it."),
) -> None:
    """Let an agent act for real. New agents only rehearse: their writes are captured, not executed."""
    cfg = load().agent(agent)
    who = actor(by)
    store = open_store()
    store.agents.set_promoted(agent, True, who)
    store.audit.append(f"promote:{agent}:{_now()}", "promotion", agent=agent, user_id=cfg.owner, verdict="promoted",
                       data={"by": who})
    typer.echo(f"{agent} is promoted: its runs now act for real, within its grants")


def _now() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat()
