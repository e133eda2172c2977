"""The management chart as the store saw it over time.

A configuration says who manages whom now; a plain edit of ``manager:`` (no ``manager_since``) says
nothing about when it changed. So each time usage figures are read (and at ``meshclaw config check``)
the configuration's current manager of every user is compared with the last one stored here, and a
difference is stored with the moment it was first seen (``operations.usage_chart``). The first row of
a user starts their history. ``operations.usage_org`` reads these rows to decide which days a manager
may see.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from .database import Database, StoreError
from .tables import ManagerObservation

ATTEMPTS = 3  # another process recording the same change at once: read again and compare
# A chart this process has just found recorded is not read again for this long (a report, a scrape
# and the next one within it reuse the history; a change another process records shows up after it).
FRESH_SECONDS = 30.0


@dataclass(frozen=True)
class Observation:
    """``manager`` (None: nobody) was ``user_id``'s configured manager from ``first_seen`` (UTC) on."""

    user_id: str
    manager: str | None
    first_seen: datetime


def _utc(t: datetime) -> datetime:
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)  # SQLite hands back naive datetimes


class ManagerObservations:
    def __init__(self, db: Database):
        self.db = db
        self._seen: tuple[float, tuple, dict[str, list[Observation]]] | None = None  # (when, chart, history)

    def history(self) -> dict[str, list[Observation]]:
        """``{user id: [Observation, ...]}``, each user's rows oldest first (users never observed: absent).
        Raises StoreError when the store cannot be read."""
        try:
            with self.db.session() as s:
                return self._history(s)
        except SQLAlchemyError as e:
            raise self._error("read", e) from None

    def _error(self, what: str, e: Exception) -> StoreError:
        first = str(getattr(e, "orig", None) or e).strip().splitlines()[0]
        return StoreError(f"cannot {what} the management chart in {self.db.safe_url}: {first}")

    @staticmethod
    def _history(s) -> dict[str, list[Observation]]:  # type: ignore[no-untyped-def]
        out: dict[str, list[Observation]] = {}
        rows = s.execute(select(ManagerObservation.user_id, ManagerObservation.manager_id,
                                ManagerObservation.first_seen_at)
                         .order_by(ManagerObservation.user_id, ManagerObservation.seq)).all()
        for user_id, manager, at in rows:
            out.setdefault(user_id, []).append(Observation(user_id, manager, _utc(at)))
        return out

    def observe(self, chart: Mapping[str, str | None], *, at: datetime | None = None) -> dict[str, list[Observation]]:
        """Store ``chart[user]`` (user id → manager id or None) for each user whose last stored manager
        differs, or who has no row yet, first seen at ``at`` (default now, UTC); returns every user's
        history after that, as ``history()``. Users absent from ``chart`` are left as they are.

        A chart this repository found already recorded less than ``FRESH_SECONDS`` ago is answered from
        memory; otherwise the history is read first, and a write transaction opens only when something
        changed. Two processes storing the same change at once store it once: a user's rows are numbered, so
        the second insert of a number fails and that process reads again. Raises StoreError when the
        store cannot be read or written (nothing is stored then)."""
        at = _utc(at or datetime.now(timezone.utc))
        key = tuple(sorted(chart.items(), key=lambda kv: kv[0]))
        cached = self._seen
        if cached is not None and cached[1] == key and time.monotonic() - cached[0] < FRESH_SECONDS:
            return {u: list(rows) for u, rows in cached[2].items()}
        known = self.history()  # most reads change nothing: no write transaction (SQLite's write lock) for them
        after = with_chart(known, chart, at)
        if all(len(rows) == len(known.get(u, ())) for u, rows in after.items()):
            self._seen = (time.monotonic(), key, after)
            return {u: list(rows) for u, rows in after.items()}
        for attempt in range(ATTEMPTS):
            try:
                with self.db.session() as s:
                    known = self._history(s)
                    after = with_chart(known, chart, at)
                    for user_id, rows in after.items():
                        for seq in range(len(known.get(user_id, [])), len(rows)):
                            s.add(ManagerObservation(user_id=user_id, seq=seq, manager_id=rows[seq].manager,
                                                     first_seen_at=at))
                    s.flush()
                    return after
            except IntegrityError:
                if attempt == ATTEMPTS - 1:
                    raise StoreError("cannot record the management chart: other processes kept recording it "
                                     "at the same moment; try again") from None
            except SQLAlchemyError as e:
                raise self._error("record", e) from None
        raise AssertionError("unreachable")


def with_chart(known: Mapping[str, list[Observation]], chart: Mapping[str, str | None],
               at: datetime) -> dict[str, list[Observation]]:
    """``known`` (as ``history()``) with ``chart`` observed at ``at``: a new row for each user whose last
    row names another manager, or who has none. Pure: what ``observe`` stores, or would store."""
    out = {user_id: list(rows) for user_id, rows in known.items()}
    for user_id, manager in chart.items():
        rows = out.setdefault(user_id, [])
        if not rows or rows[-1].manager != manager:
            rows.append(Observation(user_id, manager, at))
    return out
