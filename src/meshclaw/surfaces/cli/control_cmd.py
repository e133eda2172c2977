"""The kill switch (``meshclaw stop`` / ``meshclaw start``) and promotion out of rehearsal, as the user
this login maps to."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import typer

from meshclaw.domain.config_file import ConfigError
from meshclaw.domain.errors import UsageError

from .app_context import context, local_actor

if TYPE_CHECKING:
    from meshclaw.operations import control


def stop(
    agent: Optional[str] = typer.Argument(None, help="The agent to stop."),
    all_agents: bool = typer.Option(False, "--all", help="Stop every agent (admins)."),
) -> None:
    """Stop an agent now: running and waiting runs are cancelled, nothing new starts until `meshclaw start`."""
    from meshclaw.operations import control

    if bool(agent) == all_agents:
        raise UsageError("name one agent, or use --all")
    try:
        ctx = context()
    except ConfigError as e:  # the kill switch works on a broken configuration, for the data dir's owner
        done = _stop_without_configuration(agent, e)
    else:
        done = control.stop(ctx, local_actor(ctx.config), agent)
    what = done.agent or "all agents"
    said = f"{what} {'was' if done.agent else 'were'} already stopped" if done.was_stopped else f"stopped {what}"
    typer.echo(f"{said}; cancelled {len(done.cancelled_runs)} run(s). Re-enable with "
               f"`meshclaw start {done.agent or '--all'}`")


def _stop_without_configuration(agent: Optional[str], error: "ConfigError") -> "control.Switched":
    from meshclaw.operations import control
    from meshclaw.operations.actor import os_login

    from .app_context import home, open_store
    from .home import store_url

    first = str(error.problems[0]) if error.problems else str(error)
    if not control.owns_data_dir(home()):
        raise error
    store = open_store()
    if agent is not None:  # a typo must not look like a stop while the real agent runs on
        named = _agents_in_file()
        if agent not in named and store.runs.count(agent=agent) == 0:
            known = ", ".join(sorted(named)) or "none readable"
            raise UsageError(f"unknown agent {agent!r}: the configuration does not load ({first}) and names no "
                             f"such agent, and it never ran (agents in the file: {known})")
    typer.echo(f"the configuration cannot be loaded ({first}); stopping as {os_login()}, the owner of the data "
               "dir", err=True)
    return control.stop_without_configuration(store, home(), store_url(), agent, login=os_login(),
                                              problem=first, owner=_agents_in_file().get(agent or ""))


def _agents_in_file() -> dict[str, Optional[str]]:
    """``{agent name: owner}`` as the configuration file lists them, read as plain YAML (the file does not
    load as a configuration); empty when it cannot be read that way either."""
    import yaml

    from .home import config_path

    try:
        data = yaml.safe_load(config_path().read_text(encoding="utf-8"))
        agents = [a for a in data.get("agents") or [] if isinstance(a, dict) and isinstance(a.get("name"), str)]
    except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError, TypeError):
        return {}
    return {a["name"]: a.get("owner") if isinstance(a.get("owner"), str) else None for a in agents}


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
