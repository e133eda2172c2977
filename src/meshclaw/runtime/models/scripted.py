"""A scripted model: plays fixed turns back. For tests, demos without a model, and rehearsals.

The turn to play is chosen from the message history (how many responses came before), so a
replayed durable run gets the same turns.
"""

from __future__ import annotations

from typing import Any, Sequence

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
        return ModelResponse(parts=[TextPart(get(turn, "text"))])

    return FunctionModel(play, model_name=name)
