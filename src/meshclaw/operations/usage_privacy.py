"""Organisation figures without exposing a person: minimum group sizes and no differencing.

The rule (``meshclaw usage explain`` prints it; k is ``usage.min_group_size``, default 5, never below 3):

1. Groups. An admin or auditor may ask for the figures of the whole organisation or of one
   manager's team (their direct and indirect reports, as the chart stood on each day) — nothing
   smaller, no breakdown by person or agent, so never a per-person ranking.
2. Cells. Figures are added up per (group, day) cell from the daily rollups. A cell is released
   only if at least k people of the group used a model that day (its contributors).
3. No differencing. On each day the groups are taken largest first; a cell is released only if,
   for every cell already released that day, the two sets of contributors are the same or differ
   by at least k people. So the difference of any two released figures for a day covers 0 or ≥ k
   people, and any period's figure is a sum of released days (two periods differ by whole days,
   each released only with ≥ k contributors).
4. Withheld cells are left out of every organisation figure, for everyone, and the report says how
   many days were withheld; nothing in a withheld cell is ever shown.

What this does not cover: combinations of three or more different groups' figures on the same day
(rare in a tree-shaped chart, where teams nest or are disjoint).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from .usage_org import chart_on, reports_in, segments

ORGANISATION = "organisation"


def group_members(config: Any, day: date, observed: Any = None) -> dict[str, frozenset[str]]:
    """Every group an organisation figure may cover on ``day``: ``organisation`` and ``team:M`` for each
    user M with reports then (the chart of ``usage_org``, with the store's ``observed`` chart)."""
    chart = chart_on(config, day, observed)
    groups = {ORGANISATION: frozenset(u.id for u in config.users)}
    for m in sorted({m for m in chart.values() if m is not None}):
        members = frozenset(reports_in(chart, m))
        if members:
            groups[f"team:{m}"] = members
    return groups


def released(config: Any, k: int, contributors: dict[int, set[str]], day_of_number: Any,
             observed: Any = None) -> dict[int, dict[str, frozenset[str]]]:
    """``{day number: {group: its contributors}}`` for every released cell (rules 2 and 3).

    ``contributors``: the people with model requests on each day number; ``day_of_number`` turns a day
    number into a ``date`` (for the chart of that day); ``observed``: as ``usage_org.visible_windows``."""
    out: dict[int, dict[str, frozenset[str]]] = {}
    charts: dict[date, dict[str, frozenset[str]]] = {}
    for day, people in sorted(contributors.items()):
        d = day_of_number(day)
        if d not in charts:
            charts[d] = group_members(config, d, observed)
        groups = charts[d]
        order = sorted(groups, key=lambda g: (-len(groups[g]), g != ORGANISATION, g))
        cells: dict[str, frozenset[str]] = {}
        for g in order:
            c = frozenset(groups[g] & people)
            if len(c) < k:
                continue
            if all(len(c ^ other) == 0 or len(c ^ other) >= k for other in cells.values()):
                cells[g] = c
        if cells:
            out[day] = cells
    return out


def groups_in(config: Any, start: date, end: date, observed: Any = None) -> dict[str, int]:
    """Groups an admin may ask for in ``[start, end)``, each with its largest size over the period."""
    out: dict[str, int] = {}
    for seg in segments(config, start, end, observed):
        for g, members in group_members(config, seg.start, observed).items():
            out[g] = max(out.get(g, 0), len(members))
    return out


def day_list(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days)]
