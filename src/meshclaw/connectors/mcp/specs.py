"""From what a server says about its tools and what the config declares, to the guard's ToolSpecs.

The config wins: ``effects`` gives a tool's effect. A tool it does not list is ``read`` only if the
server annotates it ``readOnlyHint: true``; anything else is ``external`` (consequential), because
an unknown tool must not be treated as harmless. A server's output is untrusted unless its
``mcp.output_trust`` says otherwise. Everything here is a pure function of its inputs, so a durable
run that replays its recorded tool list derives the same specs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from meshclaw.domain.config import ToolsetGrant
from meshclaw.domain.effects import Effect, ToolSpec

from .errors import McpProblem


@dataclass(frozen=True)
class ServerTool:
    """One tool as the server lists it (from a pydantic-ai ToolDefinition or an MCP Tool)."""

    name: str
    description: str = ""
    annotations: dict[str, Any] | None = None
    arguments: tuple[str, ...] = ()
    schema: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_tool_def(cls, tool_def: Any, name: str | None = None) -> "ServerTool":
        schema = tool_def.parameters_json_schema or {}
        return cls(name or tool_def.name, tool_def.description or "", (tool_def.metadata or {}).get("annotations"),
                   tuple((schema.get("properties") or {}).keys()), schema)

    @classmethod
    def from_mcp(cls, tool: Any) -> "ServerTool":
        schema = getattr(tool, "input_schema", None) or getattr(tool, "inputSchema", None) or {}
        annotations = tool.annotations.model_dump(by_alias=True) if getattr(tool, "annotations", None) else None
        return cls(tool.name, tool.description or "", annotations, tuple((schema.get("properties") or {}).keys()), schema)


def effect_of(tool: ServerTool, declared: dict[str, Effect]) -> Effect:
    if tool.name in declared:
        return Effect(declared[tool.name])
    if (tool.annotations or {}).get("readOnlyHint") is True:
        return Effect.READ
    return Effect.EXTERNAL


def tool_spec(toolset: str, grant: ToolsetGrant, tool: ServerTool) -> ToolSpec:
    assert grant.mcp is not None
    return ToolSpec(
        name=f"{toolset}.{tool.name}",
        effect=effect_of(tool, grant.effects),
        description=tool.description,
        sensitive_args=tuple(grant.sensitive.get(tool.name, ())),
        output_trust=grant.mcp.output_trust,
    )


def check_declarations(toolset: str, grant: ToolsetGrant, tools: dict[str, ServerTool]) -> None:
    """Every tool and argument the config names must exist on the server.

    A misspelt sensitive argument would silently switch off the provenance check for the argument
    that matters, so it is an error, as is a grant, effect or sensitive entry for a missing tool.
    """
    known = ", ".join(sorted(tools)) or "no tools"
    for g in grant.grants:
        name = g.tool.split(".", 1)[1]
        if name not in tools:
            raise McpProblem(f"toolset {toolset}: grant names {g.tool!r}, but the MCP server has {known}")
        for arg in g.when:  # a condition on a misspelt argument would never be checked
            if arg not in tools[name].arguments:
                raise McpProblem(f"toolset {toolset}: the grant for {g.tool} has a condition on {arg!r}, which is not "
                                 f"an argument of the tool ({', '.join(tools[name].arguments) or 'none'})")
    for section in ("effects", "sensitive"):
        for name in getattr(grant, section):
            if name not in tools:
                raise McpProblem(f"toolset {toolset}: '{section}' names tool {name!r}, but the MCP server has {known}")
    for name, args in grant.sensitive.items():
        for arg in args:
            if arg not in tools[name].arguments:
                have = ", ".join(tools[name].arguments) or "no arguments"
                raise McpProblem(f"toolset {toolset}: 'sensitive' names argument {arg!r} of {name}, which takes {have}")


def granted_specs(toolset: str, grant: ToolsetGrant, tools: dict[str, ServerTool]) -> dict[str, ToolSpec]:
    """The specs of the granted tools, by server tool name, after checking the declarations."""
    check_declarations(toolset, grant, tools)
    out: dict[str, ToolSpec] = {}
    for g in grant.grants:
        name = g.tool.split(".", 1)[1]
        out[name] = tool_spec(toolset, grant, tools[name])
    return out


def spec_metadata(spec: ToolSpec) -> dict[str, Any]:
    """A spec as plain JSON data, to travel on a tool definition (see runtime.guarded.SPEC_METADATA)."""
    return {"name": spec.name, "effect": spec.effect.value, "description": spec.description,
            "sensitive_args": list(spec.sensitive_args), "output_trust": spec.output_trust}
