"""Waste: runs that spent tokens for nothing, each finding with a suggestion for its owner.

Findings are shown to the employee whose agents they concern first: a manager's view of a report
includes only findings older than ``WASTE_PRIVATE_DAYS``, so the employee can act before anyone
else sees them. The kinds (``meshclaw usage explain`` prints these rules):

- ``duplicate``: two or more runs of one agent whose tasks are the same or nearly (similarity ≥ 0.9)
  within ``usage.duplicate_window_minutes``; all but the first are counted.
- ``loop``: a run that called the same tool with the same arguments 3 times or more, or whose run
  was retried after it failed (the same task again within the window).
- ``unread``: a run started by a schedule or an event that produced no outcome and made no change:
  its answer sits in the run record where nobody reads it. Not a run a person started (trigger
  ``manual``), nor a memory consolidation (``memory.dream``: its work is the agent's memory).
- ``idle-schedule``: an agent with a schedule that ran 3 times or more in the period and produced no
  accepted outcome (only its ``cron`` runs count; consolidations are never among them).
- ``jump``: an agent whose tokens per accepted outcome over the last 7 days are ``usage.jump_factor``
  times (or more) what they were before in the period (at least 3 outcomes on each side).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from difflib import SequenceMatcher
from typing import Any, Callable

from meshclaw.domain.runs import AuditKind

WASTE_PRIVATE_DAYS = 7
SIMILAR = 0.9
CONSOLIDATION_TRIGGER = "dream"  # what surfaces/dreams.py and operations/memory.py start a consolidation with


@dataclass(frozen=True)
class Finding:
    kind: str
    agent: str
    user_id: str
    runs: int
    tokens: int
    detail: str
    suggestion: str
    at: datetime  # the newest run it concerns

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "agent": self.agent, "user": self.user_id, "runs": self.runs, "tokens": self.tokens,
                "detail": self.detail, "suggestion": self.suggestion, "at": self.at.isoformat()}


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def _norm(task: str) -> str:
    return " ".join(task.lower().split())


def findings(ctx: Any, user_ids: list[str], since: datetime, until: datetime, outcomes: list[Any],
             run_tokens: "dict[str, int] | Callable[[list[str]], dict[str, int]]") -> list[Finding]:
    """Waste among the runs of ``user_ids``' agents created in ``[since, until)``. ``outcomes``: the
    value module's outcomes for the same people; ``run_tokens``: tokens of each run (kept totals), or a
    function of the run ids giving them (called once, so they are read only when there are runs)."""
    runs = [r for r in ctx.store.runs.list(user_ids=user_ids, since=since, limit=1_000_000)
            if _aware(r.created_at) < until and not r.rehearsal]
    if callable(run_tokens):
        run_tokens = run_tokens([r.id for r in runs])
    runs.sort(key=lambda r: _aware(r.created_at))
    by_run: dict[str, list[Any]] = {}
    for o in outcomes:
        by_run.setdefault(o.run_id, []).append(o)
    window = timedelta(minutes=ctx.config.usage.duplicate_window_minutes)
    out: list[Finding] = []
    out += _duplicates(runs, window, run_tokens, by_run)
    out += _loops(ctx, runs, user_ids, since, run_tokens, window)
    out += _unread(ctx, runs, run_tokens, by_run)
    out += _idle_schedules(ctx, runs, run_tokens, by_run)
    out += _jumps(ctx, runs, run_tokens, by_run, until, ctx.config.usage.jump_factor)
    return sorted(out, key=lambda f: (-f.tokens, f.kind, f.agent))


def _duplicates(runs: list[Any], window: timedelta, tokens: dict[str, int], by_run: dict[str, list[Any]]) -> list[Finding]:
    out = []
    groups: list[list[Any]] = []
    for r in runs:
        for g in groups:
            first = g[0]
            if (first.agent == r.agent and _aware(r.created_at) - _aware(g[-1].created_at) <= window
                    and SequenceMatcher(None, _norm(first.task), _norm(r.task)).ratio() >= SIMILAR):
                g.append(r)
                break
        else:
            groups.append([r])
    for g in groups:
        if len(g) < 2 or all(by_run.get(r.id) for r in g[1:]):
            continue
        extra = g[1:]
        manual = all(r.trigger == "manual" for r in g)
        out.append(Finding("duplicate", g[0].agent, g[0].user_id, len(extra), sum(tokens.get(r.id, 0) for r in extra),
                           f"{len(extra)} run(s) repeated an earlier one's task within "
                           f"{int(window.total_seconds() // 60)} min ({len(g)} in all): {g[0].task[:60]!r}",
                           "reuse the first run's answer" + (" instead of starting the task again" if manual else
                                                             "; check what starts this agent twice"),
                           _aware(g[-1].created_at)))
    return out


def _loops(ctx: Any, runs: list[Any], user_ids: list[str], since: datetime, tokens: dict[str, int],
           window: timedelta) -> list[Finding]:
    out = []
    wanted = {r.id for r in runs}
    counts: dict[str, dict[str, int]] = {}
    for rec in ctx.store.audit.records(kind=AuditKind.CALL.value, since=since, user_ids=user_ids):
        if rec.run_id in wanted:
            key = f"{rec.tool} {json.dumps((rec.data or {}).get('args') or {}, sort_keys=True, default=str)}"
            counts.setdefault(rec.run_id, {}).setdefault(key, 0)
            counts[rec.run_id][key] += 1
    for r in runs:
        repeated = max((n for n in counts.get(r.id, {}).values()), default=0)
        if repeated >= 3 and not _workflow(r):  # a workflow's code repeats a call by design (a re-check)
            out.append(Finding("loop", r.agent, r.user_id, 1, tokens.get(r.id, 0),
                               f"run {r.id[:12]} made the same call {repeated} times",
                               "lower its limits.tool_calls_per_run, or tell it in its instructions when to stop",
                               _aware(r.created_at)))
    for a, b in zip(runs, runs[1:]):
        if (a.status == "failed" and b.agent == a.agent and _norm(a.task) == _norm(b.task)
                and _aware(b.created_at) - _aware(a.created_at) <= window):
            out.append(Finding("loop", b.agent, b.user_id, 1, tokens.get(a.id, 0),
                               f"run {a.id[:12]} failed and was started again with the same task",
                               "fix what made it fail (see `meshclaw runs show`) before running it again",
                               _aware(b.created_at)))
    return out


def _workflow(run: Any) -> bool:
    """Whether ``run`` is a structured workflow's (``agents[].workflow``): its code, not a model, chooses
    each call, so a repeated call (a health check re-checked before a rollback, a poll) is its design
    and costs no model request; only a model proposing the same call again and again is a loop."""
    return bool(((run.snapshot or {}).get("agent") or {}).get("workflow"))


def consolidation(run: Any) -> bool:
    """Whether ``run`` is a memory consolidation (workflow ``memory.dream``, trigger ``dream``, nightly
    or ``meshclaw memory dream``): its work is the agent's memory, not something a person reads."""
    from meshclaw.runtime.memory.episodes import DREAM_WORKFLOW

    agent = (run.snapshot or {}).get("agent") or {}
    return run.trigger == CONSOLIDATION_TRIGGER or agent.get("workflow") == DREAM_WORKFLOW


def _started_by(triggers: set[str]) -> str:
    """``a schedule`` (cron), ``an event (email.received)``, or both, for the runs' triggers."""
    events = sorted(t for t in triggers if not t.startswith("cron"))
    said = [*(["a schedule"] if len(events) < len(triggers) else []),
            *([f"an event ({', '.join(events)})"] if events else [])]
    return " or ".join(said)


def _unread(ctx: Any, runs: list[Any], tokens: dict[str, int], by_run: dict[str, list[Any]]) -> list[Finding]:
    per_agent: dict[tuple[str, str], list[Any]] = {}
    for r in runs:  # a person started a manual run and reads its answer; a consolidation is read by no one
        if ((r.trigger or "manual") != "manual" and not consolidation(r) and not by_run.get(r.id)
                and r.status in ("succeeded", "no-answer")):
            per_agent.setdefault((r.agent, r.user_id), []).append(r)
    return [Finding("unread", agent, user, len(rs), sum(tokens.get(r.id, 0) for r in rs),
                    f"{len(rs)} run{'s' if len(rs) != 1 else ''} started by {_started_by({r.trigger for r in rs})} "
                    "produced nothing anyone read or acted on",
                    "have it send or file its result, or pause it (`meshclaw stop " + agent + "`)",
                    _aware(rs[-1].created_at)) for (agent, user), rs in per_agent.items()]


def _idle_schedules(ctx: Any, runs: list[Any], tokens: dict[str, int], by_run: dict[str, list[Any]]) -> list[Finding]:
    out = []
    scheduled = {a.name for a in ctx.config.agents if any(t.cron for t in a.triggers)}
    per_agent: dict[str, list[Any]] = {}
    for r in runs:
        if r.agent in scheduled and (r.trigger or "").startswith("cron"):
            per_agent.setdefault(r.agent, []).append(r)
    from .usage_value import KINDS

    for agent, rs in per_agent.items():
        accepted = sum(1 for r in rs for o in by_run.get(r.id, []) if KINDS[o.kind].accepted)
        if len(rs) >= 3 and accepted == 0:
            out.append(Finding("idle-schedule", agent, rs[0].user_id, len(rs), sum(tokens.get(r.id, 0) for r in rs),
                               f"scheduled {len(rs)} times and never produced an accepted outcome",
                               f"pause this agent (`meshclaw stop {agent}`) or lower its schedule",
                               _aware(rs[-1].created_at)))
    return out


def _jumps(ctx: Any, runs: list[Any], tokens: dict[str, int], by_run: dict[str, list[Any]], until: datetime,
           factor: float) -> list[Finding]:
    from .usage_value import KINDS, earlier

    cut = earlier(until, timedelta(days=7))
    out = []
    agents = sorted({r.agent for r in runs})
    for agent in agents:
        sides = {"before": [0, 0], "after": [0, 0]}
        owner, newest = "", until
        for r in runs:
            if r.agent != agent:
                continue
            owner, newest = r.user_id, _aware(r.created_at)
            side = sides["after" if _aware(r.created_at) >= cut else "before"]
            side[0] += tokens.get(r.id, 0)
            side[1] += sum(1 for o in by_run.get(r.id, []) if KINDS[o.kind].accepted)
        (tb, ob), (ta, oa) = sides["before"], sides["after"]
        if ob >= 3 and oa >= 3 and (ta / oa) >= factor * (tb / ob) > 0:
            out.append(Finding("jump", agent, owner, 0, ta, f"tokens per accepted outcome rose from {tb / ob:,.0f} to "
                               f"{ta / oa:,.0f} in the last 7 days",
                               "look at what changed: its instructions, its model, or what it reads", newest))
    return out
