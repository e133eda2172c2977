"""Metering every model request: tokens recorded with the run, agent and user they belong to.

The wrapper runs inside the durable model step, so a replayed run does not count a request twice
(the record is keyed by workflow and step), and a kill-switch check happens before each request.
"""

from __future__ import annotations

import time
import uuid
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from pydantic_ai.messages import ModelResponse
from pydantic_ai.models.wrapper import WrapperModel

from meshclaw.domain.errors import BudgetExceeded, ModelErrorBase, RunStopped
from meshclaw.domain.runs import AuditKind, ModelEvent

from .budget import MIN_OUTPUT, estimate_prompt, estimate_tokens, limits_for, wanted_output
from .context import RunDeps, current_run
from .pricing import Pricing, pricing_for
from .telemetry import PRICE_ESTIMATED, observe, price_kind, step_name

__all__ = ["MeteredModel", "ModelTimedOut", "metered_model", "current_run", "RunStopped"]


class ModelTimedOut(ModelErrorBase):
    """A model request took longer than its configured ``timeout``; the message says what to change."""


def _offered(params: Any) -> set[str] | None:
    """The tool names a request offered the model (function and output tools); None if unknown."""
    if params is None:
        return None
    tools = list(getattr(params, "function_tools", []) or []) + list(getattr(params, "output_tools", []) or [])
    return {t.name for t in tools}


def _is_timeout(e: BaseException) -> bool:
    """A client-side timeout, however the provider library words it (httpx, openai, anthropic, asyncio)."""
    seen: BaseException | None = e
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, TimeoutError) or "Timeout" in type(seen).__name__:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


_requests_in_step: dict[str, int] = {}


def _step_key() -> str:
    """Unique per model request and stable on replay: a tool step (the quarantined reader) may make
    several requests, so they are numbered within their step; a re-run step numbers them again the same way."""
    try:
        from dbos import DBOS

        wf, step = DBOS.workflow_id, DBOS.step_id
        if wf is not None and step is not None:
            base = f"{wf}:model:{step}"
            n = _requests_in_step.get(base, 0)
            _requests_in_step[base] = n + 1
            if len(_requests_in_step) > 10_000:
                _requests_in_step.clear()
            return base if n == 0 else f"{base}:{n}"
    except Exception:  # noqa: BLE001 - outside DBOS there is no step id
        pass
    return f"adhoc:{uuid.uuid4()}"


def metered_model(name: str, models: dict[str, Any], home: Any, secrets: Any) -> "MeteredModel":
    """The configured model ``name``, metered and priced: every model request of a run goes through one."""
    from .models.factory import build_model

    return MeteredModel(build_model(name, models, home, secrets), pricing_for(name, models))


class MeteredModel(WrapperModel):
    """A model whose every request, plain or streamed, passes the kill switch, reserves budget first
    and records its usage (tokens, cost, seconds) with its run, agent and user."""

    def __init__(self, wrapped: Any, pricing: Pricing):
        super().__init__(wrapped)
        self.pricing = pricing

    def _admit(self, messages: Any, model_settings: Any, params: Any) -> tuple[RunDeps | None, str, list[Any], Any]:
        """Kill switch and budget reservation, before a request is sent. Raises RunStopped / BudgetExceeded.

        Under a budget the request reserves its real maximum: the prompt (over-estimated) plus the
        output tokens it may produce, which is what it asks for lowered to what the budget still has
        room for; that figure goes to the provider as ``max_tokens``, so concurrent runs cannot
        spend more than the budget. Returns (run, request key, limits, the settings to send)."""
        deps = current_run.get()
        if deps is not None and deps.store.agents.is_stopped(deps.agent.name):
            raise RunStopped(f"agent {deps.agent.name} was stopped")
        key = _step_key()
        limits = limits_for(deps) if deps is not None else []
        if limits:
            if any(limit.unit == "cost" for limit in limits) and not self.pricing.known:
                # Fail closed: a cost budget that cannot be counted is not silently ignored.
                raise BudgetExceeded(f"budget: {self.pricing.unknown_message()}")
            wanted = wanted_output(model_settings, getattr(self.wrapped, "settings", None))
            granted = deps.store.budget.reserve_request(
                key, agent=deps.agent.name, user_id=deps.owner.id, prompt_tokens=estimate_prompt(messages, params),
                max_output=wanted, min_output=MIN_OUTPUT, cost_per_token=self.pricing.estimate(1_000_000) / 1_000_000,
                limits=limits)
            model_settings = {**(model_settings or {}), "max_tokens": granted}
        return deps, key, limits, model_settings

    def _refuse_unoffered(self, deps: RunDeps, key: str, response: Any, offered: set[str] | None) -> None:
        """A call of a tool the agent was never offered (not granted) never runs — pydantic-ai sends the
        model a retry — but the guard's refusal is still a decision on the record, and shown."""
        if offered is None:
            return
        from meshclaw.domain.runs import ToolEvent

        from .models.textcalls import UNREADABLE_TOOL

        for i, part in enumerate(p for p in response.parts if getattr(p, "part_kind", "") == "tool-call"):
            if part.tool_name in offered or part.tool_name == UNREADABLE_TOOL:
                continue
            reason = f"{part.tool_name} is not offered to {deps.agent.name} (not granted): the call was refused"
            args = part.args_as_dict() if hasattr(part, "args_as_dict") else {}
            deps.store.audit.append(f"{key}:unoffered:{i}", AuditKind.DECISION.value, run_id=deps.run_id,
                                    agent=deps.agent.name, user_id=deps.owner.id, tool=part.tool_name, verdict="deny",
                                    reason=reason, data={"args": args, "rule": "deny-by-default",
                                                         "call_id": part.tool_call_id})
            deps.emit(ToolEvent(part.tool_name, "deny", args, reason))

    def _record(self, deps: RunDeps | None, key: str, response: Any, started: float, *, streamed: bool,
                offered: set[str] | None = None, settings: Any = None) -> None:
        if deps is None:
            return
        u = response.usage
        model = response.model_name or self.model_name
        seconds = time.perf_counter() - started
        tool_calls = [p.tool_name for p in response.parts if getattr(p, "part_kind", "") == "tool-call"]
        sent = (settings or {}).get("max_tokens")
        deps.store.usage.record(
            key, run_id=deps.run_id, agent=deps.agent.name, user_id=deps.owner.id, model=model,
            input_tokens=u.input_tokens, output_tokens=u.output_tokens, cache_read_tokens=u.cache_read_tokens,
            cache_write_tokens=u.cache_write_tokens, cost=self.pricing.cost(response), seconds=seconds,
            reasoning_tokens=getattr(u, "output_reasoning_tokens", 0) or 0, step=step_name(deps),
            price=price_kind(self.pricing),
        )
        observe(deps, model=self.model_name, response_model=response.model_name, usage=u, seconds=seconds)
        deps.store.audit.append(
            f"{key}:audit", AuditKind.MODEL.value, run_id=deps.run_id, agent=deps.agent.name, user_id=deps.owner.id,
            data={"model": model, "input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
                  "cache_read_tokens": u.cache_read_tokens, "tool_calls": tool_calls, "streamed": streamed,
                  "seconds": round(seconds, 3), **({"max_tokens": sent} if sent is not None else {}),
                  **({"finish_reason": response.finish_reason} if getattr(response, "finish_reason", None) else {})},
        )
        deps.emit(ModelEvent(u.input_tokens, u.output_tokens, u.cache_read_tokens, seconds))
        self._refuse_unoffered(deps, key, response, offered)

    def _record_timeout(self, deps: RunDeps | None, key: str, messages: Any, settings: Any, params: Any,
                        started: float) -> None:
        """A request that timed out still made the model work: its prompt tokens are recorded (estimated,
        as no usage came back) and the run is told what to change."""
        if deps is None:
            return
        seconds = time.perf_counter() - started
        prompt = estimate_tokens(messages, settings, params)
        deps.store.usage.record(key, run_id=deps.run_id, agent=deps.agent.name, user_id=deps.owner.id,
                                model=self.model_name, input_tokens=prompt, output_tokens=0, cache_read_tokens=0,
                                cache_write_tokens=0, cost=self.pricing.estimate(prompt), seconds=seconds,
                                step=step_name(deps), price=PRICE_ESTIMATED)
        deps.store.audit.append(f"{key}:audit", AuditKind.MODEL.value, run_id=deps.run_id, agent=deps.agent.name,
                                user_id=deps.owner.id, verdict="timed out",
                                data={"model": self.model_name, "input_tokens": prompt, "estimated": True,
                                      "seconds": round(seconds, 3)})

    async def request(self, messages: Any, model_settings: Any, model_request_parameters: Any) -> ModelResponse:
        deps, key, limits, model_settings = self._admit(messages, model_settings, model_request_parameters)
        started = time.perf_counter()
        try:
            response = await super().request(messages, model_settings, model_request_parameters)
        except Exception as e:
            if _is_timeout(e):
                self._record_timeout(deps, key, messages, model_settings, model_request_parameters, started)
                raise ModelTimedOut(f"the model {self.model_name!r} did not answer within "
                                    f"{time.perf_counter() - started:.0f} s: raise its `timeout:` in the configuration "
                                    "(seconds per request) on a slow or busy machine") from None
            raise
        finally:
            if limits:
                deps.store.budget.settle(key)  # type: ignore[union-attr]
        self._record(deps, key, response, started, streamed=False, offered=_offered(model_request_parameters),
                     settings=model_settings)
        return response

    @asynccontextmanager
    async def request_stream(self, messages: Any, model_settings: Any, model_request_parameters: Any,
                             run_context: Any = None) -> AsyncIterator[Any]:
        """The streamed request: admitted like ``request``; its usage is recorded when the stream ends
        (however it ends: a consumer that stops early still pays for what was generated)."""
        deps, key, limits, model_settings = self._admit(messages, model_settings, model_request_parameters)
        started = time.perf_counter()
        stream = None
        try:
            async with super().request_stream(messages, model_settings, model_request_parameters, run_context) as stream:
                yield stream
        finally:
            if limits:
                deps.store.budget.settle(key)  # type: ignore[union-attr]
            if stream is not None:
                self._record(deps, key, stream.get(), started, streamed=True,
                             offered=_offered(model_request_parameters), settings=model_settings)
