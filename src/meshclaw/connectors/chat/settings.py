"""The chat connector's settings: which backend, server and account, and which channels are watched.

The token or password is a secret reference (``secret:agent_chat``, ``env:CHAT_TOKEN``), never a
value; tools resolve it with ``ctx.deps.secret(ref)`` at call time and never log it.
"""

from __future__ import annotations

from pydantic import Field

from meshclaw.domain.config import ChatAccount


class ChatSettings(ChatAccount):
    """``ChatAccount`` (backend, url, account, token|password, device_id, timeout) plus ``watch``: the
    channel ids whose every message emits ``chat.message`` (mentions and direct messages always emit
    ``chat.mention`` and ``chat.direct_message``)."""

    watch: list[str] = Field(default_factory=list, description="channel ids whose messages trigger chat.message")
