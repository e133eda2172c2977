"""``meshclaw approvals``, ``meshclaw approve ID``, ``meshclaw deny ID``: as the user this login maps to."""

from __future__ import annotations

import json
from typing import Optional

import typer

from .app_context import context, local_actor


def approvals(
    user: Optional[str] = typer.Option(None, "--user", help="Only requests for this user's agents."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    full: bool = typer.Option(False, "--full", help="Print every argument whole (a long one is cut, with a mark saying how much, otherwise)."),
) -> None:
    """List the pending approval requests you may answer: the exact action, its arguments, where each
    came from, and why. Invisible and control characters in a value are shown as markers (⟨U+202E⟩)."""
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
        console.print(f"    expires {a.expires_at:%Y-%m-%d %H:%M} UTC — `meshclaw approve {a.id}` or `meshclaw deny {a.id}`")


def origin_words(origin: dict) -> str:
    """Where one argument's value came from, in plain words (``origin``: value, source, trust)."""
    if origin.get("trust") == "unknown":
        return "not found in anything the run read — the model wrote it"
    if origin.get("trust") == "untrusted":
        return f"came from {origin.get('source')}, which is outside content (not trusted)"
    return f"came from {origin.get('source')} (trusted)"


def _answer(approval_id: str, decision: str, for_run: bool = False, note: Optional[str] = None) -> None:
    from meshclaw.operations.approvals import answer

    ctx = context()
    a = answer(ctx, local_actor(ctx.config), approval_id, decision, for_run=for_run, note=note)
    typer.echo(f"{a.decision} {a.approval_id}: {a.tool} for run {a.run_id[:12]}"
               + (" (and identical calls in this run)" if a.for_run else ""))


def approve(
    approval_id: str = typer.Argument(..., help="The request id shown by `meshclaw approvals`."),
    for_run: bool = typer.Option(False, "--for-run", help="Also approve identical calls later in the same run."),
) -> None:
    """Approve a pending request; the waiting run resumes and performs the action once."""
    _answer(approval_id, "approved", for_run)


def deny(
    approval_id: str = typer.Argument(..., help="The request id shown by `meshclaw approvals`."),
    note: Optional[str] = typer.Option(None, "--note", help="Why, for the audit log."),
) -> None:
    """Deny a pending request; the run continues without the action."""
    _answer(approval_id, "denied", note=note)
