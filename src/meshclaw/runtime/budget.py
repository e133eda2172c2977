"""Estimating how many tokens a model request may use, and the limits that apply to a run's agent and owner.

What those tokens cost is ``pricing.py``'s job."""

from __future__ import annotations

import json
from typing import Any

from meshclaw.store.budget import Limit

OUTPUT_RESERVE = 1024  # tokens held for the answer when the request sets no max_tokens
MIN_OUTPUT = 256  # fewer output tokens left than this (or than the request asks for): the request is refused
CHARS_PER_TOKEN = 3  # a deliberately high estimate of tokens per character: reserve too much, not too little


def limits_for(deps: Any) -> list[Limit]:
    out = [Limit("agent", deps.agent.name, p, u, v) for p, u, v in deps.agent.budget.limits()]
    out += [Limit("user", deps.owner.id, p, u, v) for p, u, v in deps.owner.budget.limits()]
    return out


def estimate_tokens(messages: Any, model_settings: Any, parameters: Any) -> int:
    """The most a request may use: its prompt (over-estimated) plus its ``max_tokens`` (or ``OUTPUT_RESERVE``)."""
    max_out = (model_settings or {}).get("max_tokens") or OUTPUT_RESERVE
    return estimate_prompt(messages, parameters) + int(max_out)


def wanted_output(model_settings: Any, model_defaults: Any) -> int:
    """The output tokens a request asks for: its own ``max_tokens``, the model's, or ``OUTPUT_RESERVE``."""
    return int((model_settings or {}).get("max_tokens") or (model_defaults or {}).get("max_tokens") or OUTPUT_RESERVE)


def estimate_prompt(messages: Any, parameters: Any) -> int:
    """Tokens of a request's prompt (messages and tool schemas), deliberately over-estimated
    (``CHARS_PER_TOKEN`` characters per token)."""
    try:
        from pydantic_ai.messages import ModelMessagesTypeAdapter

        size = len(ModelMessagesTypeAdapter.dump_json(messages))
    except Exception:  # noqa: BLE001 - an estimate must never fail the request
        size = len(str(messages))
    tools = getattr(parameters, "function_tools", None) or []
    size += sum(len(json.dumps(getattr(t, "parameters_json_schema", {}))) + len(getattr(t, "description", "") or "") for t in tools)
    return size // CHARS_PER_TOKEN
