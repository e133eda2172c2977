"""Runs: one row per agent run, with the configuration snapshot it started from."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Collection

from sqlalchemy import select

from .database import Database
from .tables import Run

from meshclaw.domain.runs import FINISHED as _FINISHED

FINISHED = tuple(sorted(s.value for s in _FINISHED))


class RunRepository:
    def __init__(self, db: Database):
        self.db = db

    def create(self, run_id: str, agent: str, user_id: str, task: str, snapshot: dict[str, Any], *, trigger: str = "manual", rehearsal: bool = False) -> Run:
        run = Run(
            id=run_id, agent=agent, user_id=user_id, task=task, status="pending", trigger=trigger,
            rehearsal=rehearsal, created_at=datetime.now(timezone.utc), snapshot=snapshot,
        )
        with self.db.session() as s:
            s.add(run)
        return run

    def get(self, run_id: str) -> Run | None:
        with self.db.session() as s:
            run = s.get(Run, run_id)
            if run is None:
                # Allow a unique prefix, as people copy the first characters of an id.
                matches = list(s.scalars(select(Run).where(Run.id.startswith(run_id)).limit(2)))
                run = matches[0] if len(matches) == 1 else None
            return run

    def set_status(self, run_id: str, status: str, *, output: str | None = None, error: str | None = None) -> None:
        with self.db.session() as s:
            run = s.get(Run, run_id)
            if run is None:
                return
            run.status = status
            if output is not None:
                run.output = output
            if error is not None:
                run.error = error
            if status in FINISHED:
                run.finished_at = datetime.now(timezone.utc)

    def count(self, *, agent: str) -> int:
        from sqlalchemy import func

        with self.db.session() as s:
            return int(s.scalar(select(func.count(Run.id)).where(Run.agent == agent)) or 0)

    def active(self, *, agent: str | None = None) -> list[Run]:
        """Runs not yet finished (pending, running, waiting), of one agent or of all."""
        q = select(Run).where(Run.status.not_in(FINISHED))
        if agent:
            q = q.where(Run.agent == agent)
        with self.db.session() as s:
            return list(s.scalars(q))

    def list(self, *, agent: str | None = None, user_id: str | None = None, status: str | None = None, limit: int = 50,
             user_ids: Collection[str] | None = None, since: datetime | None = None) -> list[Run]:
        """Newest first. ``user_ids`` (None: anyone's) keeps only runs of agents those users own;
        ``since`` only runs created at or after it."""
        q = select(Run).order_by(Run.created_at.desc()).limit(limit)
        if since is not None:
            q = q.where(Run.created_at >= since)
        if agent:
            q = q.where(Run.agent == agent)
        if user_id:
            q = q.where(Run.user_id == user_id)
        if user_ids is not None:
            q = q.where(Run.user_id.in_(list(user_ids)))
        if status:
            q = q.where(Run.status == status)
        with self.db.session() as s:
            return list(s.scalars(q))
