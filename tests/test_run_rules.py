"""Run rules live in the runtime: whoever calls ``Runtime.start``, an unpromoted agent rehearses,
a stopped one is refused, and every model request path (plain and streamed) is metered and budgeted."""

from __future__ import annotations

import asyncio

import pytest

from meshclaw.domain.errors import BudgetExceeded, RunStopped
from tests.runtime_support import run, runtime
from tests.test_runs import config


def test_start_called_directly_rehearses_an_unpromoted_agent(home):
    with runtime(home, config(), promote=False) as rt:
        outcome, _ = run(rt, "keeper", "remember to buy milk")
        row = rt.store.runs.get(outcome.run_id)
        assert outcome.status == "succeeded" and row.rehearsal
        assert rt.store.notes.list("alice") == []  # the write was captured, not executed
        records = rt.store.audit.records(run_id=outcome.run_id)
        assert any(r.kind == "captured" and r.tool == "notes.add" for r in records)
        start = next(r for r in records if r.kind == "run")
        assert start.data["rehearsal"] is True and start.data["why_rehearsal"] == "not promoted"


def test_start_acts_for_a_promoted_agent(home):
    with runtime(home, config(), promote=False) as rt:
        rt.store.agents.set_promoted("keeper", True, "alice")
        outcome, _ = run(rt, "keeper", "remember to buy milk")
        assert not rt.store.runs.get(outcome.run_id).rehearsal
        assert [n.text for n in rt.store.notes.list("alice")] == ["buy milk"]


def _streaming_deps(rt, limit_tokens: int | None):  # type: ignore[no-untyped-def]
    """A run's deps (budget on the agent if given) with current_run set, for a model used outside the loop."""
    from meshclaw.runtime.context import RunDeps, current_run

    agent = rt.config.agent("keeper")
    if limit_tokens is not None:
        agent = agent.model_copy(update={"budget": agent.budget.model_copy(update={"tokens_per_day": limit_tokens})})
    rt.store.runs.create("stream-run", agent.name, agent.owner, "stream", {}, trigger="manual")
    deps = RunDeps(run_id="stream-run", agent=agent, owner=rt.config.user("alice"), config=rt.config,
                   store=rt.store, secrets=rt.secrets)
    return deps, current_run.set(deps)


def _streamed_agent():  # type: ignore[no-untyped-def]
    """A pydantic-ai agent whose model only streams: every request goes through request_stream."""
    from pydantic_ai import Agent
    from pydantic_ai.models.function import FunctionModel

    from meshclaw.runtime.metered import MeteredModel
    from meshclaw.domain.config import Price
    from meshclaw.runtime.pricing import Pricing

    async def stream(messages, info):  # type: ignore[no-untyped-def]
        for word in ["the ", "report ", "is ", "due ", "Friday"]:
            yield word

    model = MeteredModel(FunctionModel(stream_function=stream, model_name="streamer"), Pricing("streamer", Price(input=0, output=0)))
    return Agent(model, instructions="Answer briefly.")


def test_a_streamed_request_is_metered_and_audited(home):
    with runtime(home, config()) as rt:
        deps, token = _streaming_deps(rt, None)
        try:
            async def go() -> str:
                async with _streamed_agent().run_stream("when is the report due?") as result:
                    return "".join([part async for part in result.stream_text(delta=True)])

            text = asyncio.run(go())
        finally:
            from meshclaw.runtime.context import current_run

            current_run.reset(token)
        assert text == "the report is due Friday"
        usage = rt.store.usage.for_run("stream-run")
        assert len(usage) == 1 and usage[0].output_tokens > 0 and usage[0].model == "streamer"
        model_records = [r for r in rt.store.audit.records(run_id="stream-run") if r.kind == "model"]
        assert len(model_records) == 1 and model_records[0].data["streamed"] is True


def test_a_streamed_request_respects_the_token_budget_and_the_kill_switch(home):
    from meshclaw.runtime.context import current_run

    with runtime(home, config()) as rt:
        deps, token = _streaming_deps(rt, 10)  # far below one request's reservation
        try:
            async def go() -> None:
                async with _streamed_agent().run_stream("when is the report due?") as result:
                    await result.get_output()

            with pytest.raises(BudgetExceeded, match="tokens per day"):
                asyncio.run(go())
            assert rt.store.usage.for_run("stream-run") == []  # refused before it was sent
            current_run.reset(token)
            deps, token = _streaming_deps_again(rt)
            rt.store.agents.set_stopped("keeper", True, "alice")
            with pytest.raises(RunStopped):
                asyncio.run(go())
        finally:
            current_run.reset(token)


def _streaming_deps_again(rt):  # type: ignore[no-untyped-def]
    from meshclaw.runtime.context import RunDeps, current_run

    deps = RunDeps(run_id="stream-run", agent=rt.config.agent("keeper"), owner=rt.config.user("alice"),
                   config=rt.config, store=rt.store, secrets=rt.secrets)
    return deps, current_run.set(deps)


def test_a_grant_condition_on_an_argument_the_tool_lacks_stops_the_run(home):
    """Fail closed at run time too (config check says it first): the condition could never hold the call back."""
    with runtime(home, config(grants=[{"tool": "notes.add", "when": {"txt": {"matches": "milk"}}}, "notes.list"])) as rt:
        outcome, _ = run(rt, "keeper", "remember to buy milk")
        assert outcome.status == "failed" and "condition on txt, which notes.add does not take" in outcome.error
        assert rt.store.notes.list("alice") == []
