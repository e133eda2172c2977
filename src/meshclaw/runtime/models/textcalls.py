"""Turn tool calls that a small local model writes as text into real pydantic-ai tool calls.

Qwen2.5-Coder behind llama.cpp never fills ``tool_calls``: it writes the call into ``content``,
as ``<tool_call>{...}</tool_call>``, as a fenced json block, as bare JSON, or copying the doubled
braces of its own chat template (``{{"name": ...}}``). Its JSON is often not quite JSON: raw
newlines or tabs inside strings, single quotes, trailing commas, a missing closing brace. Each
call is read with ``json.loads`` first and, failing that, with json-repair (a maintained tolerant
parser for LLM output). ``TextToolCallModel`` wraps the model and rewrites such text into
``ToolCallPart``s. It runs inside ``request`` (and drains ``request_stream`` through the same
code), so under DBOS the model step's checkpoint already holds the parsed calls.

Three rules keep a broken call from turning into the run's answer or into a double side effect:

- A call that still cannot be read (cut off by the token limit, or beyond repair) becomes a
  ToolCallPart that pydantic-ai answers with a RetryPromptPart; the wrapper words that retry
  (what was wrong, the form to use) when it sends the history back, so the model re-issues it.
- Byte-identical calls in one response run once; the wrapper tells the model in its next request.
- Genuine text is left alone: fenced or bare JSON counts only when it names a tool offered in
  this request and has the shape of a call.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncGenerator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from json_repair import repair_json
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

__all__ = [
    "UNREADABLE_TOOL",
    "TextCalls",
    "TextToolCall",
    "TextToolCallModel",
    "convert_response",
    "parse_text_tool_calls",
    "read_text_tool_calls",
]

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|(?=<tool_call>)|\Z)", re.S)
_FENCED = re.compile(r"```[ \t]*([\w+-]*)[ \t]*\r?\n?(.*?)(?:```|\Z)", re.S)
_CALL_FENCES = {"", "json", "json5", "tool_call"}  # a ```python block holds code, never a call
_FENCE_MARKS = re.compile(r"^\s*```[ \t]*(?:json|JSON)?|```\s*$")
_JSON_START = re.compile(r"[{\[]")
_ANY_FENCE = re.compile(r"```.*?(?:```|\Z)", re.S)
_NAMED = re.compile(r"""["']?name["']?\s*:\s*["']([\w.-]+)["']""")
# Keys a call object may carry; anything else means the JSON is data, not a call.
_CALL_KEYS = {"name", "arguments", "parameters", "args", "type", "id", "function"}

# The tool name given to a call whose name could not be read: pydantic-ai answers it with a retry.
UNREADABLE_TOOL = "unreadable_tool_call"
_METADATA_KEY = "meshclaw_text_calls"
_CALL_FORM = '<tool_call>{"name": "<tool>", "arguments": {...}}</tool_call> with valid JSON'


@dataclass(frozen=True)
class TextToolCall:
    """One call read from text. ``problem`` is set (and ``args`` holds the raw text) when it could not be read."""

    name: str
    args: dict[str, Any] | str  # a string when the model wrote arguments that are not JSON
    problem: str | None = None
    raw: str = field(default="", compare=False, repr=False)  # the call as written, for duplicate detection


@dataclass(frozen=True)
class TextCalls:
    """What ``read_text_tool_calls`` found: calls in order (duplicates removed), the text left, the duplicates."""

    calls: list[TextToolCall]
    rest: str
    duplicates: list[TextToolCall]


def parse_text_tool_calls(text: str, tool_names: Collection[str]) -> tuple[list[TextToolCall], str]:
    """Find readable tool calls written in ``text``; return them in order and the text left once all calls are removed.

    See ``read_text_tool_calls``; this form drops unreadable calls and keeps duplicates.
    """
    found = _find(text, tool_names, truncated=False)
    return [call for _, _, group in found for call in group if call.problem is None], _rest(text, found)


def read_text_tool_calls(text: str, tool_names: Collection[str], *, truncated: bool = False) -> TextCalls:
    """Find tool calls written in ``text``: readable ones, unreadable ones (``problem`` set), duplicates.

    ``<tool_call>`` blocks are the model's own protocol, so any name counts there (an unknown one
    reaches pydantic-ai, which tells the model which tools exist) and a block that cannot be read
    is an unreadable call. Fenced and bare JSON count only when they name one of ``tool_names``,
    since an answer may legitimately contain JSON. ``truncated`` says the model was stopped by its
    token limit: a call whose JSON never closes was then cut off and is unreadable, where otherwise
    a missing closing brace is repaired. A call written byte for byte like an earlier one in the
    same text is listed once in ``calls`` and again in ``duplicates``.
    """
    found = _find(text, tool_names, truncated=truncated)
    calls, duplicates, seen = [], [], set()
    for _, _, group in found:
        for call in group:
            key = call.raw.strip() or repr((call.name, call.args))
            if key in seen:
                duplicates.append(call)
            else:
                seen.add(key)
                calls.append(call)
    return TextCalls(calls, _rest(text, found), duplicates)


def convert_response(response: ModelResponse, tool_names: Collection[str]) -> ModelResponse:
    """Rewrite text tool calls in ``response`` into ToolCallParts; return it unchanged if there are none.

    Text around the calls (a lead-in, or a claim written before any result exists) is dropped: a
    streamed run would otherwise end on it as its answer before the calls ran.
    Unreadable calls become ToolCallParts too (named ``UNREADABLE_TOOL`` when no offered name could
    be read, with the raw text as arguments) so the agent sends a retry instead of ending the run
    with the text as its answer. The response's ``metadata`` records the unreadable calls' ids with
    what was wrong and the duplicates that were dropped; ``TextToolCallModel`` tells the model both.
    """
    if not tool_names or any(isinstance(part, ToolCallPart) for part in response.parts):
        return response  # real tool calls came back: the text, if any, is genuine
    parts: list[ModelResponsePart] = []
    unreadable: dict[str, str] = {}
    duplicates: list[str] = []
    converted = False
    for part in response.parts:
        if not isinstance(part, TextPart):
            parts.append(part)
            continue
        found = read_text_tool_calls(part.content, tool_names, truncated=response.finish_reason == "length")
        if not found.calls:
            parts.append(part)
            continue
        converted = True
        for call in found.calls:
            call_part = ToolCallPart(tool_name=call.name, args=call.args)
            if call.problem is not None:
                unreadable[call_part.tool_call_id] = call.problem
            parts.append(call_part)
        duplicates.extend(_describe(call) for call in found.duplicates)
    if not converted:
        return response
    metadata = dict(response.metadata or {})
    if unreadable or duplicates:
        metadata[_METADATA_KEY] = {"unreadable": unreadable, "duplicates": duplicates}
    return replace(response, parts=parts, finish_reason="tool_call", metadata=metadata or None)


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
        """What the model is sent: the nudge, and what convert_response recorded about the previous response.

        Derived from the history alone, so every request repeats it identically (prefix cache) and
        a DBOS replay sends what the first run sent.
        """
        outgoing: list[ModelMessage] = []
        unreadable: dict[str, str] = {}
        duplicates: list[str] = []
        for message in messages:
            if isinstance(message, ModelResponse):
                notes = (message.metadata or {}).get(_METADATA_KEY) or {}
                unreadable, duplicates = dict(notes.get("unreadable") or {}), list(notes.get("duplicates") or [])
                outgoing.append(message)
                continue
            if self.tool_result_nudge:
                message = self._nudged(message)
            if isinstance(message, ModelRequest) and (unreadable or duplicates):
                message = _with_notes(message, unreadable, duplicates)
            unreadable, duplicates = {}, []
            outgoing.append(message)
        return outgoing

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


def _with_notes(message: ModelRequest, unreadable: dict[str, str], duplicates: list[str]) -> ModelRequest:
    parts = []
    for part in message.parts:
        retried = isinstance(part, RetryPromptPart) or getattr(part, "outcome", None) == "retried"
        if retried and getattr(part, "tool_call_id", None) in unreadable:
            # pydantic-ai's own wording ("unknown tool", a JSON error) does not say what to do here.
            part = replace(part, content=f"Your tool call could not be read: {unreadable[part.tool_call_id]}. "
                                         f"Write the call again, complete, as {_CALL_FORM}.")
        parts.append(part)
    if duplicates:
        listed = "; ".join(duplicates)
        parts.append(UserPromptPart(content=f"Your last answer wrote the same call more than once ({listed}). "
                                            "It ran once; its result is above. Do not repeat it."))
    return replace(message, parts=parts)


# --- decoding ------------------------------------------------------------------------------------


_Found = list[tuple[int, int, list[TextToolCall]]]


def _find(text: str, tool_names: Collection[str], *, truncated: bool) -> _Found:
    """Every call-holding span of ``text`` as (start, end, calls), in order of position."""
    if not tool_names or not text:
        return []
    found: _Found = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e, _ in found)

    for match in _TAGGED.finditer(text):
        calls = _read_block(match.group(1), tool_names, known_only=False, truncated=truncated)
        if calls is None:  # the model's own call syntax around something unreadable
            calls = [_unreadable(match.group(1), tool_names, "the text inside <tool_call> is not a JSON call")]
        found.append((match.start(), match.end(), calls))
    for match in _FENCED.finditer(text):
        payload = match.group(2)
        if match.group(1).lower() in _CALL_FENCES and free(match.start(), match.end()):
            calls = _read_block(payload, tool_names, known_only=True, truncated=truncated)
            if calls is None and _starts_like_a_call(payload.strip()) and _broken_call(payload, tool_names):
                calls = [_unreadable(payload, tool_names, "the call in the code block is not valid JSON")]
            if calls:
                found.append((match.start(), match.end(), calls))
    # Bare JSON is looked for outside code blocks only: JSON inside ```python``` is code.
    fences = [(m.start(), m.end()) for m in _ANY_FENCE.finditer(text)]
    position = 0
    while (match := _JSON_START.search(text, position)) is not None:
        start = match.start()
        taken = [e for s, e, _ in found if s <= start < e] + [e for s, e in fences if s <= start < e]
        if taken:
            position = max(taken)
            continue
        end = _value_end(text, start)
        span = text[start:end or len(text)]
        calls = _read_value(span, tool_names, known_only=True, cut_off=end is None and truncated)
        if calls is None and _starts_like_a_call(span) and _broken_call(span, tool_names):
            calls = [_unreadable(span, tool_names, "the call is not valid JSON")]
        if calls and free(start, end or len(text)):
            found.append((start, end or len(text), calls))
            position = end or len(text)
        else:
            # A whole JSON value is skipped: a call-shaped object nested inside other JSON is data.
            position = end if end is not None else start + 1
    found.sort(key=lambda item: item[0])
    return found


def _read_block(payload: str, tool_names: Collection[str], *, known_only: bool, truncated: bool) -> list[TextToolCall] | None:
    """Calls in a tagged or fenced block, one or more values with at most prose around them; None if it holds none."""
    payload = _FENCE_MARKS.sub("", payload)  # <tool_call> wrapping a fenced block
    calls: list[TextToolCall] = []
    position = 0
    while (match := _JSON_START.search(payload, position)) is not None:
        if known_only and payload[position : match.start()].strip():
            return None  # words in a code block: code or an example, not a call block
        end = _value_end(payload, match.start())
        found = _read_value(payload[match.start() : end or len(payload)], tool_names, known_only=known_only,
                            cut_off=end is None and truncated)
        if found is None:
            return None  # data in the block: a fenced example, not calls
        calls.extend(found)
        if end is None:
            return calls
        position = end
    if known_only and payload[position:].strip():
        return None
    return calls or None


def _read_value(span: str, tool_names: Collection[str], *, known_only: bool, cut_off: bool) -> list[TextToolCall] | None:
    """The calls one JSON(-like) value holds, or None if it is not call-shaped (or not readable at all)."""
    value = _loads(span)
    calls = _as_calls(value, tool_names, known_only=known_only)
    if calls is None:
        return None
    if cut_off:  # repaired into shape, but its end was never written: the arguments may be cut short
        return [_unreadable(span, tool_names, "the call was cut off before its end (the answer was too long)")]
    return [replace(call, raw=span if len(calls) == 1 else json.dumps([call.name, call.args])) for call in calls]


def _loads(span: str) -> Any:
    """``json.loads``, else json-repair's reading (raw control characters, single quotes, trailing commas...)."""
    try:
        return json.loads(span)
    except ValueError:
        pass
    try:
        value = repair_json(span, return_objects=True)
    except Exception:  # noqa: BLE001 - a repair that fails means the text is not readable, nothing more
        return None
    return None if value == "" else value


def _as_calls(value: Any, tool_names: Collection[str], *, known_only: bool) -> list[TextToolCall] | None:
    items = value if isinstance(value, list) else [value]
    calls = [_as_call(item, tool_names, known_only=known_only) for item in items]
    if not items or any(call is None for call in calls):
        return None
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
    if args is None or args == []:  # json-repair reads the template's doubled "{{}}" as an empty list
        args = {}
    if isinstance(args, str):
        try:
            args = json.loads(args) if args.strip() else {}
        except ValueError:
            return TextToolCall(name, args)  # let pydantic-ai's validation tell the model what is wrong
    if not isinstance(args, dict):
        return None
    return TextToolCall(name, args)


def _unreadable(raw: str, tool_names: Collection[str], problem: str) -> TextToolCall:
    named = [m.group(1) for m in _NAMED.finditer(raw) if m.group(1) in tool_names]
    return TextToolCall(named[0] if named else UNREADABLE_TOOL, raw.strip(), problem=problem, raw=raw)


def _broken_call(text: str, tool_names: Collection[str]) -> bool:
    """Text that names an offered tool as a call would and is not valid JSON: a call gone wrong.

    Valid JSON that is not call-shaped is data (an example, a record) and stays text.
    """
    if not any(m.group(1) in tool_names for m in _NAMED.finditer(text)):
        return False
    try:
        json.loads(_FENCE_MARKS.sub("", text))
    except ValueError:
        return True
    return False


def _starts_like_a_call(span: str) -> bool:
    return re.match(r"""[{\[]+\s*["']?(name|type|function)["']?\s*:""", span) is not None


def _value_end(text: str, start: int) -> int | None:
    """Index just past the bracketed value opening at ``text[start]``, or None if it never closes.

    Only finds where the value ends (strings in either quote, escapes, nesting); reading it is
    left to ``_loads``. A single quote opens a string only where a value or key can start, so an
    apostrophe in unquoted text does not.
    """
    depth, quote, previous, index = 0, "", "", start
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 2
                continue
            if char == quote:
                quote = ""
        elif char == '"' or (char == "'" and previous in "{[,:"):
            quote = char
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return index + 1
        if not char.isspace():
            previous = char
        index += 1
    return None


def _rest(text: str, found: _Found) -> str:
    if not found:
        return text
    rest, cursor = [], 0
    for start, end, _ in found:
        rest.append(text[cursor:start])
        cursor = end
    rest.append(text[cursor:])
    text = re.sub(r"\n{3,}", "\n\n", "".join(rest)).strip()
    # Lead-ins such as "Here is the call:" alone are noise once the call is gone, but they are the
    # model's words: keep them unless nothing but punctuation is left.
    return "" if not re.search(r"\w", text) else text


def _describe(call: TextToolCall) -> str:
    args = call.args if isinstance(call.args, str) else json.dumps(call.args, ensure_ascii=False)
    return f"{call.name} {args[:200]}"
