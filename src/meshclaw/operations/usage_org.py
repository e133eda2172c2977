"""The management chain over time: who managed whom on which day, and what that lets a person read.

A user's managers form a timeline: each ``manager_history`` entry from its ``valid_from``, then
``manager`` from ``manager_since`` (from the beginning of time when there is no history). Before the
first entry nobody managed them. A manager reads a report's usage only for the days they were in
that report's chain (directly or through their own reports), so a person who changes manager is
not exposed to the new manager's view of their past, and the old manager keeps exactly the days they
had.

Days here are ``datetime.date`` values in UTC (the rollups' days).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterable

from meshclaw.domain.config import Config

BEGINNING = date(1970, 1, 1)
END = date(9999, 12, 31)


def timeline(user) -> list[tuple[date, str | None]]:  # type: ignore[no-untyped-def]
    """``[(valid_from, manager or None)]`` of one configured user, oldest first."""
    out = [(p.valid_from, p.manager) for p in sorted(user.manager_history, key=lambda p: p.valid_from)]
    since = user.manager_since or (BEGINNING if not out else None)
    if since is not None:
        out.append((since, user.manager))
    return out


def manager_on(config: Config, user_id: str, day: date) -> str | None:
    """``user_id``'s manager on ``day`` (None: nobody)."""
    user = next((u for u in config.users if u.id == user_id), None)
    found = None
    for valid_from, manager in timeline(user) if user is not None else []:
        if valid_from <= day:
            found = manager
    return found


def chart_on(config: Config, day: date) -> dict[str, str | None]:
    """``{user: manager}`` on ``day``."""
    out: dict[str, str | None] = {}
    for u in config.users:
        found = None
        for valid_from, manager in timeline(u):
            if valid_from <= day:
                found = manager
        out[u.id] = found
    return out


def reports_in(chart: dict[str, str | None], manager: str) -> set[str]:
    """Direct and indirect reports of ``manager`` in one chart (walked down from the manager; a loop in
    the chart cannot make it run forever)."""
    below: dict[str, list[str]] = {}
    for user_id, up in chart.items():
        if up is not None:
            below.setdefault(up, []).append(user_id)
    out: set[str] = set()
    todo = list(below.get(manager, []))
    while todo:
        user_id = todo.pop()
        if user_id in out or user_id == manager:
            continue
        out.add(user_id)
        todo += below.get(user_id, [])
    return out


@dataclass(frozen=True)
class Segment:
    """Days ``[start, end)`` over which the organisation chart did not change."""

    start: date
    end: date
    chart: dict[str, str | None]


def segments(config: Config, start: date, end: date) -> list[Segment]:
    """The period ``[start, end)`` cut where any user's manager changed."""
    lines = [(u.id, timeline(u)) for u in config.users]  # each user's timeline once, not once per segment
    cuts = {start, end}
    for _, line in lines:
        cuts |= {d for d, _ in line if start < d < end}
    days = sorted(cuts)

    def chart(day: date) -> dict[str, str | None]:  # chart_on, from the timelines above
        out: dict[str, str | None] = {}
        for user_id, line in lines:
            found = None
            for valid_from, manager in line:
                if valid_from <= day:
                    found = manager
            out[user_id] = found
        return out

    return [Segment(a, b, chart(a)) for a, b in zip(days, days[1:])]


def visible_windows(config: Config, viewer: str, subjects: Iterable[str], start: date,
                    end: date) -> list[tuple[frozenset[str], date, date]]:
    """``[(users, from, to)]``: which of ``subjects`` ``viewer`` manages (directly or not), over which days
    of ``[start, end)``; the viewer's own figures are always visible."""
    wanted = set(subjects)
    out = []
    for seg in segments(config, start, end):
        users = (reports_in(seg.chart, viewer) | {viewer}) & wanted
        if users:
            out.append((frozenset(users), seg.start, seg.end))
    return out


def org_problems(config: Config) -> list[tuple[tuple, str]]:
    """Problems of the organisation chart, as (path, message): a manager that is not a user (now or in
    the history), a user who is their own manager, a loop in the chain on any day, history out of order."""
    ids = {u.id for u in config.users}
    out: list[tuple[tuple, str]] = []
    for i, u in enumerate(config.users):
        if u.manager == u.id:
            out.append((("users", i, "manager"), f"{u.id} cannot be their own manager"))
        for j, p in enumerate(u.manager_history):
            if p.manager is not None and p.manager not in ids:
                out.append((("users", i, "manager_history", j, "manager"),
                            f"{p.manager!r} is not a known user (earlier manager of {u.id})"))
        if u.manager_history and u.manager_since is None:
            out.append((("users", i, "manager_history"),
                        f"{u.id} has a manager_history: give manager_since, the day their current manager took over"))
        if u.manager_history and u.manager_since is not None and u.manager_since <= max(p.valid_from for p in u.manager_history):
            out.append((("users", i, "manager_since"),
                        f"manager_since of {u.id} must come after every valid_from in their manager_history"))
        dates = [p.valid_from for p in u.manager_history]
        if len(set(dates)) != len(dates):
            out.append((("users", i, "manager_history"), f"two managers of {u.id} start on the same day"))
    days = {BEGINNING} | {d for u in config.users for d, _ in timeline(u)}
    reported: set[frozenset[str]] = set()
    for day in sorted(days):
        for loop in _loops(chart_on(config, day)):
            if frozenset(loop) in reported:
                continue
            reported.add(frozenset(loop))
            i = next(k for k, u in enumerate(config.users) if u.id == loop[0])
            when = "" if day == BEGINNING else f" from {day.isoformat()}"
            out.append((("users", i, "manager"), f"the management chain loops{when}: {' → '.join(loop + [loop[0]])}"))
    return out


def _loops(chart: dict[str, str | None]) -> list[list[str]]:
    """Each cycle of manager links once, starting at its smallest id."""
    loops, done = [], set()
    for start in sorted(chart):
        path, up = [], start
        while up is not None and up not in done and up not in path:
            path.append(up)
            up = chart.get(up)
        if up is not None and up in path:
            cycle = path[path.index(up):]
            k = cycle.index(min(cycle))
            loops.append(cycle[k:] + cycle[:k])
        done |= set(path)
    return loops
