"""The approval queue: requests a person answers from the CLI (and later chat and web)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from typing import Any, Collection

from sqlalchemy import select

from .database import Database
from .tables import Approval


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


class ApprovalRepository:
    def __init__(self, db: Database):
        self.db = db

    def request(self, event_key: str, *, run_id: str, agent: str, user_id: str, tool: str, args: dict[str, Any],
                origins: dict[str, Any], reason: str, rule: str, batch_key: str, expires_in: float) -> tuple[Approval, bool]:
        """Create the request, or return the existing one for this call. Returns (approval, created now?)."""
        with self.db.session() as s:
            existing = s.scalar(select(Approval).where(Approval.event_key == event_key))
            if existing is not None:
                return existing, False
            now = datetime.now(timezone.utc)
            a = Approval(id=secrets.token_hex(4), event_key=event_key, run_id=run_id, agent=agent, user_id=user_id,
                         tool=tool, args=args, origins=origins, reason=reason, rule=rule, batch_key=batch_key,
                         scope="call", status="pending", created_at=now, expires_at=now + timedelta(seconds=expires_in))
            s.add(a)
            return a, True

    def covering(self, run_id: str, batch_key: str) -> Approval | None:
        """An earlier approval in this run that the person extended to identical calls."""
        with self.db.session() as s:
            return s.scalar(select(Approval).where(Approval.run_id == run_id, Approval.batch_key == batch_key,
                                                   Approval.status == "approved", Approval.scope == "run").limit(1))

    def get(self, approval_id: str) -> Approval | None:
        with self.db.session() as s:
            return s.get(Approval, approval_id)

    def pending(self, *, user_id: str | None = None, run_id: str | None = None,
                agents: Collection[str] | None = None) -> list[Approval]:
        """Pending requests, oldest first; ``agents`` (None: any agent's) keeps only those agents' requests."""
        q = select(Approval).where(Approval.status == "pending").order_by(Approval.created_at)
        if agents is not None:
            q = q.where(Approval.agent.in_(list(agents)))
        if user_id:
            q = q.where(Approval.user_id == user_id)
        if run_id:
            q = q.where(Approval.run_id == run_id)
        with self.db.session() as s:
            return list(s.scalars(q))

    def decide(self, approval_id: str, status: str, by: str, *, scope: str = "call", note: str | None = None) -> Approval:
        """Record a person's answer. Only a pending, unexpired request can be answered."""
        with self.db.session() as s:
            a = s.get(Approval, approval_id)
            if a is None:
                raise LookupError(f"no approval request {approval_id!r} (see `meshclaw approvals`)")
            if a.status != "pending":
                raise LookupError(f"approval {approval_id} was already {a.status}")
            if status == "approved" and _aware(a.expires_at) < datetime.now(timezone.utc):
                a.status = "expired"
                raise LookupError(f"approval {approval_id} expired at {a.expires_at:%Y-%m-%d %H:%M} UTC")
            a.status, a.scope, a.decided_by, a.note = status, scope, by, note
            a.decided_at = datetime.now(timezone.utc)
            return a

    def close(self, approval_id: str, status: str) -> None:
        """Mark a request the run stopped waiting for (expired), unless a person answered first."""
        with self.db.session() as s:
            a = s.get(Approval, approval_id)
            if a is not None and a.status == "pending":
                a.status, a.decided_at, a.decided_by = status, datetime.now(timezone.utc), "meshclaw"
