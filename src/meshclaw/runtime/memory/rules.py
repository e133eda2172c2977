"""Rules that never fall out of context, and compaction of a long run's message history.

``standing_rules`` is an instructions function of every agent: pydantic-ai calls it for each model
request, and instructions are never part of the message history, so what it returns — the agent's
grants and the owner's standing rules (active entries of kind rule, preference and procedure:
written by the owner, learnt from runs that read nothing untrusted, or approved by the owner) —
reaches the model on every request, however the history is trimmed or summarised.

``compact_history`` is the history processor that keeps a long run's history bounded: the first
request (the owner's task) and the most recent messages; older tool calls and results are dropped.
"""

from __future__ import annotations

from typing import Any

STANDING_KINDS = ("rule", "preference", "procedure")
MAX_STANDING = 30  # standing entries shown (rules first, then by confidence)
COMPACT_OVER = 40  # messages in the history before it is compacted
KEEP_RECENT = 12  # messages kept after the first request when compacting


def grants_line(agent: Any) -> str:
    granted = []
    for ts in agent.toolsets.values():
        for g in ts.grants:
            when = f" (only when {', '.join(g.when)} meet the owner's conditions)" if g.when else ""
            ask = " (always asks the owner first)" if g.approval == "always" else ""
            granted.append(f"{g.tool}{when}{ask}")
    return "Tools you are granted: " + ("; ".join(sorted(granted)) if granted else "none") + "."


def rules_text(store: Any, owner: str, agent: str) -> str:
    """The owner's standing rules for ``agent`` as instruction text ("" when there are none)."""
    entries = store.memory.entries(owner, agents=[agent, "*"], statuses=["active"], kinds=list(STANDING_KINDS))
    entries.sort(key=lambda e: (e.kind != "rule", -e.confidence))
    lines = [f"- {e.text}" for e in entries[:MAX_STANDING]]
    if not lines:
        return ""
    return "Your owner's standing rules (always apply them):\n" + "\n".join(lines)


def owner_rules(ctx: Any) -> str:
    """pydantic-ai instructions function: the owner's standing rules, read for each request ("" if none).

    The grants line is static per agent and goes with the agent's instructions (``grants_line``), so an
    agent without standing rules sends exactly the prefix that ``Runtime.warm`` cached."""
    deps = ctx.deps
    if getattr(deps, "store", None) is None:
        return ""
    try:
        return rules_text(deps.store, deps.owner.id, deps.agent.name)
    except Exception:  # noqa: BLE001 - a store hiccup must not drop the rest; the guard still holds
        return ""


def standing_rules(ctx: Any) -> str:
    """pydantic-ai instructions function: grants and the owner's standing rules, read for each request."""
    deps = ctx.deps
    parts = [grants_line(deps.agent)]
    if getattr(deps, "store", None) is not None:
        try:
            rules = rules_text(deps.store, deps.owner.id, deps.agent.name)
        except Exception:  # noqa: BLE001 - a store hiccup must not drop the rest; the guard still holds
            rules = ""
        if rules:
            parts.append(rules)
    return "\n\n".join(parts)


def compact_history(messages: list[Any]) -> list[Any]:
    """Keep the first request and the last ``KEEP_RECENT`` messages once there are more than
    ``COMPACT_OVER``; the kept part starts with a model response, so no tool result loses its call."""
    from pydantic_ai.messages import ModelResponse

    if len(messages) <= COMPACT_OVER:
        return messages
    start = len(messages) - KEEP_RECENT
    while start < len(messages) and not isinstance(messages[start], ModelResponse):
        start += 1
    if start >= len(messages) - 1:
        return messages
    return [messages[0], *messages[start:]]
