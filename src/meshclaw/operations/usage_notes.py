"""The notes a usage report carries about its figures: models whose cost counts as 0, and why."""

from __future__ import annotations

from typing import Any

from .context import Context


def notes_for(ctx: Context, figures: Any, rows_models: list[str]) -> list[str]:
    """Notes for a report: each model (as usage recorded it) whose cost is stated as 0 and why, and an
    empty period. ``figures``: the report's total (``usage.Figures``)."""
    from meshclaw.runtime.pricing import pricing_for

    notes = []
    for name in rows_models:
        key = _configured_as(ctx, name)
        m = ctx.config.models.get(key) if key else None
        if getattr(m, "kind", "") in ("bundled", "scripted") and getattr(m, "price", None) is None:
            notes.append(f"model {name} runs on this machine: its cost is stated as 0 (no energy estimate)")
        elif m is not None and not pricing_for(key, ctx.config.models).known:
            notes.append(f"model {name} has no known price: its requests count as $0 in every cost here "
                         f"(give it one: models: {key}: price: {{input: ..., output: ...}}, per million tokens)")
    if figures.sums.requests == 0:
        notes.append("no model requests in this period")
    return notes


def _configured_as(ctx: Context, recorded: str) -> str | None:
    """The configuration's name for a model as usage recorded it (the provider's answer: the configured
    name, the provider's model name or one it dated, the bundled model's file name); None if none."""
    from meshclaw.runtime.models.bundled import MODEL_NAME

    models = ctx.config.models
    if recorded in models:
        return recorded
    for key, m in models.items():
        said = MODEL_NAME if getattr(m, "kind", "") == "bundled" else getattr(m, "model", None)
        if said and (recorded == said or recorded.startswith(f"{said}-")):
            return key
    return None
