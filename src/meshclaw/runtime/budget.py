"""Estimating what a model request may cost, and the limits that apply to a run's agent and owner."""

from __future__ import annotations

import json
from typing import Any

from meshclaw.store.budget import Limit

OUTPUT_RESERVE = 1024  # tokens held for the answer when the request sets no max_tokens
CHARS_PER_TOKEN = 3  # a deliberately high estimate of tokens per character: reserve too much, not too little


def limits_for(deps: Any) -> list[Limit]:
    out = [Limit("agent", deps.agent.name, p, u, v) for p, u, v in deps.agent.budget.limits()]
    out += [Limit("user", deps.owner.id, p, u, v) for p, u, v in deps.owner.budget.limits()]
    return out


def estimate_tokens(messages: Any, model_settings: Any, parameters: Any) -> int:
    try:
        from pydantic_ai.messages import ModelMessagesTypeAdapter

        size = len(ModelMessagesTypeAdapter.dump_json(messages))
    except Exception:  # noqa: BLE001 - an estimate must never fail the request
        size = len(str(messages))
    tools = getattr(parameters, "function_tools", None) or []
    size += sum(len(json.dumps(getattr(t, "parameters_json_schema", {}))) + len(getattr(t, "description", "") or "") for t in tools)
    max_out = (model_settings or {}).get("max_tokens") or OUTPUT_RESERVE
    return size // CHARS_PER_TOKEN + int(max_out)


def response_cost(response: Any) -> float:
    try:
        return float(response.cost().total_price)
    except Exception:  # noqa: BLE001 - unknown prices (local models) cost nothing
        return 0.0


def estimate_cost(model_name: str, tokens: int) -> float:
    """Price the reserved tokens at the model's output price (the dearer side); 0 for unknown models."""
    try:
        from genai_prices import Usage, calc_price

        return float(calc_price(Usage(input_tokens=0, output_tokens=tokens), model_ref=model_name).total_price)
    except Exception:  # noqa: BLE001
        return 0.0
