"""The sandbox chat backend keeps the ChatBackend protocol over the store: the owner's channels
only, posts once per idempotency key, direct messages, threads, and polling others' messages and
reactions in order."""

from __future__ import annotations

import asyncio

import pytest

from meshclaw.connectors.chat.backend import ChatBackend, ChatMessage, ChatReaction
from meshclaw.connectors.chat.sandbox import SandboxChat, SandboxChatError
from tests.sandbox_support import MAIL, sandbox_ctx, sandbox_store


@pytest.fixture
def store(tmp_path):
    store = sandbox_store(tmp_path / "home", seed_mail=False)
    store.workplace_chat.add_channel("demo", "team", "team", ["alice", "bob", "carol"], topic="the team")
    store.workplace_chat.add_channel("demo", "managers", "managers", ["bob"])
    return store


def chat(store, user="alice"):
    return SandboxChat(sandbox_ctx(store, "email", MAIL, user=user).deps.state.open())


def test_protocol_channels_post_history_dm_and_poll(store):
    alice, bob = chat(store), chat(store, "bob")
    assert isinstance(alice, ChatBackend)

    async def go():
        assert [c.channel_id for c in await alice.list_channels()] == ["team"]
        with pytest.raises(SandboxChatError, match="managers"):
            await alice.post("managers", "hi", idempotency_key="x")
        cursor = (await bob.poll(None))[1]
        first = await alice.post("team", "Deploy at 10?", idempotency_key="k1")
        again = await alice.post("team", "Deploy at 10?", idempotency_key="k1")
        assert first == again and isinstance(first, ChatMessage)
        await alice.post("team", "in thread", thread_id=first.message_id, idempotency_key="k2")
        dm = await alice.direct_message("bob", "Morning briefing", idempotency_key="k3")
        assert dm.is_direct
        await alice.react("team", first.message_id, "👍", idempotency_key="k4")
        events, cursor = await bob.poll(cursor, timeout_s=1)
        assert [e.text for e in events if isinstance(e, ChatMessage)] == ["Deploy at 10?", "in thread",
                                                                         "Morning briefing"]
        assert [e.key for e in events if isinstance(e, ChatReaction)] == ["👍"]
        assert (await bob.poll(cursor))[0] == []
        thread = await alice.history("team", thread_id=first.message_id)
        assert [m.text for m in thread] == ["Deploy at 10?", "in thread"]
        assert [m.text for m in await alice.history("team")] == ["Deploy at 10?", "in thread"]

    asyncio.run(go())
