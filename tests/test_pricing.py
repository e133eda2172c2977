"""Cost budgets count real prices and fail closed when a model's price is unknown."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from meshclaw.domain.config import AnthropicModel, FallbackModel, OpenAICompatibleModel, Price, ScriptedModel
from meshclaw.runtime.pricing import pricing_for
from tests.conftest import write_config
from tests.runtime_support import run, runtime


def _response(model_name: str, input_tokens: int, output_tokens: int, cached: int = 0):  # type: ignore[no-untyped-def]
    usage = SimpleNamespace(input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cached)
    return SimpleNamespace(model_name=model_name, usage=usage, cost=lambda: (_ for _ in ()).throw(LookupError()))


def test_prices_come_from_the_config_then_published_data_else_are_unknown():
    models = {
        "priced": OpenAICompatibleModel(kind="openai", model="llama3.1:8b", price=Price(input=2, output=8, cached_input=1)),
        "published": AnthropicModel(kind="anthropic", model="claude-sonnet-4-5"),
        "unknown": OpenAICompatibleModel(kind="openai", model="llama3.1:8b"),
        "script": ScriptedModel(kind="scripted", turns=[{"text": "hi"}]),
        "chain": FallbackModel(kind="fallback", chain=["published", "priced"]),
        "weak-chain": FallbackModel(kind="fallback", chain=["priced", "unknown"]),
    }
    priced = pricing_for("priced", models)
    assert priced.known
    # 1,000 input tokens of which 400 cached, 500 output: (600*2 + 400*1 + 500*8) / 1e6
    assert priced.cost(_response("llama3.1:8b", 1000, 500, cached=400)) == (600 * 2 + 400 + 500 * 8) / 1e6
    assert priced.estimate(1_000_000) == 8.0
    published = pricing_for("published", models)
    assert published.known and published.estimate(1_000_000) > 1
    assert not pricing_for("unknown", models).known
    assert pricing_for("script", models).known and pricing_for("script", models).estimate(10**6) == 0
    chain = pricing_for("chain", models)
    assert chain.known and chain.cost(_response("llama3.1:8b", 10**6, 0)) == 2.0  # the link that answered
    weak = pricing_for("weak-chain", models)
    assert not weak.known and "model 'unknown' has no known price" in weak.unknown_message()


CONFIG = """
users: [{id: alice, name: Alice, email: alice@example.com, budget: {cost_per_day: COST}}]
models:
  script:
    kind: scripted
    price: {input: 10000, output: 10000}   # 1 cent a token: a budget of a few units lasts a few hundred tokens
    turns:
      - {tool: notes.add, args: {text: "one"}}
      - {tool: notes.add, args: {text: "two"}}
      - {text: "done"}
  local: {kind: openai, model: llama3.1:8b, base_url: "http://127.0.0.1:9/v1"}
agents:
  - {name: keeper, owner: alice, instructions: Keep notes., model: MODEL, autonomy: auto, toolsets: {notes: {grants: [notes.add]}}}
"""


def config(model: str = "script", cost: float = 100) -> str:
    return CONFIG.replace("MODEL", model).replace("COST", str(cost))


def test_usage_is_priced_and_a_cost_budget_stops_the_run(home):
    with runtime(home, config()) as rt:
        outcome, _ = run(rt, "keeper", "note it")
        assert outcome.status == "succeeded"
        usage = rt.store.usage.for_run(outcome.run_id)
        assert all(u.cost == pytest.approx((u.input_tokens + u.output_tokens) * 0.01) for u in usage) and usage[0].cost > 0
    with runtime(home, config(cost=2)) as rt:
        stopped, _ = run(rt, "keeper", "note it")
    assert stopped.status == "stopped" and stopped.error.startswith("budget: "), stopped.error


def test_a_cost_budget_on_a_model_without_a_price_fails_closed(home, cli):
    with runtime(home, config(model="local")) as rt:
        outcome, _ = run(rt, "keeper", "note it")
        assert rt.store.usage.for_run(outcome.run_id) == []  # stopped before any request
    assert outcome.status == "stopped"
    assert outcome.error == ("budget: model 'local' has no known price, so a cost budget cannot be enforced: give it one "
                             "(models: local: price: {input: ..., output: ...}, per million tokens)")
    write_config(home, config(model="local"))
    p = cli("config", "check")
    assert p.returncode == 2 and "its owner alice has a cost budget, but model 'local' has no known price" in p.stderr
    assert "line 12" in p.stderr  # the agent's entry
