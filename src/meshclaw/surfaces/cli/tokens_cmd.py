"""``meshclaw tokens create|list|revoke``: personal tokens for MCP clients, as the user this login maps to."""

from __future__ import annotations

import json
from typing import Optional

import typer

from .app_context import context, local_actor

app = typer.Typer(help="Personal tokens that let a program (an MCP client) act as you.", no_args_is_help=True)


@app.command("create")
def create(
    user: Optional[str] = typer.Option(None, "--user", help="Make it for this user (admins only; default: you)."),
    name: Optional[str] = typer.Option(None, "--name", help="A label to recognise it by (default: mcp)."),
    expires: str = typer.Option("90d", "--expires", help="Lifetime: 30d, 12h, 90m, 2w, or never."),
) -> None:
    """Make a token and print it once: only a digest is kept, so it cannot be shown again."""
    from meshclaw.operations.tokens import create_token

    ctx = context()
    made = create_token(ctx, local_actor(ctx.config), user=user, name=name, expires=expires)
    i = made.info
    until = f"expires {i.expires_at:%Y-%m-%d %H:%M} UTC" if i.expires_at else "never expires"
    typer.echo(made.token)
    typer.echo(f"token {i.id} for {i.user_id} ({i.name}), {until}. This is the only time it is shown: "
               "keep it in your MCP client's settings (`Authorization: Bearer <token>`, or MESHCLAW_TOKEN "
               "for `meshclaw mcp-server --stdio`).", err=True)


@app.command("list")
def list_(
    user: Optional[str] = typer.Option(None, "--user", help="This user's tokens (another user's: admins, auditors)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List tokens (never the tokens themselves): yours, or everyone's for an admin or auditor."""
    from meshclaw.operations.tokens import list_tokens

    from .printer import echo

    ctx = context()
    tokens = list_tokens(ctx, local_actor(ctx.config), user=user)
    if as_json:
        typer.echo(json.dumps([t.as_dict() for t in tokens], indent=2, default=str))
        return
    if not tokens:
        typer.echo("no tokens (make one with `meshclaw tokens create`)")
    for t in tokens:
        until = f"{t.expires_at:%Y-%m-%d %H:%M}" if t.expires_at else "never"
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
        echo(f"{t.id}  {t.user_id:<12} {t.state:<8} {t.name:<20} expires {until}  last used {used}")  # neutralised: an admin may have named it


@app.command("revoke")
def revoke(token_id: str = typer.Argument(..., help="The token's id, from `meshclaw tokens list`.")) -> None:
    """Revoke a token now: the next request that presents it is refused."""
    from meshclaw.operations.tokens import revoke_token

    ctx = context()
    t = revoke_token(ctx, local_actor(ctx.config), token_id)
    typer.echo(f"revoked token {t.id} of {t.user_id} ({t.name})")
