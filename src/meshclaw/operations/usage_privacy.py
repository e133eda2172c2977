"""Organisation figures without exposing a person: minimum group sizes, closed days, no differencing.

The rule (``meshclaw usage explain`` prints it; k is ``usage.min_group_size``, default 5, never below 3):

1. Groups. An admin or auditor may ask for the figures of the whole organisation or of one
   manager's team (their direct and indirect reports, as the chart stood on each day) — nothing
   smaller, no breakdown by person or agent, so never a per-person ranking.
2. Cells. Figures are added up per (group, day) cell from the daily rollups. A cell is a candidate
   only if at least k people of the group used a model that day (its contributors).
3. No differencing. On each day the candidate cells must form a family in which any two are nested
   or disjoint (a tree-shaped chart always gives one: teams nest or are disjoint, ``organisation``
   holds everyone; a cell crossing one taken before it, larger first, then by name, is withheld,
   which only a loop in the chart, refused when the configuration is loaded, could cause). Each released cell's *atom* is its contributors
   minus those of the released cells nested inside it. Every atom must have 0 or at least k
   contributors. While one does not, the smallest released cell nested directly inside it (fewest
   contributors, then name) is withheld, so its people fall back into the parent's atom; the
   smallest failing atom is mended first. Cells with the same contributors are one cell (their
   difference is 0). Why this is enough: in such a family every released figure of the day is the
   sum of the atoms' figures below it, so any sum or difference of released figures of a day (of any
   number of groups) is a combination of whole atoms, and when it is not 0 it covers at least one
   whole non-empty atom: k people or more. Atoms replace the earlier pairwise check (any two
   released cells have the same contributors or differ by at least k), which they imply — two nested
   cells differ by whole atoms, two disjoint ones by 2k people or more — and which let three groups
   be combined (a manager's team minus both sub-teams left the manager alone).
4. Periods. A period's figure is the sum of its released days; two periods' figures differ by
   whole days, and each day is covered by rule 3.
5. Closed days. Only closed UTC days (before today, UTC) are ever counted: today's cell is never
   released, whoever asks and however (command line, Python ``org_usage``, the MCP tool, the
   Prometheus endpoint), since reading one figure before and after one more request would show
   that request. A period that is only today is an empty report saying so. For the same reason
   outcomes are counted only once settled, older than ``usage_value.LOOK_BACK`` (a draft sent or a
   message moved back within that time still changes an earlier day's outcomes).
6. Withheld cells are left out of every organisation figure, for everyone, and the report says how
   many days were withheld; nothing in a withheld cell is ever shown.
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
    """``{day number: {group: its contributors}}`` for every released cell (rules 2 and 3), per day.

    ``contributors``: the people with model requests on each day number (the caller passes closed days
    only, rule 5); ``day_of_number`` turns a day number into a ``date`` (for the chart of that day);
    ``observed``: as ``usage_org.visible_windows``."""
    out: dict[int, dict[str, frozenset[str]]] = {}
    charts: dict[date, dict[str, frozenset[str]]] = {}
    for day, people in sorted(contributors.items()):
        d = day_of_number(day)
        if d not in charts:
            charts[d] = group_members(config, d, observed)
        cells = release_day(charts[d], people, k)
        if cells:
            out[day] = cells
    return out


def release_day(groups: dict[str, frozenset[str]], people: set[str] | frozenset[str],
                k: int) -> dict[str, frozenset[str]]:
    """``{group: its contributors}`` released on one day (rules 2 and 3): ``groups`` maps each group to
    its members that day (``group_members``), ``people`` is who used a model that day. Every atom of
    the result (a cell's contributors minus those of the released cells nested inside it) has 0 or at
    least ``k`` people, and any two released cells are nested or disjoint."""
    cells = {g: frozenset(m & people) for g, m in groups.items()}
    order = sorted((g for g in cells if len(cells[g]) >= k), key=lambda g: (-len(cells[g]), g != ORGANISATION, g))
    names: dict[frozenset[str], list[str]] = {}  # each distinct set of contributors: its groups
    kept: list[frozenset[str]] = []  # those sets, largest first
    for g in order:
        c = cells[g]
        if c in names:
            names[c].append(g)
        elif all(c < o or not c & o for o in kept):  # nested in or disjoint from every larger set (rule 3)
            names[c] = [g]
            kept.append(c)
    children: dict[frozenset[str], set[frozenset[str]]] = {c: set() for c in kept}
    for i, c in enumerate(kept):  # the parent: the smallest larger set holding c (the last one, largest first)
        parent = next((kept[j] for j in range(i - 1, -1, -1) if c < kept[j]), None)
        if parent is not None:
            children[parent].add(c)

    def atom(c: frozenset[str]) -> int:  # children are disjoint: the atom is what they leave
        return len(c) - sum(len(x) for x in children[c])

    def size_then_name(c: frozenset[str]) -> tuple[int, str]:
        return len(c), names[c][0]

    while bad := [c for c in children if 0 < atom(c) < k]:
        parent = min(bad, key=size_then_name)  # a cell with no children has its k people: bad ones have some
        child = min(children[parent], key=size_then_name)
        children[parent] = (children[parent] - {child}) | children.pop(child)  # withheld: its people fall back
    return {g: c for c in children for g in names[c]}


def groups_in(config: Any, start: date, end: date, observed: Any = None) -> dict[str, int]:
    """Groups an admin may ask for in ``[start, end)``, each with its largest size over the period."""
    out: dict[str, int] = {}
    for seg in segments(config, start, end, observed):
        for g, members in group_members(config, seg.start, observed).items():
            out[g] = max(out.get(g, 0), len(members))
    return out


def day_list(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days)]
