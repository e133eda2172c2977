"""Budget reservations: hold the tokens a model request may use before it is sent, settle after.

Checking and reserving happen in one serialised transaction, so two runs racing for the last of
a budget cannot both get it. A reservation left by a crashed process lapses after ``STALE``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, select, text

from .database import Database
from .tables import BudgetReservation
from .usage import day_of
from .usage_queries import used_since

STALE = timedelta(minutes=15)


from meshclaw.domain.errors import BudgetExceeded  # noqa: E402 - re-exported


@dataclass(frozen=True)
class Limit:
    subject: str  # "agent" | "user"
    name: str  # the agent's name or the user's id
    period: str  # "day" | "month"
    unit: str  # "tokens" | "cost"
    value: float


def period_start(period: str, now: datetime) -> datetime:
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return start.replace(day=1) if period == "month" else start


class BudgetLedger:
    def __init__(self, db: Database):
        self.db = db

    def reserve(self, key: str, *, agent: str, user_id: str, tokens: int, cost: float, limits: list[Limit]) -> None:
        now = datetime.now(timezone.utc)
        with self.db.session() as s:
            if self.db.dialect == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(4243)"))
            if s.get(BudgetReservation, key) is not None:
                return  # the same request, replayed
            s.execute(delete(BudgetReservation).where(BudgetReservation.created_at < now - STALE))
            for limit in limits:
                used = self._used(s, limit, now)
                held = self._held(s, limit)
                need = tokens if limit.unit == "tokens" else cost
                if used + held + need > limit.value:
                    raise BudgetExceeded(
                        f"budget: {limit.subject} {limit.name}'s {limit.unit} per {limit.period} is {_fmt(limit.unit, limit.value)}; "
                        f"used {_fmt(limit.unit, used)}, held by runs in flight {_fmt(limit.unit, held)}, "
                        f"this request needs up to {_fmt(limit.unit, need)}"
                    )
            s.add(BudgetReservation(id=key, agent=agent, user_id=user_id, tokens=tokens, cost=cost, created_at=now))

    def reserve_request(self, key: str, *, agent: str, user_id: str, prompt_tokens: int, max_output: int,
                        min_output: int, cost_per_token: float, limits: list[Limit]) -> int:
        """Reserve a model request's real maximum and return how many output tokens it may produce.

        The grant is ``max_output``, lowered to what every limit still has room for after the prompt
        (``prompt_tokens``, an over-estimate) and what runs in flight hold; the caller sends it to the
        provider as ``max_tokens``, so the request cannot use more than is reserved. Cost limits are
        converted with ``cost_per_token`` (the dearer output rate). Check and reservation are one
        serialised transaction. Raises BudgetExceeded when fewer than ``min_output`` tokens are left.
        A replayed request (same ``key``) gets its earlier grant back.
        """
        now = datetime.now(timezone.utc)
        with self.db.session() as s:
            if self.db.dialect == "postgresql":
                s.execute(text("SELECT pg_advisory_xact_lock(4243)"))
            held_before = s.get(BudgetReservation, key)
            if held_before is not None:
                return max(0, held_before.tokens - prompt_tokens)
            s.execute(delete(BudgetReservation).where(BudgetReservation.created_at < now - STALE))
            granted = max_output
            for limit in limits:
                used = self._used(s, limit, now)
                held = self._held(s, limit)
                room = limit.value - used - held
                if limit.unit == "tokens":
                    cap = int(room) - prompt_tokens
                else:
                    cap = int(room / cost_per_token) - prompt_tokens if cost_per_token > 0 else max_output
                if cap < min(min_output, max_output):
                    need = prompt_tokens + min(min_output, max_output)
                    need_value = need if limit.unit == "tokens" else need * cost_per_token
                    raise BudgetExceeded(
                        f"budget: {limit.subject} {limit.name}'s {limit.unit} per {limit.period} is {_fmt(limit.unit, limit.value)}; "
                        f"used {_fmt(limit.unit, used)}, held by runs in flight {_fmt(limit.unit, held)}, "
                        f"this request needs at least {_fmt(limit.unit, need_value)}"
                    )
                granted = min(granted, cap)
            tokens = prompt_tokens + granted
            s.add(BudgetReservation(id=key, agent=agent, user_id=user_id, tokens=tokens, cost=tokens * cost_per_token,
                                    created_at=now))
            return granted

    def settle(self, key: str) -> None:
        with self.db.session() as s:
            s.execute(delete(BudgetReservation).where(BudgetReservation.id == key))

    def _used(self, s, limit: Limit, now: datetime) -> float:  # type: ignore[no-untyped-def]
        """What the subject used this period, from the daily usage rollups (UTC days)."""
        return used_since(s, subject=limit.subject, name=limit.name, day=day_of(period_start(limit.period, now)),
                          unit=limit.unit)

    def _held(self, s, limit: Limit) -> float:  # type: ignore[no-untyped-def]
        col = BudgetReservation.tokens if limit.unit == "tokens" else BudgetReservation.cost
        who = BudgetReservation.agent if limit.subject == "agent" else BudgetReservation.user_id
        return float(s.scalar(select(func.coalesce(func.sum(col), 0)).where(who == limit.name)) or 0)


def _fmt(unit: str, value: float) -> str:
    return f"{int(value):,} tokens" if unit == "tokens" else f"${value:.4f}"
