"""``meshclaw audit verify`` and ``meshclaw audit show``."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Optional

import typer

from .app_context import CliError, open_store

app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)


def _when(value: Optional[str]) -> Optional[datetime]:
    """ISO dates/times, or relative: 30m, 12h, 7d."""
    if not value:
        return None
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if value[-1] in units and value[:-1].isdigit():
        return datetime.now(timezone.utc) - timedelta(**{units[value[-1]]: int(value[:-1])})
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(f"not a time: {value!r} (use 2026-11-23, 2026-11-23T09:00 or 30m / 12h / 7d)", 2) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


@app.command("verify")
def verify() -> None:
    """Check the whole chain; names the first record that was edited, deleted or reordered."""
    result = open_store().audit.verify()
    if not result.ok:
        raise CliError(f"audit log is broken at record {result.broken_seq}: {result.problem} "
                       f"({result.checked} records before it are intact)")
    typer.echo(f"audit log intact: {result.checked} records")


@app.command("show")
def show(
    agent: Optional[str] = typer.Option(None, "--agent"),
    user: Optional[str] = typer.Option(None, "--user"),
    run: Optional[str] = typer.Option(None, "--run"),
    since: Optional[str] = typer.Option(None, "--since", help="e.g. 2026-11-23, 2026-11-23T09:00, 12h, 7d"),
    until: Optional[str] = typer.Option(None, "--until"),
    kind: Optional[str] = typer.Option(None, "--kind", help="e.g. decision, call, approval, alert, captured"),
    limit: int = typer.Option(200, "--limit", min=1),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show audit records, filtered by agent, user, run, kind and time."""
    from .printer import console, escape

    records = open_store().audit.records(run_id=run, agent=agent, user_id=user, since=_when(since), until=_when(until),
                                         limit=limit, kind=kind)
    if as_json:
        typer.echo(json.dumps([{"seq": r.seq, "at": r.at, "kind": r.kind, "run": r.run_id, "agent": r.agent,
                                "user": r.user_id, "tool": r.tool, "verdict": r.verdict, "reason": r.reason,
                                "data": r.data, "hash": r.hash} for r in records], indent=2, default=str))
        return
    for r in records:
        what = " ".join(x for x in (r.kind, r.tool or "", r.verdict or "") if x)
        console.print(f"#{r.seq} {r.at:%Y-%m-%d %H:%M:%S} {r.agent or '-'} {r.user_id or '-'} {escape(what)}"
                      + (f" — {escape(r.reason)}" if r.reason else ""))
    if not records:
        console.print("no audit records match")


def alerts(
    agent: Optional[str] = typer.Option(None, "--agent"),
    user: Optional[str] = typer.Option(None, "--user", help="Only alerts about this person's agents."),
    since: str = typer.Option("7d", "--since", help="e.g. 24h, 7d, 2026-11-23"),
    limit: int = typer.Option(50, "--limit", min=1),
) -> None:
    """Recent alerts, newest first: an agent leaving its baseline (a tool it never used, a burst of
    calls), an MCP tool whose server changed it."""
    from .printer import console, escape

    found = open_store().audit.records(agent=agent, user_id=user, since=_when(since), kind="alert", limit=limit,
                                       newest_first=True)
    if not found:
        console.print(f"no alerts since {since}")
    for r in found:
        where = f"run {r.run_id[:12]}" if r.run_id else ""
        console.print(f"{r.at:%Y-%m-%d %H:%M} {r.agent or '-'} [magenta]{escape(r.verdict or '')}[/magenta] "
                      f"{escape(r.reason or '')} {where}")
