"""Estimating how many tokens a model request may use, and the limits that apply to a run's agent and owner.

What those tokens cost is ``pricing.py``'s job."""

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
