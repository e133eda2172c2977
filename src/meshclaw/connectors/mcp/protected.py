"""An MCP server behind a Protector: the library's way to call any MCP server through the guard.

    async with protect_mcp(protector, "crm", {"command": "python", "args": ["-m", "crm_server"]},
                           effects={"export_all": "external"}, sensitive={"export_all": ["destination"]}) as crm:
        crm.tools                                   # the granted tools, with their specs
        await crm.call("lookup_customer", customer_id="c-100")

Effects, sensitive arguments and output trust follow the same rules as an agent's ``mcp:``
toolset (see ``specs``); the grants are the Protector's grants for this toolset name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable

from meshclaw.domain.config import ToolsetGrant
from meshclaw.domain.effects import Effect, ToolSpec

from .client import IDEMPOTENCY_META, GuardedServerToolset, build_server_toolset
from meshclaw.domain.mcp_config import McpServerConfig
from .specs import ServerTool, granted_specs, tool_spec

if TYPE_CHECKING:
    from meshclaw.runtime.protect import Protector


class ProtectedMcp:
    def __init__(self, protector: "Protector", toolset: str, server: McpServerConfig | dict[str, Any],
                 effects: dict[str, str], sensitive: dict[str, list[str]]):
        self.protector = protector
        self.toolset = toolset
        held = protector.agent.toolsets.get(toolset)
        # Validated like a config entry, so a misspelt effect or argument fails the same way.
        self.grant = ToolsetGrant.model_validate({
            "mcp": server.model_dump() if isinstance(server, McpServerConfig) else server,
            "effects": effects, "sensitive": sensitive,
            "grants": [g.model_dump() for g in held.grants] if held else [],
        })
        self.granted: dict[str, ToolSpec] = {}
        self._listed: dict[str, ToolSpec] = {}
        self._server: GuardedServerToolset | None = None

    async def __aenter__(self) -> "ProtectedMcp":
        store = self.protector.store
        assert self.grant.mcp is not None
        server = build_server_toolset(self.toolset, self.grant.mcp, secrets=self.protector.secrets,
                                      log_dir=store.home / "logs" if store is not None else None)
        await server.__aenter__()
        try:
            tools = {t.name: ServerTool.from_mcp(t) for t in await server.list_tools()}
            self.granted = granted_specs(self.toolset, self.grant, tools)
            self._listed = {name: tool_spec(self.toolset, self.grant, t) for name, t in tools.items()}
        except BaseException:
            await server.__aexit__(None, None, None)
            raise
        self._server = server
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await server.__aexit__(*exc)

    @property
    def tools(self) -> dict[str, ToolSpec]:
        """The granted tools by server name: what a caller may offer to its own model."""
        return dict(self.granted)

    async def call(self, tool: str, args: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """Call one server tool through the guard; raises PolicyDenied / ApprovalNeeded if it may not run."""
        if self._server is None:
            raise RuntimeError(f"use 'async with protect_mcp(protector, {self.toolset!r}, ...)' before calling its tools")
        arguments = {**(args or {}), **kwargs}
        # A tool that is listed but not granted (or not listed at all) still goes to the guard, which
        # denies it by default, so the refusal is decided and audited like any other.
        spec = self._listed.get(tool) or ToolSpec(f"{self.toolset}.{tool}", Effect.EXTERNAL)
        call = await self.protector.admit_async(spec, arguments)
        server = self._server
        return await self.protector.execute_async(
            call, lambda: server.direct_call_tool(tool, arguments, metadata={IDEMPOTENCY_META: call.call_id}))

    def tool(self, name: str) -> Callable[..., Awaitable[Any]]:
        """One server tool as an async function of keyword arguments, behind the guard."""
        async def call(**kwargs: Any) -> Any:
            return await self.call(name, kwargs)

        call.__name__ = name
        return call


def protect_mcp(protector: "Protector", toolset: str, server: McpServerConfig | dict[str, Any], *,
                effects: dict[str, str] | None = None, sensitive: dict[str, list[str]] | None = None) -> ProtectedMcp:
    """An MCP server behind the guard: ``async with protect_mcp(protector, "crm", {"command": ...}) as crm``.

    ``server`` is an ``mcp:`` config entry (dict or McpServerConfig); ``effects`` and ``sensitive``
    are declared once, as in an agent's config; the grants are the protector's ``<toolset>.*`` grants.
    """
    return ProtectedMcp(protector, toolset, server, effects or {}, sensitive or {})
