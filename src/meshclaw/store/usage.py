"""Usage metering: every model request's tokens, cost and latency, recorded once even if its step is replayed.

Storage is compact (measured by ``benchmarks/bench_usage.py``): a request is one row of integers in
``usage_events`` — names (user, agent, model, trigger, step) are ids into ``usage_names``, the run is
an id into ``usage_runs``, cost is in millionths of the currency unit, latency in milliseconds, and
the event key is a 63-bit hash. In the same transaction the request is added to its day's rollup
(``usage_daily``: per user, day, agent, model, trigger) and to its run's totals (``usage_runs``).
Reports read only rollups, so raw events older than the retention period can be pruned
(``prune``) without changing any reported total.

Days are UTC days since 1970-01-01 (``day_of``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, NamedTuple

from sqlalchemy import delete, func, select, text

from .database import Database
from .tables import UsageDaily, UsageEvent, UsageName, UsagePruned, UsageRun
from .usage_writer import (EV_AGENT, EV_AT, EV_CACHED, EV_COST, EV_CWRITE, EV_IN, EV_KEY, EV_LATENCY, EV_MODEL, EV_OUT, EV_PRICE,
                           EV_REASONING, EV_RUN, EV_STEP, EV_TRIGGER, EV_USER, Buffer)

# Where a request's cost came from (``usage_events.price``).
PRICE_UNKNOWN, PRICE_CONFIGURED, PRICE_PUBLISHED, PRICE_FREE, PRICE_ESTIMATED = 0, 1, 2, 3, 4
PRICE_LABELS = {PRICE_UNKNOWN: "no known price (counted as 0)", PRICE_CONFIGURED: "configured price",
                PRICE_PUBLISHED: "published price (genai-prices)", PRICE_FREE: "free: runs on this machine (0)",
                PRICE_ESTIMATED: "estimated (the request timed out)"}
log = logging.getLogger("meshclaw.usage")
MICRO = 1_000_000
SECONDS_PER_DAY = 86_400
MAX_COST_MICRO = 2**31 - 1  # one request's cost column is 32-bit: 2,147 currency units at most
_CHUNK = 500


def day_of(at: datetime | float) -> int:
    """The UTC day number (days since 1970-01-01) of an aware datetime or epoch seconds."""
    ts = at.timestamp() if isinstance(at, datetime) else float(at)
    return int(ts // SECONDS_PER_DAY)


def key_hash(event_key: str) -> int:
    """63 bits of BLAKE2b of the event key (fits a signed 64-bit column; collisions ~1 in 10^12 at 10M rows)."""
    return int.from_bytes(hashlib.blake2b(event_key.encode(), digest_size=8).digest(), "big") >> 1


@dataclass
class UsageTotals:
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cost: float = 0.0
    reasoning_tokens: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class RequestRow:
    """One recorded model request, as ``for_run`` returns it (cost in currency units, seconds)."""

    model: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost: float
    seconds: float
    step: str
    at: datetime
    price: int
    run_id: str = ""
    user_id: str = ""
    agent: str = ""


class UsageEventIn(NamedTuple):
    """One request to ingest (``record_many``); ``at`` epoch seconds; ``cost`` in currency units.

    ``record`` queues a plain tuple in this field order instead, and the write path reads fields by
    index (the ``EV_KEY`` … ``EV_STEP`` positions of ``store/usage_writer.py``): the garbage collector stops tracking an exact tuple
    of plain values, but never an instance of a class (a named tuple included), and tens of thousands of
    tracked buffered events made its full passes cost about a fifth of the ingest CPU time
    (``benchmarks/bench_usage.py``)."""

    key: str
    run_id: str
    user_id: str
    agent: str
    model: str
    at: float
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost: float = 0.0
    latency_ms: int = 0
    price: int = PRICE_UNKNOWN
    trigger: str | None = None  # None: the run's trigger from the runs table ("manual" if unknown)
    step: str = "model"
    extra: dict[str, Any] | None = None  # not stored; kept for callers that pass it




def _add(sums: dict[Any, list[int]], key: Any, e: tuple, cost: int) -> None:
    """Add event ``e`` (cost already in millionths) to ``sums[key]``, in ``SUMS`` order."""
    t = sums.get(key)
    if t is None:
        sums[key] = [1, e[EV_IN], e[EV_OUT], e[EV_CACHED], e[EV_REASONING], cost, e[EV_LATENCY]]
    else:
        t[0] += 1
        t[1] += e[EV_IN]
        t[2] += e[EV_OUT]
        t[3] += e[EV_CACHED]
        t[4] += e[EV_REASONING]
        t[5] += cost
        t[6] += e[EV_LATENCY]


def _upsert(dialect: str, table: Any) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


SUMS = ("requests", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens", "cost_micro", "latency_ms")
EVENT_COLUMNS = ("key_hash", "at", "run_ref", "user_ref", "agent_ref", "model_ref", "trigger_ref", "step_ref",
                 "input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens",
                 "cost_micro", "latency_ms", "price")


class UsageRepository:
    def __init__(self, db: Database):
        self.db = db
        self._names: dict[tuple[str, str], int] = {}
        self._runs: dict[str, tuple[int, int]] = {}  # run id -> (run ref, trigger ref); filled after commits
        self.buffer = Buffer(self)  # store/usage_writer.py: what record() queues, written in batches
        self._horizon: tuple[float, int] = (-1e9, 0)  # (when read, usage_pruned.before)

    def flush(self) -> int:
        """Write the events ``record`` buffered (every store of this process on this database); returns
        how many of this repository's were new. Reads do this themselves."""
        from .usage_writer import flush_url, url_key

        n = self.buffer.flush()
        flush_url(url_key(self.db.engine))
        return n

    # --- writing ----------------------------------------------------------------------------

    def record(self, event_key: str, *, run_id: str, agent: str, user_id: str, model: str, input_tokens: int,
               output_tokens: int, cache_read_tokens: int = 0, cache_write_tokens: int = 0, cost: float = 0.0,
               seconds: float = 0.0, reasoning_tokens: int = 0, trigger: str | None = None, step: str = "model",
               price: int = PRICE_UNKNOWN, at: datetime | None = None) -> bool:
        """Record one model request (tokens as counts, ``cost`` in currency units, ``seconds`` of latency).
        Idempotent by ``event_key``: a replayed step records nothing.

        This is the runtime's write path: the event is queued and written with others in one batch
        (``store/usage_writer.py``: within ``FLUSH_SECONDS``, at ``FLUSH_EVENTS``, before any read, at
        exit), except for a subject whose budget this process checks, written at once. Returns True
        (queued, or written and new), False for a replay written at once."""
        when = (at or datetime.now(timezone.utc)).timestamp()
        event = (  # a plain tuple in UsageEventIn's field order (see there why)
            event_key, run_id, user_id, agent, model, when, int(input_tokens or 0), int(output_tokens or 0),
            int(cache_read_tokens or 0), int(cache_write_tokens or 0), int(reasoning_tokens or 0), float(cost or 0.0),
            int(round((seconds or 0.0) * 1000)), price, trigger, step, None)
        exact = self.buffer.exact
        if exact and (("agent", agent) in exact or ("user", user_id) in exact):
            self.buffer.flush()  # keep the order: what was queued before is written first
            return self.write_batch([event]) == 1
        self.buffer.add(event)
        return True

    def record_many(self, events: Iterable[UsageEventIn]) -> int:
        """Ingest a batch at once (after what ``record`` queued) in one transaction; returns how many were
        new. Events whose key was recorded before (or twice in the batch) are skipped."""
        self.buffer.flush()
        return self.write_batch(events)

    def write_batch(self, events: Iterable[UsageEventIn]) -> int:
        """Write a batch in one transaction (events, daily rollups, run totals); returns how many were new.
        Events whose key was recorded before (or twice in the batch) are skipped. One batch at a time."""
        with self.buffer._write:
            return self._write_batch(events)

    def _write_batch(self, events: Iterable[tuple]) -> int:
        batch: dict[int, tuple] = {}
        for e in events:
            batch.setdefault(key_hash(e[EV_KEY]), e)
        if not batch:
            return 0
        horizon = self._pruned_before()
        if horizon:
            old = [h for h, e in batch.items() if e[EV_AT] < horizon]
            for h in old:  # the events they may repeat were pruned: counting them could count a request twice
                del batch[h]
            if old:
                log.warning("usage: %d event(s) from before the pruned horizon (%s) not counted", len(old),
                            datetime.fromtimestamp(horizon, timezone.utc).isoformat())
            if not batch:
                return 0
        new_names: dict[tuple[str, str], int] = {}
        new_runs: dict[str, tuple[int, int]] = {}
        pg = self.db.dialect == "postgresql"
        with self.db.engine.begin() as conn:
            if pg:
                conn.execute(text("SELECT pg_advisory_xact_lock(4244)"))  # one ingester at a time: no rollup races
            known = self._known_runs(conn, {e[EV_RUN] for e in batch.values()}, new_runs, pg)
            self._drop_recorded(conn, batch, {known[r][0] for r in known}, pg)
            if not batch:
                return 0
            run_sums: dict[str, list[int]] = {}
            micro: dict[int, int] = {}
            for h, e in batch.items():
                cost = int(round(e[EV_COST] * MICRO))
                micro[h] = cost = cost if cost < MAX_COST_MICRO else MAX_COST_MICRO
                _add(run_sums, e[EV_RUN], e, cost)
            ref = self._name_resolver(conn, batch.values(), new_names)
            run_ref, created = self._run_resolver(conn, batch.values(), ref, new_names, new_runs, run_sums, known, pg)
            names = {**self._names, **new_names}
            by_kind: dict[str, dict[str, int]] = {}
            for (kind, name), id_ in names.items():
                by_kind.setdefault(kind, {})[name] = id_
            uid, aid, mid, sid = (by_kind.get(k, {}) for k in ("user", "agent", "model", "step"))
            rows: list[tuple[int, ...]] = []
            daily: dict[tuple[int, ...], list[int]] = {}
            for h, e in batch.items():
                r, trig = run_ref[e[EV_RUN]]
                user, agent, model, cost, at = uid[e[EV_USER]], aid[e[EV_AGENT]], mid[e[EV_MODEL]], micro[h], int(e[EV_AT])
                rows.append((h, at, r, user, agent, model, trig, sid[e[EV_STEP] or "model"], e[EV_IN], e[EV_OUT],
                             e[EV_CACHED], e[EV_CWRITE], e[EV_REASONING], cost, e[EV_LATENCY], e[EV_PRICE]))
                _add(daily, (user, at // SECONDS_PER_DAY, agent, model, trig), e, cost)
            p = "%s" if pg else "?"
            if pg:  # COPY: the rows are new (checked above, under the ingest lock), so no conflict handling
                with conn.connection.driver_connection.cursor() as cur:
                    with cur.copy(f"COPY usage_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
            else:
                conn.exec_driver_sql(f"INSERT INTO usage_events ({', '.join(EVENT_COLUMNS)}) "
                                     f"VALUES ({', '.join([p] * len(EVENT_COLUMNS))})", rows)
            keys = ("user_ref", "day", "agent_ref", "model_ref", "trigger_ref")
            conn.exec_driver_sql(
                f"INSERT INTO usage_daily ({', '.join(keys + SUMS)}) VALUES ({', '.join([p] * (len(keys) + len(SUMS)))}) "
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
                + ", ".join(f"{c} = usage_daily.{c} + excluded.{c}" for c in SUMS),
                [(*k, *v) for k, v in daily.items()])
            more = [(*v, run_ref[r][0]) for r, v in run_sums.items() if r not in created]
            if more:  # runs that had requests before this batch (new runs were inserted with their totals)
                conn.exec_driver_sql(f"UPDATE usage_runs SET {', '.join(f'{c} = {c} + {p}' for c in SUMS)} "
                                     f"WHERE id = {p}", more)
        self._names.update(new_names)
        self._runs.update(new_runs)
        return len(rows)

    def _drop_recorded(self, conn: Any, batch: dict[int, tuple], run_refs: set[int], pg: bool) -> None:
        """Remove from ``batch`` the events already recorded. An event key belongs to one run (the durable
        workflow's id is in it), so only the runs seen before are looked at, through the (run, key) index
        that grows in time order: no random reads in a large table."""
        refs = sorted(run_refs)
        found: list[Any] = []
        if pg and refs:
            found = conn.exec_driver_sql("SELECT key_hash FROM usage_events WHERE run_ref = ANY(%s)", (refs,)).all()
        for i in range(0, len(refs) if not pg else 0, 900):
            part = refs[i:i + 900]
            found += conn.exec_driver_sql(
                f"SELECT key_hash FROM usage_events WHERE run_ref IN ({', '.join('?' * len(part))})", tuple(part)).all()
        for (h,) in found:
            batch.pop(h, None)

    def _known_runs(self, conn: Any, run_ids: set[str], new: dict[str, tuple[int, int]], pg: bool) -> dict[str, tuple[int, int]]:
        """(run ref, trigger ref) of the runs that already have a usage_runs row (cache, then the table)."""
        out = {r: self._runs[r] for r in run_ids if r in self._runs}
        ids = [r for r in run_ids if r not in out]
        if pg:
            found = conn.exec_driver_sql("SELECT id, run_id, trigger_ref FROM usage_runs WHERE run_id = ANY(%s)",
                                         (ids,)).all() if ids else []
        else:
            found = []
            for i in range(0, len(ids), 900):
                part = ids[i:i + 900]
                found += conn.exec_driver_sql("SELECT id, run_id, trigger_ref FROM usage_runs WHERE run_id IN "
                                              f"({', '.join('?' * len(part))})", tuple(part)).all()
        for id_, run_id, trig in found:
            out[run_id] = new[run_id] = (id_, trig)
        return out

    def _name_resolver(self, conn: Any, events: Iterable[tuple], new: dict[tuple[str, str], int]) -> Any:
        # dicts, not sets: new names get ids in the order they first appear (a run's steps in step order)
        users, agents, models, steps, triggers = {}, {}, {}, {}, {}
        for e in events:
            users[e[EV_USER]] = agents[e[EV_AGENT]] = models[e[EV_MODEL]] = steps[e[EV_STEP] or "model"] = triggers[e[EV_TRIGGER]] = 1
        triggers.pop(None, None)
        triggers.pop("", None)
        wanted = ([("user", n) for n in users] + [("agent", n) for n in agents] + [("model", n) for n in models]
                  + [("step", n) for n in steps] + [("trigger", n) for n in triggers])
        missing = [w for w in wanted if w not in self._names]
        if missing:
            self._ensure_names(conn, missing, new)

        def ref(kind: str, name: str) -> int:
            got = self._names.get((kind, name))
            return got if got is not None else new[(kind, name)]

        return ref

    def _ensure_names(self, conn: Any, wanted: list[tuple[str, str]], new: dict[tuple[str, str], int]) -> None:
        t = UsageName.__table__
        conn.execute(_upsert(self.db.dialect, t).on_conflict_do_nothing(), [{"kind": k, "name": n} for k, n in wanted])
        kinds = {k for k, _ in wanted}
        names = [n for _, n in wanted]
        for i in range(0, len(names), _CHUNK):
            for id_, kind, name in conn.execute(select(t.c.id, t.c.kind, t.c.name)
                                                .where(t.c.kind.in_(kinds), t.c.name.in_(names[i:i + _CHUNK]))):
                new[(kind, name)] = id_

    def _run_resolver(self, conn: Any, events: Iterable[tuple], ref: Any, new_names: dict[tuple[str, str], int],
                      new: dict[str, tuple[int, int]], sums: dict[str, list[int]], known: dict[str, tuple[int, int]],
                      pg: bool) -> tuple[dict[str, tuple[int, int]], set[str]]:
        """(run ref, trigger ref) of each run in the batch, and the run ids whose usage_runs rows were created
        here (with ``sums``, their totals in this batch: one row version, not an insert then an update)."""
        first: dict[str, tuple] = {}
        for e in events:
            seen = first.get(e[EV_RUN])
            if seen is None or e[EV_AT] < seen[EV_AT]:
                first[e[EV_RUN]] = e
        out = {r: known[r] for r in first if r in known}
        create = [r for r in first if r not in out]
        if create:
            triggers = self._triggers_of(conn, [r for r in create if first[r][EV_TRIGGER] is None])
            trig_names = {r: first[r][EV_TRIGGER] or triggers.get(r) or "manual" for r in create}
            extra = [("trigger", n) for n in set(trig_names.values())
                     if ("trigger", n) not in self._names and ("trigger", n) not in new_names]
            if extra:
                self._ensure_names(conn, extra, new_names)
            p = "%s" if pg else "?"
            cols = ("run_id", "user_ref", "agent_ref", "trigger_ref", "day") + SUMS
            conn.exec_driver_sql(f"INSERT INTO usage_runs ({', '.join(cols)}) VALUES ({', '.join([p] * len(cols))})",
                                 [(r, ref("user", first[r][EV_USER]), ref("agent", first[r][EV_AGENT]),
                                   ref("trigger", trig_names[r]), day_of(first[r][EV_AT]), *sums[r])
                                  for r in create])
            out.update({r: v for r, v in self._known_runs(conn, set(create), new, pg).items()})
        return out, set(create)

    def _triggers_of(self, conn: Any, run_ids: list[str]) -> dict[str, str]:
        """The ``runs.trigger`` of each run that is in the runs table (``manual`` for the others)."""
        from .tables import Run

        out: dict[str, str] = {}
        for i in range(0, len(run_ids), _CHUNK):
            out.update(dict(conn.execute(select(Run.__table__.c.id, Run.__table__.c.trigger)
                                         .where(Run.__table__.c.id.in_(run_ids[i:i + _CHUNK]))).all()))
        return out

    def prune(self, before: datetime) -> int:
        """Delete raw events recorded before ``before`` (aware datetime); rollups and run totals stay, so
        no report changes. Returns how many events were deleted. From then on an event from before
        ``before`` is not counted (``usage_pruned``): the events it may repeat are gone, so a replayed
        step could not be told apart from a new request."""
        self.flush()
        ev, mark = UsageEvent.__table__, UsagePruned.__table__
        cut = int(before.timestamp())
        with self.db.engine.begin() as conn:
            deleted = conn.execute(delete(ev).where(ev.c.at < cut)).rowcount or 0
            old = conn.execute(select(mark.c.before).where(mark.c.id == 1)).scalar()
            if old is None:
                conn.execute(mark.insert().values(id=1, before=cut))
            elif cut > old:
                conn.execute(mark.update().where(mark.c.id == 1).values(before=cut))
        self._horizon = (0.0, 0)
        return deleted

    def _pruned_before(self) -> int:
        """The pruned horizon (epoch seconds; 0: never pruned), read at most once a minute."""
        at, value = self._horizon
        if time.monotonic() - at > 60:
            t = UsagePruned.__table__
            with self.db.engine.connect() as conn:
                value = int(conn.execute(select(t.c.before).where(t.c.id == 1)).scalar() or 0)
            self._horizon = (time.monotonic(), value)
        return value

    # --- reading (per run; reports read rollups through store/usage_queries.py) -----------

    def for_run(self, run_id: str) -> list[RequestRow]:
        """The run's recorded requests still within retention, oldest first."""
        self.flush()
        ev, runs, names = UsageEvent.__table__, UsageRun.__table__, UsageName.__table__
        m, s, u, a = names.alias("m"), names.alias("s"), names.alias("u"), names.alias("a")
        q = (select(m.c.name, ev.c.input_tokens, ev.c.output_tokens, ev.c.cached_tokens, ev.c.cache_write_tokens,
                    ev.c.reasoning_tokens, ev.c.cost_micro, ev.c.latency_ms, s.c.name, ev.c.at, ev.c.price,
                    u.c.name, a.c.name)
             .join(runs, runs.c.id == ev.c.run_ref).join(m, m.c.id == ev.c.model_ref).join(s, s.c.id == ev.c.step_ref)
             .join(u, u.c.id == ev.c.user_ref).join(a, a.c.id == ev.c.agent_ref)
             .where(runs.c.run_id == run_id).order_by(ev.c.at, ev.c.step_ref))
        with self.db.engine.connect() as conn:
            return [RequestRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6] / MICRO, r[7] / 1000, r[8],
                               datetime.fromtimestamp(r[9], timezone.utc), r[10], run_id, r[11], r[12])
                    for r in conn.execute(q)]

    def totals(self, *, run_id: str | None = None, agent: str | None = None, user_id: str | None = None,
               since: datetime | None = None) -> UsageTotals:
        """Totals of a run (its kept totals), or of an agent and/or user from the daily rollups (``since``
        counts from the start of its UTC day)."""
        self.flush()
        with self.db.engine.connect() as conn:
            if run_id is not None:
                t = UsageRun.__table__
                row = conn.execute(select(*(t.c[c] for c in SUMS)).where(t.c.run_id == run_id)).first()
            else:
                t = UsageDaily.__table__
                q = select(*(func.coalesce(func.sum(t.c[c]), 0) for c in SUMS))
                if agent:
                    q = q.where(t.c.agent_ref == name_id("agent", agent))
                if user_id:
                    q = q.where(t.c.user_ref == name_id("user", user_id))
                if since:
                    q = q.where(t.c.day >= day_of(since))
                row = conn.execute(q).first()
        if row is None:
            return UsageTotals()
        n, i, o, c, r, cost, ms = (int(x or 0) for x in row)
        return UsageTotals(n, i, o, c, cost / MICRO, r, ms / 1000)


def name_id(kind: str, name: str) -> Any:
    """A scalar subquery: the id ``usage_names`` gives (``kind``, ``name``)."""
    t = UsageName.__table__
    return select(t.c.id).where(t.c.kind == kind, t.c.name == name).scalar_subquery()
