"""Holding MCP tools to their pinned definitions (see ``meshclaw.store.tool_pins``).

A tool whose description, argument schema or annotations differ from what the agent was first
offered is not offered again until a person accepts the change: the text of a tool's definition
goes to the model as instructions, and its annotations decide how the guard treats its calls.
"""

from __future__ import annotations

from typing import Any

from meshclaw.domain.runs import AlertEvent
from meshclaw.store.tool_pins import CHANGED, PINNED_NOW, fingerprint

from .specs import ServerTool


def definition_of(tool: ServerTool) -> dict[str, Any]:
    return {"description": tool.description, "schema": tool.schema, "annotations": tool.annotations}


def held_to_pin(deps: Any, tool_name: str, tool: ServerTool) -> bool:
    """True if the tool may be offered in this run. Without a store (the guard used as a library) there is no pin."""
    store = getattr(deps, "store", None)
    if store is None:
        return True
    definition = definition_of(tool)
    digest = fingerprint(definition)
    checked = deps.pin_checks.get(tool_name)
    if checked is not None and checked[0] == digest:
        return checked[1]  # listed again in the same run (every model request lists tools)
    agent = deps.agent.name
    check = store.tool_pins.check(agent, tool_name, definition)
    if check.status == PINNED_NOW:
        store.audit.append(f"tool-pinned:{agent}:{tool_name}:{digest}", "tool-pinned", run_id=deps.run_id, agent=agent,
                           user_id=deps.owner.id, tool=tool_name, verdict="pinned",
                           data={"fingerprint": digest, "definition": definition})
    elif check.status == CHANGED:
        when = f"{check.pinned_at:%Y-%m-%d %H:%M} UTC" if check.pinned_at else "earlier"
        message = (f"{tool_name} is held back: its MCP server changed the tool's definition (description, arguments "
                   f"or annotations) since it was pinned on {when}. Review with `meshclaw tools pins {agent}`, "
                   f"then `meshclaw tools accept {agent} {tool_name}` to offer it again.")
        store.audit.append(f"{deps.run_id}:tool-changed:{tool_name}:{digest}", "alert", run_id=deps.run_id, agent=agent,
                           user_id=deps.owner.id, tool=tool_name, verdict="tool-changed", reason=message,
                           data={"fingerprint": digest, "definition": definition})
        deps.emit(AlertEvent(message))
    deps.pin_checks[tool_name] = (digest, check.status != CHANGED)
    return check.status != CHANGED
