"""``meshclaw runs`` and ``meshclaw runs show ID``: past runs with every step, decision and token count."""

from __future__ import annotations

import json
from typing import Optional

import typer

from .app_context import CliError, open_store

app = typer.Typer(help="Past runs: list them, or show one with every step.", invoke_without_command=True)


@app.callback()
def runs(
    ctx: typer.Context,
    agent: Optional[str] = typer.Option(None, "--agent", help="Only this agent's runs."),
    status: Optional[str] = typer.Option(None, "--status", help="Only runs with this status."),
    limit: int = typer.Option(20, "--limit", min=1, max=1000),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List recent runs."""
    if ctx.invoked_subcommand:
        return
    from rich.table import Table

    from .printer import console, escape

    store = open_store()
    rows = store.runs.list(agent=agent, status=status, limit=limit)
    if as_json:
        typer.echo(json.dumps([_run_dict(store, r) for r in rows], indent=2, default=str))
        return
    table = Table("run", "agent", "status", "trigger", "started", "tokens in/out", "task")
    for r in rows:
        t = store.usage.totals(run_id=r.id)
        task = (r.task.splitlines() or [""])[0]  # a trigger's details follow on later lines
        table.add_row(r.id[:12], r.agent, r.status + (" (rehearsal)" if r.rehearsal else ""), r.trigger,
                      r.created_at.strftime("%Y-%m-%d %H:%M:%S"), f"{t.input_tokens}/{t.output_tokens}",
                      escape(task[:50]))
    console.print(table if rows else "no runs yet")


def _run_dict(store, r) -> dict:  # type: ignore[no-untyped-def]
    t = store.usage.totals(run_id=r.id)
    return {"id": r.id, "agent": r.agent, "user": r.user_id, "status": r.status, "trigger": r.trigger, "task": r.task,
            "created_at": r.created_at, "finished_at": r.finished_at, "output": r.output, "error": r.error,
            "rehearsal": r.rehearsal, "usage": {"requests": t.requests, "input_tokens": t.input_tokens,
                                                "output_tokens": t.output_tokens, "cache_read_tokens": t.cache_read_tokens}}


@app.command("show")
def show(run_id: str = typer.Argument(..., help="A run id (a unique prefix is enough)."),
         as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show one run: every model call, guard decision and tool call, with token counts."""
    from .printer import console, escape

    store = open_store()
    run = store.runs.get(run_id)
    if run is None:
        raise CliError(f"no run {run_id!r} (see `meshclaw runs`)")
    records = store.audit.records(run_id=run.id)
    usage = store.usage.for_run(run.id)
    if as_json:
        out = _run_dict(store, run)
        out["steps"] = [{"seq": a.seq, "at": a.at, "kind": a.kind, "tool": a.tool, "verdict": a.verdict,
                         "reason": a.reason, "data": a.data} for a in records]
        out["model_calls"] = [{"model": u.model, "input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
                               "cache_read_tokens": u.cache_read_tokens, "seconds": u.seconds} for u in usage]
        typer.echo(json.dumps(out, indent=2, default=str))
        return
    console.print(f"[bold]run {run.id}[/bold]  agent {run.agent}  owner {run.user_id}  status {run.status}"
                  + ("  (rehearsal)" if run.rehearsal else ""))
    console.print(f"task: {escape(run.task)}")
    for u in usage:
        console.print(f"  model {u.model}: {u.input_tokens} in / {u.output_tokens} out ({u.cache_read_tokens} cached), {u.seconds:.2f} s")
    for a in records:
        if a.kind == "decision":
            console.print(f"  #{a.seq} guard {a.verdict:<5} {a.tool} {escape(_args(a))} — {escape(a.reason or '')}")
        elif a.kind == "call":
            detail = a.data.get("result") if a.verdict == "done" else a.reason
            console.print(f"  #{a.seq} call  {a.verdict:<5} {a.tool} → {escape(str(detail)[:200])}")
        elif a.kind == "captured":
            console.print(f"  #{a.seq} captured {a.tool} {escape(_args(a))} (rehearsal: not executed)")
        elif a.kind == "replayed":
            detail = a.data.get("result") if a.verdict == "done" else a.reason
            console.print(f"  #{a.seq} replayed {a.tool} from run {a.data.get('from_run', '')[:12]} → {escape(str(detail)[:200])}")
        elif a.kind == "model":
            calls = ", ".join(a.data.get("tool_calls") or []) or "text"
            console.print(f"  #{a.seq} model {a.data.get('input_tokens')} in / {a.data.get('output_tokens')} out → {calls}")
        elif a.kind == "run" and a.verdict is None:
            console.print(f"  #{a.seq} started ({a.data.get('trigger')})")
        else:
            console.print(f"  #{a.seq} {a.kind} {a.verdict or ''} {escape(a.reason or '')}")
    t = store.usage.totals(run_id=run.id)
    console.print(f"tokens: {t.input_tokens} in, {t.output_tokens} out, {t.cache_read_tokens} cached, {t.requests} model calls")
    if run.output:
        console.print(f"output: {escape(run.output)}")
    if run.error:
        console.print(f"[red]error: {escape(run.error)}[/red]")


def _args(record) -> str:  # type: ignore[no-untyped-def]
    return json.dumps(record.data.get("args"), ensure_ascii=False, default=str)[:100]
