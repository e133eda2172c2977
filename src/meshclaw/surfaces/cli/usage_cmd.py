"""``meshclaw usage``: your figures (tokens, cost) beside value (outcomes, minutes saved) and waste; your
team's if you manage anyone; organisation aggregates for admins; who read your figures; how each figure
is computed. ``meshclaw metrics``: the Prometheus endpoint (aggregates only)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from typing import Any, Optional

import typer

from .app_context import CliError, context, local_actor

app = typer.Typer(help="Usage that measures value: tokens and cost beside outcomes, minutes saved and waste.",
                  invoke_without_command=True)


def _day(value: Optional[str]) -> Optional[date]:
    """ISO dates, or relative days back from today: 7d, 30d (``operations.usage.day_arg``)."""
    from meshclaw.operations.usage import day_arg

    return day_arg(value)


@app.callback()
def usage(
    ctx: typer.Context,
    team: bool = typer.Option(False, "--team", help="Your direct and indirect reports together."),
    user: Optional[str] = typer.Option(None, "--user", help="One person you manage (or yourself)."),
    org: bool = typer.Option(False, "--org", help="Organisation aggregates (admins, auditors; groups of k or more; "
                             "closed UTC days only, never today)."),
    group: Optional[str] = typer.Option(None, "--group", help="With --org: organisation (default), or team:MANAGER."),
    by: Optional[str] = typer.Option(None, "--by", help="agent, day, model or trigger (--org: day)."),
    since: Optional[str] = typer.Option(None, "--since", help="First day: 2026-11-01, or 7d / 30d (default 30d)."),
    until: Optional[str] = typer.Option(None, "--until", help="Last day (default today; --org: yesterday, closed days only)."),
    chart: bool = typer.Option(True, "--chart/--no-chart", help="Draw a terminal chart with --by."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Your usage over the last 30 days (or --team, --user, --org), with value and waste beside tokens."""
    if ctx.invoked_subcommand:
        return
    from meshclaw.operations import usage as ops

    if sum((team, user is not None, org)) > 1:
        raise CliError("choose one of --team, --user and --org", 2)
    if group is not None and not org:
        raise CliError(f"--group goes with --org (organisation figures): meshclaw usage --org --group {group}", 2)
    first, last = _day(since), _day(until)
    octx = context()
    actor = local_actor(octx.config)
    if org:
        report = ops.org_usage(octx, actor, group=group or "organisation", since=first, until=last, by=by)
    elif team:
        report = ops.team_usage(octx, actor, since=first, until=last, by=by)
    elif user:
        report = ops.person_usage(octx, actor, user, since=first, until=last, by=by)
    else:
        report = ops.my_usage(octx, actor, since=first, until=last, by=by)
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2, default=str))
        return
    _print(report, chart)


def _money(value: Optional[float]) -> str:
    return "-" if value is None else (f"${value:,.4f}" if value < 1 else f"${value:,.2f}")


def _num(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _count(n: int, one: str, many: str) -> str:
    """``1 request``, ``2 requests``."""
    return f"{n:,} {one if n == 1 else many}"


def _print(report: Any, chart: bool) -> None:
    from rich.table import Table

    from .printer import console, escape

    t = report.total
    s = t.sums
    last = report.end - timedelta(days=1)
    title = "Your usage" if report.scope == "me" else f"Usage of {escape(report.subject)}"
    people = f", {_count(report.people, 'person', 'people')}" if report.people is not None else ""
    console.print(f"[bold]{title}[/bold], {report.start} to {last}{people}")
    console.print(f"  tokens       {s.tokens:,} ({s.input_tokens:,} in, {s.output_tokens:,} out, "
                  f"{s.cached_tokens:,} cached, {s.reasoning_tokens:,} reasoning) in "
                  f"{_count(s.requests, 'request', 'requests')}")
    console.print(f"  cost         {_money(s.cost)}   model time {s.latency_s:,.1f} s")
    console.print(f"  outcomes     {escape(_outcomes(t.outcomes, t.accepted))}")
    console.print(f"  time saved   {t.minutes_saved:,.0f} min")
    console.print(f"  per accepted outcome: {_num(t.tokens_per_accepted)} tokens, {_money(t.cost_per_accepted)}")
    if report.rows:
        table = Table(show_edge=False, pad_edge=False)
        for col in (report.by, "tokens", "cost", "accepted", "min saved", "tokens/accepted"):
            table.add_column(col, justify="left" if col == report.by else "right")
        for key, f in report.rows:
            table.add_row(escape(key), f"{f.sums.tokens:,}", _money(f.sums.cost), str(f.accepted),
                          f"{f.minutes_saved:,.0f}", _num(f.tokens_per_accepted))
        console.print(table)
        if chart:
            console.print(_chart(report), markup=False, highlight=False)
    if report.waste:
        console.print("[bold]Waste[/bold] (with what to do about it)")
        for w in report.waste:
            console.print(f"  {w.kind}: {escape(w.agent)} — {escape(w.detail)}; {w.tokens:,} tokens. "
                          f"[green]Suggestion:[/green] {escape(w.suggestion)}")
    for note in report.notes:
        console.print(f"[dim]{escape(note)}[/dim]")


def _outcomes(counts: dict[str, int], accepted: int) -> str:
    """``3 accepted (meeting_booked 1, message_filed 2); not accepted: draft_unsent 6``: each kind on the
    side ``operations.usage_value.KINDS`` puts it."""
    from meshclaw.operations.usage_value import KINDS

    if not counts:
        return "none"

    def kinds(yes: bool) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if KINDS[k].accepted == yes)

    line = f"{accepted} accepted" + (f" ({kinds(True)})" if kinds(True) else "")
    return line + (f"; not accepted: {kinds(False)}" if kinds(False) else "")


def _chart(report: Any) -> str:
    """Tokens per row as a terminal bar chart (plotext 6's figure API), sized to the console, no colours."""
    import plotext as plt

    from .printer import console

    fig = plt.figure
    fig.clear()
    fig.plot_size(max(40, min(console.width, 100)), 14)
    fig.theme("clear")
    fig.draw(fig.bar([k for k, _ in report.rows], [f.sums.tokens for _, f in report.rows]))
    fig.title(f"tokens by {report.by}")
    return fig.build().string(colorless=True)


@app.command("reads")
def reads(since: Optional[str] = typer.Option(None, "--since", help="2026-11-01, or 7d / 30d")) -> None:
    """Who read your usage figures (and who tried), newest first, with the days each reader saw."""
    from rich.table import Table

    from meshclaw.operations.usage import usage_reads

    from .printer import console

    first = _day(since)
    octx = context()
    found = usage_reads(octx, local_actor(octx.config),
                        since=datetime.combine(first, datetime.min.time(), timezone.utc) if first else None)
    if not found:
        console.print("nobody else has read your usage figures")
        return
    # A grid: a line too long for the terminal wraps inside its own column, under its text, and the
    # verdict leads the text, so no word of it is left alone on a line of its own.
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)
    table.add_column()
    for r in found:
        table.add_row(f"{r.at:%Y-%m-%d %H:%M}", _read_line(r.data, r.verdict))
    console.print(table)


def _days(first: str, last: str) -> str:
    return first if first == last else f"{first} to {last}"


def _read_line(d: dict, verdict: Optional[str]) -> str:
    """One read of your figures in words (markup; outside text escaped): who, the scope, the days seen
    (``seen``) and, when fewer, how many of the days asked for they were; a refusal says so first, with
    the period asked for."""
    from .printer import escape

    who, scope = escape(str(d.get("actor"))), escape(str(d.get("scope")))
    asked = _days(str(d.get("since")), str(d.get("until")))
    if verdict != "done":
        return f"[red]{escape(verdict or 'unknown')}[/red]: {who} tried to read your figures ({scope}, {escape(asked)})"
    seen = d.get("seen")
    if seen is None:  # recorded before the days seen were kept
        return f"{who} read your figures ({scope}; asked for {escape(asked)})"
    try:
        spans = [(date.fromisoformat(a), date.fromisoformat(b)) for a, b in seen]
        total = (date.fromisoformat(str(d.get("until"))) - date.fromisoformat(str(d.get("since")))).days + 1
    except (TypeError, ValueError):
        return f"{who} read your figures ({scope}; asked for {escape(asked)}; days seen: {escape(str(seen))})"
    days = sum((b - a).days + 1 for a, b in spans)
    shown = ", ".join(_days(a.isoformat(), b.isoformat()) for a, b in spans) or "no day"
    of = "" if days == total else f" ({days} of {_count(total, 'day', 'days')} asked for)"
    return f"{who} read your figures ({scope}): {shown}{of}"


@app.command("explain")
def explain() -> None:
    """Exactly how each figure is computed, with this configuration's numbers."""
    from meshclaw.operations.usage_explain import explain as sections

    from .app_context import load
    from .printer import console, escape

    for title, lines in sections(load()):
        console.print(f"[bold]{escape(title)}[/bold]")
        for line in lines:
            console.print(escape(line) if line.startswith("  ") else f"- {escape(line)}")


@app.command("groups")
def groups() -> None:
    """The groups organisation figures can be asked for (admins and auditors)."""
    from meshclaw.operations.usage import org_groups

    from .printer import console

    octx = context()
    for name, size in sorted(org_groups(octx, local_actor(octx.config)).items()):
        console.print(f"{name}: {_count(size, 'person', 'people')}")


@app.command("prune")
def prune() -> None:
    """Delete raw usage events past usage.retention_days (admins). Reported totals do not change."""
    from meshclaw.operations.usage import prune as do_prune

    octx = context()
    typer.echo(f"pruned {do_prune(octx, local_actor(octx.config))} usage events")


def metrics(
    port: int = typer.Option(9464, "--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free port, printed)."),
    group: list[str] = typer.Option([], "--group", help="Groups to export (default: every group)."),
) -> None:
    """Serve Prometheus metrics on 127.0.0.1: organisation aggregates only, under the same k rule, over
    closed UTC days (windows 1d and 30d end yesterday)."""
    from meshclaw.surfaces.metrics import serve

    from .printer import console

    octx = context()
    actor = local_actor(octx.config)
    try:
        server = serve(octx, actor, port=port, groups=group or None)
    except OSError as e:
        raise CliError(f"cannot listen on 127.0.0.1:{port}: {e.strerror}") from None
    console.print(f"serving usage metrics on http://127.0.0.1:{server.server_port}/metrics (Ctrl-C stops)")
    try:
        server.serve_forever()
    finally:
        server.server_close()
