"""Printing a run's steps as they happen (and again from the audit log in `runs show`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from meshclaw.domain.runs import RunEvent

from rich.console import Console
from rich.markup import escape

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

VERDICT_STYLE = {"allow": "green", "ask": "yellow", "deny": "red"}


def _args(args: Any, limit: int = 120) -> str:
    text = json.dumps(args, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def print_event(event: "RunEvent | dict[str, Any]") -> None:
    """Print one run event (typed, or its wire form from the worker) as a line or two."""
    from meshclaw.domain.runs import RunEvent

    if isinstance(event, RunEvent):
        event = event.as_dict()
    kind = event.get("kind")
    if kind == "run" and event.get("status") == "running":
        console.print(f"[bold]▶ {event['agent']}[/bold]: {escape(event['task'])}")
    elif kind == "model":
        console.print(
            f"  [dim]model: {event['input_tokens']} in / {event['output_tokens']} out tokens"
            f" ({event.get('cache_read_tokens', 0)} cached), {event['seconds']:.2f} s[/dim]"
        )
    elif kind == "tool":
        style = VERDICT_STYLE.get(event["verdict"], "white")
        console.print(f"  [{style}]{event['verdict']:>5}[/{style}] {event['tool']} {escape(_args(event['args']))}")
        console.print(f"        [dim]{escape(event['reason'])}[/dim]")
        if event.get("error"):
            console.print(f"        [red]failed: {escape(event['error'])}[/red]")
        elif event.get("result") is not None:
            console.print(f"        → {escape(event['result'][:300])}")
    elif kind == "alert":
        console.print(f"  [magenta]alert[/magenta]: {escape(event['message'])}")
    elif kind == "approval":
        console.print(f"  [yellow]waiting for approval {event['id']}[/yellow]: {escape(event['reason'])}")
        console.print(f"        approve with `meshclaw approve {event['id']}` or deny with `meshclaw deny {event['id']}`")
    elif kind == "run":
        status = event["status"]
        style = "green" if status == "succeeded" else "red"
        console.print(f"[{style}]■ {status}[/{style}]")
        if event.get("output"):
            console.print(escape(event["output"]))
        if event.get("error"):
            console.print(f"[red]{escape(event['error'])}[/red]")
