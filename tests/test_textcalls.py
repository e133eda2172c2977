"""Unit tests for turning text-written tool calls into pydantic-ai ToolCallParts (no model needed)."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import (
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel

from meshclaw.runtime.models.textcalls import (
    TextToolCall,
    TextToolCallModel,
    convert_response,
    parse_text_tool_calls,
)

TOOLS = {"add_note", "current_time"}


def calls_of(text: str, tools=TOOLS) -> list[TextToolCall]:
    return parse_text_tool_calls(text, tools)[0]


def test_tagged_call():
    calls, rest = parse_text_tool_calls('<tool_call>\n{"name": "add_note", "arguments": {"text": "hi"}}\n</tool_call>', TOOLS)
    assert calls == [TextToolCall("add_note", {"text": "hi"})]
    assert rest == ""


def test_fenced_json_call_with_prose_around():
    text = 'Sure, saving it now.\n```json\n{\n  "name": "add_note",\n  "arguments": {"text": "buy milk"}\n}\n```\nDone soon.'
    calls, rest = parse_text_tool_calls(text, TOOLS)
    assert calls == [TextToolCall("add_note", {"text": "buy milk"})]
    assert rest == "Sure, saving it now.\n\nDone soon."


def test_bare_json_call_with_trailing_prose():
    calls, rest = parse_text_tool_calls('{"name": "current_time", "arguments": {}} I will tell you the time.', TOOLS)
    assert calls == [TextToolCall("current_time", {})]
    assert rest == "I will tell you the time."


def test_several_calls_in_order_across_forms():
    text = (
        '<tool_call>{"name": "current_time", "arguments": {}}</tool_call>\n'
        '<tool_call>{"name": "add_note", "arguments": {"text": "a"}}</tool_call>\n'
        '{"name": "add_note", "arguments": {"text": "b"}}'
    )
    assert calls_of(text) == [
        TextToolCall("current_time", {}),
        TextToolCall("add_note", {"text": "a"}),
        TextToolCall("add_note", {"text": "b"}),
    ]


def test_unclosed_tags_split_on_next_tag():
    text = '<tool_call>{"name": "current_time", "arguments": {}}\n<tool_call>{"name": "add_note", "arguments": {"text": "x"}}'
    assert calls_of(text) == [TextToolCall("current_time", {}), TextToolCall("add_note", {"text": "x"})]


def test_json_array_of_calls():
    text = '[{"name": "current_time", "arguments": {}}, {"name": "add_note", "arguments": {"text": "t"}}]'
    assert calls_of(text) == [TextToolCall("current_time", {}), TextToolCall("add_note", {"text": "t"})]


def test_arguments_given_as_json_string():
    text = '{"name": "add_note", "arguments": "{\\"text\\": \\"call Bob\\"}"}'
    assert calls_of(text) == [TextToolCall("add_note", {"text": "call Bob"})]


def test_arguments_string_that_is_not_json_is_passed_on_for_validation():
    assert calls_of('<tool_call>{"name": "add_note", "arguments": "call Bob"}</tool_call>') == [
        TextToolCall("add_note", "call Bob")
    ]


def test_parameters_key_and_openai_function_shape():
    assert calls_of('{"name": "add_note", "parameters": {"text": "p"}}') == [TextToolCall("add_note", {"text": "p"})]
    openai_shape = '{"type": "function", "function": {"name": "add_note", "arguments": {"text": "f"}}}'
    assert calls_of(openai_shape) == [TextToolCall("add_note", {"text": "f"})]


def test_missing_arguments_mean_no_arguments():
    assert calls_of('<tool_call>{"name": "current_time"}</tool_call>') == [TextToolCall("current_time", {})]


@pytest.mark.parametrize(
    "text",
    [
        '{{"name": "add_note", "arguments": {"text": "milk"}}}',  # outer braces doubled
        '{{"name": "add_note", "arguments": {{"text": "milk"}}}}',  # every brace doubled
        '<tool_call>\n{{"name": "add_note", "arguments": {"text": "milk"}}}\n</tool_call>',
        '```json\n{{"name": "add_note", "arguments": {{"text": "milk"}}}}\n```',
    ],
)
def test_doubled_brace_forms(text):
    calls, rest = parse_text_tool_calls(text, TOOLS)
    assert calls == [TextToolCall("add_note", {"text": "milk"})]
    assert rest == ""


def test_doubled_braces_with_nested_arguments():
    text = '{{"name": "add_note", "arguments": {"text": "x", "meta": {"pin": true}}}}'
    assert calls_of(text) == [TextToolCall("add_note", {"text": "x", "meta": {"pin": True}})]


def test_doubled_braces_keep_following_prose():
    calls, rest = parse_text_tool_calls('{{"name": "current_time", "arguments": {{}}}} then I answer.', TOOLS)
    assert calls == [TextToolCall("current_time", {})]
    assert rest == "then I answer."


@pytest.mark.parametrize(
    "text",
    [
        "It is 14:05. I saved your note.",
        '```json\n{"name": "Alice", "age": 30}\n```',  # data whose "name" is not a tool
        '{"name": "add_note", "arguments": {"text": "x"}, "note": "extra key"}',  # not the shape of a call
        '```python\nprint({"name": "add_note", "arguments": {}})\n```',  # code, not a call block
        '{"example": {"name": "add_note", "arguments": {"text": "nested"}}}',  # call-shaped data inside data
        '{"name": "send_email", "arguments": {}}',  # bare JSON naming a tool not offered
        "Use braces like {{this}} in templates, or {that}.",
        '[1, 2, {"a": "b"}]',
    ],
)
def test_genuine_text_is_left_alone(text):
    calls, rest = parse_text_tool_calls(text, TOOLS)
    assert calls == []
    assert rest == text


def test_nothing_is_converted_without_offered_tools():
    assert parse_text_tool_calls('{"name": "add_note", "arguments": {}}', set()) == (
        [],
        '{"name": "add_note", "arguments": {}}',
    )


def test_tagged_call_to_unknown_tool_still_becomes_a_call():
    # pydantic-ai answers an unknown tool name with the list of real ones, which lets the model correct itself.
    assert calls_of('<tool_call>{"name": "send_email", "arguments": {}}</tool_call>') == [TextToolCall("send_email", {})]


def test_convert_response_rewrites_parts_and_finish_reason():
    response = ModelResponse(
        parts=[TextPart('Saving.\n{"name": "add_note", "arguments": {"text": "x"}}')], finish_reason="stop"
    )
    converted = convert_response(response, TOOLS)
    assert [type(p) for p in converted.parts] == [ToolCallPart]  # the lead-in would end a streamed run
    call = converted.parts[0]
    assert (call.tool_name, call.args_as_dict()) == ("add_note", {"text": "x"})
    assert call.tool_call_id  # a fresh id, so the tool return can refer to it
    assert converted.finish_reason == "tool_call"


def test_convert_response_keeps_real_tool_calls_and_plain_text():
    real = ModelResponse(parts=[TextPart('{"name": "add_note", "arguments": {}}'), ToolCallPart("current_time", {})])
    assert convert_response(real, TOOLS) is real
    plain = ModelResponse(parts=[TextPart("All done.")])
    assert convert_response(plain, TOOLS) is plain


# --- the wrapper driving a real Agent loop ------------------------------------------------------------


def scripted_text_model(replies: list[str], seen: list[list]) -> FunctionModel:
    """A model that answers with fixed text, like the bundled model does, recording what it was sent."""

    def reply(messages, info: AgentInfo) -> ModelResponse:
        seen.append(list(messages))
        return ModelResponse(parts=[TextPart(replies[len(seen) - 1])])

    async def stream(messages, info: AgentInfo):
        seen.append(list(messages))
        text = replies[len(seen) - 1]
        for i in range(0, len(text), 7):  # arrive in pieces, as a real stream does
            yield text[i : i + 7]

    return FunctionModel(reply, stream_function=stream)


def build_agent(model) -> tuple[Agent, list[str]]:
    notes: list[str] = []
    agent = Agent(model, instructions="You keep notes.")

    @agent.tool_plain
    def add_note(text: str) -> str:
        """Save a note."""
        notes.append(text)
        return f"saved note #{len(notes)}"

    return agent, notes


def test_agent_runs_text_tool_call_then_answers():
    seen: list[list] = []
    replies = ['```json\n{"name": "add_note", "arguments": {"text": "buy milk"}}\n```', "Saved: buy milk."]
    agent, notes = build_agent(TextToolCallModel(scripted_text_model(replies, seen)))
    result = agent.run_sync("Note: buy milk")
    assert notes == ["buy milk"]
    assert result.output == "Saved: buy milk."
    returns = [p for m in result.all_messages() for p in getattr(m, "parts", []) if isinstance(p, ToolReturnPart)]
    assert [r.content for r in returns] == ["saved note #1"]


def test_streamed_run_converts_calls_too():
    seen: list[list] = []
    replies = ['<tool_call>{{"name": "add_note", "arguments": {"text": "stream"}}}</tool_call>', "Noted."]
    agent, notes = build_agent(TextToolCallModel(scripted_text_model(replies, seen)))

    async def run() -> str:
        async with agent.run_stream("Note: stream") as result:
            return await result.get_output()

    assert asyncio.run(run()) == "Noted."
    assert notes == ["stream"]


def test_nudge_follows_every_tool_result_but_history_is_untouched():
    seen: list[list] = []
    replies = [
        '{"name": "add_note", "arguments": {"text": "one"}}',
        '{"name": "add_note", "arguments": {"text": "two"}}',
        "Both saved.",
    ]
    nudge = "Answer in plain text now."
    agent, notes = build_agent(TextToolCallModel(scripted_text_model(replies, seen), tool_result_nudge=nudge))
    result = agent.run_sync("Save one and two")
    assert notes == ["one", "two"] and result.output == "Both saved."

    def nudges(messages) -> list[int]:
        # Index of every request ending with the nudge right after tool results.
        return [
            i
            for i, m in enumerate(messages)
            if isinstance(m, ModelRequest)
            and isinstance(m.parts[-1], UserPromptPart)
            and m.parts[-1].content == nudge
            and isinstance(m.parts[-2], ToolReturnPart)
        ]

    # The third request carries both tool results, each followed by the nudge: a stable prefix.
    assert len(nudges(seen[1])) == 1 and len(nudges(seen[2])) == 2
    assert nudges(seen[1]) == nudges(seen[2])[:1]
    assert nudges(result.all_messages()) == []  # what is stored is what really happened


def test_nudge_is_not_added_after_a_retry():
    seen: list[list] = []
    # First call has arguments that fail validation, so pydantic-ai sends a retry prompt instead of a result.
    replies = ['{"name": "add_note", "arguments": {"wrong": 1}}', '{"name": "add_note", "arguments": {"text": "ok"}}', "Done."]
    agent, notes = build_agent(TextToolCallModel(scripted_text_model(replies, seen), tool_result_nudge="N"))
    assert agent.run_sync("save ok").output == "Done."
    assert notes == ["ok"]
    second_request = seen[1][-1]
    assert not any(isinstance(p, UserPromptPart) and p.content == "N" for p in second_request.parts)
    assert any(isinstance(p, UserPromptPart) and p.content == "N" for p in seen[2][-1].parts)


def test_real_tool_calls_pass_through_the_wrapper():
    def reply(messages, info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart("add_note", json.dumps({"text": "native"}))])
        return ModelResponse(parts=[TextPart("ok")])

    agent, notes = build_agent(TextToolCallModel(FunctionModel(reply)))
    assert agent.run_sync("x").output == "ok"
    assert notes == ["native"]
