"""Metering every model request: tokens recorded with the run, agent and user they belong to.

The wrapper runs inside the durable model step, so a replayed run does not count a request twice
(the record is keyed by workflow and step), and a kill-switch check happens before each request.
"""

from __future__ import annotations

import time
import uuid
from contextvars import ContextVar
from typing import Any

from pydantic_ai.messages import ModelResponse
from pydantic_ai.models.wrapper import WrapperModel

from meshclaw.store.budget import BudgetExceeded

from .budget import estimate_tokens, limits_for
from .context import RunDeps
from .pricing import Pricing, pricing_for

current_run: ContextVar[RunDeps | None] = ContextVar("meshclaw_current_run", default=None)


from meshclaw.domain.errors import RunStopped  # noqa: E402 - re-exported


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
    def __init__(self, wrapped: Any, pricing: Pricing):
        super().__init__(wrapped)
        self.pricing = pricing

    async def request(self, messages: Any, model_settings: Any, model_request_parameters: Any) -> ModelResponse:
        deps = current_run.get()
        if deps is not None and deps.store.agents.is_stopped(deps.agent.name):
            raise RunStopped(f"agent {deps.agent.name} was stopped")
        key = _step_key()
        limits = limits_for(deps) if deps is not None else []
        if limits:
            if any(limit.unit == "cost" for limit in limits) and not self.pricing.known:
                # Fail closed: a cost budget that cannot be counted is not silently ignored.
                raise BudgetExceeded(f"budget: {self.pricing.unknown_message()}")
            tokens = estimate_tokens(messages, model_settings, model_request_parameters)
            deps.store.budget.reserve(key, agent=deps.agent.name, user_id=deps.owner.id, tokens=tokens,
                                      cost=self.pricing.estimate(tokens), limits=limits)
        started = time.perf_counter()
        try:
            response = await super().request(messages, model_settings, model_request_parameters)
        finally:
            if limits:
                deps.store.budget.settle(key)
        if deps is not None:
            u = response.usage
            deps.store.usage.record(
                key, run_id=deps.run_id, agent=deps.agent.name, user_id=deps.owner.id,
                model=response.model_name or self.model_name, input_tokens=u.input_tokens,
                output_tokens=u.output_tokens, cache_read_tokens=u.cache_read_tokens,
                cache_write_tokens=u.cache_write_tokens, cost=self.pricing.cost(response),
                seconds=time.perf_counter() - started,
            )
            deps.store.audit.append(
                f"{key}:audit", "model", run_id=deps.run_id, agent=deps.agent.name, user_id=deps.owner.id,
                data={"model": response.model_name or self.model_name, "input_tokens": u.input_tokens,
                      "output_tokens": u.output_tokens, "cache_read_tokens": u.cache_read_tokens,
                      "tool_calls": [p.tool_name for p in response.parts if getattr(p, "part_kind", "") == "tool-call"],
                      "seconds": round(time.perf_counter() - started, 3)},
            )
            deps.emit({"kind": "model", "input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
                       "cache_read_tokens": u.cache_read_tokens, "seconds": time.perf_counter() - started})
        return response
