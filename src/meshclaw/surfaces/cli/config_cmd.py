"""``meshclaw init`` and ``meshclaw config check``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app_context import CliError
from .home import config_path

app = typer.Typer(help="Check the configuration (every problem with its line).", no_args_is_help=True)

STARTER = Path(__file__).parent / "templates" / "starter.yaml"


def init(
    force: bool = typer.Option(False, "--force", help="Overwrite an existing configuration (a .bak copy is kept)."),
    path: Optional[Path] = typer.Option(None, "--path", help="Where to write (default: the configuration path)."),
) -> None:
    """Write a commented starter configuration."""
    target = path or config_path()
    if target.exists() and not force:
        raise CliError(f"{target} already exists (use --force to replace it; a .bak copy is kept)")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.with_suffix(target.suffix + ".bak").write_bytes(target.read_bytes())
    target.write_text(STARTER.read_text(encoding="utf-8"), encoding="utf-8")
    typer.echo(f"wrote {target}")
    typer.echo("next: `meshclaw config check`, then `meshclaw run scripted-assistant \"remember the Friday report\"`")


@app.command("check")
def check(path: Optional[Path] = typer.Option(None, "--path", help="Configuration file to check.")) -> None:
    """Validate the configuration; every problem is printed with its line."""
    from meshclaw.connectors.registry import UnknownToolset, resolve
    from meshclaw.domain.config_file import ConfigError, load_config_with_lines
    from meshclaw.domain.effects import spec_of

    target = path or config_path()
    config, lines = load_config_with_lines(target)
    problems = []
    for i, agent in enumerate(config.agents):
        for name, grant in agent.toolsets.items():
            if grant.mcp is not None:
                for j, g in enumerate(grant.grants):  # the server's tool list is known only when it runs
                    if not g.tool.startswith(f"{name}."):
                        problems.append(lines.problem(("agents", i, "toolsets", name, "grants", j),
                                                      f"tools of MCP toolset {name} are named {name}.<tool>"))
                continue
            try:
                toolset = resolve(name, grant)
            except UnknownToolset as e:
                problems.append(lines.problem(("agents", i, "toolsets", name), str(e)))
                continue
            tools = {spec_of(f).name for f in toolset.functions}
            for j, g in enumerate(grant.grants):
                if g.tool not in tools:
                    problems.append(lines.problem(("agents", i, "toolsets", name, "grants", j),
                                                  f"toolset {name} has no tool {g.tool!r} (it has: {', '.join(sorted(tools))})"))
    problems += _unpriced_cost_budgets(config, lines)
    if problems:
        raise ConfigError(target, problems)
    typer.echo(f"{target}: OK ({len(config.users)} users, {len(config.models)} models, {len(config.agents)} agents)")


def _unpriced_cost_budgets(config, lines) -> list[str]:  # type: ignore[no-untyped-def]
    """A cost budget on an agent whose model has no known price would stop its every run: say so now."""
    from meshclaw.runtime.pricing import pricing_for

    problems = []
    owners = {u.id: u for u in config.users}
    for i, agent in enumerate(config.agents):
        owner = owners.get(agent.owner)
        whose = [f"agent {agent.name}"] if any(u == "cost" for _, u, _ in agent.budget.limits()) else []
        if owner is not None and any(u == "cost" for _, u, _ in owner.budget.limits()):
            whose.append(f"its owner {owner.id}")
        if not whose or agent.model not in config.models:
            continue
        pricing = pricing_for(agent.model, config.models)
        if not pricing.known:
            problems.append(lines.problem(("agents", i, "model"),
                                          f"{' and '.join(whose)} {'have' if len(whose) > 1 else 'has'} a cost budget, "
                                          f"but {pricing.unknown_message()}"))
    return problems
