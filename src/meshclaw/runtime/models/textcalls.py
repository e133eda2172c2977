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
  placeholder ToolCallPart (``UNREADABLE_TOOL``: nothing runs) that pydantic-ai answers with a
  retry, counted against the agent's retry limit. When the history goes back to the model, the
  wrapper shows the model the text it wrote and, as the retry, what was wrong and the form to use.
- Byte-identical calls in one response run once; the wrapper tells the model in its next request.
- Genuine text is left alone: fenced or bare JSON counts only when it names a tool offered in
  this request and has the shape of a call.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Collection
from contextlib import asynccontextmanager
from dataclasses import replace
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

from .textcall_reading import UNREADABLE_TOOL, TextCalls, TextToolCall, parse_text_tool_calls, read_text_tool_calls

__all__ = [  # the reading side lives in textcall_reading; re-exported for callers of this module
    "UNREADABLE_TOOL",
    "TextCalls",
    "TextToolCall",
    "TextToolCallModel",
    "convert_response",
    "parse_text_tool_calls",
    "read_text_tool_calls",
]

_METADATA_KEY = "meshclaw_text_calls"
_CALL_FORM = '<tool_call>{"name": "<tool>", "arguments": {...}}</tool_call> with valid JSON'


def convert_response(response: ModelResponse, tool_names: Collection[str]) -> ModelResponse:
    """Rewrite text tool calls in ``response`` into ToolCallParts; return it unchanged if there are none.

    Text around the calls (a lead-in, or a claim written before any result exists) is dropped: a
    streamed run would otherwise end on it as its answer before the calls ran. Unreadable calls
    become ToolCallParts of ``UNREADABLE_TOOL`` (so nothing runs) with the raw text as arguments:
    pydantic-ai answers them with a retry instead of ending the run with the text as its answer.
    The response's ``metadata`` records the unreadable calls' ids with what was wrong and the
    duplicates that were dropped; ``TextToolCallModel`` tells the model both.
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
            call_part = ToolCallPart(tool_name=UNREADABLE_TOOL if call.problem else call.name, args=call.args)
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
                outgoing.append(_as_written(message, unreadable) if unreadable else message)
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


def _as_written(response: ModelResponse, unreadable: dict[str, str]) -> ModelResponse:
    """The response as the model wrote it where a call could not be read: its text, not a placeholder call.

    The placeholder's raw-text arguments are not JSON, which a server rendering the history through
    its chat template may refuse; and the model should see what it wrote.
    """
    parts: list[ModelResponsePart] = []
    for part in response.parts:
        if isinstance(part, ToolCallPart) and part.tool_call_id in unreadable:
            part = TextPart(content=part.args if isinstance(part.args, str) else json.dumps(part.args))
        parts.append(part)
    return replace(response, parts=parts)


def _with_notes(message: ModelRequest, unreadable: dict[str, str], duplicates: list[str]) -> ModelRequest:
    parts, retries = [], []
    for part in message.parts:
        if getattr(part, "tool_call_id", None) in unreadable:
            # Its call is shown as text (see _as_written), so pydantic-ai's answer to the placeholder
            # ("unknown tool") becomes a user message saying what was wrong and what to write.
            retries.append(UserPromptPart(content=f"Your tool call could not be read: {unreadable[part.tool_call_id]}. "
                                                  f"Write the call again, complete, as {_CALL_FORM}."))
            continue
        parts.append(part)
    parts.extend(retries)  # after every tool result, which must follow the calls they answer
    if duplicates:
        listed = "; ".join(duplicates)
        parts.append(UserPromptPart(content=f"Your last answer wrote the same call more than once ({listed}). "
                                            "It ran once; its result is above. Do not repeat it."))
    return replace(message, parts=parts)


def _describe(call: TextToolCall) -> str:
    args = call.args if isinstance(call.args, str) else json.dumps(call.args, ensure_ascii=False)
    return f"{call.name} {args[:200]}"
