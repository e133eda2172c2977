"""Guarded calls from code: what a workflow uses to act and to ask the model.

    async def triage(calls: Calls) -> str:
        inbox = await calls.tool("email.list", folder="INBOX")          # guarded, audited, durable
        for item in inbox:
            verdict = await calls.judge(Label, instructions=..., content=item["subject"])
            await calls.tool("email.move", uid=item["uid"], folder=verdict.folder)
        return "done"

``calls.tool`` takes a granted tool by name through exactly the path a model's tool call takes
(``guarded.guarded_call``: the guard pipeline in one durable step, an approval wait if the guard
asks, the connector's narrow context). It returns the tool's result, or raises: ``PolicyDenied``
when the guard (or the person asked) said no, ``ToolFailed`` when the connector failed, and
``RunStopped`` on the kill switch. Arguments are validated against the tool's schema first
(``UsageError`` on a mismatch). Call ids are numbered in order (``code-0``, ``code-1``...), so a
replayed workflow finds its checkpoints and idempotency keys again.
"""

from __future__ import annotations

from typing import Any, Sequence, TypeVar

from pydantic import BaseModel, ValidationError

from meshclaw.domain.decisions import Decision, Verdict
from meshclaw.domain.effects import Effect, ToolSpec
from meshclaw.domain.errors import ActionCeiling, ToolFailed, UsageError
from meshclaw.policy.library import PolicyDenied

from .context import RunDeps
from .guarded import GuardedToolset, guarded_call
from .judgement import judge

T = TypeVar("T", bound=BaseModel)


class Calls:
    """Guarded tool calls and typed judgements for one run's workflow code."""

    def __init__(self, deps: RunDeps, toolset: GuardedToolset, model: Any):
        self.deps = deps
        self.toolset = toolset
        self.model = model
        self._tools: dict[str, Any] | None = None
        self._used: dict[str, int] = {}

    @property
    def now(self) -> "datetime":
        """When the run was created, in the owner's time zone: workflow code's "now" (the same on replay)."""
        from datetime import datetime, timezone
        from zoneinfo import ZoneInfo

        at = self.deps.started_at or datetime.now(timezone.utc)
        at = at if at.tzinfo else at.replace(tzinfo=timezone.utc)
        zone = self.deps.owner.timezone or self.deps.config.organisation.timezone
        return at.astimezone(ZoneInfo(zone))

    @property
    def task(self) -> str:
        """The run's task: the owner's request, or the trigger's configured task."""
        return self.deps.task

    def _context(self, call_id: str, tool_name: str) -> Any:
        from pydantic_ai import RunContext
        from pydantic_ai.usage import RunUsage

        return RunContext(deps=self.deps, model=self.model, usage=RunUsage(), tool_call_id=call_id, tool_name=tool_name)

    def granted(self, name: str) -> bool:
        """Whether the agent is granted the tool ``name`` (from its configuration: no call, nothing audited).

        For optional steps (a briefing sent by chat when chat is granted); calling an ungranted tool
        anyway is still decided, audited and denied."""
        grant = self.deps.agent.toolsets.get(name.split(".", 1)[0])
        if grant is None:
            return False
        return any(getattr(g, "tool", g) == name for g in grant.grants) or bool(grant.mcp)

    def _ceiling(self, kind: str) -> None:
        """Stop the run before its ``limits`` are passed: a workflow that loops stops, it does not run on."""
        limits = self.deps.agent.limits
        self._used[kind] = used = self._used.get(kind, 0) + 1
        limit = limits.tool_calls_per_run if kind == "tool" else limits.model_requests_per_run
        if used > limit:
            field = "tool_calls_per_run" if kind == "tool" else "model_requests_per_run"
            raise ActionCeiling(f"stopped before its {used}th {kind} call: the ceiling is {limit} per run "
                                f"(limits.{field}); run it again to go on, or raise the limit")

    async def tool(self, name: str, /, **args: Any) -> Any:
        """Call the granted tool ``name`` (``toolset.tool``) with ``args``; its result (see the module docstring).

        Raises ``ActionCeiling`` (the run stops) past the agent's ``limits.tool_calls_per_run``."""
        self._ceiling("tool")
        deps = self.deps
        call_id = f"code-{deps.code_calls}"
        deps.code_calls += 1
        model_name = name.replace(".", "_")
        ctx = self._context(call_id, model_name)
        if self._tools is None:
            self._tools = await self.toolset.wrapped.get_tools(ctx)
        tool = self._tools.get(model_name)
        if tool is None:
            # Not granted (so never offered): still decided and audited, which denies it by default.
            spec = ToolSpec(name=name, effect=Effect.EXTERNAL)

            async def refuse() -> Any:
                raise ToolFailed(f"{name} is not offered to this agent")

            execute = refuse
        else:
            spec = self.toolset.spec_for(model_name, tool)
            try:
                args = tool.args_validator.validate_python(args)
            except ValidationError as e:
                raise UsageError(f"{name}: arguments do not match the tool: {e.errors()[0].get('msg', e)}") from None
            execute = self.toolset.execution(model_name, args, ctx, tool, spec)
        outcome = await guarded_call(deps, spec, dict(args), call_id, execute)
        if outcome.verdict != Verdict.ALLOW:
            raise PolicyDenied(spec, dict(args), Decision(Verdict(outcome.verdict), outcome.reason, outcome.rule))
        if outcome.error:
            raise ToolFailed(f"{name} failed: {outcome.error}")
        return outcome.value

    async def judge(self, schema: type[T], *, instructions: str, content: str,
                    examples: Sequence[tuple[str, T]] = (), name: str | None = None) -> T:
        """One schema-constrained model judgement about ``content`` (``judgement.judge``), metered and audited.

        Raises ``ActionCeiling`` past the agent's ``limits.model_requests_per_run``."""
        self._ceiling("model")
        deps = self.deps
        deps.code_calls += 1
        return await judge(deps, self.model, schema, instructions=instructions, content=content,
                           examples=examples, name=name, note=deps.now_line)
