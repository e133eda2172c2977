"""Rules that never fall out of context, context that does not grow, and damaged memory.

The owner's standing rules and the agent's grants are instructions, which pydantic-ai sends with
every model request and never keeps in the message history; a long run's history is compacted
(``memory/rules.py:compact_history``). Scheduled runs recall memory within a fixed token budget.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from meshclaw.operations import memory as ops
from meshclaw.operations.actor import Actor
from meshclaw.operations.context import Context
from meshclaw.runtime.memory import rules
from meshclaw.runtime.memory.retrieval import CONTEXT_TOKENS, memory_context, search
from tests.memory_support import CONFIG, Brain
from tests.runtime_support import run, runtime

LONG = CONFIG.replace("""    toolsets:
      notes: {grants: [notes.add, notes.list]}""", """    limits: {model_requests_per_run: 80, tool_calls_per_run: 80}
    toolsets:
      notes: {grants: [notes.add, notes.list]}
      clock: {grants: [clock.now]}""", 1)


@pytest.fixture
def brain(monkeypatch) -> Brain:
    return Brain().install(monkeypatch)


def test_a_confirm_before_deleting_rule_holds_after_a_long_run_is_compacted(home, brain, monkeypatch):
    monkeypatch.setattr(rules, "COMPACT_OVER", 20)
    monkeypatch.setattr(rules, "KEEP_RECENT", 6)
    brain.turns = [{"tool": "clock.now", "args": {}}] * 40 + [{"text": "checked the time 40 times"}]
    with runtime(home, LONG) as rt:
        ops.add_rule(Context.of_runtime(rt), Actor.of(rt.config, "alice"), "Confirm before deleting anything.")
        outcome, _ = run(rt, "keeper", "check the clock repeatedly")
        assert outcome.status == "succeeded", outcome.error
    seen = brain.requests
    assert len(seen) == 41
    assert max(count for _, count in seen) <= 20 + 1  # the history was compacted, again and again
    assert seen[-1][1] < seen[19][1] + 2 * 20  # the last request did not carry 40 tool calls
    for instructions, _ in seen:  # ... yet every request carried the rule and the grants
        assert "Confirm before deleting anything." in instructions
        assert "clock.now" in instructions and "notes.add" in instructions


@pytest.mark.slow
def test_the_context_of_100_scheduled_runs_does_not_grow(home, brain):
    import asyncio

    from meshclaw.surfaces.schedules import fire

    text = CONFIG.replace("      notes: {grants: [notes.add, notes.list]}",
                          "      notes: {grants: [notes.add, notes.list]}\n    triggers:\n"
                          "      - {cron: '*/5 * * * *', task: 'Summarise my notes about the weekly report'}", 1)
    with runtime(home, text) as rt:
        agent = rt.config.agent("keeper")
        start = datetime(2026, 11, 2, 8, 0, tzinfo=timezone.utc)

        async def fire_all() -> list[str]:
            ids = []
            for i in range(100):
                run_id = await fire(rt, agent, 0, agent.triggers[0], start + timedelta(minutes=5 * i))
                await rt.wait(run_id)
                ids.append(run_id)
            return ids

        ids = asyncio.run(fire_all())
        tokens, first_request = [], []
        for run_id in ids:
            recall = [r for r in rt.store.audit.records(run_id=run_id) if r.data.get("operation") == "memory.recall"]
            tokens.append(recall[0].data["tokens"] if recall else 0)
            first_request.append(rt.store.usage.for_run(run_id)[0].input_tokens)  # what the model was sent
        assert rt.store.memory.count_episodes("alice", "keeper") == 100
    print("memory tokens per scheduled run:", tokens)
    print("input tokens of each run's first request:", first_request)
    assert max(tokens) <= CONTEXT_TOKENS
    assert max(tokens[50:]) <= max(tokens[:50])  # full by then, and it stays at that size
    assert max(first_request[50:]) <= max(first_request[:50])
    assert len(set(tokens[-20:])) <= 2


def test_empty_and_damaged_memory_give_clear_results(home):
    from sqlalchemy import update

    from meshclaw.store.tables import MemoryEntry

    with runtime(home, CONFIG) as rt:
        assert search(rt.store, "alice", "anything at all") == []
        assert memory_context(rt.store, "alice", "keeper", "anything").text == ""
        assert search(rt.store, "alice", "   ") == []
        ctx, alice = Context.of_runtime(rt), Actor.of(rt.config, "alice")
        good = ops.add_rule(ctx, alice, "Expense reports go to Finance.", kind="procedure")
        bad = ops.add_rule(ctx, alice, "Expense limit is 500 euros.", kind="fact")
        with rt.store.db.session() as s:  # damage one row: a torn vector and a kind nobody knows
            s.execute(update(MemoryEntry).where(MemoryEntry.key == bad.key).values(embedding=b"torn", kind="gossip"))
        found = search(rt.store, "alice", "expense reports", kinds=None)
        assert good.key in [f.ref for f in found]  # the damaged row is skipped by embeddings, found by text
        shown = {e.key: e for e in ops.show(ctx, alice)}
        assert shown[bad.key].problem == "unknown kind 'gossip'" and shown[good.key].problem == ""
        assert "Expense reports go to Finance." in rules.rules_text(rt.store, "alice", "keeper")
