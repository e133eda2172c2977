"""The audit record every acting operation writes: who did what, and whether it was refused.

Kind ``operation`` (``AuditKind.OPERATION``); ``data`` is ``{"actor": user id, "roles": [...],
"operation": name, ...details}``; ``verdict`` is ``done`` or ``refused``. The record's ``user_id``
is the owner of the agent acted on (so the owner's audit view shows it), else the actor.
"""

from __future__ import annotations

import uuid
from typing import Any

from meshclaw.domain.runs import AuditKind

from .actor import Actor
from .context import Context

DONE = "done"
REFUSED = "refused"


def record(ctx: Context, actor: Actor, operation: str, *, verdict: str = DONE, agent: str | None = None,
           owner: str | None = None, run_id: str | None = None, tool: str | None = None, reason: str | None = None,
           **details: Any) -> int:
    """Append one operation record; returns its sequence number in the audit chain."""
    data = {"actor": actor.user_id, "roles": sorted(actor.roles), "operation": operation, **details}
    return ctx.store.audit.append(f"operation:{operation}:{uuid.uuid4().hex}", AuditKind.OPERATION.value,
                                  run_id=run_id, agent=agent, user_id=owner or actor.user_id, tool=tool,
                                  verdict=verdict, reason=reason, data=data)


def record_many(ctx: Context, actor: Actor, operation: str, items: list[dict[str, Any]]) -> list[int]:
    """One operation record per item (each item: ``owner`` and details), appended in one transaction."""
    entries = []
    for item in items:
        details = dict(item)
        owner = details.pop("owner", None)
        entries.append({"event_key": f"operation:{operation}:{uuid.uuid4().hex}", "kind": AuditKind.OPERATION.value,
                        "user_id": owner or actor.user_id, "verdict": DONE,
                        "data": {"actor": actor.user_id, "roles": sorted(actor.roles), "operation": operation,
                                 **details}})
    return ctx.store.audit.append_many(entries)
