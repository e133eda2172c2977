"""``meshclaw init`` and ``meshclaw config check``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from meshclaw.domain.errors import UsageError

from .home import config_path

app = typer.Typer(help="Check the configuration (every problem with its line).", no_args_is_help=True)

STARTER = Path(__file__).parent / "templates" / "starter.yaml"
STARTER_LOGIN = "  you: alice"  # the starter's local_users line; init writes the login running it


def starter_text() -> str:
    """The starter configuration, with this machine's login mapped to its first user."""
    from meshclaw.operations.actor import os_login

    text = STARTER.read_text(encoding="utf-8")
    login = os_login()
    return text.replace(STARTER_LOGIN, f"  {login}: alice", 1) if ":" not in login else text


def init(
    force: bool = typer.Option(False, "--force", help="Overwrite an existing configuration (a .bak copy is kept)."),
    path: Optional[Path] = typer.Option(None, "--path", help="Where to write (default: the configuration path)."),
) -> None:
    """Write a commented starter configuration (your login is mapped to its user alice)."""
    target = path or config_path()
    if target.exists() and not force:
        raise UsageError(f"{target} already exists (use --force to replace it; a .bak copy is kept)")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.with_suffix(target.suffix + ".bak").write_bytes(target.read_bytes())
    target.write_text(starter_text(), encoding="utf-8")
    typer.echo(f"wrote {target}")
    typer.echo("next: `meshclaw config check`, then `meshclaw run scripted-assistant \"remember the Friday report\"`")


@app.command("check")
def check(path: Optional[Path] = typer.Option(None, "--path", help="Configuration file to check.")) -> None:
    """Validate the configuration; every problem is printed with its line."""
    from meshclaw.operations.config import check_config

    s = check_config(path or config_path())
    typer.echo(f"{s.path}: OK ({s.users} users, {s.models} models, {s.agents} agents)")
