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

from meshclaw.domain import org_chart
from meshclaw.domain.config import Config

BEGINNING = date(1970, 1, 1)
END = date(9999, 12, 31)


def timeline(user) -> list[tuple[date, str | None]]:  # type: ignore[no-untyped-def]
    """``[(valid_from, manager or None)]`` of one configured user, oldest first (``domain.org_chart``)."""
    return org_chart.timeline(user)


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


