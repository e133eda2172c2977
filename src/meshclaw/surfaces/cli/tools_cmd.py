"""``meshclaw tools``: the pinned definitions of agents' MCP tools, and accepting a changed one."""

from __future__ import annotations

import json
from typing import Optional

import typer

from .app_context import context, local_actor

app = typer.Typer(help="Pinned MCP tool definitions: a tool whose server changed it is held back until accepted.",
                  no_args_is_help=True)


@app.command("pins")
def pins(
    agent: Optional[str] = typer.Argument(None, help="Only this agent's tools."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every pinned MCP tool you may read, and the changes waiting to be accepted (with what changed)."""
    from meshclaw.operations import tools

    from .printer import console, escape

    ctx = context()
    rows = tools.pins(ctx, local_actor(ctx.config), agent)
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in rows], indent=2, default=str))
        return
    if not rows:
        console.print("no pinned tools (MCP tools are pinned the first time an agent is offered them)")
    for r in rows:
        state = "[red]CHANGED, held back[/red]" if r.pending_definition is not None else "[green]as pinned[/green]"
        console.print(f"{r.agent}  {r.tool}  {state}  pinned {r.pinned_at:%Y-%m-%d %H:%M} by {escape(r.pinned_by)}")
        for key, before, after in r.changes():
            console.print(f"    {key} was: {escape(json.dumps(before, ensure_ascii=False))}")
            console.print(f"    {key} now: {escape(json.dumps(after, ensure_ascii=False))}")
        if r.pending_definition is not None:
            console.print(f"    accept with `meshclaw tools accept {r.agent} {r.tool}`")


@app.command("accept")
def accept(
    agent: str = typer.Argument(..., help="The agent."),
    tool: str = typer.Argument(..., help="The tool as grants name it, e.g. crm.lookup_customer."),
) -> None:
    """Accept an MCP tool's changed definition, so it is offered again (its owner, a delegate or an admin)."""
    from meshclaw.operations import tools

    ctx = context()
    tools.accept(ctx, local_actor(ctx.config), agent, tool)
    typer.echo(f"{agent} is offered {tool} again, as its server now defines it")
