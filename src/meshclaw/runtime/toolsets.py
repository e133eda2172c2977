"""Building the tools an agent is offered: only granted tools, each behind the guard."""

from __future__ import annotations

from typing import Any, Callable

from pydantic_ai.toolsets import CombinedToolset, FunctionToolset

from meshclaw.domain.config import Agent, ToolsetGrant
from meshclaw.domain.effects import Toolset, spec_of
from meshclaw.domain.errors import ConnectorProblem

from meshclaw.policy.conditions import tool_parameters

from .guarded import GuardedToolset

# Returns a Toolset of @tool functions, or (for an ``mcp:`` entry) a pydantic-ai toolset that lists
# and filters the server's tools itself. Injected by the surfaces, so the runtime never imports connectors.
ToolsetResolver = Callable[[str, ToolsetGrant], Any]


class ToolsetProblem(ConnectorProblem):
    pass


def granted_toolset(agent: Agent, resolve: ToolsetResolver) -> GuardedToolset:
    """The agent's tools: a tool that is not granted is never offered to the model.

    Function toolsets are resolved now and their specs are known now. An MCP toolset (``mcp:``)
    lists its tools only when a run starts, so it filters to the granted tools and attaches their
    specs then; the same GuardedToolset guards both kinds.
    """
    functions = FunctionToolset()
    specs = {}
    servers: list[Any] = []
    for toolset_name, grant in agent.toolsets.items():
        if grant.mcp is not None:
            _check_mcp_grant_names(agent, toolset_name, grant)
            servers.append(resolve(toolset_name, grant))
            continue
        toolset = resolve(toolset_name, grant)
        available = {spec_of(f).name: f for f in toolset.functions}
        for g in grant.grants:
            if g.tool not in available:
                known = ", ".join(sorted(available)) or "none"
                raise ToolsetProblem(f"agent {agent.name}: grant names unknown tool {g.tool!r} (toolset {toolset_name} has: {known})")
            fn = available[g.tool]
            unknown = sorted(set(g.when) - tool_parameters(fn))
            if unknown:
                # Fail closed: a condition on an argument the tool does not have would never hold it back.
                raise ToolsetProblem(f"agent {agent.name}: the grant for {g.tool} has a condition on {', '.join(unknown)}, "
                                     f"which {g.tool} does not take (it takes: {', '.join(sorted(tool_parameters(fn)))})")
            spec = spec_of(fn)
            functions.add_function(fn, name=spec.model_name, description=spec.description)
            specs[spec.model_name] = spec
    wrapped = CombinedToolset([functions, *servers]) if servers else functions
    return GuardedToolset(wrapped, specs=specs)


def _check_mcp_grant_names(agent: Agent, toolset_name: str, grant: ToolsetGrant) -> None:
    # Whether each granted tool exists is checked against the server's list when a run starts;
    # the toolset part of a grant's name can be checked now.
    for g in grant.grants:
        if not g.tool.startswith(f"{toolset_name}."):
            raise ToolsetProblem(f"agent {agent.name}: grant {g.tool!r} is listed under toolset {toolset_name}, "
                                 f"whose tools are named {toolset_name}.<tool>")
