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
    typer.echo(f"the configuration cannot be loaded ({first}); stopping as {os_login()}, the owner of the data "
               "dir", err=True)
    return control.stop_without_configuration(open_store(), home(), store_url(), agent, login=os_login(),
                                              problem=first, owner=_owner_in_file(agent))


def _owner_in_file(agent: Optional[str]) -> Optional[str]:
    """The ``owner`` the configuration file gives ``agent``, read as plain YAML (the file does not load
    as a configuration); None when it cannot be read that way either (the audit record then names no owner)."""
    import yaml

    from .home import config_path

    try:
        data = yaml.safe_load(config_path().read_text(encoding="utf-8"))
        found = [a.get("owner") for a in data.get("agents") or [] if isinstance(a, dict) and a.get("name") == agent]
    except (OSError, UnicodeDecodeError, yaml.YAMLError, AttributeError):
        return None
    return found[0] if len(found) == 1 and isinstance(found[0], str) else None


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
