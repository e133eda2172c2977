"""Guarded calls in a run: every tool call of an agent run or of workflow code goes through here.

``guarded_call`` takes one call of a run through the guard pipeline (``pipeline.py``), asks a person
when the guard says so (``approvals.py``) and runs the call again, approved; ``GuardedToolset``
wraps an agent's pydantic-ai tools so that each call the model makes takes that path, and tells the
model in words what happened. The tool itself receives its connector's narrow context
(``tool_context.py``), never the run's state.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from pydantic_ai.toolsets import WrapperToolset

from meshclaw.domain.decisions import Verdict
from meshclaw.domain.effects import Effect, ToolSpec
from meshclaw.domain.errors import RunStopped
from meshclaw.domain.runs import ToolEvent

from .alerts import check_baseline
from .approvals import APPROVED, request_approval
from .context import Outcome, RunDeps
from .pipeline import CallScope, GuardPipeline, summary
from .tool_context import tool_context

__all__ = ["GuardedToolset", "guarded_call", "run_scope", "summary", "SPEC_METADATA"]

# Where a tool's definition carries its ToolSpec (as plain data) when the spec cannot be known
# before the run: an MCP tool's effect depends on what its server says when it lists its tools.
SPEC_METADATA = "meshclaw_spec"


def run_scope(deps: RunDeps) -> CallScope:
    """The pipeline's view of a run: its policy state is the run's own (shared, not copied)."""

    def alerts(spec: ToolSpec, key: str) -> None:
        check_baseline(deps.store, run_id=deps.run_id, agent=deps.agent.name, owner_id=deps.owner.id, tool=spec.name,
                       key=key, emit=deps.emit, effect=spec.effect.value)

    return CallScope(run_id=deps.run_id, agent=deps.agent, owner_id=deps.owner.id, provenance=deps.provenance,
                     call_counts=deps.call_counts, approved_keys=deps.approved_keys, store=deps.store,
                     rehearsal=deps.rehearsal, recorded=deps.recorded, on_executed=alerts)


async def guarded_call(deps: RunDeps, spec: ToolSpec, args: dict[str, Any], call_id: str,
                       execute: Callable[[], Awaitable[Any]]) -> Outcome:
    """One call of a run through the guard; an "ask" waits for the owner, then the call is decided again.

    Returns the final ``Outcome`` (verdict ``allow`` with the value or an error, or ``deny``; an
    unanswered or refused approval comes back as ``deny`` with rule ``approval-denied`` /
    ``approval-expired``). Raises ``RunStopped`` when the kill switch is on.
    """
    pipeline = GuardPipeline(run_scope(deps))
    outcome = await pipeline.run(spec, args, call_id, execute)
    _emit(deps, spec, args, outcome)
    if outcome.rule == "kill-switch":
        raise RunStopped(outcome.reason)
    if outcome.verdict != Verdict.ASK:
        return outcome
    answer = await request_approval(deps, spec, args, call_id, outcome)
    if answer != APPROVED:
        why = "the owner said no" if answer == "denied" else "nobody answered in time"
        refused = Outcome(Verdict.DENY.value, f"{spec.name} was {answer} ({why})", f"approval-{answer}")
        _emit(deps, spec, args, refused)  # the person watching sees the refusal, not only the run's end
        return refused
    outcome = await pipeline.run(spec, args, call_id, execute, approved=True)
    _emit(deps, spec, args, outcome)
    if outcome.rule == "kill-switch":
        raise RunStopped(outcome.reason)
    return outcome


def _emit(deps: RunDeps, spec: ToolSpec, args: dict[str, Any], outcome: Outcome) -> None:
    deps.emit(ToolEvent(spec.name, outcome.verdict, dict(args), outcome.reason,
                        summary(outcome.value) if outcome.verdict == Verdict.ALLOW else None, outcome.error))


def for_model(spec: ToolSpec, outcome: Outcome) -> Any:
    """What the model is told about a call: its result, or in words why there is none."""
    if outcome.verdict == Verdict.DENY:
        if outcome.rule.startswith("approval-"):
            return f"Not done: {outcome.reason}."
        return f"Not done: the policy denied {spec.name}: {outcome.reason}"
    if outcome.error:
        return f"{spec.name} failed: {outcome.error}"
    return outcome.value


@dataclass
class GuardedToolset(WrapperToolset[RunDeps]):
    """An agent's granted tools, each call taken through ``guarded_call``."""

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

    def execution(self, name: str, tool_args: dict[str, Any], ctx: Any, tool: Any,
                  spec: ToolSpec) -> Callable[[], Awaitable[Any]]:
        """How the wrapped tool is run once allowed: with its connector's narrow context as ``ctx.deps``."""

        async def execute() -> Any:
            narrow = dataclasses.replace(ctx, deps=tool_context(ctx.deps, spec.name.split(".", 1)[0]))
            return await self.wrapped.call_tool(name, tool_args, narrow, tool)

        return execute

    async def get_tools(self, ctx: Any) -> dict[str, Any]:
        """The tools a model is offered: granted ones, less those declared for workflow code only."""
        tools = await super().get_tools(ctx)
        return {n: t for n, t in tools.items() if self.specs.get(n) is None or self.specs[n].offered}

    async def call_tool(self, name: str, tool_args: dict[str, Any], ctx: Any, tool: Any) -> Any:
        spec = self.spec_for(name, tool)
        if not spec.offered:
            return f"Not done: {spec.name} is not a tool you can call"
        outcome = await guarded_call(ctx.deps, spec, dict(tool_args), ctx.tool_call_id or name,
                                     self.execution(name, tool_args, ctx, tool, spec))
        return for_model(spec, outcome)
