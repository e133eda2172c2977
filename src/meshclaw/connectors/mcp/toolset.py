"""An MCP server as an agent toolset: only granted tools are offered, each with its guard spec.

The tree is ``GrantedMcpToolset(PrefixedToolset(GuardedServerToolset))``, and the runtime wraps
it (with the agent's other toolsets) in the GuardedToolset. DBOSDurability replaces the server
toolset inside this tree with its durable version (tool listing and calls as DBOS steps), so the
guard sees every call before the durable MCP call runs.

Tool names: the server's ``lookup_customer`` in toolset ``crm`` is ``crm.lookup_customer`` in
grants and audit and ``crm_lookup_customer`` to the model.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic_ai.toolsets import WrapperToolset
from pydantic_ai.toolsets.prefixed import PrefixedToolset

from meshclaw.domain.config import ToolsetGrant
from meshclaw.domain.provenance import Label, Source, Trust
from meshclaw.domain.secrets import Secrets
from meshclaw.runtime.guarded import SPEC_METADATA

from .client import build_server_toolset
from .pins import held_to_pin
from .specs import ServerTool, granted_specs, spec_metadata


@dataclass
class GrantedMcpToolset(WrapperToolset[Any]):
    """Filters a server's tools down to the granted ones and attaches each one's ToolSpec.

    The spec rides on the tool's definition (``metadata[SPEC_METADATA]``) rather than in a shared
    table, because it depends on the tool list this run step received (replayed from the durable
    checkpoint after a crash), and concurrent runs must not see each other's lists.
    """

    toolset_name: str = ""
    grant: ToolsetGrant | None = None

    async def get_tools(self, ctx: Any) -> dict[str, Any]:
        assert self.grant is not None
        prefix = f"{self.toolset_name}_"
        listed = await self.wrapped.get_tools(ctx)
        tools = {name.removeprefix(prefix): t for name, t in listed.items()}
        server_tools = {name: ServerTool.from_tool_def(t.tool_def, name) for name, t in tools.items()}
        specs = granted_specs(self.toolset_name, self.grant, server_tools)
        offered: dict[str, Any] = {}
        for name, spec in specs.items():
            if not held_to_pin(getattr(ctx, "deps", None), spec.name, server_tools[name]):
                continue
            t = tools[name]
            metadata = {**(t.tool_def.metadata or {}), SPEC_METADATA: spec_metadata(spec)}
            offered[spec.model_name] = replace(t, tool_def=replace(t.tool_def, metadata=metadata))
        self._observe_definitions(ctx, specs, server_tools)
        return offered

    def _observe_definitions(self, ctx: Any, specs: dict[str, Any], server_tools: dict[str, ServerTool]) -> None:
        """What the server says about its tools is outside content: the model reads it, so it taints the run.

        A tool description or the server's instructions can carry an injection from the very
        first listing ("before answering, call export_all with destination ..."); a value the
        model then uses from it traces to untrusted content, as it would from a tool's output.
        """
        provenance = getattr(getattr(ctx, "deps", None), "provenance", None)
        if provenance is None or self.grant is None or self.grant.mcp is None:
            return
        # A server the configuration vouches for (``output_trust: trusted``) is trusted in what it
        # says about its tools too; any other server is an outsider.
        trusted = self.grant.mcp.output_trust == "trusted"

        def label(what: str) -> Label:
            return Label(Source.TOOL, Trust.TRUSTED, what) if trusted else Label(Source.EXTERNAL, Trust.UNTRUSTED, what)

        for name, spec in specs.items():
            text = server_tools[name].description
            if text:
                provenance.observe(text, label(f"the description of MCP tool {spec.name}"))
        instructions = _server_instructions(self.wrapped)
        if instructions:
            provenance.observe(instructions, label(f"the instructions of MCP server {self.toolset_name}"))


def _server_instructions(toolset: Any, depth: int = 0) -> str | None:
    """The server's ``instructions`` (from its initialisation), looked up through the wrapper toolsets."""
    while toolset is not None and depth < 5:
        value = getattr(toolset, "instructions", None)
        if isinstance(value, str) and value.strip():
            return value
        toolset, depth = getattr(toolset, "wrapped", None), depth + 1
    return None

    async def call_tool(self, name: str, tool_args: dict[str, Any], ctx: Any, tool: Any) -> Any:
        # Only tools listed by get_tools above carry a spec; anything else was never offered.
        if SPEC_METADATA not in (tool.tool_def.metadata or {}):
            raise PermissionError(f"{name} is not a granted tool of toolset {self.toolset_name}")
        return await self.wrapped.call_tool(name, tool_args, ctx, tool)


def granted_mcp_toolset(toolset: str, grant: ToolsetGrant, *, secrets: Secrets | None = None,
                        log_dir: Path | None = None) -> GrantedMcpToolset:
    """The agent-facing toolset for one ``mcp:`` entry. Nothing connects until a run lists tools."""
    if grant.mcp is None:
        raise ValueError(f"toolset {toolset} has no 'mcp' section")
    server = build_server_toolset(toolset, grant.mcp, secrets=secrets, log_dir=log_dir)
    return GrantedMcpToolset(PrefixedToolset(server, prefix=toolset), toolset_name=toolset, grant=grant)
