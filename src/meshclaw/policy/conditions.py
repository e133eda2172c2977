"""Grant conditions must name real parameters: a misspelt one would never be checked (it fails open).

``when: {recipients: {domain_in: [...]}}`` on a tool whose parameter is ``to`` looks like a limit
and limits nothing, because an argument a call does not carry is skipped (an omitted optional
argument takes the tool's safe default). So the configuration check refuses a condition on a
name that is not a parameter of the tool's declaration.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from meshclaw.domain.effects import spec_of

Path = tuple[Any, ...]


def tool_parameters(fn: Callable[..., Any]) -> set[str]:
    """The parameter names a model can fill for a ``@tool`` function (its context argument left out)."""
    params = list(inspect.signature(fn).parameters.values())
    if params and params[0].name in ("ctx", "context", "self"):
        params = params[1:]
    return {p.name for p in params if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)}


def grant_condition_problems(config: Any, resolve: Callable[[str, Any], Any]) -> list[tuple[Path, str]]:
    """``(path, message)`` for every grant condition that names no parameter of its tool.

    ``config``: a ``domain.config.Config``; ``resolve(toolset_name, toolset_grant)``: the toolset
    (``connectors.registry.resolve``). A path locates the condition in the configuration:
    ``("agents", i, "toolsets", name, "grants", j, "when", argument)``. Toolsets that cannot be
    resolved, and MCP toolsets (whose tools are known only when the server lists them, where
    ``connectors.mcp.specs.check_declarations`` applies the same rule), are left to their own checks.
    """
    problems: list[tuple[Path, str]] = []
    for i, agent in enumerate(config.agents):
        for name, grant in agent.toolsets.items():
            if getattr(grant, "mcp", None) is not None or not any(g.when for g in grant.grants):
                continue
            try:
                toolset = resolve(name, grant)
                functions = {spec_of(f).name: f for f in toolset.functions}
            except Exception:  # noqa: BLE001 - an unknown toolset is reported by the toolset check
                continue
            for j, g in enumerate(grant.grants):
                fn = functions.get(g.tool)
                if fn is None:
                    continue
                params = tool_parameters(fn)
                for arg in g.when:
                    if arg not in params:
                        problems.append((("agents", i, "toolsets", name, "grants", j, "when", arg),
                                         f"{g.tool} has no argument {arg!r} (it has: {', '.join(sorted(params))}); "
                                         f"a condition on it would never be checked"))
    return problems
