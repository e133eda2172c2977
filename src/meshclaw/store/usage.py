"""Usage metering: every model request's tokens, recorded once even if its step is replayed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select

from .database import Database
from .tables import Usage


@dataclass
class UsageTotals:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cost: float = 0.0


class UsageRepository:
    def __init__(self, db: Database):
        self.db = db

    def record(self, event_key: str, *, run_id: str, agent: str, user_id: str, model: str, input_tokens: int,
               output_tokens: int, cache_read_tokens: int = 0, cache_write_tokens: int = 0, cost: float = 0.0,
               seconds: float = 0.0) -> None:
        table = Usage.__table__  # Core, not the ORM: this runs for every model request
        with self.db.engine.begin() as conn:
            if conn.execute(select(table.c.id).where(table.c.event_key == event_key)).first() is not None:
                return
            conn.execute(table.insert().values(
                event_key=event_key, at=datetime.now(timezone.utc), run_id=run_id, agent=agent, user_id=user_id,
                model=model, input_tokens=input_tokens, output_tokens=output_tokens, cache_read_tokens=cache_read_tokens,
                cache_write_tokens=cache_write_tokens, cost=cost, seconds=seconds))

    def for_run(self, run_id: str) -> list[Usage]:
        with self.db.session() as s:
            return list(s.scalars(select(Usage).where(Usage.run_id == run_id).order_by(Usage.id)))

    def totals(self, *, run_id: str | None = None, agent: str | None = None, user_id: str | None = None,
               since: datetime | None = None) -> UsageTotals:
        q = select(func.count(Usage.id), func.coalesce(func.sum(Usage.input_tokens), 0),
                   func.coalesce(func.sum(Usage.output_tokens), 0), func.coalesce(func.sum(Usage.cache_read_tokens), 0),
                   func.coalesce(func.sum(Usage.cost), 0.0))
        if run_id:
            q = q.where(Usage.run_id == run_id)
        if agent:
            q = q.where(Usage.agent == agent)
        if user_id:
            q = q.where(Usage.user_id == user_id)
        if since:
            q = q.where(Usage.at >= since)
        with self.db.session() as s:
            row = s.execute(q).one()
        return UsageTotals(int(row[0]), int(row[1]), int(row[2]), int(row[3]), float(row[4]))
