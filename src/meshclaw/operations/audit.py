"""Views of the audit log: verifying the chain, showing records, and alerts.

Records are shown per the reading rule in ``authority``: an employee sees those about their own
agents, a manager also their reports', an admin or auditor all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from meshclaw.domain.errors import MeshclawError, NotAuthorized
from meshclaw.domain.runs import AuditKind

from .actor import Actor
from .authority import readable_users
from .context import Context
from .journal import REFUSED, record
from .records import AuditEntry
from .usage_access import UsageAccess


class AuditBroken(MeshclawError):
    """The audit log does not verify: a record was edited, deleted or reordered, the newest ones are
    gone, the log was re-chained, or nothing anchors its end."""


@dataclass(frozen=True)
class Verified:
    """``records`` verified; ``anchored_through``: the newest one a signed checkpoint vouches for;
    ``anchor``: the checkpoint file; ``fingerprint``: its key's (compare it with the one you noted)."""

    records: int
    anchored_through: int | None = None
    anchor: str = ""
    fingerprint: str | None = None


def verify(ctx: Context, actor: Actor) -> Verified:
    """Check the whole HMAC chain against the signed checkpoints kept outside the database (see
    ``store/audit_checkpoints.py``). Any mapped user may: the answer names record numbers, no content.

    Raises AuditBroken naming the first record that was edited, deleted or reordered, or saying
    ``log ends at N but checkpoint says M``, that a record is not the one its checkpoint names, or
    that the log has no anchor."""
    result = ctx.store.audit.verify()
    if not result.ok:
        if result.broken_seq is not None and not result.problem.startswith("log ends"):
            raise AuditBroken(f"audit log is broken at record {result.broken_seq}: {result.problem} "
                              f"({result.checked} records before it are intact)")
        hint = (" (a log made before checkpoints existed is anchored by an admin: `meshclaw audit anchor`)"
                if result.unanchored else "")
        raise AuditBroken(f"audit log does not verify: {result.problem}{hint}")
    return Verified(result.checked, result.anchored_through, result.anchor, result.fingerprint)


def anchor(ctx: Context, actor: Actor) -> Verified:
    """Start the signed checkpoints of a log that has none (made before they existed): admins only,
    audited. Raises NotAuthorized, or StoreError if the chain does not verify or is anchored already."""
    from meshclaw.store.facade import checkpoint_paths

    if not actor.is_admin:
        reason = f"{actor.user_id} may not anchor the audit log: only an admin may"
        record(ctx, actor, "audit.anchor", verdict=REFUSED, reason=reason)
        raise NotAuthorized(reason)
    path, key_path = checkpoint_paths(ctx.home)
    ctx.store.audit.start_anchor(path, key_path)
    record(ctx, actor, "audit.anchor", checkpoints=str(path))
    return verify(ctx, actor)


def show(ctx: Context, actor: Actor, *, agent: str | None = None, user: str | None = None, run: str | None = None,
         since: datetime | None = None, until: datetime | None = None, kind: str | None = None,
         limit: int = 200, newest_first: bool = False) -> list[AuditEntry]:
    """Audit records ``actor`` may read, filtered by agent, user, run, kind and time (UTC-aware datetimes)."""
    rows = ctx.store.audit.records(run_id=run, agent=agent, user_id=user, since=since, until=until, limit=limit,
                                   kind=kind, newest_first=newest_first, user_ids=readable_users(ctx.config, actor))
    access = UsageAccess(ctx, actor)  # a model record's token counts follow the usage rule
    return [access.entry(AuditEntry.of(r)) for r in rows]


def alerts(ctx: Context, actor: Actor, *, agent: str | None = None, user: str | None = None,
           since: datetime | None = None, limit: int = 50) -> list[AuditEntry]:
    """Alerts ``actor`` may read, newest first: an agent leaving its baseline, an MCP tool its server changed."""
    return show(ctx, actor, agent=agent, user=user, since=since, kind=AuditKind.ALERT.value, limit=limit,
                newest_first=True)
