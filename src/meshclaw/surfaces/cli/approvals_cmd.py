"""``meshclaw approvals``, ``meshclaw approve ID``, ``meshclaw deny ID``."""

from __future__ import annotations

import json
from typing import Optional

import typer

from .app_context import CliError, actor, home, open_store
from .home import store_url


def approvals(
    user: Optional[str] = typer.Option(None, "--user", help="Only requests for this user's agents."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List pending approval requests: the exact action, its arguments, where each came from, and why."""
    from .printer import console, escape

    store = open_store()
    pending = store.approvals.pending(user_id=user)
    if as_json:
        typer.echo(json.dumps([{"id": a.id, "run": a.run_id, "agent": a.agent, "user": a.user_id, "tool": a.tool,
                                "args": a.args, "origins": a.origins, "reason": a.reason,
                                "expires_at": a.expires_at} for a in pending], indent=2, default=str))
        return
    if not pending:
        console.print("no pending approvals")
    for a in pending:
        console.print(f"[bold]{a.id}[/bold]  {a.agent} (for {a.user_id}) wants to run [bold]{a.tool}[/bold]  run {a.run_id[:12]}")
        for k, v in a.args.items():
            console.print(f"    {escape(k)} = {escape(json.dumps(v, ensure_ascii=False, default=str)[:200])}")
        for k, origins in a.origins.items():
            for o in origins:
                console.print(f"    [dim]{escape(k)}: {escape(repr(o['value']))} from {o['source']} ({o['trust']})[/dim]")
        console.print(f"    why asked: {escape(a.reason)}")
        console.print(f"    expires {a.expires_at:%Y-%m-%d %H:%M} UTC — `meshclaw approve {a.id}` or `meshclaw deny {a.id}`")


def _answer(approval_id: str, decision: str, by: Optional[str], for_run: bool = False, note: Optional[str] = None) -> None:
    from meshclaw.runtime.control import answer_approval

    store = open_store()
    try:
        a = store.approvals.decide(approval_id, decision, actor(by), scope="run" if for_run else "call", note=note)
    except LookupError as e:
        raise CliError(str(e)) from None
    store.audit.append(f"{a.event_key}:{decision}", "approval", run_id=a.run_id, agent=a.agent, user_id=a.user_id,
                       tool=a.tool, verdict=decision, reason=note,
                       data={"approval": a.id, "by": actor(by), "scope": a.scope, "args": a.args})
    answer_approval(home(), store_url(), a.run_id, a.id, decision)
    typer.echo(f"{decision} {a.id}: {a.tool} for run {a.run_id[:12]}" + (" (and identical calls in this run)" if for_run else ""))


def approve(
    approval_id: str = typer.Argument(..., help="The request id shown by `meshclaw approvals`."),
    for_run: bool = typer.Option(False, "--for-run", help="Also approve identical calls later in the same run."),
    by: Optional[str] = typer.Option(None, "--by", help="Who approves (default: the current login)."),
) -> None:
    """Approve a pending request; the waiting run resumes and performs the action once."""
    _answer(approval_id, "approved", by, for_run)


def deny(
    approval_id: str = typer.Argument(..., help="The request id shown by `meshclaw approvals`."),
    note: Optional[str] = typer.Option(None, "--note", help="Why, for the audit log."),
    by: Optional[str] = typer.Option(None, "--by", help="Who denies (default: the current login)."),
) -> None:
    """Deny a pending request; the run continues without the action."""
    _answer(approval_id, "denied", by, note=note)
