"""A scripted model for memory tests: plays the agent's configured turns, answers a consolidation's
typed judgements from a table (episode text → what it teaches), and records what each request carried."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

CONFIG = """
organisation: {name: Example Corp, domains: [example.com], timezone: Europe/Berlin}
users:
  - {id: alice, name: Alice, email: alice@example.com, delegates: [dana]}
  - {id: bob, name: Bob, email: bob@example.com}
  - {id: dana, name: Dana, email: dana@example.com}
  - {id: mgr, name: Manager, email: mgr@example.com}
models:
  memo:
    kind: scripted
    turns:
      - {tool: notes.list, args: {}}
      - {text: done}
agents:
  - name: keeper
    owner: alice
    instructions: Keep the owner's notes.
    model: memo
    autonomy: auto
    toolsets:
      notes: {grants: [notes.add, notes.list]}
  - name: bobs
    owner: bob
    instructions: Keep Bob's notes.
    model: memo
    autonomy: auto
    toolsets:
      notes: {grants: [notes.list]}
"""


class Brain:
    """Patches ``scripted_model``: ``learn`` maps a phrase of an episode to the Learnings JSON a
    judgement about it returns; ``requests`` records (instructions, message count) per request."""

    def __init__(self) -> None:
        self.learn: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, int]] = []
        self.turns: list[dict[str, Any]] | None = None  # set: the agent's turns, played by count, not history
        self.played = 0

    def install(self, monkeypatch: Any) -> "Brain":
        from meshclaw.runtime.models import scripted

        original = scripted.scripted_model

        def patched(turns: Any, name: str = "scripted") -> FunctionModel:
            base = original(turns, name)

            def play(messages: list[Any], info: AgentInfo) -> ModelResponse:
                self.requests.append((info.instructions or "", len(messages)))
                prompt = _last_prompt(messages)
                if "<item>" in prompt and not info.function_tools:
                    item = prompt.rsplit("<item>", 1)[1]
                    for phrase, answer in self.learn.items():
                        if phrase in item:
                            return ModelResponse(parts=[TextPart(json.dumps(answer))])
                    return ModelResponse(parts=[TextPart('{"items": []}')])
                if self.turns is not None:
                    turn = self.turns[min(self.played, len(self.turns) - 1)]
                    self.played += 1
                    if "tool" in turn:
                        return ModelResponse(parts=[ToolCallPart(turn["tool"].replace(".", "_"), turn.get("args", {}),
                                                                 tool_call_id=f"call_{self.played}")])
                    return ModelResponse(parts=[TextPart(turn["text"])])
                return base.function(messages, info)

            return FunctionModel(play, model_name=name)

        monkeypatch.setattr(scripted, "scripted_model", patched)
        return self


def _last_prompt(messages: list[Any]) -> str:
    for m in reversed(messages):
        for p in getattr(m, "parts", []):
            if isinstance(p, UserPromptPart) and isinstance(p.content, str):
                return p.content
    return ""


def item(kind: str, subject: str, text: str, confidence: float = 0.8) -> dict[str, Any]:
    return {"kind": kind, "subject": subject, "text": text, "confidence": confidence}


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))
