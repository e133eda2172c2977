"""The approval queue: requests a person answers from the CLI (and later chat and web).

An answer may grant a wider scope than the one call (``policy/approvals.py``): the grant is
written in the same transaction as the answer (``approval_grants.py``)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from typing import Any, Collection

from sqlalchemy import select

from .approval_grants import ApprovalGrantRepository
from .database import Database
from .tables import Approval, ApprovalGrantRow

# The scopes an answer may carry, and what a grant of each matches ("run": identical calls in this run).
GRANTED = {"run": "arguments", "arguments": "arguments", "recipient": "recipient"}


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


class ApprovalRepository:
    def __init__(self, db: Database, grants: ApprovalGrantRepository | None = None):
        self.db = db
        self.grants = grants or ApprovalGrantRepository(db)

    def request(self, event_key: str, *, run_id: str, agent: str, user_id: str, tool: str, args: dict[str, Any],
                origins: dict[str, Any], reason: str, rule: str, batch_key: str, expires_in: float,
                target_key: str | None = None) -> tuple[Approval, bool]:
        """Create the request, or return the existing one for this call. Returns (approval, created now?).
        ``batch_key`` is the call's exact approval key, ``target_key`` its recipients' key (None: none)."""
        with self.db.session() as s:
            existing = s.scalar(select(Approval).where(Approval.event_key == event_key))
            if existing is not None:
                return existing, False
            now = datetime.now(timezone.utc)
            a = Approval(id=secrets.token_hex(4), event_key=event_key, run_id=run_id, agent=agent, user_id=user_id,
                         tool=tool, args=args, origins=origins, reason=reason, rule=rule, batch_key=batch_key,
                         scope="call", status="pending", created_at=now, expires_at=now + timedelta(seconds=expires_in),
                         target_key=target_key)
            s.add(a)
            return a, True

    def asked_since(self, user_id: str, since: datetime) -> int:
        """How many requests went to ``user_id`` (the agents' owner) since ``since``."""
        from sqlalchemy import func

        with self.db.session() as s:
            return int(s.scalar(select(func.count()).select_from(Approval).where(
                Approval.user_id == user_id, Approval.created_at >= since)) or 0)

    def set_notice(self, approval_id: str, notice: str) -> None:
        """Attach words a person must see with the request (e.g. over the approval budget)."""
        with self.db.session() as s:
            a = s.get(Approval, approval_id)
            if a is not None:
                a.notice = notice

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

    def decide(self, approval_id: str, status: str, by: str, *, scope: str = "call", note: str | None = None,
               grant_until: datetime | None = None) -> Approval:
        """Record a person's answer (see ``answer``) and return the request."""
        return self.answer(approval_id, status, by, scope=scope, note=note, grant_until=grant_until)[0]

    def answer(self, approval_id: str, status: str, by: str, *, scope: str = "call", note: str | None = None,
               grant_until: datetime | None = None) -> tuple[Approval, ApprovalGrantRow | None]:
        """Record a person's answer; an approval with a wider ``scope`` (``run``, ``arguments``,
        ``recipient``) also records a grant, bound to the request's run unless ``grant_until`` is given.
        Only a pending, unexpired request can be answered (LookupError otherwise); ``recipient`` for a
        call without recipients or targets is a ValueError. Returns (request, grant or None)."""
        if scope != "call" and scope not in GRANTED:
            raise ValueError(f"an answer's scope is call, {', '.join(GRANTED)}; not {scope!r}")
        with self.db.session() as s:
            a = s.get(Approval, approval_id)
            if a is None:
                raise LookupError(f"no approval request {approval_id!r} (see `meshclaw approvals`)")
            if a.status != "pending":
                raise LookupError(f"approval {approval_id} was already {a.status}")
            if status == "approved" and _aware(a.expires_at) < datetime.now(timezone.utc):
                a.status = "expired"
                raise LookupError(f"approval {approval_id} expired at {a.expires_at:%Y-%m-%d %H:%M} UTC")
            grant = None
            if status == "approved" and scope != "call":
                kind = GRANTED[scope]
                key = a.batch_key if kind == "arguments" else a.target_key
                if key is None:
                    raise ValueError(f"{a.tool} names no recipient or target here: approve this call, or identical calls")
                shown = dict(a.args)  # what the person saw; a recipient grant matches only its targets
                grant = self.grants.add(s, approval_id=a.id, agent=a.agent, user_id=a.user_id, tool=a.tool, scope=kind,
                                        key=key, shown=shown, run_id=None if grant_until else a.run_id, created_by=by,
                                        expires_at=grant_until)
            a.status, a.scope, a.decided_by, a.note = status, scope, by, note
            a.decided_at = datetime.now(timezone.utc)
            return a, grant

    def close(self, approval_id: str, status: str) -> None:
        """Mark a request the run stopped waiting for (expired), unless a person answered first."""
        with self.db.session() as s:
            a = s.get(Approval, approval_id)
            if a is not None and a.status == "pending":
                a.status, a.decided_at, a.decided_by = status, datetime.now(timezone.utc), "meshclaw"
