"""Tool calls a small model writes as broken text: each failure form of the corpus, and what the agent
loop does with calls that cannot be read (a retry the model sees) or are written twice (run once).

The corpus is tests/data/textcalls/: recorded.jsonl holds real outputs of the bundled model
(benchmarks/record_textcalls.py), public.jsonl the forms public bug reports show. Scripted models
stand in for the model in the agent-loop tests; the parse rate is printed by
benchmarks/bench_textcalls.py.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from pydantic_ai import Agent
from pydantic_ai.messages import ModelResponse, RetryPromptPart, TextPart, ToolCallPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from meshclaw.runtime.models.textcalls import (
    UNREADABLE_TOOL,
    TextToolCall,
    TextToolCallModel,
    convert_response,
    read_text_tool_calls,
)

DATA = Path(__file__).parent / "data" / "textcalls"


def corpus(name: str) -> list[dict]:
    lines = (DATA / name).read_text().splitlines() if (DATA / name).is_file() else []
    return [item for item in map(json.loads, filter(str.strip, lines)) if item.get("expect") is not None]


def result_of(item: dict) -> dict:
    found = read_text_tool_calls(item["raw"], item["tools"], truncated=item.get("finish_reason") == "length")
    return {"calls": [[c.name, c.args] for c in found.calls if c.problem is None],
            "unreadable": sum(c.problem is not None for c in found.calls), "duplicates": len(found.duplicates)}


PUBLIC = corpus("public.jsonl")
RECORDED = corpus("recorded.jsonl")


@pytest.mark.parametrize("item", PUBLIC, ids=[i["form"] for i in PUBLIC])
def test_public_failure_form(item):
    assert result_of(item) == item["expect"], item["raw"]


@pytest.mark.parametrize("item", RECORDED, ids=[i["id"] for i in RECORDED])
def test_recorded_bundled_model_output(item):
    assert result_of(item) == item["expect"], item["raw"]


def test_corpus_is_large_enough_and_covers_the_forms():
    assert len(RECORDED) >= 40 and len(PUBLIC) >= 30
    forms = {i["form"] for i in PUBLIC}
    for needed in ("raw-newline-in-string", "raw-tab-in-string", "single-quotes", "trailing-comma",
                   "fence-tool-call-language", "two-calls-one-block", "same-call-twice-one-block", "call-then-prose"):
        assert needed in forms


def test_c1_raw_newline_call_keeps_the_body_and_leaves_no_text():
    raw = ('<tool_call>{"name": "save_draft", "arguments": {"subject": "Lunch", '
           '"body": "Hi Sam,\nFriday works.\nBest"}}</tool_call>')
    found = read_text_tool_calls(raw, {"save_draft"})
    assert found.calls == [TextToolCall("save_draft", {"subject": "Lunch", "body": "Hi Sam,\nFriday works.\nBest"})]
    assert found.rest == "" and found.duplicates == []


def test_differently_written_calls_are_not_duplicates():
    raw = ('<tool_call>{"name": "add_note", "arguments": {"text": "a"}}</tool_call>'
           '<tool_call>{"name": "add_note", "arguments": {"text": "b"}}</tool_call>')
    found = read_text_tool_calls(raw, {"add_note"})
    assert [c.args for c in found.calls] == [{"text": "a"}, {"text": "b"}] and found.duplicates == []


def test_a_missing_brace_is_repaired_unless_the_answer_was_cut_off():
    raw = '<tool_call>{"name": "add_note", "arguments": {"text": "call Bob"}'
    assert read_text_tool_calls(raw, {"add_note"}).calls == [TextToolCall("add_note", {"text": "call Bob"})]
    cut = read_text_tool_calls(raw, {"add_note"}, truncated=True).calls
    assert [(c.name, c.problem is not None) for c in cut] == [("add_note", True)]


def test_convert_response_records_unreadable_calls_and_duplicates():
    response = ModelResponse(parts=[TextPart(
        '<tool_call>nonsense</tool_call>\n'
        '<tool_call>{"name": "add_note", "arguments": {"text": "x"}}{"name": "add_note", "arguments": {"text": "x"}}'
        '</tool_call>')])
    converted = convert_response(response, {"add_note"})
    calls = [p for p in converted.parts if isinstance(p, ToolCallPart)]
    assert [c.tool_name for c in calls] == [UNREADABLE_TOOL, "add_note"]
    notes = converted.metadata["meshclaw_text_calls"]
    assert list(notes["unreadable"]) == [calls[0].tool_call_id]
    assert notes["duplicates"] == ['add_note {"text": "x"}']
    assert not any(isinstance(p, TextPart) for p in converted.parts)  # nothing left to show as an answer


# --- through a real Agent loop ---------------------------------------------------------------------------


def scripted(replies: list[str], seen: list[list], finish: list[str | None] | None = None) -> FunctionModel:
    def reply(messages, info: AgentInfo) -> ModelResponse:
        seen.append(list(messages))
        n = len(seen) - 1
        return ModelResponse(parts=[TextPart(replies[n])], finish_reason=(finish or [None] * len(replies))[n])

    async def stream(messages, info: AgentInfo):
        seen.append(list(messages))
        text = replies[len(seen) - 1]
        for i in range(0, len(text), 5):
            yield text[i : i + 5]

    return FunctionModel(reply, stream_function=stream)


def drafts_agent(model) -> tuple[Agent, list[dict]]:
    sent: list[dict] = []
    agent = Agent(model, instructions="You write drafts.", retries=2)

    @agent.tool_plain
    def save_draft(to: str, subject: str, body: str) -> str:
        """Save an email draft."""
        sent.append({"to": to, "subject": subject, "body": body})
        return f"draft {len(sent)} saved"

    return agent, sent


CALL = '{"name": "save_draft", "arguments": {"to": "sam@example.com", "subject": "Lunch", "body": "Friday works."}}'


def run(agent: Agent, prompt: str, *, stream: bool) -> str:
    if not stream:
        return agent.run_sync(prompt).output

    async def go() -> str:
        async with agent.run_stream(prompt) as result:
            return await result.get_output()

    return asyncio.run(go())


def sent_texts(messages) -> list[str]:
    return [str(p.content) for p in messages[-1].parts
            if isinstance(p, (UserPromptPart, RetryPromptPart)) or getattr(p, "outcome", None) == "retried"]


@pytest.mark.parametrize("stream", [False, True], ids=["request", "stream"])
def test_unreadable_call_is_retried_never_the_answer(stream):
    seen: list[list] = []
    replies = ['<tool_call>save_draft(to="sam@example.com")</tool_call>', f"<tool_call>{CALL}</tool_call>", "Saved."]
    agent, sent = drafts_agent(TextToolCallModel(scripted(replies, seen)))
    assert run(agent, "Draft lunch to Sam", stream=stream) == "Saved."
    assert sent == [{"to": "sam@example.com", "subject": "Lunch", "body": "Friday works."}]
    retry = sent_texts(seen[1])
    assert len(retry) == 1 and retry[0].startswith("Your tool call could not be read") and "<tool_call>" in retry[0]
    assert "Unknown tool name" not in retry[0]
    answered = seen[1][-2]  # what the model is shown of its own failed answer: the text it wrote
    assert isinstance(answered, ModelResponse) and [type(p) for p in answered.parts] == [TextPart]
    assert answered.parts[0].content == 'save_draft(to="sam@example.com")'
    assert not any(isinstance(p, ToolCallPart) and p.tool_name == UNREADABLE_TOOL for m in seen[2] for p in m.parts)


def test_call_cut_off_by_the_token_limit_is_retried_not_run():
    seen: list[list] = []
    cut = '<tool_call>{"name": "save_draft", "arguments": {"to": "sam@example.com", "subject": "Lunch", "body": "Fri'
    agent, sent = drafts_agent(TextToolCallModel(scripted([cut, CALL, "Saved."], seen, ["length", "stop", "stop"])))
    assert agent.run_sync("Draft lunch to Sam").output == "Saved."
    assert [d["body"] for d in sent] == ["Friday works."]  # the half-written body never ran
    assert "cut off" in sent_texts(seen[1])[0]
    assert seen[1][-2].parts[0].content.startswith('{"name": "save_draft"')  # shown as written


@pytest.mark.parametrize("stream", [False, True], ids=["request", "stream"])
def test_the_same_call_twice_runs_once_and_the_model_is_told(stream):
    seen: list[list] = []
    replies = [f"<tool_call>{CALL}{CALL}</tool_call>", "Saved once."]
    agent, sent = drafts_agent(TextToolCallModel(scripted(replies, seen), tool_result_nudge="Answer now."))
    assert run(agent, "Draft lunch to Sam", stream=stream) == "Saved once."
    assert len(sent) == 1
    notes = sent_texts(seen[1])
    assert notes[0] == "Answer now." and "same call more than once" in notes[1] and "save_draft" in notes[1]


@pytest.mark.parametrize("stream", [False, True], ids=["request", "stream"])
def test_raw_newlines_single_quotes_and_trailing_commas_run_the_tool(stream):
    seen: list[list] = []
    broken = "```json\n{'name': 'save_draft', 'arguments': {'to': 'sam@example.com', 'subject': 'Lunch', " \
             "'body': 'Hi Sam,\nFriday works.\tBest',},}\n```\nI saved the draft."
    agent, sent = drafts_agent(TextToolCallModel(scripted([broken, "Done."], seen)))
    assert run(agent, "Draft lunch to Sam", stream=stream) == "Done."
    assert sent == [{"to": "sam@example.com", "subject": "Lunch", "body": "Hi Sam,\nFriday works.\tBest"}]


def test_a_model_that_never_writes_a_readable_call_fails_the_run_instead_of_answering_with_it():
    from pydantic_ai.exceptions import UnexpectedModelBehavior

    seen: list[list] = []
    garbage = '<tool_call>{"name": save_draft to sam</tool_call>'
    agent, sent = drafts_agent(TextToolCallModel(scripted([garbage] * 5, seen)))
    with pytest.raises(UnexpectedModelBehavior):
        agent.run_sync("Draft lunch to Sam")
    assert sent == [] and len(seen) == 3  # the first try and the agent's two retries
