"""Starting, rehearsing, listing, showing and resuming runs.

Whether a run rehearses is the runtime's decision (an agent not yet promoted only rehearses, a
stopped one does not start): these functions ask for a rehearsal when a person does, and report
what the run's row says it became.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from meshclaw.domain.errors import NotFound, UsageError

from .actor import Actor
from .authority import readable_users, require_act, require_read
from .context import Context, agent_named
from .journal import record
from .records import ModelCall, RunDetail, RunSummary, AuditEntry
from .usage_access import UsageAccess

Listener = Callable[[dict[str, Any]], None]


def new_agent_notice(agent: str) -> str:
    """What a person is told when their run of a not-yet-promoted agent became a rehearsal."""
    return (f"{agent} is new, so this is a rehearsal: writes are captured, not executed. "
            f"Promote it with `meshclaw promote {agent}` to let it act.")


@dataclass(frozen=True)
class StartedRun:
    """A run that has started; ``notice`` is set when it rehearses although no rehearsal was asked for."""

    run_id: str
    agent: str
    rehearsal: bool
    notice: str | None = None


@dataclass(frozen=True)
class FinishedRun:
    """How a run ended; ``summary`` lists a rehearsal's captured writes and replayed reads."""

    run_id: str
    agent: str
    status: str
    output: str | None
    error: str | None
    rehearsal: bool
    notice: str | None = None
    summary: list[str] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


async def start_run(runtime: Any, actor: Actor, agent: str, task: str, *, rehearse: bool = False,
                    inputs_from: str | None = None, listeners: list[Listener] | None = None) -> StartedRun:
    """Start a run of ``agent`` on ``task`` in ``runtime`` (a launched ``Runtime``), acting as ``actor``.

    ``inputs_from`` (a run id or unique prefix) makes it a rehearsal whose reads come from that run.
    Raises UsageError (empty task, bad ``inputs_from``), NotFound (no such agent), NotAuthorized
    (only the owner, a delegate or an admin may run an agent), and the runtime's RunStopped."""
    ctx = Context.of_runtime(runtime)
    if not task.strip():
        raise UsageError("the task is empty: say what the agent should do")
    target = agent_named(ctx.config, agent)
    operation = "rehearse" if rehearse or inputs_from is not None else "run"
    require_act(ctx, actor, target, operation)
    asked = rehearse or inputs_from is not None
    try:
        run_id = await runtime.start(target.name, task, rehearsal=asked, listeners=listeners, inputs_from=inputs_from)
    except ValueError as e:  # a bad --inputs-from: nothing was started
        raise UsageError(str(e)) from None
    row = ctx.store.runs.get(run_id)
    rehearsal = bool(row.rehearsal) if row is not None else asked
    record(ctx, actor, operation, agent=target.name, owner=target.owner, run_id=run_id, rehearsal=rehearsal)
    return StartedRun(run_id, target.name, rehearsal, new_agent_notice(target.name) if rehearsal and not asked else None)


async def finish(runtime: Any, started: StartedRun) -> FinishedRun:
    """Wait for a started run to end; a rehearsal's result carries its summary."""
    outcome = await runtime.wait(started.run_id)
    summary = rehearsal_summary(runtime.store, started.run_id) if started.rehearsal else []
    return FinishedRun(outcome.run_id, started.agent, outcome.status, outcome.output, outcome.error, started.rehearsal,
                       started.notice, summary)


async def cancel_run(runtime: Any, actor: Actor, started: StartedRun, why: str) -> FinishedRun:
    """Cancel a run this actor started (Ctrl-C): nothing it had not done yet is ever carried out, by this
    process, a worker or ``meshclaw resume``; it ends ``cancelled`` saying how many calls had completed."""
    ctx = Context.of_runtime(runtime)
    target = agent_named(ctx.config, started.agent)
    require_act(ctx, actor, target, "cancel")
    outcome = await runtime.cancel(started.run_id, why)
    record(ctx, actor, "cancel", agent=target.name, owner=target.owner, run_id=started.run_id)
    return FinishedRun(outcome.run_id, started.agent, outcome.status, outcome.output, outcome.error, started.rehearsal,
                       started.notice, [])


def rehearsal_summary(store: Any, run_id: str) -> list[str]:
    """What a rehearsal would have done (its captured writes), and where its reads came from, as lines."""

    def args(r: Any) -> str:
        return json.dumps(r.data.get("args"), ensure_ascii=False, default=str)

    records = store.audit.records(run_id=run_id)
    captured = [r for r in records if r.kind == "captured"]
    lines = [f"rehearsal: {len(captured)} write(s) captured, none executed" + (":" if captured else "")]
    lines += [f"  would {r.tool} {args(r)}" for r in captured]
    replayed = [r for r in records if r.kind == "replayed"]
    if replayed:
        missing = [r for r in replayed if r.verdict != "done"]
        lines.append(f"reads: {len(replayed) - len(missing)} answered from run {replayed[0].data['from_run']}, "
                     f"{len(missing)} not recorded" + (":" if missing else ""))
        lines += [f"  not recorded: {r.tool} {args(r)}" for r in missing]
    return lines


def list_runs(ctx: Context, actor: Actor, *, agent: str | None = None, status: str | None = None,
              limit: int = 20, since: Any = None) -> list[RunSummary]:
    """Recent runs, newest first, of the agents whose owners ``actor`` may read (see ``authority``);
    ``since`` (an aware datetime) keeps runs started at or after it."""
    rows = ctx.store.runs.list(agent=agent, status=status, limit=limit, user_ids=readable_users(ctx.config, actor),
                               since=since)
    access = UsageAccess(ctx, actor)
    return [_shown(RunSummary.of(ctx.store, r), access) for r in rows]


def _shown(run: RunSummary, access: UsageAccess) -> RunSummary:
    """The run with its token counts only where they are the reader's to see (``usage_access``)."""
    return run if access.allows(run.user_id, run.created_at) else replace(run, usage=None)


def show_run(ctx: Context, actor: Actor, run_id: str) -> RunDetail:
    """One run (id or unique prefix) with every step. Raises NotFound, or NotAuthorized for a run
    of an agent whose owner ``actor`` may not read."""
    run = ctx.store.runs.get(run_id)
    if run is None:
        raise NotFound(f"no run {run_id!r} (see `meshclaw runs`)")
    require_read(ctx, actor, run.user_id, f"run {run.id[:12]} of {run.user_id}'s agent {run.agent}")
    access = UsageAccess(ctx, actor)
    steps = [access.entry(AuditEntry.of(r)) for r in ctx.store.audit.records(run_id=run.id)]
    calls = [ModelCall(u.model, u.input_tokens, u.output_tokens, u.cache_read_tokens, u.seconds)
             for u in ctx.store.usage.for_run(run.id)] if access.allows(run.user_id, run.created_at) else []
    return RunDetail(_shown(RunSummary.of(ctx.store, run), access), steps, calls)


@dataclass(frozen=True)
class ResumedRun:
    run_id: str
    status: str
    error: str | None


def resume(runtime: Any, actor: Actor, executors: list[str] | None = None,
           on_waiting: Callable[[str, list[str]], None] | None = None) -> list[ResumedRun]:
    """Finish the runs that crashed processes left pending, waiting for each (no completed step repeats).

    A run that waits for a person's approval is waited for too; ``on_waiting(run_id, approval_ids)``
    is called once when it starts waiting, so the person knows what to answer.
    Any mapped user may do this: the runs were started with authority and go on exactly as they
    were; the act is audited. ``executors`` also takes over those executor ids now."""
    import time

    ctx = Context.of_runtime(runtime)
    handles = runtime.recover(list(executors or []))
    out = []
    told: set[str] = set()
    left = list(handles)
    while left:
        for h in list(left):
            run = ctx.store.runs.get(h.workflow_id)
            state = h.get_status()
            if state is not None and state.status not in ("PENDING", "ENQUEUED"):
                out.append(ResumedRun(h.workflow_id, run.status if run else str(state.status), run.error if run else None))
                left.remove(h)
            elif run is not None and run.status == "waiting" and run.id not in told and on_waiting is not None:
                told.add(run.id)
                on_waiting(run.id, [a.id for a in ctx.store.approvals.pending(run_id=run.id)])
        if left:
            time.sleep(0.2)
    record(ctx, actor, "resume", runs=[r.run_id for r in out], executors=list(executors or []))
    return out
