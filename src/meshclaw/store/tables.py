"""The tables. Schema changes go through a new Alembic revision in ``migrations/versions``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Index, Integer, LargeBinary, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agent: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    task: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending running waiting succeeded failed stopped
    trigger: Mapped[str] = mapped_column(String(64), default="manual")
    rehearsal: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    output: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The agent and model configuration the run started with: a recovered run rebuilds exactly this.
    snapshot: Mapped[dict] = mapped_column(JSON)


class AuditRecord(Base):
    """Append-only and hash-chained: each record's hash covers its content and the previous hash."""

    __tablename__ = "audit"
    # Reads by kind over a period (usage value's outcomes, `audit show --kind`) use this, not a scan.
    __table_args__ = (Index("ix_audit_kind_at", "kind", "at"),)

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    event_key: Mapped[str] = mapped_column(String(200), unique=True)
    run_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    agent: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    user_id: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    kind: Mapped[str] = mapped_column(String(32))
    tool: Mapped[str | None] = mapped_column(String(128), nullable=True)
    verdict: Mapped[str | None] = mapped_column(String(16), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    data: Mapped[dict] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Note(Base):
    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    agent: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The provenance of the text: "trusted" when the run that wrote it had read nothing untrusted
    # (or the text is the owner's own words); else "untrusted", with what the run had read in
    # ``origin``. NULL (notes older than these columns) reads back as untrusted.
    trust: Mapped[str | None] = mapped_column(String(16), nullable=True)
    origin: Mapped[str | None] = mapped_column(String(300), nullable=True)


class AgentState(Base):
    """Per-agent switches that must survive restarts (the kill switch, rehearsal promotion)."""

    __tablename__ = "agent_state"

    agent: Mapped[str] = mapped_column(String(64), primary_key=True)
    stopped: Mapped[bool] = mapped_column(Boolean, default=False)
    promoted: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_by: Mapped[str] = mapped_column(String(64), default="")


class Approval(Base):
    """A call the guard wants a person to approve. The run waits durably for the answer."""

    __tablename__ = "approvals"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_key: Mapped[str] = mapped_column(String(200), unique=True)  # run:call, so a replay finds it again
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    agent: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    tool: Mapped[str] = mapped_column(String(128))
    args: Mapped[dict] = mapped_column(JSON)
    origins: Mapped[dict] = mapped_column(JSON)  # where each sensitive argument came from
    reason: Mapped[str] = mapped_column(Text)
    rule: Mapped[str] = mapped_column(String(64))
    # The part of the call an approval covers; an identical call later in the same run is not asked again.
    batch_key: Mapped[str] = mapped_column(String(200), index=True)
    scope: Mapped[str] = mapped_column(String(16), default="call")  # call | run | arguments | recipient
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending approved denied expired
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The key a "this recipient" approval would grant (None: the call names no recipient or target).
    target_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Set when the person was already over their daily approval budget: shown with the request.
    notice: Mapped[str | None] = mapped_column(Text, nullable=True)


class ApprovalGrantRow(Base):
    """A wider approval a person chose when answering: identical calls, or the same recipients, of
    one agent's tool, for one run or until a time; revocable. See ``policy/approvals.py``."""

    __tablename__ = "approval_grants"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    approval_id: Mapped[str] = mapped_column(String(32), index=True)  # the request it was given on
    agent: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)  # the agent's owner
    tool: Mapped[str] = mapped_column(String(128))
    scope: Mapped[str] = mapped_column(String(16))  # arguments | recipient
    key: Mapped[str] = mapped_column(String(200), index=True)
    shown: Mapped[dict] = mapped_column(JSON)  # what the person saw and approved: arguments or targets
    run_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # None: any run until expires_at
    created_by: Mapped[str] = mapped_column(String(64))  # the approver's verified user id
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class BudgetReservation(Base):
    """Tokens and cost held for a model request in flight, so concurrent runs cannot overspend."""

    __tablename__ = "budget_reservations"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    agent: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    tokens: Mapped[int] = mapped_column(Integer)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ToolPin(Base):
    """The definition of an outside (MCP) tool an agent was first offered, so a later change to its
    description, arguments or annotations is noticed and held back until a person accepts it."""

    __tablename__ = "tool_pins"

    agent: Mapped[str] = mapped_column(String(64), primary_key=True)
    tool: Mapped[str] = mapped_column(String(128), primary_key=True)  # as grants name it: crm.lookup_customer
    fingerprint: Mapped[str] = mapped_column(String(64))
    definition: Mapped[dict] = mapped_column(JSON)
    pinned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    pinned_by: Mapped[str] = mapped_column(String(64))
    # A changed definition the server now reports, waiting for `meshclaw tools accept`.
    pending_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pending_definition: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    pending_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Executor(Base):
    """A process that runs durable runs (``host:pid``), with its last heartbeat: how a worker on
    another host knows that the runs a process owned are orphans it may take over."""

    __tablename__ = "executors"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    """A personal token that lets a program (an MCP client) act as one user. Only a SHA-256 digest of
    the token is kept; the token itself is shown once, when it is made."""

    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # public: named in lists, revocation, audit
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ManagerObservation(Base):
    """The management chart as the store saw it: a user's configured manager (None: nobody), from the
    moment it was first seen to differ from the row before (``store/org_observations.py``). ``seq``
    numbers a user's rows 0, 1, ...: two processes recording the same change at once cannot both add it."""

    __tablename__ = "manager_observations"

    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    manager_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- usage accounting (compact: integers only; names live once in usage_names) ---------------------

_BIG = BigInteger().with_variant(Integer, "sqlite")  # SQLite's INTEGER is already 64-bit (and rowid-backed)


class UsageName(Base):
    """A small dictionary: each user, agent, model, trigger and step name stored once, referred to by id."""

    __tablename__ = "usage_names"
    __table_args__ = (UniqueConstraint("kind", "name", name="uq_usage_names_kind_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(8))  # user agent model trigger step
    name: Mapped[str] = mapped_column(String(200))


class UsageRun(Base):
    """One row per run that made model requests: its id once, and its running totals (kept when the
    run's raw events are pruned)."""

    __tablename__ = "usage_runs"
    __table_args__ = (Index("ix_usage_runs_user_day", "user_ref", "day"),)  # a team's runs in a period (waste)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64), unique=True)
    user_ref: Mapped[int] = mapped_column(Integer)
    agent_ref: Mapped[int] = mapped_column(Integer)
    trigger_ref: Mapped[int] = mapped_column(Integer)
    day: Mapped[int] = mapped_column(Integer)  # UTC days since 1970-01-01 of its first request
    requests: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int] = mapped_column(_BIG, default=0)
    output_tokens: Mapped[int] = mapped_column(_BIG, default=0)
    cached_tokens: Mapped[int] = mapped_column(_BIG, default=0)
    reasoning_tokens: Mapped[int] = mapped_column(_BIG, default=0)
    cost_micro: Mapped[int] = mapped_column(_BIG, default=0)
    latency_ms: Mapped[int] = mapped_column(_BIG, default=0)


class UsageEvent(Base):
    """One model request: tokens, cost in millionths of the currency unit, latency in ms, and who/what
    it belongs to as ids. Raw events may be pruned after the retention period (rollups keep totals)."""

    __tablename__ = "usage_events"
    # BRIN on PostgreSQL (grows with time: a few KB instead of ~16 bytes per row), B-tree on SQLite, where the
    # table is stored in key order (WITHOUT ROWID: no second copy of the key, a run's events side by side).
    __table_args__ = (Index("ix_usage_events_at", "at", postgresql_using="brin"), {"sqlite_with_rowid": False})

    # The key is (run, 63 bits of BLAKE2b of the event key): replays count once, and as run ids grow with time
    # the key's index is appended to, not written at random places (ingest stays fast at 10M rows).
    run_ref: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    key_hash: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[int] = mapped_column(Integer)  # epoch seconds, UTC
    user_ref: Mapped[int] = mapped_column(Integer)
    agent_ref: Mapped[int] = mapped_column(Integer)
    model_ref: Mapped[int] = mapped_column(Integer)
    trigger_ref: Mapped[int] = mapped_column(Integer)
    step_ref: Mapped[int] = mapped_column(Integer)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(Integer, default=0)
    reasoning_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost_micro: Mapped[int] = mapped_column(Integer, default=0)  # one request: at most 2,147 currency units
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    price: Mapped[int] = mapped_column(SmallInteger, default=0)  # store/usage.py PRICE_*: where the cost came from


class UsagePruned(Base):
    """How far raw usage events have been pruned: one row. An event from before it cannot be checked
    against the events it may repeat (they are gone), so it is not counted (store/usage.py ``prune``)."""

    __tablename__ = "usage_pruned"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # always 1
    before: Mapped[int] = mapped_column(Integer)  # epoch seconds, UTC: raw events before it were deleted


class UsageDaily(Base):
    """Daily rollup per (user, day, agent, model, trigger), written in the same transaction as each event:
    every report reads these, so reports stay fast and survive pruning."""

    __tablename__ = "usage_daily"
    __table_args__ = {"sqlite_with_rowid": False}  # SQLite keeps the rows in key order: a team's days are read in runs

    user_ref: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_ref: Mapped[int] = mapped_column(Integer, primary_key=True)
    model_ref: Mapped[int] = mapped_column(Integer, primary_key=True)
    trigger_ref: Mapped[int] = mapped_column(Integer, primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    input_tokens: Mapped[int] = mapped_column(_BIG, default=0)
    output_tokens: Mapped[int] = mapped_column(_BIG, default=0)
    cached_tokens: Mapped[int] = mapped_column(_BIG, default=0)
    reasoning_tokens: Mapped[int] = mapped_column(_BIG, default=0)
    cost_micro: Mapped[int] = mapped_column(_BIG, default=0)
    latency_ms: Mapped[int] = mapped_column(_BIG, default=0)

class MemoryEpisode(Base):
    """What one run did, in compact form: the raw material the nightly consolidation learns from.

    ``trust`` is "trusted" when the run read nothing an outsider could have written, else
    "untrusted" with what it read in ``origins``: an entry learnt from it is only proposed."""

    __tablename__ = "memory_episodes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64), unique=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    agent: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    trigger: Mapped[str] = mapped_column(String(64), default="manual")
    task: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16))  # the run's final status
    summary: Mapped[str] = mapped_column(Text)  # the run's answer or error, shortened
    decisions: Mapped[list] = mapped_column(JSON)  # [{"tool", "verdict", "reason"}]
    corrections: Mapped[list] = mapped_column(JSON)  # [{"kind", "detail"}]: the owner said no / changed it
    trust: Mapped[str] = mapped_column(String(16))
    origins: Mapped[str] = mapped_column(String(300), default="")
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    dreamt_by: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)  # the consolidating run


class MemoryEntry(Base):
    """One version of a memory entry. A change never edits a row: it adds version n+1 and clears
    ``current`` on version n, so every earlier state stays readable and restorable."""

    __tablename__ = "memory_entries"
    __table_args__ = (UniqueConstraint("key", "version", name="uq_memory_entry_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(32), index=True)  # the entry, across its versions
    version: Mapped[int] = mapped_column(Integer)
    current: Mapped[bool] = mapped_column(Boolean, index=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    agent: Mapped[str] = mapped_column(String(64), index=True)  # "*": every agent of the owner
    kind: Mapped[str] = mapped_column(String(16))  # fact | preference | procedure | rule
    subject: Mapped[str] = mapped_column(String(200))  # normalised: what the entry is about (merge key)
    text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), index=True)  # active | proposed | rejected | retired
    sources: Mapped[list] = mapped_column(JSON)  # episode ids it was learnt from
    trust: Mapped[str] = mapped_column(String(16))
    target: Mapped[str | None] = mapped_column(String(32), nullable=True)  # a proposal: the entry it would change
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    by: Mapped[str] = mapped_column(String(64))  # a user id, or the consolidating run "dream:RUN"
    reason: Mapped[str] = mapped_column(Text, default="")
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class MemoryDream(Base):
    """The dream diary: one row per consolidation, with what changed and why, in words."""

    __tablename__ = "memory_dreams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(String(64), unique=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    agent: Mapped[str] = mapped_column(String(64), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # running | done | skipped | partial
    episodes: Mapped[int] = mapped_column(Integer, default=0)
    changes: Mapped[list] = mapped_column(JSON)  # [{"key", "version", "change", "why"}]
    diary: Mapped[str] = mapped_column(Text, default="")


class MemoryLease(Base):
    """Who is consolidating one owner's agent's memory now: a second consolidation waits or is skipped."""

    __tablename__ = "memory_leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)  # owner/agent
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# The sandbox workplace's tables: store/tables_workplace.py (on the same Base).
