"""Problems of the organisation chart (loops in the management chain above all), found when the
configuration is loaded.

A user's manager on a day comes from ``manager_history`` (each period from its ``valid_from``) and then
``manager`` (from ``manager_since``, or always when there is no history): the same reading as
this module's ``timeline`` (which ``operations.usage_org`` reads too, for users with ``manager_since``;
without it, ``usage_org`` follows the chart as the store saw it over time). A loop on any day (alice → bob → carol → alice) would put a
manager inside their own report's team, so who may read whose usage figures would be wrong: it is a
configuration error for every command, not only for ``meshclaw config check``; so is a history that
leaves a day's manager unknown or ambiguous.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Sequence

BEGINNING = date(1970, 1, 1)


def timeline(user: Any) -> list[tuple[date, str | None]]:
    """``[(valid_from, manager or None)]`` of one configured user, oldest first."""
    out = [(p.valid_from, p.manager) for p in sorted(user.manager_history, key=lambda p: p.valid_from)]
    since = user.manager_since or (BEGINNING if not out else None)
    if since is not None:
        out.append((since, user.manager))
    return out


def _chart_on(users: Sequence[Any], day: date) -> dict[str, str | None]:
    chart: dict[str, str | None] = {}
    for u in users:
        chart[u.id] = None
        for valid_from, manager in timeline(u):
            if valid_from <= day:
                chart[u.id] = manager
    return chart


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


def org_chart_problems(users: Sequence[Any]) -> list[tuple[tuple, str]]:
    """Problems of the organisation chart as ``[(path, message)]``: an earlier manager who is not a user,
    a ``manager_history`` without ``manager_since`` or out of order, and one per loop in the management
    chain on any day of its history, at the loop's first user (``("users", i, "manager")``):
    ``"the management chain loops: alice → bob → carol → alice"`` (``" from 2025-03-01"`` after "loops"
    when the loop starts on a later day); a user who is their own manager: ``"alice cannot be their own manager"``. ``users``: the configured ``User`` objects.
    Every command that loads the configuration reports them (``Config.problems``)."""
    out: list[tuple[tuple, str]] = []
    index = {u.id: i for i, u in enumerate(users)}
    for i, u in enumerate(users):
        if u.manager == u.id:
            out.append((("users", i, "manager"), f"{u.id} cannot be their own manager"))
        for j, p in enumerate(u.manager_history):
            if p.manager is not None and p.manager not in index:
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
    days = {BEGINNING} | {d for u in users for d, _ in timeline(u)}
    reported: set[frozenset[str]] = set()
    for day in sorted(days):
        for loop in _loops(_chart_on(users, day)):
            if frozenset(loop) in reported or len(loop) == 1 and loop[0] in index and users[index[loop[0]]].manager == loop[0]:
                continue
            reported.add(frozenset(loop))
            when = "" if day == BEGINNING else f" from {day.isoformat()}"
            out.append((("users", index[loop[0]], "manager"),
                        f"the management chain loops{when}: {' → '.join(loop + [loop[0]])}"))
    return out
