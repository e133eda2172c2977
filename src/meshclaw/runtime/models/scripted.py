"""A scripted model: plays fixed turns back. For tests, demos without a model, and rehearsals.

The turn to play is chosen from the message history (how many responses came before), so a
replayed durable run gets the same turns. Like a real provider it honours ``max_tokens``: a text
longer than that (counted as pydantic-ai's test models count tokens) is cut there and the response
says why (``finish_reason="length"``); the limit it received is in ``provider_details``.
"""

from __future__ import annotations

from typing import Any, Sequence

import re

from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel


def scripted_model(turns: Sequence[Any], name: str = "scripted") -> FunctionModel:
    """``turns``: items with ``tool``+``args`` or ``text`` (config ScriptedTurn objects or dicts)."""

    def get(t: Any, key: str) -> Any:
        return t.get(key) if isinstance(t, dict) else getattr(t, key)

    def play(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        done = sum(1 for m in messages if isinstance(m, ModelResponse))
        if done >= len(turns):
            return ModelResponse(parts=[TextPart("(the script has no more turns)")])
        turn = turns[done]
        if get(turn, "tool"):
            tool_name = get(turn, "tool").replace(".", "_")
            return ModelResponse(parts=[ToolCallPart(tool_name, dict(get(turn, "args") or {}), tool_call_id=f"call_{done}")])
        return _limited(get(turn, "text"), (info.model_settings or {}).get("max_tokens"))

    return FunctionModel(play, model_name=name)


_TOKEN = re.compile(r'[^\s",.:]+[\s",.:]*')  # a token as pydantic-ai's test models count them, with what follows it


def _limited(text: str, max_tokens: int | None) -> ModelResponse:
    """A text answer as a provider gives it under ``max_tokens``: cut after that many tokens."""
    details = {"max_tokens": max_tokens} if max_tokens is not None else None
    if max_tokens is None:
        return ModelResponse(parts=[TextPart(text)])
    tokens = _TOKEN.findall(text.strip())
    if len(tokens) <= max_tokens:
        return ModelResponse(parts=[TextPart(text)], provider_details=details, finish_reason="stop")
    cut = "".join(tokens[:max(1, max_tokens)]).rstrip(' ",.:')
    return ModelResponse(parts=[TextPart(cut)], provider_details=details, finish_reason="length")
