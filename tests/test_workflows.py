"""Workflow runs: code calls granted tools through the guard and asks the model typed questions.

Each call from code takes the same durable, guarded, audited path as a model's tool call; a typed
judgement is one schema-checked, metered model request; the engine runs an agent with ``workflow:``
as that workflow instead of the model's tool loop.
"""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from meshclaw.domain.errors import ConfigurationError, UsageError
from meshclaw.policy.library import PolicyDenied
from meshclaw.runtime.workflows import register_workflow, workflow
from tests.runtime_support import run, runtime
from tests.test_approvals import _answer, _pending

CONFIG = """
organisation: {name: Example Corp, domains: [example.com]}
users:
  - {id: alice, name: Alice, email: alice@example.com}
models:
  judge:
    kind: scripted
    turns:
      - {text: '{"save": true, "note": "buy milk"}'}
agents:
  - name: filer
    owner: alice
    instructions: File what the owner asks.
    model: judge
    workflow: WORKFLOW
    autonomy: AUTONOMY
    toolsets:
      notes: {grants: [notes.add, notes.list]}
"""


def config(name: str = "test-filer", autonomy: str = "auto") -> str:
    return CONFIG.replace("WORKFLOW", name).replace("AUTONOMY", autonomy)


class Decision(BaseModel):
    save: bool
    note: str


SEEN: dict[str, object] = {}


@register_workflow("test-filer")
async def filer(calls) -> str:  # type: ignore[no-untyped-def]
    before = await calls.tool("notes.list")
    verdict = await calls.judge(Decision, instructions="Decide whether the request asks to save a note.",
                                content=calls.task)
    if verdict.save:
        await calls.tool("notes.add", text=verdict.note)
    try:
        await calls.tool("clock.now")  # not granted to this agent
    except PolicyDenied as e:
        SEEN["denied"] = e.decision.rule
    try:
        await calls.tool("notes.add", texts="wrong argument name")
    except UsageError as e:
        SEEN["usage"] = str(e)
    return f"{len(before)} notes before; saved={verdict.save}"


def test_a_workflow_calls_tools_through_the_guard_and_judges_with_the_model(home):
    SEEN.clear()
    with runtime(home, config()) as rt:
        outcome, events = run(rt, "filer", "remember to buy milk")
        assert outcome.status == "succeeded", outcome.error
        assert outcome.output == "0 notes before; saved=True"
        assert [n.text for n in rt.store.notes.list("alice")] == ["buy milk"]
        assert SEEN["denied"] == "deny-by-default" and "notes.add" in str(SEEN["usage"])
        records = rt.store.audit.records(run_id=outcome.run_id)
        decisions = [(r.tool, r.verdict) for r in records if r.kind == "decision"]
        assert decisions == [("notes.list", "allow"), ("notes.add", "allow"), ("clock.now", "deny")]
        calls = [(r.tool, r.verdict, r.data["call_id"]) for r in records if r.kind == "call"]
        assert calls == [("notes.list", "done", "code-0"), ("notes.add", "done", "code-2")]
        [judged] = [r for r in records if r.kind == "judgement"]
        assert judged.data["answer"] == {"save": True, "note": "buy milk"}
        usage = rt.store.usage.for_run(outcome.run_id)
        assert len(usage) == 1 and usage[0].input_tokens > 0  # the judgement was metered
        assert [e["tool"] for e in events if e["kind"] == "tool"] == ["notes.list", "notes.add", "clock.now"]


def test_a_workflow_call_that_needs_approval_waits_and_runs_once_approved(home):
    SEEN.clear()
    with runtime(home, config(autonomy="ask")) as rt:
        async def go():  # type: ignore[no-untyped-def]
            run_id = await rt.start("filer", "remember to buy milk")
            [request] = await _pending(rt)
            assert request.tool == "notes.add" and request.args == {"text": "buy milk"}
            _answer(rt, request, "approved")
            return await rt.wait(run_id)

        outcome = asyncio.run(go())
        assert outcome.status == "succeeded", outcome.error
        assert [n.text for n in rt.store.notes.list("alice")] == ["buy milk"]


def test_a_denied_approval_is_a_policy_denial_in_code(home):
    SEEN.clear()

    @register_workflow("test-strict")
    async def strict(calls) -> str:  # type: ignore[no-untyped-def]
        try:
            await calls.tool("notes.add", text="buy milk")
        except PolicyDenied as e:
            return f"refused: {e.decision.rule}"
        return "saved"

    with runtime(home, config("test-strict", autonomy="ask")) as rt:
        async def go():  # type: ignore[no-untyped-def]
            run_id = await rt.start("filer", "remember to buy milk")
            [request] = await _pending(rt)
            _answer(rt, request, "denied")
            return await rt.wait(run_id)

        outcome = asyncio.run(go())
        assert outcome.output == "refused: approval-denied" and rt.store.notes.list("alice") == []


def test_an_unknown_workflow_is_a_clear_error(home):
    with pytest.raises(ConfigurationError, match="unknown workflow 'no-such-flow'.*test-filer"):
        workflow("no-such-flow")
    with runtime(home, config("no-such-flow")) as rt:
        outcome, _ = run(rt, "filer", "remember to buy milk")
        assert outcome.status == "failed" and "unknown workflow 'no-such-flow'" in outcome.error


@pytest.mark.bundled_model
@pytest.mark.slow
def test_a_judgement_on_the_bundled_model_is_constrained_to_the_schema(home, bundled_server):
    """The real 1.5B model answers a typed judgement with a valid instance (JSON-schema constrained decoding)."""
    from typing import Literal

    from meshclaw.domain.config import BundledModel
    from meshclaw.runtime.judgement import ask_model, output_spec
    from meshclaw.runtime.metered import metered_model

    class Label(BaseModel):
        label: Literal["urgent", "needs_reply", "fyi", "newsletter", "spam"]
        reason: str

    model = metered_model("local", {"local": BundledModel(kind="bundled")}, home, None)
    assert type(output_spec(model, Label)).__name__ == "NativeOutput"
    answer = asyncio.run(ask_model(model, Label, "Label the email for its recipient. Answer with JSON only.",
                                   "<item>\nSubject: Weekly digest: 10 articles you missed\nUnsubscribe at the bottom.\n</item>"))
    assert isinstance(answer, Label) and answer.label in {"newsletter", "fyi", "spam", "urgent", "needs_reply"}
