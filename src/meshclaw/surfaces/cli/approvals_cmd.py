"""``meshclaw approvals`` (and ``approvals grants`` / ``approvals revoke ID``), ``meshclaw approve ID``,
``meshclaw deny ID``: as the user this login maps to."""

from __future__ import annotations

import json
from typing import Optional

import typer

from .app_context import context, local_actor

app = typer.Typer(help="Pending approval requests; the grants people gave (`grants`), and revoking one (`revoke`).",
                  invoke_without_command=True)


@app.callback()
def approvals(
    ctx: typer.Context,
    user: Optional[str] = typer.Option(None, "--user", help="Only requests for this user's agents."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    full: bool = typer.Option(False, "--full", help="Print every argument whole (a long one is cut, with a mark saying how much, otherwise)."),
) -> None:
    """List the pending approval requests you may answer: the exact action, its arguments, where each
    came from, and why. Invisible and control characters in a value are shown as markers (⟨U+202E⟩)."""
    if ctx.invoked_subcommand:
        return
    from meshclaw.operations.approvals import list_pending

    from .printer import clip, console, escape

    ctx = context()
    pending = list_pending(ctx, local_actor(ctx.config), user=user)
    if as_json:
        typer.echo(json.dumps([a.as_dict() for a in pending], indent=2, default=str))
        return
    if not pending:
        console.print("no pending approvals")
    for a in pending:
        console.print(f"[bold]{a.id}[/bold]  {a.agent} (for {a.user_id}) wants to run [bold]{a.tool}[/bold]  run {a.run_id[:12]}")
        for k, v in a.args.items():
            shown = json.dumps(v, ensure_ascii=False, default=str)
            console.print(f"    {escape(k)} = {escape(shown if full else clip(shown, 200, how_to_see_all='`meshclaw approvals --full` shows all'))}")
        for k, origins in a.origins.items():
            for o in origins:
                console.print(f"    [dim]{escape(k)}: {escape(repr(o['value']))} {escape(origin_words(o))}[/dim]")
        console.print(f"    why asked: {escape(a.reason)}")
        if a.notice:
            console.print(f"    [bold]note:[/bold] {escape(a.notice)}")
        console.print(f"    expires {a.expires_at:%Y-%m-%d %H:%M} UTC — `meshclaw approve {a.id}` (this exact call; "
                      f"--scope arguments|recipient [--hours N] for more) or `meshclaw deny {a.id}`")


@app.command("grants")
def grants(
    include_ended: bool = typer.Option(False, "--all", help="Also revoked and expired grants."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the approval grants in force for agents you act for: what each covers, where, until when."""
    from meshclaw.operations.approvals import list_grants

    from .printer import clip, console, escape

    octx = context()
    rows = list_grants(octx, local_actor(octx.config), include_ended=include_ended)
    if as_json:
        typer.echo(json.dumps([g.as_dict() for g in rows], indent=2, default=str))
        return
    if not rows:
        console.print("no approval grants in force" if not include_ended else "no approval grants")
    for g in rows:
        what = "identical calls" if g.scope == "arguments" else "the same recipients and targets"
        where = f"in run {g.run_id[:12]}" if g.run_id else "in any run"
        until = f"until {g.expires_at:%Y-%m-%d %H:%M} UTC" if g.expires_at else "until the run ends"
        ended = f"  REVOKED by {g.revoked_by}" if g.revoked_at else ""
        console.print(f"[bold]{g.id}[/bold]  {g.agent} (for {g.user_id}) may run [bold]{escape(g.tool)}[/bold] "
                      f"with {what} {where}, {until}; approved by {g.created_by} on request {g.approval_id}{ended}")
        for k, v in g.args.items():
            shown = clip(json.dumps(v, ensure_ascii=False, default=str), 200,
                         how_to_see_all="`meshclaw approvals grants --json` shows all")
            console.print(f"    {escape(k)} = {escape(shown)}")


@app.command("revoke")
def revoke(grant_id: str = typer.Argument(..., help="The grant id shown by `meshclaw approvals grants`.")) -> None:
    """Revoke an approval grant: from now on the calls it covered are asked again."""
    from meshclaw.operations.approvals import revoke_grant

    octx = context()
    g = revoke_grant(octx, local_actor(octx.config), grant_id)
    typer.echo(f"revoked {g.id}: {g.agent} {g.tool} ({g.scope}) is asked again from now on")


def origin_words(origin: dict) -> str:
    """Where one argument's value came from, in plain words (``origin``: value, source, trust)."""
    if origin.get("trust") == "unknown":
        return "not found in anything the run read — the model wrote it"
    if origin.get("trust") == "untrusted":
        return f"came from {origin.get('source')}, which is outside content (not trusted)"
    return f"came from {origin.get('source')} (trusted)"


def _answer(approval_id: str, decision: str, for_run: bool = False, note: Optional[str] = None,
            scope: str = "call", hours: Optional[float] = None) -> None:
    from meshclaw.operations.approvals import answer

    ctx = context()
    a = answer(ctx, local_actor(ctx.config), approval_id, decision, for_run=for_run, note=note, scope=scope, hours=hours)
    what = {"arguments": "identical calls", "recipient": "calls to the same recipients and targets"}.get(a.scope)
    extra = ""
    if a.grant_id:
        until = f"until {a.until:%Y-%m-%d %H:%M} UTC" if a.until else "in this run"
        extra = f" (and {what} {until}: grant {a.grant_id}, `meshclaw approvals revoke {a.grant_id}`)"
    typer.echo(f"{a.decision} {a.approval_id}: {a.tool} for run {a.run_id[:12]}{extra}")
    if not (ctx.home / "worker.sock").exists():
        # The waiting run lives in the process that started it, a worker, or nowhere (that process ended).
        typer.echo(f"no worker is running here: if the run's own process has ended, `meshclaw resume {a.run_id[:12]}` "
                   f"finishes it (or start `meshclaw worker`)")


def approve(
    approval_id: str = typer.Argument(..., help="The request id shown by `meshclaw approvals`."),
    scope: str = typer.Option("call", "--scope", help="call: this exact call (default); arguments: identical calls; "
                              "recipient: calls of this tool to exactly these recipients/targets."),
    hours: Optional[float] = typer.Option(None, "--hours", help="A wider scope lasts this many hours in any run "
                                          "of the agent (at most 24) instead of the rest of this run."),
    for_run: bool = typer.Option(False, "--for-run", help="Also approve identical calls later in the same run "
                                 "(same as --scope arguments)."),
) -> None:
    """Approve a pending request; the waiting run resumes and performs the action once. A wider scope
    is a grant, listed by `meshclaw approvals grants` and revocable."""
    _answer(approval_id, "approved", for_run, scope=scope, hours=hours)


def deny(
    approval_id: str = typer.Argument(..., help="The request id shown by `meshclaw approvals`."),
    note: Optional[str] = typer.Option(None, "--note", "--reason", help="Why, for the audit log."),
) -> None:
    """Deny a pending request; the run continues without the action."""
    _answer(approval_id, "denied", note=note)
