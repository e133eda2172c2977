"""Warming an agent's prompt prefix: after ``Runtime.warm``, the agent's first model request is
served almost wholly from llama.cpp's prefix cache (instructions and tool list)."""

from __future__ import annotations

import asyncio

import pytest

from tests.builders import Org, say
from tests.runtime_support import run, runtime

CONFIG = (Org().user("alice", email="alice@example.com")
          .model("local", "bundled")
          .scripted("script", say("hi"))
          .agent("keeper", model="local", autonomy="auto", toolsets={"notes": ["notes.add", "notes.list"], "clock": ["clock.now"]},
                 instructions="You keep the owner's notes. Save what the owner asks you to save, and list notes when asked.")
          .agent("scripted", instructions="Say hi.", model="script"))


def test_only_bundled_agents_are_warmed(home):
    with runtime(home, CONFIG.agent("keeper", model="script")) as rt:
        assert asyncio.run(rt.warm("keeper")) is False


@pytest.mark.slow
@pytest.mark.bundled_model
def test_warmed_agent_starts_from_the_prefix_cache(home, bundled_server):
    with runtime(home, CONFIG) as rt:
        assert asyncio.run(rt.warm("keeper")) is True
        outcome, _ = run(rt, "keeper", "What time is it?")
        # What is measured here is the cache, not the 1.5B model's answer (which can vary run to run).
        assert outcome.status in ("succeeded", "no-answer"), outcome.error
        first = rt.store.usage.for_run(outcome.run_id)[0]
        # Only the task itself is new: everything before it was processed while warming.
        assert first.cache_read_tokens >= 0.9 * first.input_tokens, (first.cache_read_tokens, first.input_tokens)
