"""The sandbox chat backend: ``ChatBackend`` over a workplace's channels in the store.

    backend = SandboxChat(access)      # access: the owner's workplace view (the ``workplace`` state, opened)

The account is the run's owner: it sees the channels the owner is a member of, posts as the owner
(once per idempotency key), opens direct conversations with people of the organisation, and polls
the messages and reactions others wrote, in order. Nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
from typing import Any

from meshclaw.domain.errors import ConnectorError

from .backend import ChatChannel, ChatEvent, ChatMessage, ChatReaction

POLL_STEP = 0.2  # seconds between looks while poll waits for a first event


class SandboxChatError(ConnectorError):
    """A channel or person the sandbox does not know (or the owner may not see)."""


class SandboxChat:
    """See the module docstring; every method raises SandboxChatError with one line."""

    name = "sandbox"

    def __init__(self, access: Any):
        self._access = access
        self.own_user_id = access.owner

    def _call(self, fn: Any, *args: Any, **kw: Any) -> Any:
        try:
            return fn(*args, **kw)
        except LookupError as e:
            raise SandboxChatError(f"the sandbox workplace has no {e.args[0] if e.args else e} that you can see") from None

    @staticmethod
    def _message(row: Any, direct: bool) -> ChatMessage:
        return ChatMessage(channel_id=row.channel_id, message_id=str(row.id), author_id=row.author_id,
                           author_name=row.author_name, text=row.text, sent_at=row.sent_at, thread_id=row.thread_id,
                           is_direct=direct, mentions=row.mentions)

    async def list_channels(self) -> list[ChatChannel]:
        return [ChatChannel(c.channel_id, c.name, c.topic, c.is_direct, c.members) for c in self._access.channels()]

    async def history(self, channel_id: str, *, limit: int = 50, thread_id: str | None = None) -> list[ChatMessage]:
        channel = self._call(self._access.channel, channel_id)
        rows = self._call(self._access.chat_items, channel_id, limit=max(1, min(limit, 500)) * (4 if thread_id else 1),
                          newest=True)
        rows = [r for r in rows if not r.key and (thread_id is None or r.thread_id == thread_id
                                                  or str(r.id) == thread_id)]
        return [self._message(r, channel.is_direct) for r in rows[-limit:]]

    async def post(self, channel_id: str, text: str, *, thread_id: str | None = None,
                   idempotency_key: str) -> ChatMessage:
        channel = self._call(self._access.channel, channel_id)
        row = self._call(self._access.post, channel_id, text, thread_id=thread_id,
                         idempotency_key=f"chat:{idempotency_key}")
        return self._message(row, channel.is_direct)

    async def direct_message(self, user_id: str, text: str, *, idempotency_key: str) -> ChatMessage:
        channel = self._call(self._access.direct_channel, user_id)
        return await self.post(channel.channel_id, text, idempotency_key=idempotency_key)

    async def react(self, channel_id: str, message_id: str, key: str, *, idempotency_key: str) -> ChatReaction:
        """React to a message as the owner (not part of the protocol; the sandbox's people use it too)."""
        row = self._call(self._access.post, channel_id, "", key=key, target=message_id,
                         idempotency_key=f"chat:{idempotency_key}")
        return ChatReaction(row.channel_id, message_id, row.author_id, key, row.sent_at)

    async def poll(self, cursor: str | None, *, timeout_s: float = 0.0) -> tuple[list[ChatEvent], str]:
        after = int(cursor) if cursor and cursor.isdigit() else None
        if after is None:  # None: from now
            return [], str(self._access.chat_cursor())
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout_s)
        while True:
            rows = self._access.chat_items(after=after)
            if rows:
                after = rows[-1].id
            direct = {c.channel_id for c in self._access.channels() if c.is_direct}
            events: list[ChatEvent] = [
                ChatReaction(r.channel_id, r.target or "", r.author_id, r.key, r.sent_at) if r.key
                else self._message(r, r.channel_id in direct)
                for r in rows if r.author_id != self.own_user_id]
            if events or loop.time() >= deadline:
                return events, str(after)
            await asyncio.sleep(POLL_STEP)

    async def close(self) -> None:
        return None
