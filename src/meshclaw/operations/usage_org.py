"""The management chain over time: who managed whom on which day, and what that lets a person read.

A user's managers form a timeline (``timeline``), from two sources:

- the configuration's explicit history, which wins where it is given: when a user has
  ``manager_since``, each ``manager_history`` entry from its ``valid_from``, then ``manager`` from
  ``manager_since``; before the first entry nobody managed them (``domain.org_chart.timeline``);
- otherwise what the store saw (``store.org_observations``, recorded by ``operations.usage_chart``
  whenever usage figures are read and at ``meshclaw config check``): the first manager the store saw
  from the beginning, and each later one only from the UTC day the store first saw it. So a plain
  edit of ``manager:`` gives the new manager the days from that edit's first sighting on, and the
  earlier manager keeps the days before. A user the store has not seen yet is taken as the
  configuration states them today (``manager`` on every day).

A manager reads a report's usage only for the days they were in that report's chain (directly or
through their own reports), so a person who changes manager is not exposed to the new manager's view
of their past, and the old manager keeps exactly the days they had.

Days here are ``datetime.date`` values in UTC (the rollups' days). ``observed`` arguments are
``store.managers.history()`` (or what ``usage_chart.observe`` returns); None: nothing observed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Iterable, Mapping, Sequence

from meshclaw.domain import org_chart
from meshclaw.domain.config import Config
from meshclaw.store.org_observations import Observation

BEGINNING = date(1970, 1, 1)
END = date(9999, 12, 31)

Observed = Mapping[str, Sequence[Observation]]
Line = list[tuple[date, "str | None"]]


def observed_timeline(rows: Sequence[Observation]) -> Line:
    """One user's observations (oldest first) as ``[(from day, manager or None)]``: the first from the
    beginning, each later one from the UTC day it was first seen (never before the one before it);
    of several seen on one day, the last holds that day; a repeat of the manager before is dropped."""
    days: dict[date, str | None] = {}
    last = BEGINNING
    for i, row in enumerate(rows):
        if i:
            last = max(last, row.first_seen.astimezone(timezone.utc).date())
        days[last] = row.manager
    out: Line = []
    for day in sorted(days):
        if not out or out[-1][1] != days[day]:
            out.append((day, days[day]))
    return out


def timeline(user: Any, observed: Observed | None = None, today: date | None = None) -> Line:
    """``[(valid_from, manager or None)]`` of one configured user, oldest first (the rule: this module's
    docstring). With ``manager_since`` (or ``manager_history``): the configuration's own timeline.
    Else the store's observations of the user; the configured manager, when the store has not seen it
    yet, from ``today`` (default: today, UTC); a user never observed: ``manager`` on every day."""
    if user.manager_since is not None or user.manager_history:
        return org_chart.timeline(user)
    line = observed_timeline(observed.get(user.id, ())) if observed else []
    if not line:
        return [(BEGINNING, user.manager)]
    if line[-1][1] != user.manager:
        line.append((max(today or datetime.now(timezone.utc).date(), line[-1][0]), user.manager))
    return line


def _on(line: Line, day: date) -> str | None:
    found = None
    for valid_from, manager in line:
        if valid_from <= day:
            found = manager
    return found


def manager_on(config: Config, user_id: str, day: date, observed: Observed | None = None) -> str | None:
    """``user_id``'s manager on ``day`` (None: nobody)."""
    user = next((u for u in config.users if u.id == user_id), None)
    return _on(timeline(user, observed), day) if user is not None else None


def chart_on(config: Config, day: date, observed: Observed | None = None) -> dict[str, str | None]:
    """``{user: manager}`` on ``day``."""
    return {u.id: _on(timeline(u, observed), day) for u in config.users}


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


def segments(config: Config, start: date, end: date, observed: Observed | None = None) -> list[Segment]:
    """The period ``[start, end)`` cut where any user's manager changed (``timeline``)."""
    today = datetime.now(timezone.utc).date()
    lines = [(u.id, timeline(u, observed, today)) for u in config.users]  # each timeline once, not once per segment
    cuts = {start, end}
    for _, line in lines:
        cuts |= {d for d, _ in line if start < d < end}
    days = sorted(cuts)
    return [Segment(a, b, {user_id: _on(line, a) for user_id, line in lines}) for a, b in zip(days, days[1:])]


def visible_windows(config: Config, viewer: str, subjects: Iterable[str], start: date,
                    end: date, observed: Observed | None = None) -> list[tuple[frozenset[str], date, date]]:
    """``[(users, from, to)]``: which of ``subjects`` ``viewer`` manages (directly or not), over which days
    of ``[start, end)`` (``to`` exclusive); the viewer's own figures are always visible. ``observed``:
    the store's observations of the chart (this module's docstring); None: the configuration as it
    stands."""
    wanted = set(subjects)
    out = []
    for seg in segments(config, start, end, observed):
        users = (reports_in(seg.chart, viewer) | {viewer}) & wanted
        if users:
            out.append((frozenset(users), seg.start, seg.end))
    return out


def seen_days(windows: Iterable[tuple[frozenset[str], date, date]], user_id: str) -> list[tuple[date, date]]:
    """The days of ``windows`` that cover ``user_id``, as ``[(first, last)]`` inclusive, oldest first,
    touching ranges joined: what a reader actually saw of that person."""
    out: list[tuple[date, date]] = []
    for users, a, b in sorted(windows, key=lambda w: w[1]):
        if user_id not in users:
            continue
        last = date.fromordinal(b.toordinal() - 1)
        if out and out[-1][1].toordinal() + 1 >= a.toordinal():
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((a, last))
    return out
