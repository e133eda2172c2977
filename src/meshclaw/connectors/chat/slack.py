"""Slack backend of the chat connector: the Slack Web API (through slack_sdk) mapped onto ``ChatBackend``.

Mapping: channels are the conversations the account is a member of (``conversations.list``: public
and private channels, direct and group messages); a message id is Slack's ``ts``; a thread id is
the ``ts`` of its root; a direct message goes to the one-to-one conversation ``conversations.open``
gives. The token is a bot (``xoxb-``) or user (``xoxp-``) token with ``slack_wire.SCOPES``.

Idempotency: Slack has no idempotency key, so every post carries MeshClaw's key in Slack message
metadata (``event_type`` ``meshclaw_post``, ``event_payload.idempotency_key``). Before posting, the
backend looks for its own message with that key — in the thread for a reply, else in the channel's
history of the last ``lookback_s`` seconds (at most ``LOOKBACK_MESSAGES`` messages) — and returns it
instead of posting again. A post that Slack rate-limits (HTTP 429: Slack did not take it) is sent
again after Retry-After only when that check still finds nothing; a post whose connection broke is
checked once and otherwise reported as an error, for the durable step's re-run to check again.

Events (``poll``): Slack pushes events only to a public HTTPS endpoint (Events API) or over Socket
Mode, neither of which a loopback deployment or the test emulator offers, so ``poll`` reads: the
newest ``WINDOW`` top-level messages of every member conversation, the replies of threads whose
reply count changed, and the reactions shown on those messages — see ``slack_poll``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from meshclaw.connectors.chat.backend import ChatChannel, ChatEvent, ChatMessage
from meshclaw.connectors.chat.slack_poll import PollState, scan_channel
from meshclaw.connectors.chat.slack_wire import (
    ReadRetryHandler,
    SlackAuthError,
    SlackError,
    SlackNotFound,
    SlackRateLimited,
    SlackUnavailable,
    call,
    mentions,
    sent_at,
    thread_of,
)

__all__ = ["SlackBackend", "SlackError", "SlackAuthError", "SlackNotFound", "SlackRateLimited",
           "SlackUnavailable", "IDEMPOTENCY_EVENT"]

SLACK_API = "https://slack.com/api/"
IDEMPOTENCY_EVENT = "meshclaw_post"
LOOKBACK_MESSAGES = 1000
POST_ATTEMPTS = 3  # rate-limited posts: sent at most this often, each after Retry-After and a check
CONVERSATION_TYPES = "public_channel,private_channel,im,mpim"


class SlackBackend:
    """A logged-in Slack account (``ChatBackend``). Build it with ``await SlackBackend.connect(...)``.

    ``own_user_id`` is the account's user id (``U…``) from ``auth.test``. Every method raises
    ``SlackError`` subclasses (``ConnectorError``) with one-line messages that never carry the token.
    """

    name = "slack"

    def __init__(self, client: AsyncWebClient, session: aiohttp.ClientSession, own_user_id: str, *,
                 max_wait_s: float, lookback_s: float, poll_interval_s: float,
                 sleep: Callable[[float], Awaitable[Any]]) -> None:
        self._client = client
        self._session = session
        self.own_user_id = own_user_id
        self._max_wait_s = max_wait_s
        self._lookback_s = lookback_s
        self._poll_interval_s = poll_interval_s
        self._sleep = sleep
        self._names: dict[str, str] = {}
        self._direct: dict[str, bool] = {}

    @classmethod
    async def connect(cls, *, token: str, base_url: str | None = None, timeout_s: float = 30.0,
                      max_wait_s: float = 60.0, lookback_s: float = 86400.0, poll_interval_s: float = 3.0,
                      sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> "SlackBackend":
        """Log in with ``token`` at ``base_url`` (the Web API root, default https://slack.com/api/).

        ``timeout_s``: per HTTP request. ``max_wait_s``: the longest Retry-After (seconds) waited out
        on a 429 before giving up with SlackRateLimited. ``lookback_s``: how far back (seconds) a
        post looks for an earlier post with its idempotency key. ``poll_interval_s``: seconds between
        reads while ``poll`` waits (each read costs one conversations.list, one conversations.history
        per member conversation and one conversations.replies per thread that moved). Raises SlackAuthError (bad token), SlackUnavailable (unreachable)."""
        if not token or not token.strip():
            raise SlackAuthError("Slack needs a token (a bot token xoxb-… or a user token xoxp-…)", "not_authed")
        url = (base_url or SLACK_API).rstrip("/") + "/"
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s))
        client = AsyncWebClient(token=token.strip(), base_url=url, session=session, timeout=int(max(1, timeout_s)),
                                retry_handlers=[ReadRetryHandler(max_wait_s=max_wait_s, sleep=sleep)])
        try:
            who = await call(client, "auth.test")
        except BaseException:
            await session.close()
            raise
        user_id = who.get("user_id")
        if not user_id:
            await session.close()
            raise SlackAuthError("Slack auth.test named no user for this token", "invalid_auth")
        return cls(client, session, str(user_id), max_wait_s=max_wait_s, lookback_s=lookback_s,
                   poll_interval_s=poll_interval_s, sleep=sleep)

    async def close(self) -> None:
        """Release the HTTP connection pool."""
        await self._session.close()

    # ---- reading -------------------------------------------------------------------------------

    async def list_channels(self) -> list[ChatChannel]:
        """The conversations the account is a member of (channels, private channels, DMs, group DMs)."""
        channels: list[ChatChannel] = []
        for raw in await self._member_conversations():
            channels.append(await self._channel(raw))
        return channels

    async def history(self, channel_id: str, *, limit: int = 50, thread_id: str | None = None) -> list[ChatMessage]:
        """Newest ``limit`` messages (oldest first) of a channel's top level, or of one thread (its
        root first) when ``thread_id``. Raises SlackNotFound for an unknown channel or thread."""
        if limit <= 0:
            return []
        if thread_id:
            raw = await self._thread(channel_id, thread_id)
            raw = raw[-limit:]
        else:
            raw = await self._newest(channel_id, limit)
            raw.reverse()
        return [await self._message(channel_id, m) for m in raw if m.get("ts")]

    # ---- posting -------------------------------------------------------------------------------

    async def post(self, channel_id: str, text: str, *, thread_id: str | None = None,
                   idempotency_key: str) -> ChatMessage:
        """Post ``text`` (in thread ``thread_id`` when given); the same ``idempotency_key`` never posts
        twice — an earlier post with it is returned instead. Raises SlackRateLimited when Slack asks
        for a longer wait than ``max_wait_s`` or refuses ``POST_ATTEMPTS`` times, SlackUnavailable
        when Slack cannot be reached (after looking whether the broken attempt landed)."""
        if not idempotency_key:
            raise SlackError("a Slack post needs an idempotency key", "no_idempotency_key")
        if not text:
            raise SlackError("a Slack post needs text", "no_text")
        earlier = await self._find_posted(channel_id, idempotency_key, thread_id)
        if earlier is not None:
            return earlier
        for attempt in range(1, POST_ATTEMPTS + 1):
            try:
                answer = await call(self._client, "chat.postMessage", json=True, channel=channel_id, text=text,
                                    thread_ts=thread_id, metadata={"event_type": IDEMPOTENCY_EVENT,
                                                                   "event_payload": {"idempotency_key": idempotency_key}})
            except SlackRateLimited as limited:
                if limited.retry_after_s > self._max_wait_s or attempt == POST_ATTEMPTS:
                    raise
                await self._sleep(limited.retry_after_s)
            except SlackUnavailable:
                # The post may have landed before the connection broke: look once, else report.
                earlier = await self._find_posted(channel_id, idempotency_key, thread_id)
                if earlier is not None:
                    return earlier
                raise
            else:
                message = answer.get("message") or {}
                message = {"user": self.own_user_id, "text": text, "thread_ts": thread_id, **message,
                           "ts": answer.get("ts") or message.get("ts")}
                return await self._message(str(answer.get("channel") or channel_id), message)
            # Rate-limited: Slack did not take it. Post again only if no attempt landed meanwhile.
            earlier = await self._find_posted(channel_id, idempotency_key, thread_id)
            if earlier is not None:
                return earlier
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def direct_message(self, user_id: str, text: str, *, idempotency_key: str) -> ChatMessage:
        """Post ``text`` in the one-to-one conversation with ``user_id`` (opened if needed)."""
        opened = await call(self._client, "conversations.open", users=user_id)
        channel_id = str((opened.get("channel") or {}).get("id") or "")
        if not channel_id:
            raise SlackError(f"Slack conversations.open gave no conversation for {user_id}", "no_channel")
        self._direct[channel_id] = True
        return await self.post(channel_id, text, idempotency_key=idempotency_key)

    # ---- events --------------------------------------------------------------------------------

    async def poll(self, cursor: str | None, *, timeout_s: float = 0.0) -> tuple[list[ChatEvent], str]:
        """Events since ``cursor`` (None: from now, no events) and the next cursor; waits up to
        ``timeout_s`` seconds for a first event, reading every ``poll_interval_s``. The account's own
        messages and reactions are left out. Events come oldest first (reactions after messages).

        The cursor (``slack_poll.PollState``) records per conversation the newest ``ts`` seen, reply
        counts of recent threads and the reactions already reported; a reaction's ``sent_at`` is the
        time it was first seen (Slack's history does not say when it was added)."""
        state = PollState.decode(cursor) if cursor else None
        deadline = time.monotonic() + max(0.0, timeout_s)
        while True:
            events, state = await self._scan(state)
            if events or time.monotonic() >= deadline:
                return events, state.encode()
            await self._sleep(min(self._poll_interval_s, max(0.0, deadline - time.monotonic())))

    async def _scan(self, state: PollState | None) -> tuple[list[ChatEvent], PollState]:
        began = time.time()
        report = state is not None
        state = state or PollState(at=began)
        events: list[ChatEvent] = []
        seen: set[str] = set()
        for raw in await self._member_conversations():
            channel_id = str(raw["id"])
            seen.add(channel_id)
            self._direct[channel_id] = bool(raw.get("is_im"))
            events.extend(await scan_channel(self, channel_id, state, report=report, scan_began=began))
        state.forget_except(seen)
        state.at = began
        messages = sorted((e for e in events if isinstance(e, ChatMessage)), key=lambda e: float(e.message_id))
        reactions = [e for e in events if not isinstance(e, ChatMessage)]
        return [*messages, *reactions], state

    # ---- helpers used by slack_poll --------------------------------------------------------------

    async def _newest(self, channel_id: str, limit: int) -> list[dict[str, Any]]:
        """Newest ``limit`` top-level messages of a conversation, newest first."""
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while len(out) < limit:
            page = await call(self._client, "conversations.history", channel=channel_id, limit=min(200, limit - len(out)),
                              cursor=cursor, include_all_metadata=True)
            out.extend(page.get("messages") or [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return out[:limit]

    async def _thread(self, channel_id: str, thread_id: str) -> list[dict[str, Any]]:
        """All messages of a thread, root first (oldest first)."""
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = await call(self._client, "conversations.replies", channel=channel_id, ts=thread_id, limit=200,
                              cursor=cursor, include_all_metadata=True)
            out.extend(page.get("messages") or [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor or not page.get("has_more", True):
                break
        if not out:
            raise SlackNotFound(f"Slack conversations.replies: no thread {thread_id} in {channel_id}", "thread_not_found")
        return sorted(out, key=lambda m: float(m.get("ts") or 0))

    async def _member_conversations(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = await call(self._client, "conversations.list", types=CONVERSATION_TYPES, exclude_archived=True,
                              limit=200, cursor=cursor)
            for raw in page.get("channels") or []:
                if raw.get("id") and (raw.get("is_member") or raw.get("is_im")) and not raw.get("is_archived"):
                    out.append(raw)
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return out

    async def _find_posted(self, channel_id: str, key: str, thread_id: str | None) -> ChatMessage | None:
        """Our own earlier message carrying idempotency ``key`` (see the module text), or None."""
        def ours(m: dict[str, Any]) -> bool:
            meta = m.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            return (m.get("user") == self.own_user_id and meta.get("event_type") == IDEMPOTENCY_EVENT
                    and payload.get("idempotency_key") == key)

        if thread_id:
            try:
                candidates = await self._thread(channel_id, thread_id)
            except SlackNotFound:
                return None
        else:
            candidates = []
            oldest = time.time() - self._lookback_s
            cursor: str | None = None
            while len(candidates) < LOOKBACK_MESSAGES:
                page = await call(self._client, "conversations.history", channel=channel_id, limit=200, cursor=cursor,
                                  oldest=f"{oldest:.6f}", include_all_metadata=True)
                batch = page.get("messages") or []
                candidates.extend(m for m in batch if float(m.get("ts") or 0) >= oldest)
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                # Slack filters by ``oldest``; a server that does not still stops at the first older message.
                if not cursor or any(float(m.get("ts") or 0) < oldest for m in batch):
                    break
        for m in candidates:
            if ours(m):
                return await self._message(channel_id, m)
        return None

    async def _channel(self, raw: dict[str, Any]) -> ChatChannel:
        channel_id = str(raw["id"])
        is_direct = bool(raw.get("is_im"))
        self._direct[channel_id] = is_direct
        topic = (raw.get("topic") or {}).get("value") or (raw.get("purpose") or {}).get("value") or ""
        if is_direct:
            other = str(raw.get("user") or "")
            name = await self._user_name(other) if other else str(raw.get("name") or channel_id)
            return ChatChannel(channel_id, name, topic, True, tuple(u for u in (self.own_user_id, other) if u))
        return ChatChannel(channel_id, str(raw.get("name") or channel_id), topic, False, ())

    async def _message(self, channel_id: str, m: dict[str, Any]) -> ChatMessage:
        author = str(m.get("user") or m.get("bot_id") or "")
        if m.get("user"):
            name = await self._user_name(author)
        else:
            name = str(m.get("username") or (m.get("bot_profile") or {}).get("name") or author)
        text = str(m.get("text") or "")
        return ChatMessage(channel_id=channel_id, message_id=str(m["ts"]), author_id=author, author_name=name,
                           text=text, sent_at=sent_at(str(m["ts"])), thread_id=thread_of(m),
                           is_direct=await self._is_direct(channel_id), mentions=mentions(text))

    async def _is_direct(self, channel_id: str) -> bool:
        if channel_id not in self._direct:
            try:
                info = await call(self._client, "conversations.info", channel=channel_id)
                self._direct[channel_id] = bool((info.get("channel") or {}).get("is_im"))
            except SlackNotFound:
                return False
        return self._direct[channel_id]

    async def _user_name(self, user_id: str) -> str:
        """The person's display name (real name, else handle), cached; the id when Slack has none."""
        if user_id not in self._names:
            try:
                user = (await call(self._client, "users.info", user=user_id)).get("user") or {}
                profile = user.get("profile") or {}
                self._names[user_id] = str(profile.get("real_name") or user.get("real_name") or user.get("name") or user_id)
            except SlackNotFound:
                self._names[user_id] = user_id
        return self._names[user_id]
