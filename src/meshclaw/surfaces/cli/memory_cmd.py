"""``meshclaw memory``: show, diff, review, roll back, add rules, consolidate now, read the dream diary —
as the user this login maps to."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Optional

import typer

from .app_context import context, local_actor

app = typer.Typer(help="Your agents' memory: what they learnt, the dream diary, review and rollback.",
                  no_args_is_help=True)


def _line(e) -> str:  # type: ignore[no-untyped-def]
    flag = f"  !! damaged: {e.problem}" if e.problem else ""
    src = ",".join(str(s) for s in e.sources) or "-"
    return (f"{e.key} v{e.version} [{e.status}] {e.kind} ({e.agent}, conf {e.confidence:.2f}, episodes {src}, "
            f"{e.trust}): {e.text}{flag}")


@app.command("show")
def show(
    agent: Optional[str] = typer.Option(None, "--agent", help="Only this agent's entries (and your rules for every agent)."),
    user: Optional[str] = typer.Option(None, "--user", help="Another user's memory (delegates, admins)."),
    status: str = typer.Option("active", "--status", help="active, proposed, rejected, retired or all."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List memory entries: kind, text, confidence, the episodes they come from."""
    from meshclaw.operations import memory

    ctx = context()
    rows = memory.show(ctx, local_actor(ctx.config), user=user, agent=agent, status=None if status == "all" else status)
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in rows], indent=2, default=str))
        return
    if not rows:
        typer.echo(f"no {status if status != 'all' else ''} memory entries".replace("  ", " "))
    for r in rows:
        typer.echo(_line(r))


@app.command("history")
def history(key: str = typer.Argument(..., help="The entry.")) -> None:
    """Every version of an entry, oldest first, with who changed it and why."""
    from meshclaw.operations import memory

    ctx = context()
    for r in memory.history(ctx, local_actor(ctx.config), key):
        typer.echo(f"{_line(r)}\n    {r.at} by {r.by}: {r.reason}")


@app.command("diff")
def diff(
    key: str = typer.Argument(..., help="The entry."),
    before: Optional[int] = typer.Option(None, "--from", help="Version (default: the previous one)."),
    after: Optional[int] = typer.Option(None, "--to", help="Version (default: the current one)."),
) -> None:
    """What changed between two versions of an entry."""
    from meshclaw.operations import memory

    ctx = context()
    changes = memory.diff(ctx, local_actor(ctx.config), key, before=before, after=after)
    if not changes:
        typer.echo("no differences")
    for c in changes:
        typer.echo(f"{c.field}:\n  - {c.before}\n  + {c.after}")


@app.command("review")
def review(
    key: Optional[str] = typer.Argument(None, help="A proposed entry to decide on (none: list them)."),
    approve: bool = typer.Option(False, "--approve", help="Make it active."),
    reject: bool = typer.Option(False, "--reject", help="Reject it."),
    note: str = typer.Option("", "--note", help="Why (kept in the entry's history)."),
) -> None:
    """Entries learnt from outside content wait here until you approve or reject them."""
    from meshclaw.domain.errors import UsageError
    from meshclaw.operations import memory

    ctx = context()
    actor = local_actor(ctx.config)
    if key is None:
        rows = memory.review(ctx, actor)
        if not rows:
            typer.echo("nothing to review")
        for r in rows:
            typer.echo(_line(r) + f"\n    {r.reason} — `meshclaw memory review {r.key} --approve|--reject`")
        return
    if approve == reject:
        raise UsageError("say --approve or --reject")
    row = memory.decide(ctx, actor, key, approve=approve, note=note)
    typer.echo(f"{'approved' if approve else 'rejected'}: {_line(row)}")


@app.command("rollback")
def rollback(
    key: str = typer.Argument(..., help="The entry."),
    to_version: Optional[int] = typer.Option(None, "--to", help="The version to restore (default: the previous one)."),
) -> None:
    """Restore an earlier version of an entry (as its next version; nothing is deleted)."""
    from meshclaw.operations import memory

    ctx = context()
    row = memory.rollback(ctx, local_actor(ctx.config), key, to_version=to_version)
    typer.echo(f"restored: {_line(row)}")


@app.command("rule")
def rule(
    text: str = typer.Argument(..., help="The rule, in your words, e.g. 'Confirm before deleting anything.'"),
    agent: Optional[str] = typer.Option(None, "--agent", help="Only for this agent (default: all your agents)."),
    kind: str = typer.Option("rule", "--kind", help="rule, preference, procedure or fact."),
) -> None:
    """Add a standing rule: applied on every model request of your agents, never summarised away."""
    from meshclaw.operations import memory

    ctx = context()
    row = memory.add_rule(ctx, local_actor(ctx.config), text, agent=agent, kind=kind)
    typer.echo(f"added: {_line(row)}")


@app.command("diary")
def diary(
    agent: Optional[str] = typer.Option(None, "--agent", help="Only this agent's consolidations."),
    limit: int = typer.Option(5, "--limit", help="How many, newest first."),
) -> None:
    """The dream diary: what each consolidation changed, and why."""
    from meshclaw.operations import memory

    ctx = context()
    rows = memory.diary(ctx, local_actor(ctx.config), agent=agent, limit=limit)
    if not rows:
        typer.echo("no consolidations yet")
    for d in rows:
        typer.echo(f"{d.started_at:%Y-%m-%d %H:%M} UTC {d.agent} [{d.status}] run {d.run_id[:12]}\n{d.diary}\n")


@app.command("dream")
def dream(
    agent: str = typer.Argument(..., help="The agent whose new episodes to consolidate now."),
    calls: Optional[int] = typer.Option(None, "--calls", help="At most this many model judgements (default 40)."),
    seconds: Optional[int] = typer.Option(None, "--seconds", help="At most this long (default 600)."),
) -> None:
    """Consolidate an agent's new episodes now (the worker does it nightly)."""
    import asyncio

    from meshclaw.operations import memory

    from .app_context import open_runtime

    rt = open_runtime()
    try:
        ctx = context(rt.config)
        outcome = asyncio.run(memory.dream(rt, local_actor(ctx.config), agent, calls=calls, seconds=seconds))
    finally:
        rt.shutdown()
    typer.echo(f"{outcome.status}: {outcome.output or outcome.error or ''}")
