"""A toolset whose one tool fails the way a connector does when a server refuses it: its error
quotes the URL it tried (with a password in it) and a secret it was given."""

from __future__ import annotations

import os

from pydantic_ai import RunContext

from meshclaw.domain.effects import Effect, Toolset, tool
from meshclaw.runtime.context import RunDeps


@tool("failing.connect", Effect.READ)
async def connect(ctx: RunContext[RunDeps], url: str) -> str:
    """Connect to url."""
    raise RuntimeError(f"cannot reach {url} with token {os.environ.get('WORKER_TOKEN', '')}")


def toolset() -> Toolset:
    return Toolset("failing", "A connector that cannot reach its server.", [connect, whoami])


@tool("failing.whoami", Effect.READ)
async def whoami(ctx: RunContext[RunDeps]) -> dict:
    """Who the server thinks we are (a careless server echoes the token it was given)."""
    return {"user": "alice", "echo": f"authenticated with {os.environ.get('WORKER_TOKEN', '')}"}
