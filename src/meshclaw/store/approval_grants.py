"""Approval grants: the wider approvals people chose (identical calls, the same recipients), each
for one run or until a time, each revocable. Matching a call against them is ``policy/approvals.py``."""

from __future__ import annotations

import secrets
from datetime import datetime, timezone
from typing import Any, Collection

from sqlalchemy import or_, select

from meshclaw.policy.approvals import ApprovalGrant

from .database import Database
from .tables import ApprovalGrantRow


def _aware(dt: datetime | None) -> datetime | None:
    return dt if dt is None or dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def as_grant(row: ApprovalGrantRow) -> ApprovalGrant:
    """The policy's view of a stored grant."""
    return ApprovalGrant(row.id, row.agent, row.tool, row.scope, row.key, _aware(row.created_at),  # type: ignore[arg-type]
                         row.run_id, _aware(row.expires_at), _aware(row.revoked_at))


class ApprovalGrantRepository:
    def __init__(self, db: Database):
        self.db = db

    def add(self, session: Any, *, approval_id: str, agent: str, user_id: str, tool: str, scope: str, key: str,
            shown: dict[str, Any], run_id: str | None, created_by: str, expires_at: datetime | None) -> ApprovalGrantRow:
        """Record a grant inside the caller's transaction (the answer that gives it)."""
        row = ApprovalGrantRow(id="g" + secrets.token_hex(4), approval_id=approval_id, agent=agent, user_id=user_id,
                               tool=tool, scope=scope, key=key, shown=shown, run_id=run_id, created_by=created_by,
                               created_at=datetime.now(timezone.utc), expires_at=expires_at)
        session.add(row)
        return row

    def in_force(self, agent: str, keys: Collection[str], at: datetime) -> list[ApprovalGrant]:
        """The grants of ``agent`` with one of ``keys`` that are in force at ``at`` (not revoked, not expired)."""
        q = select(ApprovalGrantRow).where(ApprovalGrantRow.agent == agent, ApprovalGrantRow.key.in_(list(keys)),
                                           ApprovalGrantRow.revoked_at.is_(None),
                                           or_(ApprovalGrantRow.expires_at.is_(None), ApprovalGrantRow.expires_at > at))
        with self.db.session() as s:
            return [g for g in (as_grant(r) for r in s.scalars(q)) if g.valid_at(at)]

    def listing(self, *, agents: Collection[str] | None = None, active_at: datetime | None = None) -> list[ApprovalGrantRow]:
        """Grants newest first; ``agents`` (None: every agent's) keeps those agents'; ``active_at`` keeps
        the grants still in force then (run-bound ones count as in force until revoked)."""
        q = select(ApprovalGrantRow).order_by(ApprovalGrantRow.created_at.desc())
        if agents is not None:
            q = q.where(ApprovalGrantRow.agent.in_(list(agents)))
        if active_at is not None:
            q = q.where(ApprovalGrantRow.revoked_at.is_(None),
                        or_(ApprovalGrantRow.expires_at.is_(None), ApprovalGrantRow.expires_at > active_at))
        with self.db.session() as s:
            return list(s.scalars(q))

    def get(self, grant_id: str) -> ApprovalGrantRow | None:
        with self.db.session() as s:
            return s.get(ApprovalGrantRow, grant_id)

    def revoke(self, grant_id: str, by: str) -> ApprovalGrantRow:
        """Revoke a grant now; it stops covering calls at once. Raises LookupError if unknown or already revoked."""
        with self.db.session() as s:
            row = s.get(ApprovalGrantRow, grant_id)
            if row is None:
                raise LookupError(f"no approval grant {grant_id!r} (see `meshclaw approvals grants`)")
            if row.revoked_at is not None:
                raise LookupError(f"approval grant {grant_id} was already revoked by {row.revoked_by}")
            row.revoked_at, row.revoked_by = datetime.now(timezone.utc), by
            return row
