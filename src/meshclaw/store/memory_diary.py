"""The dream diary (one row per consolidation) and the lease that lets one consolidation at a time
work on an owner's agent's memory."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .database import Database
from .tables import MemoryDream, MemoryLease


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


class DreamDiary:
    def __init__(self, db: Database):
        self.db = db

    # --- the lease -----------------------------------------------------------------------------

    def acquire(self, name: str, holder: str, seconds: float) -> tuple[bool, str, datetime]:
        """Take the lease ``name`` for ``seconds`` unless another holder has it and it has not expired.

        Returns (taken?, the holder now, until when). Taking it again as the same holder renews it."""
        now = datetime.now(timezone.utc)
        until = now + timedelta(seconds=seconds)
        for _ in range(2):  # a second attempt when another process inserted the row meanwhile
            try:
                with self.db.session() as s:
                    row = s.get(MemoryLease, name, with_for_update=True)
                    if row is None:
                        s.add(MemoryLease(name=name, holder=holder, expires_at=until))
                        return True, holder, until
                    if row.holder != holder and _aware(row.expires_at) > now:
                        return False, row.holder, _aware(row.expires_at)
                    row.holder, row.expires_at = holder, until
                    return True, holder, until
            except IntegrityError:
                continue
        return False, "another consolidation", until

    def release(self, name: str, holder: str) -> None:
        with self.db.session() as s:
            row = s.get(MemoryLease, name)
            if row is not None and row.holder == holder:
                s.delete(row)

    # --- the diary -----------------------------------------------------------------------------

    def write(self, run_id: str, *, owner: str, agent: str, started_at: datetime, status: str, episodes: int,
              changes: Sequence[dict[str, Any]], diary: str) -> int:
        """Record (or complete) the diary row of consolidation ``run_id``; returns its id."""
        with self.db.session() as s:
            row = s.scalar(select(MemoryDream).where(MemoryDream.run_id == run_id))
            if row is None:
                row = MemoryDream(run_id=run_id, owner=owner, agent=agent, started_at=started_at, status=status,
                                  episodes=episodes, changes=list(changes), diary=diary)
                s.add(row)
            else:
                row.status, row.episodes, row.changes, row.diary = status, episodes, list(changes), diary
            row.finished_at = datetime.now(timezone.utc)
            s.flush()
            return row.id

    def dreams(self, owner: str, *, agent: str | None = None, limit: int = 20) -> list[MemoryDream]:
        """``owner``'s consolidations, newest first."""
        q = select(MemoryDream).where(MemoryDream.owner == owner)
        if agent is not None:
            q = q.where(MemoryDream.agent == agent)
        with self.db.session() as s:
            return list(s.scalars(q.order_by(MemoryDream.id.desc()).limit(limit)))
