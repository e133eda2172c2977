"""A third-party-style connector for the tests: it declares one secret and reports what its context lets it touch."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic_ai import RunContext

from meshclaw.domain.config import SecretRef
from meshclaw.domain.connector import Connector
from meshclaw.domain.effects import Effect, Toolset, tool
from meshclaw.domain.errors import MeshclawError
from meshclaw.runtime.tool_context import ToolContext


class ProbeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretRef
    label: str = "probe"


@tool("probe.look", Effect.READ)
async def look(ctx: RunContext[ToolContext], ref: str) -> dict:
    """What this tool can reach: the store? its own secret? the secret named by ref?"""
    deps = ctx.deps
    try:
        other = f"resolved {len(deps.secret(ref))} characters"
    except MeshclawError as e:
        other = f"{type(e).__name__}: {e}"
    return {"has_store": hasattr(deps, "store"), "has_config": hasattr(deps, "config"),
            "own_secret": len(deps.secret(deps.settings.token)), "other": other, "label": deps.settings.label,
            "state": deps.state}


def connector() -> Connector:
    return Connector(name="probe", description="Reports what a tool may touch.", settings=ProbeSettings,
                     toolset=lambda: Toolset("probe", "A probe.", [look]), events=("probe.poked",))
