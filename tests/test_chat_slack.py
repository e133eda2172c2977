"""The Slack chat backend against the Slack Web API emulator (npm emulate@0.12.2): every protocol
method, idempotent posting, and events by polling. What the backend did is checked through other
people's own calls to the emulator, not through the backend itself."""

from __future__ import annotations

import asyncio
import threading
from datetime import timezone

import pytest

from meshclaw.connectors.chat.backend import ChatBackend, ChatMessage, ChatReaction
from meshclaw.connectors.chat.errors import ChatNotFound
from meshclaw.connectors.chat.slack import SlackBackend, SlackError, SlackNotFound
from meshclaw.connectors.chat.slack_wire import ReadRetryHandler
from tests.servers.slack_emulator import SlackEmulator, slack_emulator  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow  # a real emulator process (node)


def run(coro):
    return asyncio.run(coro)


async def agent(emu: SlackEmulator, **options) -> SlackBackend:
    return await SlackBackend.connect(token=emu.tokens["agent"], base_url=emu.api_url, **options)


def texts_seen_by(emu: SlackEmulator, person: str, channel: str, thread: str | None = None) -> list[str]:
    """What ``person`` sees in a channel (or thread), oldest first, through their own token."""
    if thread:
        messages = emu.call(person, "conversations.replies", channel=channel, ts=thread)["messages"]
    else:
        messages = emu.call(person, "conversations.history", channel=channel)["messages"][::-1]
    return [m["text"] for m in messages]


def test_connect_learns_the_account_and_fits_the_protocol(slack_emulator):
    async def go():
        backend = await agent(slack_emulator)
        try:
            assert backend.own_user_id == slack_emulator.user_ids["agent"]
            assert backend.name == "slack"
            assert isinstance(backend, ChatBackend)
            # Only our handler: slack_sdk's default one would re-send a post whose connection broke.
            assert [type(h) for h in backend._client.retry_handlers] == [ReadRetryHandler]
        finally:
            await backend.close()
    run(go())


def test_list_channels_gives_member_conversations_only(slack_emulator):
    emu = slack_emulator
    mine = emu.new_channel("ops", "agent", "bob")
    others = emu.new_channel("elsewhere", "bob")

    async def go():
        backend = await agent(emu)
        try:
            before = {c.channel_id: c for c in await backend.list_channels()}
            await backend.direct_message(emu.user_ids["carol"], "hello carol", idempotency_key="list-dm")
            after = {c.channel_id: c for c in await backend.list_channels()}
        finally:
            await backend.close()
        return before, after

    before, after = run(go())
    assert mine in before and emu.channels["team"] in before
    assert others not in before and emu.channels["general"] not in before  # the agent is not in those
    team = before[emu.channels["team"]]
    assert (team.name, team.topic, team.is_direct) == ("team", "Team talk", False)
    direct = [c for c in after.values() if c.is_direct]
    assert len(direct) == 1 and direct[0].name == "Carol Colleague"
    assert set(direct[0].members) == {emu.user_ids["agent"], emu.user_ids["carol"]}


def test_history_is_newest_messages_oldest_first_with_people_and_mentions(slack_emulator):
    emu = slack_emulator
    channel = emu.new_channel("history", "agent", "bob")
    for text in ("one", "two", f"three for <@{emu.user_ids['agent']}>"):
        emu.call("bob", "chat.postMessage", channel=channel, text=text)

    async def go():
        backend = await agent(emu)
        try:
            return await backend.history(channel, limit=2), await backend.history(channel)
        finally:
            await backend.close()

    newest_two, everything = run(go())
    assert [m.text for m in newest_two] == ["two", f"three for <@{emu.user_ids['agent']}>"]
    assert [m.text for m in everything][-3:] == ["one", "two", newest_two[1].text]
    last = newest_two[1]
    assert (last.author_id, last.author_name) == (emu.user_ids["bob"], "Bob Colleague")
    assert last.mentions == (emu.user_ids["agent"],)
    assert last.sent_at.tzinfo is not None and last.sent_at.utcoffset() == timezone.utc.utcoffset(None)
    assert newest_two[0].sent_at <= last.sent_at and last.thread_id is None and not last.is_direct


def test_thread_history_and_a_reply_in_the_thread(slack_emulator):
    emu = slack_emulator
    channel = emu.new_channel("threads", "agent", "bob")
    root = emu.call("bob", "chat.postMessage", channel=channel, text="deploy today?")["ts"]
    emu.call("alice", "chat.postMessage", channel=channel, text="after lunch", thread_ts=root)

    async def go():
        backend = await agent(emu)
        try:
            reply = await backend.post(channel, "I will watch it", thread_id=root, idempotency_key="thread-1")
            return reply, await backend.history(channel, thread_id=root)
        finally:
            await backend.close()

    reply, thread = run(go())
    assert reply.thread_id == root and reply.author_id == emu.user_ids["agent"]
    assert [m.text for m in thread] == ["deploy today?", "after lunch", "I will watch it"]
    assert thread[0].thread_id is None and {m.thread_id for m in thread[1:]} == {root}
    # Bob sees the reply in the thread, not at the top level of the channel.
    assert texts_seen_by(emu, "bob", channel, thread=root)[-1] == "I will watch it"
    assert "I will watch it" not in texts_seen_by(emu, "bob", channel)


def test_post_is_seen_by_others_and_a_direct_message_reaches_the_person(slack_emulator):
    emu = slack_emulator
    channel = emu.new_channel("posts", "agent", "bob")

    async def go():
        backend = await agent(emu)
        try:
            posted = await backend.post(channel, "build is green", idempotency_key="post-1")
            direct = await backend.direct_message(emu.user_ids["alice"], "your inbox is triaged",
                                                  idempotency_key="dm-1")
            return posted, direct
        finally:
            await backend.close()

    posted, direct = run(go())
    assert texts_seen_by(emu, "bob", channel)[-1] == "build is green"
    assert (posted.channel_id, posted.author_id, posted.is_direct) == (channel, emu.user_ids["agent"], False)
    assert direct.is_direct
    # Alice's own view of her direct conversation with the agent.
    opened = emu.call("alice", "conversations.open", users=emu.user_ids["agent"])["channel"]["id"]
    assert opened == direct.channel_id
    assert texts_seen_by(emu, "alice", opened)[-1] == "your inbox is triaged"


def test_the_same_idempotency_key_never_posts_twice_even_from_a_new_connection(slack_emulator):
    emu = slack_emulator
    channel = emu.new_channel("idem", "agent", "bob")

    async def go():
        first = await agent(emu)
        try:
            a = await first.post(channel, "weekly report", idempotency_key="run-7/step-3")
            emu.call("bob", "chat.postMessage", channel=channel, text="thanks")  # the channel moves on
            again = await first.post(channel, "weekly report", idempotency_key="run-7/step-3")
            reply = await first.post(channel, "details", thread_id=a.message_id, idempotency_key="run-7/step-4")
            dm = await first.direct_message(emu.user_ids["bob"], "ping", idempotency_key="run-7/step-5")
        finally:
            await first.close()
        second = await agent(emu)  # a worker that restarted after a crash re-runs the steps
        try:
            rerun = await second.post(channel, "weekly report", idempotency_key="run-7/step-3")
            rerun_reply = await second.post(channel, "details", thread_id=a.message_id, idempotency_key="run-7/step-4")
            rerun_dm = await second.direct_message(emu.user_ids["bob"], "ping", idempotency_key="run-7/step-5")
            other = await second.post(channel, "weekly report", idempotency_key="run-8/step-3")
        finally:
            await second.close()
        return a, again, rerun, reply, rerun_reply, dm, rerun_dm, other

    a, again, rerun, reply, rerun_reply, dm, rerun_dm, other = run(go())
    assert a.message_id == again.message_id == rerun.message_id
    assert reply.message_id == rerun_reply.message_id and dm.message_id == rerun_dm.message_id
    assert other.message_id != a.message_id  # another key is another post
    assert texts_seen_by(emu, "bob", channel) == ["weekly report", "thanks", "weekly report"]
    assert texts_seen_by(emu, "bob", channel, thread=a.message_id) == ["weekly report", "details"]
    assert texts_seen_by(emu, "bob", dm.channel_id) == ["ping"]


def test_poll_reports_messages_replies_reactions_and_direct_messages_once(slack_emulator):
    emu = slack_emulator
    channel = emu.new_channel("events", "agent", "bob", "alice")
    old = emu.call("bob", "chat.postMessage", channel=channel, text="before the cursor")["ts"]

    async def go():
        backend = await agent(emu)
        try:
            nothing, cursor = await backend.poll(None)
            mine = await backend.post(channel, "approve deploy v2?", idempotency_key="ask-1")
            emu.call("bob", "chat.postMessage", channel=channel, text=f"<@{emu.user_ids['agent']}> status?")
            emu.call("alice", "chat.postMessage", channel=channel, text="yes, go", thread_ts=mine.message_id)
            emu.call("alice", "reactions.add", channel=channel, timestamp=mine.message_id, name="+1")
            emu.call("bob", "reactions.add", channel=channel, timestamp=mine.message_id, name="+1::skin-tone-3")
            emu.call("bob", "reactions.add", channel=channel, timestamp=mine.message_id, name="partyparrot")
            emu.call("alice", "chat.postMessage", channel=emu.call("alice", "conversations.open",
                     users=emu.user_ids["agent"])["channel"]["id"], text="stop")
            events, cursor = await backend.poll(cursor)
            again, cursor = await backend.poll(cursor)
        finally:
            await backend.close()
        restarted = await agent(emu)  # the cursor outlives the connection
        try:
            emu.call("bob", "chat.postMessage", channel=channel, text="after restart")
            emu.call("alice", "chat.postMessage", channel=channel, text="and roll back if red", thread_ts=mine.message_id)
            emu.call("bob", "chat.postMessage", channel=channel, text="old thread wakes", thread_ts=old)
            later, _ = await restarted.poll(cursor)
        finally:
            await restarted.close()
        return nothing, mine, events, again, later

    nothing, mine, events, again, later = run(go())
    assert nothing == []
    messages = [e for e in events if isinstance(e, ChatMessage)]
    reactions = [e for e in events if isinstance(e, ChatReaction)]
    assert [m.text for m in messages] == [f"<@{emu.user_ids['agent']}> status?", "yes, go", "stop"]
    mention, reply, direct = messages
    assert mention.mentions == (emu.user_ids["agent"],) and mention.author_id == emu.user_ids["bob"]
    assert reply.thread_id == mine.message_id and reply.author_id == emu.user_ids["alice"]
    assert direct.is_direct and direct.author_id == emu.user_ids["alice"]
    # Slack's reaction names become the emoji (skin tones dropped); names without one stay names.
    assert sorted((r.message_id, r.author_id, r.key) for r in reactions) == sorted([
        (mine.message_id, emu.user_ids["alice"], "👍"), (mine.message_id, emu.user_ids["bob"], "👍"),
        (mine.message_id, emu.user_ids["bob"], "partyparrot")])
    assert all(e.channel_id == channel for e in events if e is not direct)
    assert again == []  # nothing twice, and never the account's own messages
    # A second reply in a known thread, and a first reply under a message older than the cursor.
    assert [(e.text, e.thread_id) for e in later if isinstance(e, ChatMessage)] == [
        ("after restart", None), ("and roll back if red", mine.message_id), ("old thread wakes", old)]


def test_poll_waits_for_the_first_event(slack_emulator):
    emu = slack_emulator
    channel = emu.new_channel("waiting", "agent", "bob")

    async def go():
        backend = await agent(emu, poll_interval_s=0.1)
        try:
            _, cursor = await backend.poll(None)
            timer = threading.Timer(0.4, emu.call, ("bob", "chat.postMessage"), {"channel": channel, "text": "late"})
            timer.start()
            try:
                events, _ = await backend.poll(cursor, timeout_s=10)
            finally:
                timer.join()
            quiet, _ = await backend.poll(_, timeout_s=0.3)
            return events, quiet
        finally:
            await backend.close()

    events, quiet = run(go())
    assert [e.text for e in events if isinstance(e, ChatMessage)] == ["late"]
    assert quiet == []


def test_unknown_channel_thread_and_cursor_are_one_line_errors(slack_emulator):
    async def go():
        backend = await agent(slack_emulator)
        try:
            with pytest.raises(SlackNotFound) as no_channel:
                await backend.history("CNOSUCHONE")
            with pytest.raises(SlackNotFound):
                await backend.history(slack_emulator.channels["team"], thread_id="1.000001")
            with pytest.raises(SlackError, match="cursor"):
                await backend.poll("matrix:s123")
            with pytest.raises(SlackError, match="idempotency key"):
                await backend.post(slack_emulator.channels["team"], "x", idempotency_key="")
            return no_channel.value
        finally:
            await backend.close()

    error = run(go())
    assert "channel_not_found" in str(error) and "\n" not in str(error)
    assert isinstance(error, ChatNotFound)  # the chat tools hand it back to the model to correct the id
