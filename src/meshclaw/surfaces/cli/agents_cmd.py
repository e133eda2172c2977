"""``meshclaw agents``: install a flagship agent for an employee, list the templates."""

from __future__ import annotations

from typing import Optional

import typer

from .app_context import context, local_actor

app = typer.Typer(help="Flagship agents: install one with the narrowest grants that let it work.",
                  no_args_is_help=True)


@app.command("templates")
def templates() -> None:
    """The agents you can install, and what each may and may never do."""
    from meshclaw.agents.catalog import TEMPLATES

    for t in TEMPLATES.values():
        typer.echo("\n".join(t.plain_words()) + "\n")


@app.command("add")
def add(
    template: str = typer.Argument(..., help="The template to install (see `meshclaw agents templates`)."),
    owner: str = typer.Option(..., "--owner", help="The user the agent acts for."),
    name: Optional[str] = typer.Option(None, "--name", help="The agent's name (default: the template's)."),
    settings_from: Optional[str] = typer.Option(None, "--settings-from",
                                                help="Reuse the connections of this agent of the owner."),
    model: Optional[str] = typer.Option(None, "--model", help="A model named under models: (default: the owner's)."),
    option: list[str] = typer.Option([], "--option", help="A workflow option KEY=VALUE (e.g. team_channel=ID)."),
) -> None:
    """Install a flagship agent for OWNER in the configuration file; it starts in rehearsal until promoted."""
    from meshclaw.operations.agent_install import add_agent

    from .home import config_path

    from meshclaw.domain.errors import UsageError

    options = {}
    for item in option:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--option takes KEY=VALUE, not {item!r}")
        options[key.strip()] = value.strip()
    ctx = context()
    done = add_agent(ctx, local_actor(ctx.config), config_path(), template, owner, name=name,
                     settings_from=settings_from, model=model, options=options)
    copied = ", ".join(f"{c} from {a}" for c, a in done.copied_from.items())
    typer.echo(f"installed {done.name} for {done.owner}" + (f" (connections: {copied})" if copied else ""))
    typer.echo("\n".join(done.lines))
    typer.echo(f"It rehearses until you run `meshclaw promote {done.name}`.")
