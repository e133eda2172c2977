"""``meshclaw runs`` and ``meshclaw runs show ID``: past runs with every step, decision and token count,
as far as this login's user may read them."""

from __future__ import annotations

import json
from typing import Optional

import typer

from meshclaw.domain.visible_text import clip

from .app_context import context, local_actor

app = typer.Typer(help="Past runs: list them, or show one with every step.", invoke_without_command=True)


@app.callback()
def runs(
    ctx: typer.Context,
    agent: Optional[str] = typer.Option(None, "--agent", help="Only this agent's runs."),
    status: Optional[str] = typer.Option(None, "--status", help="Only runs with this status."),
    limit: int = typer.Option(20, "--limit", min=1, max=1000),
    since: Optional[str] = typer.Option(None, "--since", help="Only runs started since: 2026-11-23, 2026-11-23T09:00, 30m, 12h, 7d."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List recent runs (your agents', and your reports' if you manage anyone)."""
    if ctx.invoked_subcommand:
        return
    from rich.table import Table

    from meshclaw.operations.runs import list_runs

    from .audit_cmd import _when
    from .printer import console, escape, safe

    after = _when(since)  # a bad --since is one line before anything opens
    octx = context()
    rows = list_runs(octx, local_actor(octx.config), agent=agent, status=status, limit=limit, since=after)
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in rows], indent=2, default=str))
        return
    # Readable at 80 columns: the id people copy is never cut; tokens and trigger are in `runs show`.
    table = Table(box=None, pad_edge=False, caption="* a rehearsal" if any(r.rehearsal for r in rows) else None, caption_justify="left")
    table.add_column("run", no_wrap=True, min_width=12)
    agent_w = min(18, max([len(r.agent) for r in rows] + [5]))
    status_w = max([len(r.status) + 1 for r in rows] + [6])
    # Only the task is cut to fit: the agent (already cut to agent_w), status and time are kept whole.
    for name, width in (("agent", agent_w), ("status", status_w), ("started", 11), ("task", None)):
        table.add_column(name, no_wrap=True, min_width=width)
    task_w = max(10, console.width - (12 + agent_w + status_w + 11 + 2 * 4) - 1)
    for r in rows:
        task = (r.task.splitlines() or [""])[0]  # a trigger's details follow on later lines
        table.add_row(r.id[:12], safe(_cut(r.agent, agent_w)), r.status + ("*" if r.rehearsal else ""),
                      r.created_at.strftime("%m-%d %H:%M"), escape(_cut(task, task_w)))
    console.print(table if rows else ("no runs since " + since if since else "no runs yet"))


@app.command("show")
def show(run_id: str = typer.Argument(..., help="A run id (a unique prefix is enough)."),
         as_json: bool = typer.Option(False, "--json", help="Print JSON."),
         full: bool = typer.Option(False, "--full", help="Print every argument and result whole (long ones are cut, with a mark, otherwise).")) -> None:
    """Show one run: every model call, guard decision and tool call, with token counts."""
    from meshclaw.operations.runs import show_run

    from .printer import console, escape

    octx = context()
    detail = show_run(octx, local_actor(octx.config), run_id)
    if as_json:
        typer.echo(json.dumps(detail.as_dict(), indent=2, default=str))
        return
    run = detail.run
    console.print(f"[bold]run {run.id}[/bold]  agent {run.agent}  owner {run.user_id}  status {run.status}"
                  + ("  (rehearsal)" if run.rehearsal else ""))
    if run.model:
        console.print(f"model: {escape(run.model)} (as configured)")
    console.print(f"task: {escape(run.task)}")
    for u in detail.model_calls:
        console.print(f"  model {escape(run.model or u.model)}: {u.input_tokens} in / {u.output_tokens} out ({u.cache_read_tokens} cached), {u.seconds:.2f} s")
    for a in detail.steps:
        console.print(_step(a, escape, full))
    t = run.usage
    console.print(f"tokens: {t.input_tokens} in, {t.output_tokens} out, {t.cache_read_tokens} cached, {t.requests} model calls"
                  if t is not None else f"tokens: not shown (only {run.user_id} and their managers see their usage)")
    if run.output:
        console.print(f"output: {escape(run.output)}")
    if run.error:
        console.print(f"[red]error: {escape(run.error)}[/red]")


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _step(a, escape, full: bool = False) -> str:  # type: ignore[no-untyped-def]
    def cut(text: str, limit: int) -> str:  # never silently: the mark says how much, --full shows it
        return text if full else clip(text, limit, how_to_see_all="--full shows all")

    if a.kind == "decision":
        return f"  #{a.seq} guard {a.verdict:<5} {a.tool} {escape(cut(_args(a), 100))} — {escape(a.reason or '')}"
    if a.kind == "call":
        detail = a.data.get("result") if a.verdict == "done" else a.reason
        return f"  #{a.seq} call  {a.verdict:<5} {a.tool} → {escape(cut(str(detail), 200))}"
    if a.kind == "captured":
        return f"  #{a.seq} captured {a.tool} {escape(cut(_args(a), 100))} (rehearsal: not executed)"
    if a.kind == "replayed":
        detail = a.data.get("result") if a.verdict == "done" else a.reason
        return f"  #{a.seq} replayed {a.tool} from run {a.data.get('from_run', '')[:12]} → {escape(cut(str(detail), 200))}"
    if a.kind == "model":
        calls = ", ".join(a.data.get("tool_calls") or []) or "text"
        if a.data.get("usage") == "withheld":
            return f"  #{a.seq} model → {calls}"
        return f"  #{a.seq} model {a.data.get('input_tokens')} in / {a.data.get('output_tokens')} out → {calls}"
    if a.kind == "run" and a.verdict is None:
        return f"  #{a.seq} started ({a.data.get('trigger')})"
    if a.kind == "operation":
        return f"  #{a.seq} {a.data.get('operation')} by {a.data.get('actor')} {a.verdict or ''}"
    return f"  #{a.seq} {a.kind} {a.verdict or ''} {escape(a.reason or '')}"


def _args(record) -> str:  # type: ignore[no-untyped-def]
    return json.dumps(record.data.get("args"), ensure_ascii=False, default=str)
