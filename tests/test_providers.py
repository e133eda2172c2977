"""Model providers against a real server: llama.cpp (the bundled runtime) speaks both the OpenAI chat
API and the Anthropic Messages API, so both providers and the fallback chain are tested for real."""

from __future__ import annotations

import os

import pytest

from tests.builders import Org
from tests.runtime_support import run, runtime

pytestmark = [pytest.mark.bundled_model, pytest.mark.slow]

def config(base: str) -> Org:
    """Three agents on the llama.cpp server at ``base``: through the OpenAI API, the Anthropic API, and a fallback."""
    local = {"model": "qwen", "api_key": "env:LOCAL_LLM_KEY", "timeout": 120, "temperature": 0}
    org = (Org().user("alice", email="alice@example.com")
           .model("local-openai", "openai", base_url=f"{base}/v1", **local)
           .model("local-anthropic", "anthropic", base_url=base, **local)
           .model("dead", "openai", model="qwen", base_url="http://127.0.0.1:9/v1", timeout=3)
           .model("resilient", "fallback", chain=["dead", "local-openai"]))
    for agent, model in [("via-openai", "local-openai"), ("via-anthropic", "local-anthropic"), ("via-fallback", "resilient")]:
        org = org.agent(agent, instructions="Answer in one short sentence.", model=model)
    return org


@pytest.fixture
def llama(bundled_server):
    """The session's bundled server (tests.fixtures_model): its address without ``/v1``, and its key."""
    return bundled_server.url.removesuffix("/").removesuffix("/v1"), bundled_server.api_key


@pytest.mark.parametrize("agent", ["via-openai", "via-anthropic", "via-fallback"])
def test_provider_answers_and_usage_is_recorded(agent, llama, home, monkeypatch):
    base, key = llama
    monkeypatch.setenv("LOCAL_LLM_KEY", key or "not-needed")
    with runtime(home, config(base)) as rt:
        outcome, _ = run(rt, agent, "What is the capital city of France?")
        assert outcome.status == "succeeded", outcome.error
        assert "paris" in outcome.output.lower(), outcome.output
        [usage] = rt.store.usage.for_run(outcome.run_id)
        assert usage.input_tokens > 10 and usage.output_tokens > 0


def test_missing_api_key_is_a_clear_error(llama, home, monkeypatch):
    base, _ = llama
    monkeypatch.delenv("LOCAL_LLM_KEY", raising=False)
    with runtime(home, config(base)) as rt:
        outcome, _ = run(rt, "via-anthropic", "hello")
        assert outcome.status == "failed"
        assert outcome.error == "model 'local-anthropic': environment variable LOCAL_LLM_KEY is not set"
        assert os.environ.get("LOCAL_LLM_KEY") is None
