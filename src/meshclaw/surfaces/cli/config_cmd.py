"""``meshclaw init`` and ``meshclaw config check``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from meshclaw.domain.errors import UsageError

from .home import config_path, meshclaw_home
from .starter import SECTIONS, parse_sections, secrets_needed, starter_text  # noqa: F401 - starter_text re-exported

app = typer.Typer(help="Check the configuration (every problem with its line).", no_args_is_help=True)

def init(
    force: bool = typer.Option(False, "--force", help="Overwrite an existing configuration (a .bak copy is kept)."),
    path: Optional[Path] = typer.Option(None, "--path", help="Where to write (default: the configuration path)."),
    with_: Optional[str] = typer.Option(None, "--with", help=(
        f"Example blocks to write uncommented, comma-separated: {', '.join(SECTIONS)}.")),
) -> None:
    """Write a commented starter configuration (your login is mapped to its user alice)."""
    sections = parse_sections(with_)
    target = path or config_path()
    if target.exists() and not force:
        raise UsageError(f"{target} already exists (use --force to replace it; a .bak copy is kept)")
    from meshclaw.domain.config_file import write_config_text

    write_config_text(target, starter_text(sections), backup=True)  # 0600, its folder 0700: it holds user data
    typer.echo(f"wrote {target}" + (f" with {', '.join(sections)}" if sections else ""))
    needed = secrets_needed(sections)
    if needed:
        typer.echo(f"secrets it names (add NAME=value lines to {meshclaw_home() / 'secrets.env'}, mode 0600): "
                   + ", ".join(needed))
    typer.echo("next: `meshclaw config check`, then `meshclaw run scripted-assistant \"remember the Friday report\"`")


@app.command("check")
def check(path: Optional[Path] = typer.Option(None, "--path", help="Configuration file to check.")) -> None:
    """Validate the configuration; every problem is printed with its line."""
    from meshclaw.operations.config import check_config

    from .app_context import open_store

    in_use = path is None or path.resolve() == config_path().resolve()  # a draft elsewhere records nothing
    s = check_config(path or config_path(), store=open_store, record_chart=in_use)
    typer.echo(f"{s.path}: OK ({s.users} users, {s.models} models, {s.agents} agents)")
    from .printer import echo

    for w in s.warnings:
        echo(f"warning: {w}")
