"""A model request reserves its real maximum: ``max_tokens`` derived from the remaining budget is sent
to the provider, so concurrent runs cannot settle more than the budget however long the model talks.

The scripted model honours ``max_tokens`` as a real provider does (it cuts its text there and says
``finish_reason="length"``), so what is settled is what a provider would have billed.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.builders import Org, say
from tests.runtime_support import run, runtime

LONG = " ".join(f"word{i}" for i in range(3000))  # far more than any request may produce under the budget
BUDGET = 9_500


def chatty(budget: dict | None) -> Org:
    org = (Org().organisation().user("alice", email="alice@example.com", **({"budget": budget} if budget else {}))
           .scripted("script", say(LONG))
           .agent("talker", instructions="Answer at length.", model="script", autonomy="auto")
           .local_user("alice"))
    return org


def _model_records(rt, run_id):  # type: ignore[no-untyped-def]
    return [r.data for r in rt.store.audit.records(run_id=run_id) if r.kind == "model"]


def test_concurrent_runs_never_settle_more_than_the_budget(home):
    with runtime(home, chatty({"tokens_per_day": BUDGET})) as rt:
        async def go():  # type: ignore[no-untyped-def]
            ids = [await rt.start("talker", f"tell me everything about topic {i}") for i in range(12)]
            return [await rt.wait(i) for i in ids]

        outcomes = asyncio.run(go())
        used = rt.store.usage.totals(user_id="alice")
        assert 0 < used.input_tokens + used.output_tokens <= BUDGET
        answered = [o for o in outcomes if o.status == "succeeded"]
        refused = [o for o in outcomes if o.status == "stopped"]
        assert answered and refused, [o.status for o in outcomes]
        assert all("user alice's tokens per day" in o.error for o in refused)
        sent = [d for o in answered for d in _model_records(rt, o.run_id)]
        # Every request carried a limit, no larger than the model's own default, and the provider kept to it.
        assert all(0 < d["max_tokens"] <= 1024 for d in sent)
        assert all(d["output_tokens"] <= d["max_tokens"] for d in sent)
        assert all(d["finish_reason"] == "length" for d in sent)  # the answer was cut where the budget said
        assert all(len(o.output.split()) < 3000 for o in answered)
        assert any(d["max_tokens"] < 1024 for d in sent)  # the last of the budget went out as a smaller limit


def test_the_last_of_a_budget_is_granted_as_a_smaller_max_tokens(home):
    # 900 tokens: the request's prompt (over-estimated) leaves less than the model's
    # 1,024 default but more than the floor, so the request goes out with a lower max_tokens.
    with runtime(home, chatty({"tokens_per_day": 900})) as rt:
        outcome, _ = run(rt, "talker", "tell me everything")
        assert outcome.status == "succeeded"
        [d] = _model_records(rt, outcome.run_id)
        assert 256 <= d["max_tokens"] < 1024
        assert d["output_tokens"] <= d["max_tokens"] and d["finish_reason"] == "length"
        used = rt.store.usage.totals(user_id="alice")
        assert used.input_tokens + used.output_tokens <= 900


def test_without_a_budget_nothing_is_imposed(home):
    with runtime(home, chatty(None)) as rt:
        outcome, _ = run(rt, "talker", "tell me everything")
        assert outcome.status == "succeeded" and outcome.output == LONG
        [d] = _model_records(rt, outcome.run_id)
        assert "max_tokens" not in d


@pytest.mark.bundled_model
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_real_providers_receive_and_honour_max_tokens(kind, bundled_server, home, monkeypatch):
    """llama.cpp (the bundled runtime) speaks the OpenAI and the Anthropic API: under a budget each is
    sent ``max_tokens`` (here the model's own 48, within what the budget leaves) and stops there."""
    monkeypatch.setenv("LOCAL_LLM_KEY", bundled_server.api_key or "not-needed")
    base = bundled_server.url.removesuffix("/").removesuffix("/v1")
    org = (Org().user("alice", email="alice@example.com", budget={"tokens_per_day": 5_000})
           .model("local", kind, model="qwen", api_key="env:LOCAL_LLM_KEY", timeout=180, temperature=0, max_tokens=48,
                  base_url=f"{base}/v1" if kind == "openai" else base)
           .agent("counter", instructions="Do exactly what is asked.", model="local", autonomy="auto"))
    with runtime(home, org) as rt:
        outcome, _ = run(rt, "counter", "Count from 1 to 500, one number per line, and nothing else.")
        assert outcome.status == "succeeded", outcome.error
        [d] = _model_records(rt, outcome.run_id)
        assert d["max_tokens"] == 48
        assert 0 < d["output_tokens"] <= 48 and d["finish_reason"] == "length"
        used = rt.store.usage.totals(user_id="alice")
        assert used.input_tokens + used.output_tokens <= 5_000
