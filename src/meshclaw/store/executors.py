"""Heartbeats of the processes that run durable runs (see ``meshclaw.runtime.durable``)."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from .database import Database
from .tables import Executor

GONE = datetime(1970, 1, 1, tzinfo=timezone.utc)  # the heartbeat a process leaves when it exits cleanly


class ExecutorRegistry:
    def __init__(self, db: Database):
        self.db = db

    def beat(self, executor_id: str, host: str, pid: int, *, at: datetime | None = None) -> None:
        now = at or datetime.now(timezone.utc)
        with self.db.session() as s:
            row = s.get(Executor, executor_id)
            if row is None:
                s.add(Executor(id=executor_id, host=host, pid=pid, started_at=now, last_seen=now))
            else:
                row.last_seen = now

    def gone(self, executor_id: str) -> None:
        """A clean exit: runs this process still owned (e.g. one waiting for approval) may be taken over at once."""
        with self.db.session() as s:
            row = s.get(Executor, executor_id)
            if row is not None:
                row.last_seen = GONE

    def last_seen(self, executor_ids: list[str]) -> dict[str, datetime]:
        if not executor_ids:
            return {}
        with self.db.session() as s:
            rows = s.execute(select(Executor.id, Executor.last_seen).where(Executor.id.in_(executor_ids))).all()
        return {i: (t if t.tzinfo else t.replace(tzinfo=timezone.utc)) for i, t in rows}
