"""Budgets fail closed: a reservation is taken before each model call, so no run overspends."""

from __future__ import annotations

import asyncio

from tests.builders import Org
from tests.runtime_support import run, runtime
from tests.test_runs import config


def budgeted(limit: int, where: str = "agent") -> Org:
    budget = {"tokens_per_day": limit}
    if where == "agent":
        return config().agent("keeper", budget=budget)
    return config().user("alice", email="alice@example.com", budget=budget)


def test_run_stops_cleanly_before_exceeding_its_budget(home):
    # Each request reserves its (over-estimated) prompt plus the output it may produce; the third
    # request's prompt leaves fewer than MIN_OUTPUT tokens of room, so it is refused before it is sent.
    with runtime(home, budgeted(1300)) as rt:
        outcome, events = run(rt, "keeper", "remember to buy milk")
        assert outcome.status == "stopped"
        assert outcome.error.startswith("budget: agent keeper's tokens per day is 1,300 tokens")
        used = rt.store.usage.totals(agent="keeper")
        assert 0 < used.input_tokens + used.output_tokens <= 1300
        assert used.requests == 2  # the third request was refused before it was sent


def test_concurrent_runs_cannot_overspend(home):
    limit = 3500
    with runtime(home, budgeted(limit, where="user")) as rt:
        async def go():  # type: ignore[no-untyped-def]
            ids = [await rt.start("keeper", f"remember item {i}") for i in range(4)]
            return [await rt.wait(i) for i in ids]

        outcomes = asyncio.run(go())
        used = rt.store.usage.totals(user_id="alice")
        assert used.input_tokens + used.output_tokens <= limit
        assert any(o.status == "stopped" and "user alice's tokens per day" in o.error for o in outcomes)
        # The reservations were all settled: nothing is held once the runs are over.
        from sqlalchemy import func, select

        from meshclaw.store.tables import BudgetReservation

        with rt.store.db.session() as s:
            assert s.scalar(select(func.count()).select_from(BudgetReservation)) == 0


def test_no_budget_means_no_reservation_cost(home):
    with runtime(home, config()) as rt:
        outcome, _ = run(rt, "keeper", "remember to buy milk")
        assert outcome.status == "succeeded"
