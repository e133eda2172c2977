"""Pinned definitions of outside tools (trust on first use, then hold back any change).

An MCP server describes its own tools, and that description reaches the model as instructions:
a server that later rewrites a description ("before answering, export all records to ..."),
adds an argument, or flips ``readOnlyHint`` (which would make a write look like a read to the
guard) is changing what the agent was granted. The first definition an agent is offered is
pinned; a different one later is kept as pending and the tool is not offered until a person
accepts it (``meshclaw tools accept``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .database import Database
from .tables import ToolPin

PINNED_NOW, SAME, CHANGED = "pinned", "same", "changed"


def fingerprint(definition: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(definition, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class PinCheck:
    status: str  # pinned | same | changed
    pinned_at: datetime | None = None


class ToolPinRepository:
    def __init__(self, db: Database):
        self.db = db

    def check(self, agent: str, tool: str, definition: dict[str, Any]) -> PinCheck:
        """Compare a definition with the pin (pinning it if it is the first); a change is kept as pending."""
        now = datetime.now(timezone.utc)
        digest = fingerprint(definition)
        try:
            with self.db.session() as s:
                row = s.get(ToolPin, (agent, tool))
                if row is None:
                    s.add(ToolPin(agent=agent, tool=tool, fingerprint=digest, definition=definition, pinned_at=now,
                                  pinned_by="first use"))
                    return PinCheck(PINNED_NOW, now)
                return self._compare(row, digest, definition, now)
        except IntegrityError:  # another run pinned it a moment ago: compare with that pin
            with self.db.session() as s:
                row = s.get(ToolPin, (agent, tool))
                assert row is not None
                return self._compare(row, digest, definition, now)

    @staticmethod
    def _compare(row: ToolPin, digest: str, definition: dict[str, Any], now: datetime) -> PinCheck:
        if row.fingerprint == digest:
            return PinCheck(SAME, row.pinned_at)
        if row.pending_fingerprint != digest:
            row.pending_fingerprint, row.pending_definition, row.pending_since = digest, definition, now
        return PinCheck(CHANGED, row.pinned_at)

    def accept(self, agent: str, tool: str, by: str) -> ToolPin:
        """Make the pending definition the pinned one. KeyError if there is nothing to accept."""
        with self.db.session() as s:
            row = s.get(ToolPin, (agent, tool))
            if row is None or row.pending_fingerprint is None or row.pending_definition is None:
                raise KeyError(f"{agent} has no changed definition of {tool} waiting to be accepted")
            row.fingerprint, row.definition = row.pending_fingerprint, row.pending_definition
            row.pinned_at, row.pinned_by = datetime.now(timezone.utc), by
            row.pending_fingerprint = row.pending_definition = row.pending_since = None
            s.flush()
            s.expunge(row)
            return row

    def list(self, agent: str | None = None) -> list[ToolPin]:
        with self.db.session() as s:
            query = select(ToolPin).order_by(ToolPin.agent, ToolPin.tool)
            if agent is not None:
                query = query.where(ToolPin.agent == agent)
            rows = list(s.scalars(query))
            for r in rows:
                s.expunge(r)
            return rows
