"""Faults of a real Synapse: rate limits (429 with Retry-After) waited out only where the call may be
repeated, and a server stopped and started again: one clear line, and a repeated step still posts once."""

from __future__ import annotations

import asyncio
import time
from typing import Iterator

import pytest

from meshclaw.connectors.chat.errors import ChatRateLimited, ChatUnavailable
from meshclaw.connectors.chat.matrix import MatrixBackend
from tests.servers.synapse import SynapseServer, start_synapse, synapse_available

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def strict() -> Iterator[SynapseServer]:
    """A Synapse of its own with low rate limits (messages, room creation: burst 2, then one per 2 s)."""
    if not synapse_available():
        pytest.skip("matrix-synapse is not installed: run scripts/setup (test extra)")
    with start_synapse(low_rate_limits=True) as hs:
        for who in ("alice", "bot", "carol", "dave", "erin"):
            hs.register(who)
        yield hs


async def login(hs: SynapseServer, who: str) -> MatrixBackend:
    a = hs.accounts[who]
    return await MatrixBackend.connect(homeserver=hs.url, user_id=a.user_id, access_token=a.access_token)


def bodies(hs: SynapseServer, room_id: str) -> list[str]:
    chunk = hs.api("GET", f"/rooms/{room_id}/messages?dir=b&limit=50", as_user="bot")["chunk"]
    return [m["content"].get("body") for m in chunk if m["type"] == "m.room.message"]


def test_429_is_waited_out_for_posts_and_reported_for_room_creation(strict):
    room_id = strict.api("POST", "/createRoom", {"name": "ops"}, as_user="bot")["room_id"]

    async def posts() -> tuple[float, list[str]]:
        bot = await login(strict, "bot")
        try:
            began = time.monotonic()
            ids = [(await bot.post(room_id, f"update {i}", idempotency_key=f"rl-{i}")).message_id for i in range(4)]
            return time.monotonic() - began, ids
        finally:
            await bot.close()

    waited, ids = asyncio.run(posts())
    assert len(set(ids)) == 4 and waited >= 1.5  # the server said 429 with Retry-After; the same txn ids were re-sent
    assert sorted(b for b in bodies(strict, room_id) if b.startswith("update")) == [f"update {i}" for i in range(4)]

    async def open_rooms() -> ChatRateLimited:
        bot = await login(strict, "bot")
        try:
            with pytest.raises(ChatRateLimited) as e:
                for who in ("carol", "dave", "erin"):  # creating a room is not repeatable: a 429 is reported
                    await bot.direct_room(strict.accounts[who].user_id)
            return e.value
        finally:
            await bot.close()

    refused = asyncio.run(open_rooms())
    assert "rate-limiting" in str(refused) and "not repeated" in str(refused) and refused.retry_after


def test_a_stopped_server_is_one_line_and_the_repeated_step_posts_once(strict):
    room_id = strict.api("POST", "/createRoom", {"name": "deploys"}, as_user="alice")["room_id"]
    strict.api("POST", f"/rooms/{room_id}/invite",
               {"user_id": strict.accounts["bot"].user_id}, as_user="alice")
    strict.api("POST", f"/join/{room_id}", {}, as_user="bot")

    async def while_down() -> str:
        bot = await login(strict, "bot")
        try:
            strict.stop()
            with pytest.raises(ChatUnavailable) as e:
                await bot.post(room_id, "deployed v2", idempotency_key="step-9")
            return str(e.value)
        finally:
            await bot.close()

    said = asyncio.run(while_down())
    assert said.startswith(f"cannot post in {room_id}: the Matrix server at {strict.url} is not reachable")
    assert "\n" not in said
    strict.start()

    async def again() -> tuple[str, str]:
        bot = await login(strict, "bot")
        try:  # the durable step runs again with the same key: one message, whatever the first try did
            first = await bot.post(room_id, "deployed v2", idempotency_key="step-9")
            second = await bot.post(room_id, "deployed v2", idempotency_key="step-9")
            return first.message_id, second.message_id
        finally:
            await bot.close()

    first, second = asyncio.run(again())
    assert first == second and bodies(strict, room_id).count("deployed v2") == 1
