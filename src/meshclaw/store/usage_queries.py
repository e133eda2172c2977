"""Reading the usage rollups: sums over (users, days) windows, grouped as a report asks.

Every report reads ``usage_daily`` (never the raw events), so its cost depends on people × days ×
agents, not on how many requests were made, and pruning raw events changes nothing here. Who may
see which window is decided above, in ``operations/usage.py``; this module only adds up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import func, select

from .database import Database
from .tables import AuditRecord, Run, UsageDaily, UsageName, UsageRun
from .usage import MICRO, SUMS, name_id
from .usage_writer import flush_url, url_key

DIMENSIONS = ("user", "day", "agent", "model", "trigger")


@dataclass
class Sums:
    """Added-up figures: counts of requests and tokens, ``cost`` in currency units, ``latency_s`` seconds."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float = 0.0
    latency_s: float = 0.0

    def add(self, other: "Sums") -> "Sums":
        for f in ("requests", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens", "cost", "latency_s"):
            setattr(self, f, getattr(self, f) + getattr(other, f))
        return self

    @property
    def tokens(self) -> int:
        """Input plus output tokens (cached and reasoning tokens are parts of these)."""
        return self.input_tokens + self.output_tokens

    @classmethod
    def of(cls, row: Iterable[int]) -> "Sums":
        n, i, o, c, r, cost, ms = (int(x or 0) for x in row)
        return cls(n, i, o, c, r, cost / MICRO, ms / 1000)


_KNOWN: dict[tuple[str, str, str], int] = {}  # (database, kind, name) -> id: a name's id never changes


def _ids(conn, kind: str, names: Iterable[str]) -> dict[int, str]:  # type: ignore[no-untyped-def]
    """``{id: name}`` of the names that have an id (ids found once are remembered for the process)."""
    t = UsageName.__table__
    db = url_key(conn.engine)
    out: dict[int, str] = {}
    missing = []
    for name in names:
        id_ = _KNOWN.get((db, kind, name))
        if id_ is None:
            missing.append(name)
        else:
            out[id_] = name
    for i in range(0, len(missing), 500):
        for id_, name in conn.execute(select(t.c.id, t.c.name).where(t.c.kind == kind,
                                                                     t.c.name.in_(missing[i:i + 500]))).all():
            out[id_] = name
            _KNOWN[(db, kind, name)] = id_
    return out


def _names(conn, ids: set[int]) -> dict[int, str]:  # type: ignore[no-untyped-def]
    t = UsageName.__table__
    ids_l = list(ids)
    out: dict[int, str] = {}
    for i in range(0, len(ids_l), 500):
        out.update(dict(conn.execute(select(t.c.id, t.c.name).where(t.c.id.in_(ids_l[i:i + 500]))).all()))
    return out


def rollup(db: Database, windows: Iterable[tuple[Iterable[str], int, int]], by: tuple[str, ...] = ()) -> dict[tuple, Sums]:
    """Sums over ``windows`` — each ``(user ids, first day, day after the last)`` in UTC day numbers —
    grouped by ``by`` (any of ``DIMENSIONS``; ``day`` as a day number, the others as names).
    Returns ``{key tuple: Sums}``; ``()`` is the key of the grand total when ``by`` is empty."""
    flush_url(url_key(db.engine))  # events this process recorded are counted
    t = UsageDaily.__table__
    cols = {"user": t.c.user_ref, "day": t.c.day, "agent": t.c.agent_ref, "model": t.c.model_ref, "trigger": t.c.trigger_ref}
    out: dict[tuple, Sums] = {}
    with db.engine.connect() as conn:
        raw: dict[tuple, Sums] = {}
        for users, start, end in windows:
            refs = list(_ids(conn, "user", users))
            if not refs or start >= end:
                continue
            group = [cols[d] for d in by]
            q = (select(*group, *(func.sum(t.c[c]) for c in SUMS))
                 .where(t.c.user_ref.in_(refs), t.c.day >= start, t.c.day < end))
            if group:
                q = q.group_by(*group)
            for row in conn.execute(q):
                key, sums = tuple(row[:len(group)]), Sums.of(row[len(group):])
                if sums.requests:
                    raw.setdefault(key, Sums()).add(sums)
        named = {i for k in raw for d, v in zip(by, k) if d != "day" for i in [v]}
        names = _names(conn, named) if named else {}
    for key, sums in raw.items():
        out[tuple(v if d == "day" else names.get(v, str(v)) for d, v in zip(by, key))] = sums
    return out


def run_totals(db: Database, run_ids: Iterable[str]) -> dict[str, Sums]:
    """Kept totals of each run (survive pruning); runs that made no model request are absent."""
    flush_url(url_key(db.engine))
    t = UsageRun.__table__
    ids = list(run_ids)
    out: dict[str, Sums] = {}
    with db.engine.connect() as conn:
        for i in range(0, len(ids), 500):
            for row in conn.execute(select(t.c.run_id, *(t.c[c] for c in SUMS)).where(t.c.run_id.in_(ids[i:i + 500]))):
                out[row[0]] = Sums.of(row[1:])
    return out


def runs_between(db: Database, user_ids: Iterable[str], start: int, end: int) -> list[tuple[str, str, str, str, int, Sums]]:
    """``(run id, user, agent, trigger, day, Sums)`` of the runs of ``user_ids`` whose first request fell in
    days ``[start, end)``."""
    flush_url(url_key(db.engine))
    t, n = UsageRun.__table__, UsageName.__table__
    u, a, g = n.alias("u"), n.alias("a"), n.alias("g")
    out = []
    with db.engine.connect() as conn:
        refs = list(_ids(conn, "user", user_ids))  # then the (user, day) index does the rest
        for i in range(0, len(refs), 500):
            q = (select(t.c.run_id, u.c.name, a.c.name, g.c.name, t.c.day, *(t.c[c] for c in SUMS))
                 .join(u, u.c.id == t.c.user_ref).join(a, a.c.id == t.c.agent_ref).join(g, g.c.id == t.c.trigger_ref)
                 .where(t.c.user_ref.in_(refs[i:i + 500]), t.c.day >= start, t.c.day < end))
            out += [(r[0], r[1], r[2], r[3], r[4], Sums.of(r[5:])) for r in conn.execute(q)]
    return out


def run_tokens(db: Database, user_ids: Iterable[str], start: int, end: int) -> dict[str, int]:
    """``{run id: input + output tokens}`` of the runs of ``user_ids`` whose first request fell in days
    ``[start, end)`` — ``runs_between``'s figure waste needs, without names or the other sums."""
    flush_url(url_key(db.engine))
    t = UsageRun.__table__
    out: dict[str, int] = {}
    with db.engine.connect() as conn:
        refs = list(_ids(conn, "user", user_ids))
        for i in range(0, len(refs), 500):
            q = (select(t.c.run_id, t.c.input_tokens + t.c.output_tokens)
                 .where(t.c.user_ref.in_(refs[i:i + 500]), t.c.day >= start, t.c.day < end))
            out.update(conn.execute(q).tuples().all())
    return out


NO_MODEL = "(no model)"


def run_triggers(db: Database, run_ids: Iterable[str]) -> dict[str, str]:
    """``{run id: runs.trigger}`` (what started each run: manual, cron, an event, dream); a run not in the
    runs table is absent."""
    t = Run.__table__
    ids = sorted(set(run_ids))
    out: dict[str, str] = {}
    with db.engine.connect() as conn:
        for i in range(0, len(ids), 500):
            out.update(conn.execute(select(t.c.id, t.c.trigger).where(t.c.id.in_(ids[i:i + 500]))).tuples().all())
    return out


def run_models(db: Database, run_ids: Iterable[str]) -> dict[str, str]:
    """``{run id: the model that made most of its tokens}`` (input + output, from the run's ``model`` audit
    records, which name the model as the usage rollups do and are never pruned); a tie goes to the name
    first in alphabetical order; a run that made no model request maps to ``NO_MODEL``."""
    t = AuditRecord.__table__
    ids = sorted(set(run_ids))
    tokens: dict[str, dict[str, int]] = {}
    with db.engine.connect() as conn:
        for i in range(0, len(ids), 500):
            q = select(t.c.run_id, t.c.data).where(t.c.kind == "model", t.c.run_id.in_(ids[i:i + 500]))
            for run_id, data in conn.execute(q):
                data = data or {}
                per = tokens.setdefault(run_id, {})
                model = str(data.get("model") or NO_MODEL)
                per[model] = per.get(model, 0) + int(data.get("input_tokens") or 0) + int(data.get("output_tokens") or 0)
    return {r: min(tokens[r], key=lambda m: (-tokens[r][m], m)) if tokens.get(r) else NO_MODEL for r in ids}


def used_since(session: Any, *, subject: str, name: str, day: int, unit: str) -> float:
    """Tokens (input + output) or cost (currency units) an agent or user (``subject``) used from UTC day
    ``day`` on, read from the daily rollups inside the caller's transaction (the budget check's).
    From this call on, this process writes the subject's requests at once instead of buffering them
    (so every process's budget check sees them), and the ones it still buffers are added here."""
    from .usage_writer import repositories_of, url_key

    kind = "agent" if subject == "agent" else "user"
    pending = 0.0
    for repo in repositories_of(url_key(session.get_bind())):
        repo.buffer.exact.add((kind, name))
        pending += repo.buffer.pending(kind, name, day, unit)
    t = UsageDaily.__table__
    col = (t.c.input_tokens + t.c.output_tokens) if unit == "tokens" else t.c.cost_micro
    who = t.c.agent_ref if subject == "agent" else t.c.user_ref
    value = session.scalar(select(func.coalesce(func.sum(col), 0))
                           .where(who == name_id(kind, name), t.c.day >= day))
    return float(value or 0) / (MICRO if unit == "cost" else 1) + pending
