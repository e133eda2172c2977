"""Printing a run's steps as they happen (and again from the audit log in `runs show`), and the one
way every command prints text it did not write itself.

Outside content and model answers may carry terminal escape sequences (``ESC ] 0;title BEL``,
``ESC [ 2J``), other C0/C1 controls and bidi overrides. Everything printed through ``console``,
``err_console``, ``escape``, ``safe`` or ``echo`` passes ``meshclaw.domain.visible_text.neutralise``
first, so none of them reaches the terminal; each is shown as a marker such as ``⟨U+001B⟩``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from meshclaw.domain.runs import RunEvent

from rich.console import Console
from rich.markup import escape as _markup_escape

from meshclaw.domain.visible_text import clip, neutralise

__all__ = ["clip", "console", "echo", "err_console", "escape", "neutralise", "print_event", "safe"]


class SafeConsole(Console):
    """A Rich console whose ``print`` neutralises every string it is given (markup included: the
    markers it writes hold no brackets), so no command can print a raw control character by mistake.
    Emoji codes are off: ":warning:" in a task, or "team:m" followed by a colon, is printed as written."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("emoji", False)
        super().__init__(*args, **kwargs)

    def print(self, *objects: Any, **kwargs: Any) -> None:  # type: ignore[override]
        super().print(*(neutralise(o) if isinstance(o, str) else o for o in objects), **kwargs)


console = SafeConsole(highlight=False)
err_console = SafeConsole(stderr=True, highlight=False)


def escape(text: str) -> str:
    """Outside text for a Rich markup string: controls neutralised, brackets never taken as markup."""
    return _markup_escape(neutralise(str(text)))


def safe(text: Any) -> str:
    """Outside text as plain text (a table cell, a line echoed without markup): controls neutralised."""
    return neutralise(str(text))


def echo(text: Any = "", err: bool = False) -> None:
    """``typer.echo`` for text that may hold outside content or a model answer: neutralised first."""
    import typer

    typer.echo(neutralise(str(text)), err=err)

VERDICT_STYLE = {"allow": "green", "ask": "yellow", "deny": "red"}


def _args(args: Any, limit: int = 120) -> str:
    """A call's arguments on one line; a longer text is cut with a visible mark (`runs show ID --full` has all)."""
    return clip(json.dumps(args, ensure_ascii=False, default=str), limit, how_to_see_all="`meshclaw runs show RUN --full`")


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
            console.print(f"        → {escape(clip(event['result'], 300, how_to_see_all='`meshclaw runs show RUN --full`'))}")
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
