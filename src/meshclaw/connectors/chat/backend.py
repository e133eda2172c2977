"""What every team-chat backend (Matrix, Slack, ...) offers the chat tools and the control channel.

One set of chat tools (``connectors/chat/tools.py``) and one control channel sit on top of this
protocol; a backend maps its wire (Matrix client-server API through matrix-nio, Slack Web API
through slack_sdk) onto these shapes and nothing else.

Provenance, per field: ``author_id``, ``channel_id``, ``message_id``, ``thread_id`` and timestamps
are system data the server assigns; ``author_name``, ``channel_name``, ``topic`` and ``text`` are
chosen by people and are outside content unless the author is the run's owner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class ChatChannel:
    """A room (Matrix) or conversation (Slack) the account can see.

    ``channel_id``: server-assigned id (``!abc:server`` on Matrix, ``C0123`` on Slack).
    ``name``/``topic``: chosen by people (outside content). ``is_direct``: a one-to-one conversation.
    ``members``: server user ids, when the backend knows them cheaply (else empty).
    """

    channel_id: str
    name: str
    topic: str = ""
    is_direct: bool = False
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChatMessage:
    """One message. ``sent_at`` is timezone-aware UTC. ``thread_id``: the root message id of the
    thread it belongs to, or None. ``mentions``: server user ids the message mentions."""

    channel_id: str
    message_id: str
    author_id: str
    author_name: str
    text: str
    sent_at: datetime
    thread_id: str | None = None
    is_direct: bool = False
    mentions: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class ChatReaction:
    """A reaction (emoji ``key``, e.g. "👍" or "+1") by ``author_id`` to ``message_id``."""

    channel_id: str
    message_id: str
    author_id: str
    key: str
    sent_at: datetime


ChatEvent = ChatMessage | ChatReaction


@runtime_checkable
class ChatBackend(Protocol):
    """A logged-in chat account. Every method raises ``meshclaw.domain.errors.ConnectorError``
    subclasses (never a library exception) with a one-line message; rate limits are honoured
    (Retry-After) inside the backend for idempotent calls only."""

    name: str  # "matrix" | "slack" | ...
    own_user_id: str  # the account's server user id

    async def list_channels(self) -> list[ChatChannel]:
        """The channels the account is a member of."""
        ...

    async def history(self, channel_id: str, *, limit: int = 50, thread_id: str | None = None) -> list[ChatMessage]:
        """Newest ``limit`` messages (oldest first) of a channel, or of one thread when ``thread_id``."""
        ...

    async def post(self, channel_id: str, text: str, *, thread_id: str | None = None,
                   idempotency_key: str) -> ChatMessage:
        """Post ``text`` (a reply in a thread when ``thread_id``). The same ``idempotency_key`` never
        posts twice (a durable step that re-runs after a crash returns the first message)."""
        ...

    async def direct_message(self, user_id: str, text: str, *, idempotency_key: str) -> ChatMessage:
        """Post ``text`` in the one-to-one conversation with ``user_id`` (created if needed)."""
        ...

    async def poll(self, cursor: str | None, *, timeout_s: float = 0.0) -> tuple[list[ChatEvent], str]:
        """Events since ``cursor`` (None: from now) and the next cursor; waits up to ``timeout_s``
        seconds for the first event. The account's own messages are not returned."""
        ...

    async def close(self) -> None:
        """Release the connection."""
        ...
