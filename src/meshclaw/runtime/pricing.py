"""What a model request costs, so that cost budgets can be enforced, or refused when they cannot.

A model's price comes from its ``price`` in the configuration, else from the published prices of
well-known models (genai-prices, offline data), else it is unknown. The bundled model and scripted
models are free unless priced. A cost budget on an agent whose model has no known price fails
closed: the run stops before its first request, saying which price to set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meshclaw.domain import config as cfg

MILLION = 1_000_000


@dataclass(frozen=True)
class Pricing:
    model: str  # the configuration's name for the model, for messages
    price: cfg.Price | None = None  # explicit (or free: all zero)
    published_as: str | None = None  # a model name genai-prices knows
    provider_model: str | None = None  # the name the provider answers with (to tell fallback links apart)
    links: tuple["Pricing", ...] = field(default=())  # a fallback chain: each link's pricing

    @property
    def known(self) -> bool:
        if self.links:
            return all(link.known for link in self.links)
        return self.price is not None or self.published_as is not None

    def estimate(self, tokens: int) -> float:
        """The most the reserved tokens can cost: all priced at the dearer output rate."""
        if self.links:
            return max(link.estimate(tokens) for link in self.links)
        if self.price is not None:
            return tokens * self.price.output / MILLION
        if self.published_as is not None:
            return _published(self.published_as, 0, tokens, 0)
        return 0.0

    def cost(self, response: Any) -> float:
        if self.links:
            said = getattr(response, "model_name", None) or ""
            answered = [link for link in self.links if link.provider_model and said.startswith(link.provider_model)]
            return (answered[0] if answered else max(self.links, key=lambda link: link.estimate(MILLION))).cost(response)
        u = response.usage
        if self.price is not None:
            cached = u.cache_read_tokens or 0
            cached_rate = self.price.input if self.price.cached_input is None else self.price.cached_input
            return ((u.input_tokens - cached) * self.price.input + cached * cached_rate
                    + u.output_tokens * self.price.output) / MILLION
        if self.published_as is not None:
            try:
                return float(response.cost().total_price)
            except Exception:  # noqa: BLE001 - the response names a model the data lacks: price it by ours
                return _published(self.published_as, u.input_tokens, u.output_tokens, u.cache_read_tokens or 0)
        return 0.0

    def unknown_message(self) -> str:
        names = [link.model for link in self.links if not link.known] if self.links else [self.model]
        return (f"model {names[0]!r} has no known price, so a cost budget cannot be enforced: give it one "
                f"(models: {names[0]}: price: {{input: ..., output: ...}}, per million tokens)")


FREE = cfg.Price(input=0, output=0)


def pricing_for(name: str, models: dict[str, Any]) -> Pricing:
    m = models[name]
    if isinstance(m, cfg.FallbackModel):
        return Pricing(name, links=tuple(pricing_for(link, models) for link in m.chain))
    if isinstance(m, (cfg.BundledModel, cfg.ScriptedModel)):
        return Pricing(name, price=getattr(m, "price", None) or FREE)
    if m.price is not None:
        return Pricing(name, price=m.price, provider_model=m.model)
    return Pricing(name, published_as=m.model if _is_published(m.model) else None, provider_model=m.model)


def _is_published(model: str) -> bool:
    try:
        _published(model, 1, 1, 0)
        return True
    except Exception:  # noqa: BLE001 - genai-prices raises LookupError for models it does not know
        return False


def _published(model: str, input_tokens: int, output_tokens: int, cached: int) -> float:
    from genai_prices import Usage, calc_price

    usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cached)
    return float(calc_price(usage, model_ref=model).total_price)
