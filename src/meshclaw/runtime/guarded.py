"""The guarded toolset: wraps an agent's tools so that every call passes the guard first.

One durable step per call holds the decision, its audit record, and (if allowed) the execution
and its result, so a replayed run neither re-decides nor re-executes a completed call. A call
that was in flight when the process died runs again with the same idempotency key, which the
connectors use to make the repeat a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from pydantic_ai.toolsets import WrapperToolset

from meshclaw.domain.decisions import Decision, Verdict
from meshclaw.domain.effects import Effect, ToolSpec
from meshclaw.domain.provenance import Label, Labelled, Source, Trust
from meshclaw.policy.guard import CallRequest, decide
from meshclaw.policy.provenance import label_for

from .context import RunDeps
from .metered import RunStopped
from .steps import durable_step


@dataclass
class Outcome:
    """What the guarded step returns (and DBOS checkpoints)."""

    verdict: str
    reason: str
    rule: str
    value: Any = None
    label: Label | None = None
    error: str | None = None
    read_args: dict[str, Any] | None = None  # set on a completed read: a rehearsal may replay it (see recorded.py)


def summary(value: Any, limit: int = 400) -> str:
    """A tool result shortened for audit records and printed steps."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


# Where a tool's definition carries its ToolSpec (as plain data) when the spec cannot be known
# before the run: an MCP tool's effect depends on what its server says when it lists its tools.
SPEC_METADATA = "meshclaw_spec"


@dataclass
class GuardedToolset(WrapperToolset[RunDeps]):
    specs: dict[str, ToolSpec] = field(default_factory=dict)  # by model-facing name

    def spec_for(self, name: str, tool: Any) -> ToolSpec:
        """The spec of a call: declared up front (function tools), or carried by the tool's definition (MCP)."""
        spec = self.specs.get(name)
        if spec is not None:
            return spec
        carried = (getattr(getattr(tool, "tool_def", None), "metadata", None) or {}).get(SPEC_METADATA)
        if carried is None:
            raise KeyError(f"{name} has no tool spec: it was never granted")
        return ToolSpec(name=carried["name"], effect=Effect(carried["effect"]), description=carried["description"],
                        sensitive_args=tuple(carried["sensitive_args"]), output_trust=carried["output_trust"])

    async def call_tool(self, name: str, tool_args: dict[str, Any], ctx: Any, tool: Any) -> Any:
        deps: RunDeps = ctx.deps
        spec = self.spec_for(name, tool)
        call_id = ctx.tool_call_id or name
        calls_this_run = deps.call_counts.get(spec.name, 0)
        request = CallRequest(
            spec=spec, args=dict(tool_args), agent=deps.agent, provenance=deps.provenance,
            calls_this_run=calls_this_run, approved=call_id in deps.approved_calls,
        )

        async def guarded_call() -> Outcome:
            return await self._decide_and_run(deps, request, call_id, name, tool_args, ctx, tool)

        outcome: Outcome = await durable_step(f"tool:{spec.name}", guarded_call)
        deps.emit({"kind": "tool", "tool": spec.name, "args": tool_args, "verdict": outcome.verdict,
                   "reason": outcome.reason, "result": summary(outcome.value) if outcome.verdict == "allow" else None,
                   "error": outcome.error})
        if outcome.rule == "kill-switch":
            raise RunStopped(outcome.reason)
        if outcome.verdict == Verdict.ASK:
            return await deps.on_ask(request, call_id, outcome, self, name, tool_args, ctx, tool)
        if outcome.verdict == Verdict.DENY:
            return f"Not done: the policy denied {spec.name}: {outcome.reason}"
        deps.call_counts[spec.name] = calls_this_run + 1  # counts executed calls (checkpointed, so replay-safe)
        if outcome.label is not None:
            deps.provenance.observe(outcome.value, outcome.label)
        if outcome.error:
            return f"{spec.name} failed: {outcome.error}"
        return outcome.value

    async def _decide_and_run(self, deps: RunDeps, request: CallRequest, call_id: str, name: str,
                              tool_args: dict[str, Any], ctx: Any, tool: Any) -> Outcome:
        spec = request.spec
        request.stopped = deps.store.agents.is_stopped(deps.agent.name)
        request.calls_today = lambda: deps.calls_today(spec.name)
        decision: Decision = decide(request)
        key = deps.idempotency_key(call_id)
        deps.store.audit.append(
            f"{key}:decision{':approved' if request.approved else ''}", "decision", run_id=deps.run_id,
            agent=deps.agent.name, user_id=deps.owner.id, tool=spec.name, verdict=decision.verdict.value,
            reason=decision.reason, data={"args": tool_args, "rule": decision.rule, "effect": spec.effect.value,
                                          "call_id": call_id},
        )
        if decision.verdict is not Verdict.ALLOW:
            return Outcome(decision.verdict.value, decision.reason, decision.rule)
        return await self.execute(deps, spec, call_id, name, tool_args, ctx, tool, decision)

    async def execute(self, deps: RunDeps, spec: ToolSpec, call_id: str, name: str, tool_args: dict[str, Any],
                      ctx: Any, tool: Any, decision: Decision) -> Outcome:
        """Run an allowed call (inside a durable step) and audit what happened."""
        key = deps.idempotency_key(call_id)
        if deps.recorded is not None and spec.effect is Effect.READ:
            return self._replay(deps, spec, key, tool_args, decision)
        if deps.rehearsal and spec.effect is not Effect.READ:
            value = f"[rehearsal] {spec.name} was captured, not executed"
            deps.store.audit.append(f"{key}:captured", "captured", run_id=deps.run_id, agent=deps.agent.name,
                                    user_id=deps.owner.id, tool=spec.name, data={"args": tool_args})
            return Outcome("allow", decision.reason, decision.rule, value, Label(Source.TOOL, Trust.TRUSTED, "rehearsal"))
        started = datetime.now(timezone.utc)
        try:
            raw = await self.wrapped.call_tool(name, tool_args, ctx, tool)
        except Exception as e:  # noqa: BLE001 - a connector failure is reported to the model and audited
            from pydantic_ai.exceptions import ModelRetry

            if isinstance(e, ModelRetry):
                raise
            error = f"{type(e).__name__}: {e}"
            deps.store.audit.append(f"{key}:result", "call", run_id=deps.run_id, agent=deps.agent.name,
                                    user_id=deps.owner.id, tool=spec.name, verdict="error", reason=error,
                                    data={"args": tool_args})
            return Outcome("allow", decision.reason, decision.rule, None, None, error)
        value, label = label_for(spec, raw)
        seconds = (datetime.now(timezone.utc) - started).total_seconds()
        deps.store.audit.append(f"{key}:result", "call", run_id=deps.run_id, agent=deps.agent.name,
                                user_id=deps.owner.id, tool=spec.name, verdict="done",
                                data={"args": tool_args, "result": summary(value), "label": label.as_dict(),
                                      "seconds": round(seconds, 4)})
        _check_baseline(deps, spec.name, key)
        read_args = dict(tool_args) if spec.effect is Effect.READ else None
        return Outcome("allow", decision.reason, decision.rule, value, label, read_args=read_args)

    def _replay(self, deps: RunDeps, spec: ToolSpec, key: str, tool_args: dict[str, Any], decision: Decision) -> Outcome:
        """A rehearsal on recorded inputs: answer a read from the recording, never from the workplace."""
        recorded = deps.recorded
        assert recorded is not None
        answer = recorded.answer(spec.name, tool_args)
        common = {"run_id": deps.run_id, "agent": deps.agent.name, "user_id": deps.owner.id, "tool": spec.name}
        if answer is None:
            missing = recorded.missing(spec.name, tool_args)
            deps.store.audit.append(f"{key}:replayed", "replayed", **common, verdict="not recorded", reason=missing,
                                    data={"args": tool_args, "from_run": recorded.source_run})
            return Outcome("allow", decision.reason, decision.rule, None, None, missing)
        value, label = answer
        deps.store.audit.append(f"{key}:replayed", "replayed", **common, verdict="done",
                                data={"args": tool_args, "result": summary(value), "label": label.as_dict(),
                                      "from_run": recorded.source_run})
        return Outcome("allow", decision.reason, decision.rule, value, label, read_args=dict(tool_args))


_USED_BEFORE: set[tuple[str, str, str]] = set()  # (store, agent, tool): known not to be a first use
_LAST_CHECK: dict[tuple[str, str, str], float] = {}
RECHECK_SECONDS = 5.0


def _check_baseline(deps: RunDeps, tool: str, key: str) -> None:
    """Cheap in the common case: one count, unless it may be a first use or a burst."""
    from datetime import timedelta

    from meshclaw.policy.baseline import BURST_FLOOR, deviations

    import time

    audit, agent = deps.store.audit, deps.agent.name
    seen_key = (deps.store.url, agent, tool)
    maybe_first = seen_key not in _USED_BEFORE
    if not maybe_first and time.monotonic() - _LAST_CHECK.get(seen_key, 0.0) < RECHECK_SECONDS:
        return  # a burst is measured over an hour: looking again within seconds adds nothing
    _LAST_CHECK[seen_key] = time.monotonic()
    now = datetime.now(timezone.utc)
    last_hour = audit.count_calls(agent=agent, tool=tool, since=now - timedelta(hours=1))
    if not maybe_first and last_hour < BURST_FLOOR:
        return
    total = audit.count_calls(agent=agent, tool=tool, since=now - timedelta(days=3650)) if maybe_first else 2
    if total > 1:
        _USED_BEFORE.add(seen_key)
    found = deviations(
        agent, tool,
        earlier_runs=deps.store.runs.count(agent=agent) - 1 if total == 1 else 0,
        total_calls=total,
        last_hour=last_hour,
        last_week=audit.count_calls(agent=agent, tool=tool, since=now - timedelta(days=7)) if last_hour >= BURST_FLOOR else last_hour,
    )
    for d in found:
        deps.store.audit.append(f"{key}:alert:{d.kind}", "alert", run_id=deps.run_id, agent=agent, user_id=deps.owner.id,
                                tool=tool, verdict=d.kind, reason=d.message)
        deps.emit({"kind": "alert", "message": d.message})
