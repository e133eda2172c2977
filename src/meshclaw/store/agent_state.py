"""Durable per-agent switches: the kill switch and promotion out of rehearsal."""

from __future__ import annotations

import time
from datetime import datetime, timezone

from sqlalchemy import select

from .database import Database
from .tables import AgentState

ALL = "*"  # the row that stops every agent at once
STOPPED_TTL = 1.0  # seconds a kill-switch reading is reused; a cancel reaches live runs directly anyway


class AgentStateRepository:
    def __init__(self, db: Database):
        self.db = db
        self._stopped: dict[str, tuple[float, bool]] = {}

    def _row(self, s, agent: str) -> AgentState:  # type: ignore[no-untyped-def]
        row = s.get(AgentState, agent)
        if row is None:
            row = AgentState(agent=agent, stopped=False, promoted=False, updated_at=datetime.now(timezone.utc), updated_by="")
            s.add(row)
        return row

    def set_stopped(self, agent: str, stopped: bool, by: str) -> bool:
        """Set ``agent``'s own kill switch (``ALL``: the global one); returns what it was before."""
        self._stopped.clear()
        with self.db.session() as s:
            row = self._row(s, agent)
            was = bool(row.stopped)
            row.stopped, row.updated_at, row.updated_by = stopped, datetime.now(timezone.utc), by
        return was

    def set_promoted(self, agent: str, promoted: bool, by: str) -> None:
        with self.db.session() as s:
            row = self._row(s, agent)
            row.promoted, row.updated_at, row.updated_by = promoted, datetime.now(timezone.utc), by

    def is_stopped(self, agent: str) -> bool:
        now = time.monotonic()
        cached = self._stopped.get(agent)
        if cached is not None and now - cached[0] < STOPPED_TTL:
            return cached[1]
        with self.db.engine.connect() as conn:
            table = AgentState.__table__
            stopped = any(conn.execute(select(table.c.stopped).where(table.c.agent.in_([agent, ALL]))).scalars())
        self._stopped[agent] = (now, stopped)
        return stopped

    def is_promoted(self, agent: str) -> bool:
        with self.db.session() as s:
            row = s.get(AgentState, agent)
            return bool(row and row.promoted)
