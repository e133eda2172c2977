"""OpenTelemetry for model requests, in the GenAI semantic conventions, and what accounting needs from a run.

Each metered model request becomes one span (``chat {model}``) and two histogram points
(``gen_ai.client.token.usage`` per token type, ``gen_ai.client.operation.duration``), with the
conventions' attributes: ``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.request.model``,
``gen_ai.response.model``, ``gen_ai.usage.input_tokens``, ``gen_ai.usage.output_tokens``,
``gen_ai.usage.cache_read.input_tokens``, ``gen_ai.usage.cache_creation.input_tokens``,
``gen_ai.usage.reasoning.output_tokens``, ``gen_ai.token.type``.

Nothing that names a person leaves this way: no user, agent or run id, and no prompt or answer
text (per-person figures follow the management chain, ``operations/usage.py``). Export happens only
when configured: ``usage.otlp_endpoint`` (OTLP over HTTP), or providers handed to ``use`` (tests use
the SDK's in-memory exporter and reader). Without either, ``observe`` does nothing.
"""

from __future__ import annotations

import time
from typing import Any

from meshclaw.store.usage import PRICE_CONFIGURED, PRICE_ESTIMATED, PRICE_FREE, PRICE_PUBLISHED, PRICE_UNKNOWN  # noqa: F401

from .pricing import FREE

EXPORT_TIMEOUT = 3  # seconds an export to the collector may take (the SDK's default is 10, with retries)
_providers: dict[str, Any] = {}  # "endpoint" -> the endpoint configured; "tracer", "meter" -> instruments


def price_kind(pricing: Any) -> int:
    """Where a request's cost comes from (``store.usage.PRICE_*``): the bundled and scripted models are
    free (priced ``FREE``) unless the configuration prices them; a fallback chain counts as configured
    when every link is known."""
    if getattr(pricing, "links", ()):
        return PRICE_CONFIGURED if pricing.known else PRICE_UNKNOWN
    if pricing.price is FREE:
        return PRICE_FREE
    if pricing.price is not None:
        return PRICE_CONFIGURED
    return PRICE_PUBLISHED if pricing.published_as is not None else PRICE_UNKNOWN


def step_name(deps: Any) -> str:
    """The workflow step a model request belongs to: ``agent#N`` (the tool loop) or ``workflow:NAME#N``,
    where N is the durable step number within the run (the same on replay)."""
    try:
        from dbos import DBOS

        step = DBOS.step_id
    except Exception:  # noqa: BLE001 - outside DBOS there is no step
        step = None
    workflow = getattr(deps.agent, "workflow", None)
    base = f"workflow:{workflow}" if workflow else "agent"
    return base if step is None else f"{base}#{step}"


def use(tracer_provider: Any = None, meter_provider: Any = None) -> None:
    """Export to these OpenTelemetry SDK providers from now on, instead of ``usage.otlp_endpoint``
    (None, None: back to what the configuration says). Exporters made for an endpoint are shut down."""
    for provider in _providers.get("owned", []):  # the exporters _configure made: stopped, not left sending
        try:
            provider.shutdown()
        except Exception:  # noqa: BLE001
            pass
    _providers.clear()
    _providers["sdk"] = [p for p in (tracer_provider, meter_provider) if p is not None]
    if tracer_provider is not None:
        _providers["tracer"] = tracer_provider.get_tracer("meshclaw")
    if meter_provider is not None:
        meter = meter_provider.get_meter("meshclaw")
        _providers["tokens"] = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Number of input and output tokens used")
        _providers["duration"] = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration")
    if tracer_provider is not None or meter_provider is not None:
        _providers["endpoint"] = "given"  # these providers, whatever usage.otlp_endpoint says


def flush(timeout_s: float = 10.0) -> None:
    """Send what the exporters still hold (spans are batched, metrics read periodically); the SDK does
    this at interpreter exit too. Errors are ignored: telemetry never fails a caller."""
    for provider in _providers.get("sdk", []):
        try:
            provider.force_flush(int(timeout_s * 1000))
        except Exception:  # noqa: BLE001
            pass


def _configure(endpoint: str | None) -> bool:
    """Set up OTLP/HTTP export to ``endpoint`` once (a changed endpoint is set up again)."""
    if _providers.get("endpoint") == "given":
        return True
    if not endpoint:
        return False
    if _providers.get("endpoint") == endpoint:
        return True
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    import logging

    # A collector that does not answer must not fill a person's terminal with the exporters' retries,
    # nor hold a command at exit for long: one line per failed export at most, and short timeouts.
    for name in ("opentelemetry.exporter.otlp.proto.http.trace_exporter",
                 "opentelemetry.exporter.otlp.proto.http.metric_exporter", "opentelemetry.sdk.trace.export",
                 "opentelemetry.sdk.metrics._internal.export"):
        logging.getLogger(name).setLevel(logging.ERROR)
    base = endpoint.rstrip("/")
    resource = Resource.create({"service.name": "meshclaw"})
    tracer = TracerProvider(resource=resource)
    tracer.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{base}/v1/traces", timeout=EXPORT_TIMEOUT),
                                                 export_timeout_millis=EXPORT_TIMEOUT * 1000))
    meter = MeterProvider(resource=resource, metric_readers=[
        PeriodicExportingMetricReader(OTLPMetricExporter(endpoint=f"{base}/v1/metrics", timeout=EXPORT_TIMEOUT),
                                      export_timeout_millis=EXPORT_TIMEOUT * 1000)])
    use(tracer, meter)
    _providers["endpoint"] = endpoint
    _providers["owned"] = [tracer, meter]
    return True


def provider_of(model_config: Any) -> str:
    """``gen_ai.provider.name`` for a configured model kind."""
    kind = getattr(model_config, "kind", "")
    return {"openai": "openai", "anthropic": "anthropic", "bundled": "meshclaw.bundled",
            "scripted": "meshclaw.scripted"}.get(kind, kind or "unknown")


def observe(deps: Any, *, model: str, response_model: str | None, usage: Any, seconds: float, trigger: str = "",
            error: str | None = None) -> None:
    """One finished model request, exported as a span and metric points when telemetry is configured.
    Never raises: telemetry must not fail a run."""
    try:
        settings = getattr(getattr(deps, "config", None), "usage", None)
        if not _configure(getattr(settings, "otlp_endpoint", None)):
            return
        configured = (getattr(deps.config, "models", {}) or {}).get(deps.agent.model)
        provider = provider_of(configured)
        request_model = getattr(configured, "model", None) or deps.agent.model  # bundled, scripted: the configured name
        base = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": provider, "gen_ai.request.model": request_model}
        attrs = dict(base)
        attrs["gen_ai.response.model"] = response_model or model
        for name, value in (("gen_ai.usage.input_tokens", getattr(usage, "input_tokens", 0)),
                            ("gen_ai.usage.output_tokens", getattr(usage, "output_tokens", 0)),
                            ("gen_ai.usage.cache_read.input_tokens", getattr(usage, "cache_read_tokens", 0)),
                            ("gen_ai.usage.cache_creation.input_tokens", getattr(usage, "cache_write_tokens", 0)),
                            ("gen_ai.usage.reasoning.output_tokens", getattr(usage, "output_reasoning_tokens", 0))):
            attrs[name] = int(value or 0)
        if trigger:
            attrs["meshclaw.trigger"] = trigger
        if error:
            attrs["error.type"] = error
        tracer = _providers.get("tracer")
        if tracer is not None:
            end = time.time_ns()
            span = tracer.start_span(f"chat {request_model}", start_time=end - int(seconds * 1e9), attributes=attrs)
            span.end(end_time=end)
        tokens, duration = _providers.get("tokens"), _providers.get("duration")
        if tokens is not None:
            tokens.record(attrs["gen_ai.usage.input_tokens"], {**base, "gen_ai.token.type": "input"})
            tokens.record(attrs["gen_ai.usage.output_tokens"], {**base, "gen_ai.token.type": "output"})
        if duration is not None:
            duration.record(seconds, {**base, **({"error.type": error} if error else {})})
    except Exception:  # noqa: BLE001 - an exporter problem is never a run's problem
        return
