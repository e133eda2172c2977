"""``meshclaw audit verify``, ``meshclaw audit show`` and ``meshclaw alerts``: what this login's user may read."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Optional

import typer

from meshclaw.domain.errors import UsageError

from .app_context import context, local_actor

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


def _when(value: Optional[str]) -> Optional[datetime]:
    """ISO dates/times, or relative: 30m, 12h, 7d."""
    if not value:
        return None
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if value[-1] in units and value[:-1].isdigit():
        try:
            return datetime.now(timezone.utc) - timedelta(**{units[value[-1]]: int(value[:-1])})
        except OverflowError:
            raise UsageError(f"{value!r} reaches before the year 1: use a shorter span or a date") from None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"not a time: {value!r} (use 2026-11-23, 2026-11-23T09:00 or 30m / 12h / 7d)") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


@app.command("verify")
def verify() -> None:
    """Check the whole chain against its signed checkpoints; names the first record that was edited,
    deleted or reordered, or says that the log ends earlier than its newest checkpoint."""
    from meshclaw.operations import audit

    ctx = context()
    done = audit.verify(ctx, local_actor(ctx.config))
    typer.echo(f"audit log intact: {done.records} records")
    if done.anchor:
        typer.echo(f"anchored through record {done.anchored_through or 0} by {done.anchor} "
                   f"(checkpoint key {done.fingerprint or 'none yet'})")


@app.command("anchor")
def anchor() -> None:
    """Start signed checkpoints for a log made before they existed (admins): its chain is verified
    first; from then on every record is anchored outside the database."""
    from meshclaw.operations import audit

    ctx = context()
    done = audit.anchor(ctx, local_actor(ctx.config))
    typer.echo(f"audit log anchored: {done.records} records, checkpoints in {done.anchor} "
               f"(checkpoint key {done.fingerprint}; note this fingerprint somewhere else)")


@app.command("show")
def show(
    agent: Optional[str] = typer.Option(None, "--agent"),
    user: Optional[str] = typer.Option(None, "--user"),
    run: Optional[str] = typer.Option(None, "--run"),
    since: Optional[str] = typer.Option(None, "--since", help="e.g. 2026-11-23, 2026-11-23T09:00, 12h, 7d"),
    until: Optional[str] = typer.Option(None, "--until"),
    kind: Optional[str] = typer.Option(None, "--kind", help="e.g. decision, call, approval, alert, captured, operation"),
    limit: int = typer.Option(200, "--limit", min=1, help="Show the newest this many (oldest first)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show the newest audit records you may read (up to --limit, oldest first), filtered by agent, user,
    run, kind and time."""
    from meshclaw.operations import audit

    from .printer import console, escape

    ctx = context()
    records = audit.show(ctx, local_actor(ctx.config), agent=agent, user=user, run=run, since=_when(since),
                         until=_when(until), kind=kind, limit=limit, newest_first=True)[::-1]
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in records], indent=2, default=str))
        return
    for r in records:
        what = " ".join(x for x in (r.kind, r.tool or "", r.verdict or "") if x)
        if r.kind == "operation":  # who did what, by the user id their login maps to
            what = f"operation {r.data.get('operation')} by {r.data.get('actor')} {r.verdict or ''}".strip()
        console.print(f"#{r.seq} {r.at:%Y-%m-%d %H:%M:%S} {r.agent or '-'} {r.user_id or '-'} {escape(what)}"
                      + (f" — {escape(r.reason)}" if r.reason else ""))
    if not records:
        console.print("no audit records match")
    elif len(records) == limit:
        console.print(f"(the newest {limit} matching records; --limit, --since or --until for others)")


def alerts(
    agent: Optional[str] = typer.Option(None, "--agent"),
    user: Optional[str] = typer.Option(None, "--user", help="Only alerts about this person's agents."),
    since: str = typer.Option("7d", "--since", help="e.g. 24h, 7d, 2026-11-23"),
    limit: int = typer.Option(50, "--limit", min=1),
) -> None:
    """Recent alerts you may read, newest first: an agent leaving its baseline (a tool it never used, a
    burst of calls), an MCP tool whose server changed it."""
    from meshclaw.operations import audit

    from .printer import console, escape

    ctx = context()
    found = audit.alerts(ctx, local_actor(ctx.config), agent=agent, user=user, since=_when(since), limit=limit)
    if not found:
        console.print(f"no alerts since {since}")
    for r in found:
        where = f"run {r.run_id[:12]}" if r.run_id else ""
        console.print(f"{r.at:%Y-%m-%d %H:%M} {r.agent or '-'} [magenta]{escape(r.verdict or '')}[/magenta] "
                      f"{escape(r.reason or '')} {where}")
