"""Pinned MCP tool definitions: listing them, and accepting a definition the server changed."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from meshclaw.domain.errors import NotFound
from meshclaw.domain.runs import AuditKind

from .actor import Actor
from .authority import may_read_user, require_act
from .context import Context, agent_named
from .journal import record


@dataclass(frozen=True)
class Pin:
    """A pinned tool; ``pending_definition`` is the server's changed definition, held back until accepted."""

    agent: str
    tool: str
    fingerprint: str
    definition: dict[str, Any]
    pinned_at: datetime
    pinned_by: str
    pending_fingerprint: str | None
    pending_definition: dict[str, Any] | None
    pending_since: datetime | None

    def changes(self) -> list[tuple[str, Any, Any]]:
        """(key, pinned value, changed value) for each of description, schema, annotations that differ."""
        if self.pending_definition is None:
            return []
        return [(k, self.definition.get(k), self.pending_definition.get(k)) for k in ("description", "schema", "annotations")
                if self.definition.get(k) != self.pending_definition.get(k)]

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        pending = None
        if self.pending_definition is not None:
            pending = {"fingerprint": self.pending_fingerprint, "definition": self.pending_definition,
                       "since": self.pending_since}
        for k in ("pending_fingerprint", "pending_definition", "pending_since"):
            out.pop(k)
        out["pending"] = pending
        return out


def pins(ctx: Context, actor: Actor, agent: str | None = None) -> list[Pin]:
    """Pinned tools of the agents whose owners ``actor`` may read (of ``agent`` only, if given)."""
    owners = {a.name: a.owner for a in ctx.config.agents}
    rows = ctx.store.tool_pins.list(agent)
    return [Pin(r.agent, r.tool, r.fingerprint, r.definition, r.pinned_at, r.pinned_by, r.pending_fingerprint,
                r.pending_definition, r.pending_since)
            for r in rows if may_read_user(ctx.config, actor, owners.get(r.agent))]


def accept(ctx: Context, actor: Actor, agent: str, tool: str) -> Pin:
    """Accept ``tool``'s changed definition for ``agent``, so it is offered again. Raises NotFound (no
    such agent, or no change waiting) and NotAuthorized (audited; nothing changed)."""
    target = agent_named(ctx.config, agent)
    require_act(ctx, actor, target, "accept-tool", verb="accept a changed tool of", tool=tool)
    try:
        row = ctx.store.tool_pins.accept(target.name, tool, actor.user_id)
    except KeyError as e:
        raise NotFound(str(e.args[0])) from None
    ctx.store.audit.append(f"tool-accepted:{target.name}:{tool}:{row.fingerprint}", AuditKind.TOOL_PINNED.value,
                           agent=target.name, user_id=target.owner, tool=tool, verdict="accepted",
                           data={"by": actor.user_id, "fingerprint": row.fingerprint, "definition": row.definition})
    record(ctx, actor, "accept-tool", agent=target.name, owner=target.owner, tool=tool, fingerprint=row.fingerprint)
    return Pin(row.agent, row.tool, row.fingerprint, row.definition, row.pinned_at, row.pinned_by, None, None, None)
