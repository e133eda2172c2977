"""``meshclaw tools``: the pinned definitions of agents' MCP tools, and accepting a changed one."""

from __future__ import annotations

import json
from typing import Optional

import typer

from .app_context import CliError, actor, load, open_store

app = typer.Typer(help="Pinned MCP tool definitions: a tool whose server changed it is held back until accepted.",
                  no_args_is_help=True)


@app.command("pins")
def pins(
    agent: Optional[str] = typer.Argument(None, help="Only this agent's tools."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Every pinned MCP tool, and the changes waiting to be accepted (with what changed)."""
    from .printer import console, escape

    rows = open_store().tool_pins.list(agent)
    if as_json:
        typer.echo(json.dumps([{"agent": r.agent, "tool": r.tool, "fingerprint": r.fingerprint, "definition": r.definition,
                                "pinned_at": r.pinned_at, "pinned_by": r.pinned_by,
                                "pending": None if r.pending_definition is None else
                                {"fingerprint": r.pending_fingerprint, "definition": r.pending_definition,
                                 "since": r.pending_since}} for r in rows], indent=2, default=str))
        return
    if not rows:
        console.print("no pinned tools (MCP tools are pinned the first time an agent is offered them)")
    for r in rows:
        state = "[red]CHANGED, held back[/red]" if r.pending_definition is not None else "[green]as pinned[/green]"
        console.print(f"{r.agent}  {r.tool}  {state}  pinned {r.pinned_at:%Y-%m-%d %H:%M} by {escape(r.pinned_by)}")
        if r.pending_definition is not None:
            for key in ("description", "schema", "annotations"):
                before, after = r.definition.get(key), r.pending_definition.get(key)
                if before != after:
                    console.print(f"    {key} was: {escape(json.dumps(before, ensure_ascii=False))}")
                    console.print(f"    {key} now: {escape(json.dumps(after, ensure_ascii=False))}")
            console.print(f"    accept with `meshclaw tools accept {r.agent} {r.tool}`")


@app.command("accept")
def accept(
    agent: str = typer.Argument(..., help="The agent."),
    tool: str = typer.Argument(..., help="The tool as grants name it, e.g. crm.lookup_customer."),
    by: Optional[str] = typer.Option(None, "--by", help="Who accepts it (default: the current login)."),
) -> None:
    """Accept an MCP tool's changed definition, so it is offered again."""
    cfg = load().agent(agent)
    who = actor(by)
    store = open_store()
    try:
        row = store.tool_pins.accept(agent, tool, who)
    except KeyError as e:
        raise CliError(str(e.args[0])) from None
    store.audit.append(f"tool-accepted:{agent}:{tool}:{row.fingerprint}", "tool-pinned", agent=agent, user_id=cfg.owner,
                       tool=tool, verdict="accepted", data={"by": who, "fingerprint": row.fingerprint,
                                                            "definition": row.definition})
    typer.echo(f"{agent} is offered {tool} again, as its server now defines it")
