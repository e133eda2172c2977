"""The owner's memory in the store: episodes (what runs did) and versioned memory entries.

An entry is never edited in place: every change (learnt, merged, superseded, approved, rejected,
rolled back) adds a row with the next ``version`` of the same ``key`` and clears ``current`` on
the one before, so each earlier state stays readable (``history``) and restorable. Episodes and
the current version of each entry are kept in a full-text index (``memory_search.py``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from sqlalchemy import func, insert, select, update

from .database import Database
from .memory_search import FullText
from .tables import MemoryEntry, MemoryEpisode

KINDS = ("fact", "preference", "procedure", "rule")
STATUSES = ("active", "proposed", "rejected", "retired")
EVERY_AGENT = "*"  # an entry for every agent of its owner (the owner's own standing rules)


@dataclass(frozen=True)
class EpisodeRecord:
    """An episode to store (see ``MemoryEpisode`` for the fields)."""

    run_id: str
    owner: str
    agent: str
    at: datetime
    trigger: str
    task: str
    outcome: str
    summary: str
    decisions: list[dict[str, Any]]
    corrections: list[dict[str, Any]]
    trust: str
    origins: str = ""
    embedding: bytes | None = None

    def text(self) -> str:
        return episode_text(self)


def episode_text(ep: Any) -> str:
    """The searchable text of an episode: task, outcome, answer and the owner's corrections."""
    corrections = "; ".join(str(c.get("detail", "")) for c in (ep.corrections or []) if isinstance(c, dict))
    return f"{ep.task}\n{ep.outcome}: {ep.summary}" + (f"\ncorrections: {corrections}" if corrections else "")


def entry_text(e: Any) -> str:
    return f"{e.subject}: {e.text}"


class MemoryRepository:
    """Episodes and entries of every owner; callers scope every read by owner."""

    def __init__(self, db: Database):
        self.db = db
        self.fulltext = FullText(db)

    # --- episodes ------------------------------------------------------------------------------

    def add_episode(self, ep: EpisodeRecord) -> tuple[int, bool]:
        """Store an episode once per run. Returns (episode id, stored now?); a replayed run stores nothing.

        Raises ValueError for a ``trust`` other than "trusted" / "untrusted"."""
        if ep.trust not in ("trusted", "untrusted"):
            raise ValueError(f"an episode's trust is 'trusted' or 'untrusted', not {ep.trust!r}")
        with self.db.session() as s:
            existing = s.scalar(select(MemoryEpisode.id).where(MemoryEpisode.run_id == ep.run_id))
            if existing is not None:
                return existing, False
            row = MemoryEpisode(run_id=ep.run_id, owner=ep.owner, agent=ep.agent, at=ep.at, trigger=ep.trigger,
                                task=ep.task[:2000], outcome=ep.outcome, summary=ep.summary[:2000],
                                decisions=ep.decisions[:50], corrections=ep.corrections[:20], trust=ep.trust,
                                origins=ep.origins[:300], embedding=ep.embedding)
            s.add(row)
            s.flush()
            self.fulltext.put(s, f"e:{row.id}", ep.owner, episode_text(row))
            return row.id, True

    def add_episodes(self, eps: Iterable[EpisodeRecord]) -> int:
        """Store many episodes in one transaction (imports, benchmarks); returns how many were stored.
        Raises the database's IntegrityError (and stores none of them) if a run id is already stored."""
        rows = [dict(run_id=ep.run_id, owner=ep.owner, agent=ep.agent, at=ep.at, trigger=ep.trigger,
                     task=ep.task[:2000], outcome=ep.outcome, summary=ep.summary[:2000], decisions=ep.decisions[:50],
                     corrections=ep.corrections[:20], trust=ep.trust, origins=ep.origins[:300],
                     embedding=ep.embedding) for ep in eps]
        if not rows:
            return 0
        with self.db.session() as s:
            ids = s.scalars(insert(MemoryEpisode).returning(MemoryEpisode.id, sort_by_parameter_order=True),
                            rows).all()
            self.fulltext.put_many(s, [(f"e:{i}", r["owner"], episode_text(_Shown(r))) for i, r in zip(ids, rows)])
        return len(rows)

    def episode(self, episode_id: int) -> MemoryEpisode | None:
        with self.db.session() as s:
            return s.get(MemoryEpisode, episode_id)

    def episodes(self, owner: str, *, agents: Sequence[str] | None = None, undreamt: bool = False,
                 ids: Sequence[int] | None = None, limit: int | None = None, newest_first: bool = False) -> list[MemoryEpisode]:
        """``owner``'s episodes (of ``agents``), oldest first unless ``newest_first``."""
        q = select(MemoryEpisode).where(MemoryEpisode.owner == owner)
        if agents is not None:
            q = q.where(MemoryEpisode.agent.in_(list(agents)))
        if undreamt:
            q = q.where(MemoryEpisode.dreamt_by.is_(None))
        if ids is not None:
            q = q.where(MemoryEpisode.id.in_(list(ids)))
        q = q.order_by(MemoryEpisode.id.desc() if newest_first else MemoryEpisode.id)
        if limit is not None:
            q = q.limit(limit)
        with self.db.session() as s:
            return list(s.scalars(q))

    def count_episodes(self, owner: str, agent: str | None = None, *, undreamt: bool = False) -> int:
        q = select(func.count()).select_from(MemoryEpisode).where(MemoryEpisode.owner == owner)
        if agent is not None:
            q = q.where(MemoryEpisode.agent == agent)
        if undreamt:
            q = q.where(MemoryEpisode.dreamt_by.is_(None))
        with self.db.session() as s:
            return int(s.scalar(q) or 0)

    def mark_dreamt(self, episode_ids: Sequence[int], run_id: str) -> None:
        with self.db.session() as s:
            s.execute(update(MemoryEpisode).where(MemoryEpisode.id.in_(list(episode_ids)))
                      .values(dreamt_by=run_id))

    # --- entries -------------------------------------------------------------------------------

    def entry(self, key: str, version: int | None = None) -> MemoryEntry | None:
        """The current version of entry ``key`` (or that ``version``); None if there is none."""
        q = select(MemoryEntry).where(MemoryEntry.key == key)
        q = q.where(MemoryEntry.version == version) if version is not None else q.where(MemoryEntry.current.is_(True))
        with self.db.session() as s:
            return s.scalar(q)

    def history(self, key: str) -> list[MemoryEntry]:
        """Every version of entry ``key``, oldest first."""
        with self.db.session() as s:
            return list(s.scalars(select(MemoryEntry).where(MemoryEntry.key == key).order_by(MemoryEntry.version)))

    def entries(self, owner: str, *, agents: Sequence[str] | None = None, statuses: Sequence[str] | None = None,
                kinds: Sequence[str] | None = None, subject: str | None = None, limit: int | None = None) -> list[MemoryEntry]:
        """The current version of ``owner``'s entries, newest change first."""
        q = select(MemoryEntry).where(MemoryEntry.owner == owner, MemoryEntry.current.is_(True))
        if agents is not None:
            q = q.where(MemoryEntry.agent.in_(list(agents)))
        if statuses is not None:
            q = q.where(MemoryEntry.status.in_(list(statuses)))
        if kinds is not None:
            q = q.where(MemoryEntry.kind.in_(list(kinds)))
        if subject is not None:
            q = q.where(MemoryEntry.subject == subject)
        q = q.order_by(MemoryEntry.at.desc(), MemoryEntry.id.desc())
        if limit is not None:
            q = q.limit(limit)
        with self.db.session() as s:
            return list(s.scalars(q))

    def write(self, key: str | None, *, owner: str, agent: str, kind: str, subject: str, text: str, confidence: float,
              status: str, sources: Sequence[int], trust: str, by: str, reason: str, target: str | None = None,
              embedding: bytes | None = None, expect_version: int | None = None) -> MemoryEntry:
        """Add the next version of entry ``key`` (a new entry when None); the previous version stays.

        ``expect_version``: the version the change was decided against; if another change came
        first, ``StaleEntry`` is raised and nothing is written. Raises ValueError for an unknown
        kind or status, or a confidence outside 0..1."""
        if kind not in KINDS:
            raise ValueError(f"a memory entry's kind is one of {', '.join(KINDS)}, not {kind!r}")
        if status not in STATUSES:
            raise ValueError(f"a memory entry's status is one of {', '.join(STATUSES)}, not {status!r}")
        if not 0.0 <= confidence <= 1.0:
            raise ValueError(f"a confidence is between 0 and 1, not {confidence}")
        with self.db.session() as s:
            version = 1
            if key is None:
                key = uuid.uuid4().hex[:12]
            else:
                latest = s.scalar(select(func.max(MemoryEntry.version)).where(MemoryEntry.key == key)) or 0
                if expect_version is not None and latest != expect_version:
                    raise StaleEntry(f"memory entry {key} changed meanwhile (now version {latest}, "
                                     f"not {expect_version}); look again with `meshclaw memory show`")
                version = latest + 1
                old = s.scalars(select(MemoryEntry).where(MemoryEntry.key == key, MemoryEntry.current.is_(True))).all()
                for row in old:
                    row.current = False
                    self.fulltext.drop(s, f"m:{row.id}")
                s.flush()
            row = MemoryEntry(key=key, version=version, current=True, owner=owner, agent=agent, kind=kind,
                              subject=subject[:200], text=text[:2000], confidence=round(confidence, 3), status=status,
                              sources=sorted(set(int(x) for x in sources)), trust=trust, target=target,
                              at=datetime.now(timezone.utc), by=by[:64], reason=reason, embedding=embedding)
            s.add(row)
            s.flush()
            if status in ("active", "proposed"):
                self.fulltext.put(s, f"m:{row.id}", owner, entry_text(row))
            s.expunge(row)
            return row


class _Shown:
    """A row given as a dict, read like a stored episode (for ``episode_text``)."""

    def __init__(self, row: dict[str, Any]):
        self.__dict__.update(row)


class StaleEntry(ValueError):
    """An entry changed between reading it and writing its next version."""
