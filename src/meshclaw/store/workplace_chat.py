"""Sandbox chat in the store: channels (and direct conversations), messages and reactions.

Items are numbered in the order they happen; that number is the poll cursor, so a reader sees each
message and reaction once, in order. A post carries its idempotency key: the same key never posts
twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select

from .database import Database
from .tables_workplace import WorkplaceChannel, WorkplaceChatItem
from .workplace import WorkplaceMissing, _utc


@dataclass(frozen=True)
class ChannelRow:
    channel_id: str
    name: str
    topic: str
    is_direct: bool
    members: tuple[str, ...]


@dataclass(frozen=True)
class ChatRow:
    """A message (``key`` "") or a reaction (``key`` the emoji, ``target`` the message id)."""

    id: int
    channel_id: str
    author_id: str
    author_name: str
    text: str
    sent_at: datetime
    thread_id: str | None
    key: str
    target: str | None
    mentions: tuple[str, ...]


def _row(i: WorkplaceChatItem) -> ChatRow:
    return ChatRow(i.id, i.channel_id, i.author_id, i.author_name, i.text, _utc(i.sent_at), i.thread_id, i.key,
                   i.target, tuple(i.mentions or ()))


class WorkplaceChatRepository:
    """Chat tables of the sandbox workplaces; every method is one transaction."""

    def __init__(self, db: Database):
        self.db = db

    def add_channel(self, workplace: str, channel_id: str, name: str, members: list[str], *, topic: str = "",
                    is_direct: bool = False) -> ChannelRow:
        """Create a channel, or return the existing one with this id."""
        with self.db.session() as s:
            c = s.get(WorkplaceChannel, (workplace, channel_id))
            if c is None:
                c = WorkplaceChannel(workplace=workplace, channel_id=channel_id, name=name, topic=topic,
                                     is_direct=is_direct, members=sorted(set(members)))
                s.add(c)
            return ChannelRow(c.channel_id, c.name, c.topic, c.is_direct, tuple(c.members))

    def channels(self, workplace: str, member: str | None = None) -> list[ChannelRow]:
        """Channels of a workplace (those ``member`` belongs to, when given), by id."""
        with self.db.session() as s:
            rows = s.scalars(select(WorkplaceChannel).where(WorkplaceChannel.workplace == workplace)
                             .order_by(WorkplaceChannel.channel_id))
            out = [ChannelRow(c.channel_id, c.name, c.topic, c.is_direct, tuple(c.members)) for c in rows]
        return [c for c in out if member is None or member in c.members]

    def channel(self, workplace: str, channel_id: str) -> ChannelRow:
        with self.db.session() as s:
            c = s.get(WorkplaceChannel, (workplace, channel_id))
            if c is None:
                raise WorkplaceMissing(f"channel {channel_id}")
            return ChannelRow(c.channel_id, c.name, c.topic, c.is_direct, tuple(c.members))

    def post(self, workplace: str, channel_id: str, author_id: str, author_name: str, text: str, *,
             thread_id: str | None = None, mentions: tuple[str, ...] = (), idempotency_key: str | None = None,
             key: str = "", target: str | None = None, when: datetime | None = None) -> ChatRow:
        """Add a message or reaction; with an ``idempotency_key`` already used, the first one."""
        with self.db.session() as s:
            if idempotency_key is not None:
                found = s.scalar(select(WorkplaceChatItem).where(WorkplaceChatItem.idempotency_key == idempotency_key))
                if found is not None:
                    return _row(found)
            if s.get(WorkplaceChannel, (workplace, channel_id)) is None:
                raise WorkplaceMissing(f"channel {channel_id}")
            item = WorkplaceChatItem(workplace=workplace, channel_id=channel_id, author_id=author_id,
                                     author_name=author_name, text=text, sent_at=_utc(when), thread_id=thread_id,
                                     key=key, target=target, mentions=list(mentions), idempotency_key=idempotency_key)
            s.add(item)
            s.flush()
            return _row(item)

    def items(self, workplace: str, *, channel_id: str | None = None, after: int = 0, limit: int = 200,
              newest: bool = False) -> list[ChatRow]:
        """Items after cursor ``after``, oldest first; ``newest``: the last ``limit`` instead of the first."""
        q = select(WorkplaceChatItem).where(WorkplaceChatItem.workplace == workplace, WorkplaceChatItem.id > after)
        if channel_id is not None:
            q = q.where(WorkplaceChatItem.channel_id == channel_id)
        q = q.order_by(WorkplaceChatItem.id.desc() if newest else WorkplaceChatItem.id).limit(limit)
        with self.db.session() as s:
            rows = [_row(i) for i in s.scalars(q)]
        return sorted(rows, key=lambda r: r.id)

    def last_id(self, workplace: str) -> int:
        with self.db.session() as s:
            return int(s.scalar(select(func.max(WorkplaceChatItem.id)).where(
                WorkplaceChatItem.workplace == workplace)) or 0)


def now() -> datetime:
    return datetime.now(timezone.utc)
