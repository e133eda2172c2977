"""Model providers against a real server: llama.cpp (the bundled runtime) speaks both the OpenAI chat
API and the Anthropic Messages API, so both providers and the fallback chain are tested for real."""

from __future__ import annotations

import os

import pytest

from tests.runtime_support import run, runtime

pytestmark = pytest.mark.bundled_model

CONFIG = """
users: [{{id: alice, name: Alice, email: alice@example.com}}]
models:
  local-openai: {{kind: openai, model: qwen, base_url: "{base}/v1", api_key: "env:LOCAL_LLM_KEY", timeout: 120, temperature: 0}}
  local-anthropic: {{kind: anthropic, model: qwen, base_url: "{base}", api_key: "env:LOCAL_LLM_KEY", timeout: 120, temperature: 0}}
  dead: {{kind: openai, model: qwen, base_url: "http://127.0.0.1:9/v1", timeout: 3}}
  resilient: {{kind: fallback, chain: [dead, local-openai]}}
agents:
  - {{name: via-openai, owner: alice, instructions: Answer in one short sentence., model: local-openai}}
  - {{name: via-anthropic, owner: alice, instructions: Answer in one short sentence., model: local-anthropic}}
  - {{name: via-fallback, owner: alice, instructions: Answer in one short sentence., model: resilient}}
"""


@pytest.fixture
def llama(bundled_server):
    """The session's bundled server (tests.fixtures_model): its address without ``/v1``, and its key."""
    return bundled_server.url.removesuffix("/").removesuffix("/v1"), bundled_server.api_key


@pytest.mark.parametrize("agent", ["via-openai", "via-anthropic", "via-fallback"])
def test_provider_answers_and_usage_is_recorded(agent, llama, home, monkeypatch):
    base, key = llama
    monkeypatch.setenv("LOCAL_LLM_KEY", key or "not-needed")
    with runtime(home, CONFIG.format(base=base)) as rt:
        outcome, _ = run(rt, agent, "What is the capital city of France?")
        assert outcome.status == "succeeded", outcome.error
        assert "paris" in outcome.output.lower(), outcome.output
        [usage] = rt.store.usage.for_run(outcome.run_id)
        assert usage.input_tokens > 10 and usage.output_tokens > 0


def test_missing_api_key_is_a_clear_error(llama, home, monkeypatch):
    base, _ = llama
    monkeypatch.delenv("LOCAL_LLM_KEY", raising=False)
    with runtime(home, CONFIG.format(base=base)) as rt:
        outcome, _ = run(rt, "via-anthropic", "hello")
        assert outcome.status == "failed"
        assert outcome.error == "model 'local-anthropic': environment variable LOCAL_LLM_KEY is not set"
        assert os.environ.get("LOCAL_LLM_KEY") is None
