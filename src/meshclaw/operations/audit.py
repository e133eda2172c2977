"""Views of the audit log: verifying the chain, showing records, and alerts.

Records are shown per the reading rule in ``authority``: an employee sees those about their own
agents, a manager also their reports', an admin or auditor all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from meshclaw.domain.errors import MeshclawError
from meshclaw.domain.runs import AuditKind

from .actor import Actor
from .authority import readable_users
from .context import Context
from .records import AuditEntry


class AuditBroken(MeshclawError):
    """The audit chain does not verify: a record was edited, deleted or reordered."""


@dataclass(frozen=True)
class Verified:
    records: int


def verify(ctx: Context, actor: Actor) -> Verified:
    """Check the whole HMAC chain. Any mapped user may: the answer names a record number, no content.

    Raises AuditBroken naming the first record that was edited, deleted or reordered."""
    result = ctx.store.audit.verify()
    if not result.ok:
        raise AuditBroken(f"audit log is broken at record {result.broken_seq}: {result.problem} "
                          f"({result.checked} records before it are intact)")
    return Verified(result.checked)


def show(ctx: Context, actor: Actor, *, agent: str | None = None, user: str | None = None, run: str | None = None,
         since: datetime | None = None, until: datetime | None = None, kind: str | None = None,
         limit: int = 200, newest_first: bool = False) -> list[AuditEntry]:
    """Audit records ``actor`` may read, filtered by agent, user, run, kind and time (UTC-aware datetimes)."""
    rows = ctx.store.audit.records(run_id=run, agent=agent, user_id=user, since=since, until=until, limit=limit,
                                   kind=kind, newest_first=newest_first, user_ids=readable_users(ctx.config, actor))
    return [AuditEntry.of(r) for r in rows]


def alerts(ctx: Context, actor: Actor, *, agent: str | None = None, user: str | None = None,
           since: datetime | None = None, limit: int = 50) -> list[AuditEntry]:
    """Alerts ``actor`` may read, newest first: an agent leaving its baseline, an MCP tool its server changed."""
    return show(ctx, actor, agent=agent, user=user, since=since, kind=AuditKind.ALERT.value, limit=limit,
                newest_first=True)
