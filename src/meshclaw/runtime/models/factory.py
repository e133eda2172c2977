"""Building a pydantic-ai model from a provider entry of the configuration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from meshclaw.domain import config as cfg
from meshclaw.domain.secrets import Secrets, SecretMissing

from .errors import ModelUnavailable


def build_model(name: str, models: dict[str, Any], home: Path, secrets: Secrets) -> Any:
    """Return a pydantic-ai Model for the named provider entry. Raises ModelUnavailable with a clear message."""
    if name not in models:
        raise ModelUnavailable(f"model {name!r} is not defined under 'models'")
    m = models[name]
    if isinstance(m, dict):
        m = _parse(m)
    try:
        if isinstance(m, cfg.ScriptedModel):
            from .scripted import scripted_model

            return scripted_model(m.turns, name=f"scripted:{name}")
        if isinstance(m, cfg.BundledModel):
            from .bundled import bundled_model

            return bundled_model(m, home)
        if isinstance(m, cfg.OpenAICompatibleModel):
            from pydantic_ai.models.openai import OpenAIChatModel
            from pydantic_ai.providers.openai import OpenAIProvider

            key = secrets.resolve(m.api_key) if m.api_key else "not-needed"
            provider = OpenAIProvider(base_url=m.base_url, api_key=key)
            return OpenAIChatModel(m.model, provider=provider, settings=_settings(m))
        if isinstance(m, cfg.AnthropicModel):
            from pydantic_ai.models.anthropic import AnthropicModel
            from pydantic_ai.providers.anthropic import AnthropicProvider

            provider = AnthropicProvider(api_key=secrets.resolve(m.api_key), base_url=m.base_url)
            return AnthropicModel(m.model, provider=provider, settings=_settings(m))
        if isinstance(m, cfg.FallbackModel):
            from pydantic_ai.models.fallback import FallbackModel

            chain = [build_model(link, models, home, secrets) for link in m.chain]
            return FallbackModel(*chain)
    except SecretMissing as e:
        raise ModelUnavailable(f"model {name!r}: {e}") from None
    raise ModelUnavailable(f"model {name!r}: unsupported kind")


def _settings(m: cfg.OpenAICompatibleModel | cfg.AnthropicModel) -> dict[str, Any]:
    settings: dict[str, Any] = {"timeout": m.timeout}
    if m.temperature is not None:
        settings["temperature"] = m.temperature
    if m.max_tokens is not None:
        settings["max_tokens"] = m.max_tokens
    return settings


def _parse(data: dict[str, Any]) -> Any:
    from pydantic import TypeAdapter

    return TypeAdapter(cfg.ModelConfig).validate_python(data)
