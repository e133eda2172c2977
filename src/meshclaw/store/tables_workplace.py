"""The sandbox workplace's tables: mail, calendars, chat and deployments that never leave the machine."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .tables import Base


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


class WorkplaceService(Base):
    """A deployable service in a workplace: what runs now, what can be deployed, what it answers.

    ``versions``: version -> the HTTP status its health URL answers once started (200 healthy);
    ``history``: deploy records (version, key, kind, at, previous), newest last; ``health_status``:
    what the health URL answers now (None: it does not answer); ``logs``: the newest lines."""

    __tablename__ = "workplace_services"

    workplace: Mapped[str] = mapped_column(String(64), primary_key=True)
    service: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    state: Mapped[str] = mapped_column(String(20))
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    detail: Mapped[str] = mapped_column(Text, default="")
    versions: Mapped[dict] = mapped_column(JSON)
    history: Mapped[list] = mapped_column(JSON)
    health_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    health_body: Mapped[str] = mapped_column(Text, default="")
    logs: Mapped[list] = mapped_column(JSON)


class WorkplaceServiceChange(Base):
    """A scripted change of a service at a time (the demo night's failure): applied once, on the first
    look at the service at or after ``at``, and only to ``version`` (when set) deployed before ``at``."""

    __tablename__ = "workplace_service_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    workplace: Mapped[str] = mapped_column(String(64), index=True)
    service: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    version: Mapped[str | None] = mapped_column(String(100), nullable=True)
    state: Mapped[str] = mapped_column(String(20))
    health_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    health_body: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    logs: Mapped[list] = mapped_column(JSON)
    applied: Mapped[bool] = mapped_column(Boolean, default=False)
