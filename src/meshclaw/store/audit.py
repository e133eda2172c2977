"""The tamper-evident audit log: append-only, each record chained to the one before.

Each hash is an HMAC-SHA256 under a key kept outside the database (the data dir's ``audit.key``
or a configured secret), so someone who can write to the database cannot re-forge the chain
after editing a record.

Records are written idempotently by ``event_key`` so that a durable run replayed after a crash
does not log the same decision twice.

After each new record the store appends a signed checkpoint (its seq and hash) to a file outside
the database (``store/audit_checkpoints.py``), so a log that lost its newest records, or that was
re-chained by someone holding the HMAC key, does not verify either.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Collection, Iterable

from sqlalchemy import select, text

from meshclaw.domain.credentials import REDACTED, SECRET_KEYS, strip_url_credentials

from .audit_checkpoints import AnchorState, Checkpoints, read_anchor
from .database import Database
from .tables import AuditRecord

GENESIS = "0" * 64


def redact(value: Any, secret_values: Iterable[str] = ()) -> Any:
    """Replace secret-looking fields, any known secret value and credentials inside URLs
    (``meshclaw.domain.secrets.strip_url_credentials``), however deeply nested."""
    secrets = [s for s in secret_values if s]
    if isinstance(value, dict):
        return {k: REDACTED if SECRET_KEYS.search(str(k)) else redact(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v, secrets) for v in value]
    if isinstance(value, str):
        for s in secrets:
            value = value.replace(s, REDACTED)
        return strip_url_credentials(value)
    return value


def _canonical(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False).encode()


def record_hash(key: bytes, prev_hash: str, fields: dict[str, Any]) -> str:
    return hmac.new(key, prev_hash.encode() + _canonical(fields), hashlib.sha256).hexdigest()


def _fields(r: AuditRecord) -> dict[str, Any]:
    at = r.at if r.at.tzinfo else r.at.replace(tzinfo=timezone.utc)
    return {
        "seq": r.seq,
        "at": at.isoformat(),
        "event_key": r.event_key,
        "run_id": r.run_id,
        "agent": r.agent,
        "user_id": r.user_id,
        "kind": r.kind,
        "tool": r.tool,
        "verdict": r.verdict,
        "reason": r.reason,
        "data": r.data,
    }


class _Row:
    """Attribute access over a dict, so a row about to be written hashes like one read back."""

    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)


@dataclass
class VerifyResult:
    """``checked``: records whose chain links verified; ``anchored_through``: the newest record a
    valid checkpoint vouches for (None: no anchor); ``anchor``: the checkpoint file; ``fingerprint``:
    its key's fingerprint."""

    ok: bool
    checked: int
    broken_seq: int | None = None
    problem: str = ""
    anchored_through: int | None = None
    anchor: str = ""
    fingerprint: str | None = None
    unanchored: bool = False  # the log has records but no checkpoint at all


class AuditLog:
    def __init__(self, db: Database, key: bytes, secret_values: "Iterable[str] | Callable[[], Iterable[str]]" = (),
                 *, checkpoints: Checkpoints | None = None, checkpoint_path: "Path | None" = None):
        """``secret_values``: the values to redact, or a callable giving the current ones (secrets
        added while the process runs are then redacted too). ``checkpoints``: where each new record
        is anchored (None: not anchored, e.g. a log older than checkpoints until ``start_anchor``);
        ``checkpoint_path``: the checkpoint file ``verify`` reads (default: the one ``checkpoints`` writes)."""
        self.db = db
        self.key = key
        self._secret_values = secret_values if callable(secret_values) else list(secret_values)
        self.checkpoints = checkpoints
        self.checkpoint_path = checkpoint_path or (checkpoints.path if checkpoints is not None else None)

    @property
    def secret_values(self) -> list[str]:
        source = self._secret_values
        return list(source()) if callable(source) else source

    def append(
        self,
        event_key: str,
        kind: str,
        *,
        run_id: str | None = None,
        agent: str | None = None,
        user_id: str | None = None,
        tool: str | None = None,
        verdict: str | None = None,
        reason: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> int:
        """Append one record (or return the existing one's seq if this event was logged already).

        Written with Core statements on one connection: this runs for every decision, call and model
        request, and the ORM's unit of work would triple its cost.
        """
        table = AuditRecord.__table__
        with self.db.engine.begin() as conn:
            existing = conn.execute(select(table.c.seq).where(table.c.event_key == event_key)).scalar()
            if existing is not None:
                return existing
            if self.db.dialect == "postgresql":
                # Serialise appenders across processes; SQLite's BEGIN IMMEDIATE already does.
                conn.execute(text("SELECT pg_advisory_xact_lock(4242)"))
            last = conn.execute(select(table.c.seq, table.c.hash).order_by(table.c.seq.desc()).limit(1)).first()
            seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
            row = {
                "seq": seq, "at": datetime.now(timezone.utc), "event_key": event_key, "run_id": run_id,
                "agent": agent, "user_id": user_id, "kind": kind, "tool": tool, "verdict": verdict,
                "reason": redact(reason, self.secret_values) if reason else reason,
                # what is hashed is exactly what is stored (and read back)
                "data": json.loads(_canonical(redact(data or {}, self.secret_values))),
                "prev_hash": prev,
            }
            row["hash"] = record_hash(self.key, prev, _fields(_Row(row)))
            conn.execute(table.insert().values(**row))
        if self.checkpoints is not None:  # after the commit: a checkpoint never names a record that is not there
            self.checkpoints.record(seq, row["hash"])
        return seq

    def append_many(self, entries: list[dict[str, Any]]) -> list[int]:
        """Append several records in one transaction, chained in order; their sequence numbers.

        Each entry holds ``append``'s arguments (``event_key``, ``kind`` and the keywords). One commit
        and one checkpoint (of the last record) instead of one each: for operations that log a record
        per person they touched (a manager's team report). An entry already logged keeps its seq."""
        table = AuditRecord.__table__
        out: list[int] = []
        last_new: tuple[int, str] | None = None
        with self.db.engine.begin() as conn:
            if self.db.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(4242)"))
            last = conn.execute(select(table.c.seq, table.c.hash).order_by(table.c.seq.desc()).limit(1)).first()
            seq, prev = (last[0], last[1]) if last else (0, GENESIS)
            keys = [e["event_key"] for e in entries]
            logged: dict[str, int] = {}
            for i in range(0, len(keys), 500):  # one query per 500 keys, not one per entry
                logged.update(conn.execute(select(table.c.event_key, table.c.seq)
                                           .where(table.c.event_key.in_(keys[i:i + 500]))).all())
            rows: list[dict[str, Any]] = []
            for e in entries:
                existing = logged.get(e["event_key"])
                if existing is not None:
                    out.append(existing)
                    continue
                seq += 1
                reason, data = e.get("reason"), e.get("data")
                row = {
                    "seq": seq, "at": datetime.now(timezone.utc), "event_key": e["event_key"],
                    "run_id": e.get("run_id"), "agent": e.get("agent"), "user_id": e.get("user_id"),
                    "kind": e["kind"], "tool": e.get("tool"), "verdict": e.get("verdict"),
                    "reason": redact(reason, self.secret_values) if reason else reason,
                    "data": json.loads(_canonical(redact(data or {}, self.secret_values))),
                    "prev_hash": prev,
                }
                row["hash"] = prev = record_hash(self.key, prev, _fields(_Row(row)))
                rows.append(row)
                logged[e["event_key"]] = seq  # the same key twice in one call: logged once
                out.append(seq)
                last_new = (seq, row["hash"])
            if rows:
                conn.execute(table.insert(), rows)  # one executemany
        if self.checkpoints is not None and last_new is not None:
            self.checkpoints.record(*last_new)
        return out

    def has_records(self) -> bool:
        with self.db.engine.connect() as conn:
            return conn.execute(select(AuditRecord.__table__.c.seq).limit(1)).first() is not None

    def records(
        self,
        *,
        run_id: str | None = None,
        agent: str | None = None,
        user_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
        kind: str | None = None,
        newest_first: bool = False,
        user_ids: Collection[str] | None = None,
    ) -> list[AuditRecord]:
        """Records in chain order (or newest first). ``user_ids`` (None: anyone's) keeps only records
        about those users' agents."""
        q = select(AuditRecord).order_by(AuditRecord.seq.desc() if newest_first else AuditRecord.seq)
        if user_ids is not None:
            q = q.where(AuditRecord.user_id.in_(list(user_ids)))
        if kind:
            q = q.where(AuditRecord.kind == kind)
        if run_id:
            q = q.where(AuditRecord.run_id == run_id)
        if agent:
            q = q.where(AuditRecord.agent == agent)
        if user_id:
            q = q.where(AuditRecord.user_id == user_id)
        if since:
            q = q.where(AuditRecord.at >= since)
        if until:
            q = q.where(AuditRecord.at <= until)
        if limit:
            q = q.limit(limit)
        with self.db.session() as s:
            return list(s.scalars(q))

    def count_calls(self, *, agent: str, tool: str, since: datetime | None = None) -> int:
        """Executed calls of a tool by an agent (since midnight UTC unless told otherwise)."""
        from sqlalchemy import func

        since = since or datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        q = select(func.count(AuditRecord.seq)).where(
            AuditRecord.kind == "call", AuditRecord.agent == agent, AuditRecord.tool == tool,
            AuditRecord.verdict == "done", AuditRecord.at >= since)
        with self.db.session() as s:
            return int(s.scalar(q) or 0)

    def verify(self) -> VerifyResult:
        """Walk the chain against the signed checkpoints; name the first record that was edited,
        deleted or moved, a log that ends before its newest checkpoint, a record whose hash differs
        from its checkpoint's (the log was re-chained), or a log that has no anchor at all.

        The checkpoint file is read first: records appended while this runs only lengthen the log."""
        anchor = read_anchor(self.checkpoint_path) if self.checkpoint_path is not None else None
        result = self._walk(anchor.claims if anchor is not None else {})
        return _judge(result, anchor)

    def _walk(self, claims: dict[int, str]) -> VerifyResult:
        prev, expected_seq, checked = GENESIS, 1, 0
        with self.db.session() as s:
            for r in s.scalars(select(AuditRecord).order_by(AuditRecord.seq).execution_options(yield_per=1000)):
                if r.seq != expected_seq:
                    return VerifyResult(False, checked, expected_seq, f"record {expected_seq} is missing (next is {r.seq})")
                if r.prev_hash != prev:
                    return VerifyResult(False, checked, r.seq, f"record {r.seq} does not follow record {r.seq - 1} (deleted or reordered)")
                if record_hash(self.key, prev, _fields(r)) != r.hash:
                    return VerifyResult(False, checked, r.seq, f"record {r.seq} was edited after it was written")
                if claims.get(r.seq, r.hash) != r.hash:
                    return VerifyResult(False, checked, r.seq, f"record {r.seq} is not the one its signed checkpoint "
                                        "names: the log was rewritten and chained again")
                prev, expected_seq, checked = r.hash, expected_seq + 1, checked + 1
        return VerifyResult(True, checked)

    def start_anchor(self, path: "Path", key_path: "Path") -> VerifyResult:
        """Anchor a log that has none (one made before checkpoints existed): verify its chain, make a
        checkpoint key, and checkpoint its newest record. Raises StoreError if the chain does not
        verify or an anchor already exists (its key, or a checkpoint file with content)."""
        from meshclaw.domain.errors import StoreError

        if self.checkpoints is not None or key_path.exists() or (path.exists() and path.stat().st_size > 0):
            raise StoreError(f"the audit log is already anchored ({path}); a second anchor would hide the first")
        walked = self._walk({})
        if not walked.ok:
            raise StoreError(f"the audit log does not verify ({walked.problem}): it is not anchored as it is")
        self.checkpoints = Checkpoints.create(path, key_path)
        self.checkpoint_path = path
        last = self.records(newest_first=True, limit=1)
        if last:
            self.checkpoints.record(last[0].seq, last[0].hash)
        return self.verify()


def _judge(walked: VerifyResult, anchor: AnchorState | None) -> VerifyResult:
    """The chain's own verdict, completed by what the anchor says about its end and its hashes."""
    if anchor is None:
        return walked
    walked.anchor, walked.fingerprint = str(anchor.path), anchor.fingerprint
    walked.anchored_through = min(anchor.last_seq, walked.checked) if anchor.last_seq is not None else None
    if not walked.ok:
        if anchor.problems:
            walked.problem += f"; and {anchor.problems[0]}"
        return walked
    end, said = walked.checked, anchor.last_seq
    if anchor.problems:
        walked.ok, walked.problem = False, anchor.problems[0]
    elif said is not None and said > end:
        walked.ok, walked.broken_seq = False, end + 1
        walked.problem = (f"log ends at {end} but checkpoint says {said}: the newest {said - end} record(s) were "
                          "removed")
    elif said is None and end > 0:
        walked.ok, walked.broken_seq, walked.unanchored = False, None, True
        walked.problem = (f"the log holds {end} records but has no signed checkpoint at {anchor.path}"
                          + (" (the checkpoint file is missing)" if not anchor.exists else "")
                          + ": its end cannot be vouched for")
    return walked
