"""The tables. Schema changes go through a new Alembic revision in ``migrations/versions``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, Integer, LargeBinary, String, Text, UniqueConstraint
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


class Usage(Base):
    """One row per model request: honest metering, attributed to run, agent and user."""

    __tablename__ = "usage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_key: Mapped[str] = mapped_column(String(200), unique=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    run_id: Mapped[str] = mapped_column(String(64), index=True)
    agent: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[str] = mapped_column(String(64), index=True)
    model: Mapped[str] = mapped_column(String(128))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)


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


# --- the sandbox workplace: mail, calendars and chat that never leave the machine ------------------


class Workplace(Base):
    """A sandbox workplace (``demo``): what was seeded into it, in words, and when."""

    __tablename__ = "workplaces"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    description: Mapped[str] = mapped_column(Text, default="")


class WorkplaceFolder(Base):
    """One user's mail folder in a workplace, with its IMAP numbering (UIDVALIDITY, next UID)."""

    __tablename__ = "workplace_folders"

    workplace: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    folder: Mapped[str] = mapped_column(String(200), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(Integer)
    uidnext: Mapped[int] = mapped_column(Integer, default=1)


class WorkplaceMail(Base):
    """One message, stored as the RFC 5322 bytes a mail server would hold, with its flags."""

    __tablename__ = "workplace_mail"
    __table_args__ = (UniqueConstraint("workplace", "owner", "folder", "uid", name="uq_workplace_mail_uid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workplace: Mapped[str] = mapped_column(String(64), index=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    folder: Mapped[str] = mapped_column(String(200))
    uid: Mapped[int] = mapped_column(Integer)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    flags: Mapped[list] = mapped_column(JSON)
    internal_date: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    message_id: Mapped[str] = mapped_column(String(250), default="", index=True)


class WorkplaceOutside(Base):
    """Mail sent in a workplace to someone outside the organisation: recorded, never delivered."""

    __tablename__ = "workplace_outside"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workplace: Mapped[str] = mapped_column(String(64), index=True)
    sender: Mapped[str] = mapped_column(String(64))  # the user id who sent it
    recipients: Mapped[list] = mapped_column(JSON)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WorkplaceEvent(Base):
    """One calendar object (iCalendar text) in a user's calendar in a workplace."""

    __tablename__ = "workplace_events"

    workplace: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    calendar: Mapped[str] = mapped_column(String(200), primary_key=True)
    uid: Mapped[str] = mapped_column(String(250), primary_key=True)
    ics: Mapped[str] = mapped_column(Text)
    etag: Mapped[int] = mapped_column(Integer, default=1)


class WorkplaceChannel(Base):
    """A chat channel (or a direct conversation) in a workplace; ``members`` are user ids."""

    __tablename__ = "workplace_channels"

    workplace: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    topic: Mapped[str] = mapped_column(Text, default="")
    is_direct: Mapped[bool] = mapped_column(Boolean, default=False)
    members: Mapped[list] = mapped_column(JSON)


class WorkplaceChatItem(Base):
    """A chat message (``key`` empty) or a reaction (``key`` the emoji, ``target`` the message), in
    the order they happened (``id`` is the poll cursor)."""

    __tablename__ = "workplace_chat"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workplace: Mapped[str] = mapped_column(String(64), index=True)
    channel_id: Mapped[str] = mapped_column(String(100))
    author_id: Mapped[str] = mapped_column(String(64))
    author_name: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    thread_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    key: Mapped[str] = mapped_column(String(64), default="")
    target: Mapped[str | None] = mapped_column(String(100), nullable=True)
    mentions: Mapped[list] = mapped_column(JSON)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
