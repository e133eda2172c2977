"""Turn tool calls that a small local model writes as text into real pydantic-ai tool calls.

Qwen2.5-Coder behind llama.cpp never fills ``tool_calls``: it writes the call into ``content``,
as ``<tool_call>{...}</tool_call>``, as a fenced json block, as bare JSON, or copying the doubled
braces of its own chat template (``{{"name": ...}}``). ``TextToolCallModel`` wraps the model and
rewrites such text into ``ToolCallPart``s. It runs inside ``request``, so under DBOS the model
step's checkpoint already holds the parsed calls and a replay sees exactly what ran.

Genuine text is left alone: fenced or bare JSON becomes a call only when it names a tool offered in
this request, and only when the object has the shape of a call.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ModelResponsePart,
    RetryPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import CompletedStreamedResponse, Model, ModelRequestParameters, StreamedResponse
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings

__all__ = ["TextToolCall", "TextToolCallModel", "convert_response", "parse_text_tool_calls"]

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|(?=<tool_call>)|\Z)", re.S)
_FENCED = re.compile(r"```[ \t]*(?:json|JSON|tool_call)?[ \t]*\r?\n?(.*?)```", re.S)
_FENCE_MARKS = re.compile(r"^\s*```[ \t]*(?:json|JSON)?|```\s*$")
_JSON_START = re.compile(r"[{\[]")
_ANY_FENCE = re.compile(r"```.*?(?:```|\Z)", re.S)
# Keys a call object may carry; anything else means the JSON is data, not a call.
_CALL_KEYS = {"name", "arguments", "parameters", "args", "type", "id", "function"}


@dataclass(frozen=True)
class TextToolCall:
    name: str
    args: dict[str, Any] | str  # a string only when the model wrote arguments that are not JSON


def parse_text_tool_calls(text: str, tool_names: Collection[str]) -> tuple[list[TextToolCall], str]:
    """Find tool calls written in ``text``; return them in order and the text left once they are removed.

    ``<tool_call>`` blocks are the model's own protocol, so any name counts there (an unknown one
    reaches pydantic-ai, which tells the model which tools exist). Fenced and bare JSON count only
    when they name one of ``tool_names``, since an answer may legitimately contain JSON.
    """
    if not tool_names or not text:
        return [], text
    found: list[tuple[int, int, list[TextToolCall]]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e, _ in found)

    for match in _TAGGED.finditer(text):
        calls = _decode_all(match.group(1), tool_names, known_only=False)
        if calls:
            found.append((match.start(), match.end(), calls))
    for match in _FENCED.finditer(text):
        if free(match.start(), match.end()):
            calls = _decode_all(match.group(1), tool_names, known_only=True)
            if calls:
                found.append((match.start(), match.end(), calls))
    # Bare JSON is looked for outside code blocks only: JSON inside ```python``` is code.
    fences = [(m.start(), m.end()) for m in _ANY_FENCE.finditer(text)]
    position = 0
    while (start := _next_json_start(text, position)) != -1:
        taken = [e for s, e, _ in found if s <= start < e] + [e for s, e in fences if s <= start < e]
        if taken:
            position = max(taken)
            continue
        decoded = _decode_at(text, start)
        if decoded is None:
            position = start + 1
            continue
        value, end = decoded
        calls = _as_calls(value, tool_names, known_only=True)
        if calls and free(start, end):
            found.append((start, end, calls))
        # Skip the whole value either way: a call-shaped object nested inside other JSON is data.
        position = end
    if not found:
        return [], text
    found.sort(key=lambda item: item[0])
    calls = [call for _, _, group in found for call in group]
    rest, cursor = [], 0
    for start, end, _ in found:
        rest.append(text[cursor:start])
        cursor = end
    rest.append(text[cursor:])
    return calls, _tidy("".join(rest))


def convert_response(response: ModelResponse, tool_names: Collection[str]) -> ModelResponse:
    """Rewrite text tool calls in ``response`` into ToolCallParts; return it unchanged if there are none."""
    if not tool_names or any(isinstance(part, ToolCallPart) for part in response.parts):
        return response  # real tool calls came back: the text, if any, is genuine
    parts: list[ModelResponsePart] = []
    converted = False
    for part in response.parts:
        if not isinstance(part, TextPart):
            parts.append(part)
            continue
        calls, rest = parse_text_tool_calls(part.content, tool_names)
        if not calls:
            parts.append(part)
            continue
        converted = True
        if rest:
            parts.append(replace(part, content=rest))
        parts.extend(ToolCallPart(tool_name=call.name, args=call.args) for call in calls)
    if not converted:
        return response
    return replace(response, parts=parts, finish_reason="tool_call")


def offered_tool_names(params: ModelRequestParameters) -> set[str]:
    # Output tools count too: with a structured output type the model "calls" final_result as text.
    return {tool.name for tool in params.function_tools} | {tool.name for tool in params.output_tools}


class TextToolCallModel(WrapperModel):
    """A model wrapper that turns text-written tool calls into ToolCallParts.

    ``tool_result_nudge``, when set, is added as a short user message after every tool result sent to
    the model: small models repeat a call they already have the result of, and measured on the
    bundled model this placement stopped it where the same words in the system prompt did not. It
    is added to every tool result in the history, not just the last, so the prompt prefix stays the
    same from one turn to the next and llama.cpp's prefix cache keeps working. The stored history is
    not modified.
    """

    def __init__(self, wrapped: Model | str, *, tool_result_nudge: str | None = None):
        super().__init__(wrapped)
        self.tool_result_nudge = tool_result_nudge

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        response = await super().request(self._outgoing(messages), model_settings, model_request_parameters)
        return convert_response(response, offered_tool_names(model_request_parameters))

    @asynccontextmanager
    async def request_stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
        run_context: Any = None,
    ) -> AsyncGenerator[StreamedResponse]:
        # Whether text is a tool call is only known once it is complete, so the wrapped stream is
        # drained first and the parsed response replayed as a finished stream. Consumers still get
        # stream events; they just arrive at the end.
        async with super().request_stream(
            self._outgoing(messages), model_settings, model_request_parameters, run_context
        ) as stream:
            async for _ in stream:
                pass
            response = stream.get()
        converted = convert_response(response, offered_tool_names(model_request_parameters))
        yield CompletedStreamedResponse(converted, model_request_parameters=model_request_parameters, replay_events=True)

    def _outgoing(self, messages: list[ModelMessage]) -> list[ModelMessage]:
        if not self.tool_result_nudge:
            return messages
        return [self._nudged(message) for message in messages]

    def _nudged(self, message: ModelMessage) -> ModelMessage:
        if not isinstance(message, ModelRequest):
            return message
        parts = message.parts
        returns = [p for p in parts if isinstance(p, ToolReturnPart)]
        # A retry asks for a corrected call, so telling the model to answer in text would be wrong there.
        retry = any(isinstance(p, RetryPromptPart) or getattr(p, "outcome", None) == "retried" for p in parts)
        if not returns or retry or any(isinstance(p, UserPromptPart) for p in parts):
            return message
        return replace(message, parts=[*parts, UserPromptPart(content=self.tool_result_nudge)])


# --- decoding ------------------------------------------------------------------------------------


def _decode_all(payload: str, tool_names: Collection[str], *, known_only: bool) -> list[TextToolCall]:
    """Decode a whole block (tagged or fenced) that should be nothing but one or more calls."""
    payload = _FENCE_MARKS.sub("", payload)  # <tool_call> wrapping a fenced block
    calls: list[TextToolCall] = []
    position = 0
    while (start := _next_json_start(payload, position)) != -1:
        if payload[position:start].strip():
            return []  # prose inside the block: not a call block
        decoded = _decode_at(payload, start)
        if decoded is None:
            return []
        value, position = decoded
        found = _as_calls(value, tool_names, known_only=known_only)
        if not found:
            return []
        calls.extend(found)
    return calls if not payload[position:].strip() else []


def _as_calls(value: Any, tool_names: Collection[str], *, known_only: bool) -> list[TextToolCall]:
    items = value if isinstance(value, list) else [value]
    calls = [_as_call(item, tool_names, known_only=known_only) for item in items]
    if not items or any(call is None for call in calls):
        return []
    return calls  # type: ignore[return-value]


def _as_call(item: Any, tool_names: Collection[str], *, known_only: bool) -> TextToolCall | None:
    if not isinstance(item, dict) or not set(item) <= _CALL_KEYS:
        return None
    if isinstance(item.get("function"), dict):  # OpenAI's {"type": "function", "function": {...}}
        item = item["function"]
    name = item.get("name")
    if not isinstance(name, str) or not name or (known_only and name not in tool_names):
        return None
    args = next((item[key] for key in ("arguments", "parameters", "args") if key in item), None)
    if args is None:
        args = {}
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            return TextToolCall(name, args)  # let pydantic-ai's validation tell the model what is wrong
    if not isinstance(args, dict):
        return None
    return TextToolCall(name, args)


def _next_json_start(text: str, position: int) -> int:
    match = _JSON_START.search(text, position)
    return match.start() if match else -1


_DECODER = json.JSONDecoder()


def _decode_at(text: str, start: int) -> tuple[Any, int] | None:
    """Decode one JSON value at ``start``; also accept the template's doubled braces ``{{...}}``."""
    try:
        return _DECODER.raw_decode(text, start)
    except ValueError:
        pass
    if not text.startswith("{{", start):
        return None
    # Outer braces doubled, inner ones single: {{"name": "x", "arguments": {"a": 1}}}
    try:
        value, end = _DECODER.raw_decode(text, start + 1)
        closing = re.compile(r"\s*}").match(text, end)
        return value, closing.end() if closing else end
    except ValueError:
        pass
    # Every brace doubled: collapse them, keeping where each kept character came from.
    collapsed, origin = [], []
    index = start
    while index < len(text):
        pair = text[index : index + 2]
        step = 2 if pair in ("{{", "}}") else 1
        collapsed.append(text[index])
        origin.append(index + step)
        index += step
    try:
        value, end = _DECODER.raw_decode("".join(collapsed))
    except ValueError:
        return None
    return value, origin[end - 1]


def _tidy(text: str) -> str:
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    # Lead-ins such as "Here is the call:" alone are noise once the call is gone, but they are the
    # model's words: keep them unless nothing but punctuation is left.
    return "" if not re.search(r"\w", text) else text
