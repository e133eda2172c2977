"""Notes kept by agents in the store (the built-in toolset's side effect)."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from .database import Database
from .tables import Note


class NoteRepository:
    def __init__(self, db: Database):
        self.db = db

    def add(self, idempotency_key: str, *, owner: str, agent: str, run_id: str, text: str,
            trust: str = "untrusted", origin: str = "") -> tuple[int, bool]:
        """Add a note once per idempotency key. Returns (note id, created now?).

        ``trust`` ("trusted" | "untrusted") and ``origin`` (what the writing run had read, in
        words, at most 300 characters) are kept with the note so that whoever reads it later gets
        the label of the run that wrote it. Raises ValueError for another ``trust``.
        """
        if trust not in ("trusted", "untrusted"):
            raise ValueError(f"a note's trust is 'trusted' or 'untrusted', not {trust!r}")
        with self.db.session() as s:
            existing = s.scalar(select(Note.id).where(Note.idempotency_key == idempotency_key))
            if existing is not None:
                return existing, False
            note = Note(idempotency_key=idempotency_key, owner=owner, agent=agent, run_id=run_id, text=text,
                        created_at=datetime.now(timezone.utc), trust=trust, origin=origin[:300])
            s.add(note)
            s.flush()
            return note.id, True

    def list(self, owner: str, *, contains: str | None = None, limit: int = 20) -> list[Note]:
        q = select(Note).where(Note.owner == owner).order_by(Note.id.desc()).limit(limit)
        if contains:
            q = q.where(Note.text.contains(contains))
        with self.db.session() as s:
            return list(s.scalars(q))
