"""The Matrix backend of the chat connector, on matrix-nio (client-server API, no end-to-end encryption).

Posting is idempotent through Matrix transaction ids: ``PUT /rooms/{room}/send/m.room.message/{txnId}``
with the same txn id from the same device returns the first event instead of posting again
(client-server API, "Transaction identifiers"; Synapse scopes them to the user and device). The txn
id is derived from the call's idempotency key and the device id is kept stable (``device_id`` of the
settings, also when logging in with a password), so a durable step re-run after a crash posts once.

Faults: a server that cannot be reached raises ``ChatUnavailable`` at once (nio's own retrying is
turned off); HTTP 429 ``M_LIMIT_EXCEEDED`` is waited out (its ``retry_after_ms``, at most
``MAX_WAIT`` s, ``MAX_TRIES`` times) only for calls that may be repeated: reads, sync, joins and
sends with a txn id. Creating a direct-message room is not repeatable, so a 429 there is an error.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from aiohttp import ClientConnectionError, ClientError
from nio import AsyncClient, AsyncClientConfig, ErrorResponse, MessageDirection, RoomPreset
from nio.api import Api, RelationshipType
from nio.responses import RoomEventRelationsResponse

from .backend import ChatChannel, ChatEvent, ChatMessage, ChatReaction
from .errors import ChatAuthFailed, ChatError, ChatNotFound, ChatRateLimited, ChatUnavailable

MAX_WAIT = 30.0  # seconds: a longer Retry-After is reported instead of waited out
MAX_TRIES = 4
HISTORY_GRACE_MS = 60_000  # a room joined later replays its recent history: events older than the
# first poll (minus this much clock difference) are not new and are not returned
_USER_ID = re.compile(r"@[A-Za-z0-9._=/+-]+:[A-Za-z0-9.-]+(?::\d+)?")
_SYNC_FILTER = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {"timeline": {"limit": 50, "types": ["m.room.message", "m.reaction"]},
             "state": {"lazy_load_members": True}, "ephemeral": {"not_types": ["*"]}},
}


def txn_id(idempotency_key: str) -> str:
    """The Matrix transaction id for an idempotency key: ``mc`` + 40 hex digits of its SHA-256."""
    return "mc" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]


def _when(ms: int | None) -> datetime:
    return datetime.fromtimestamp((ms or 0) / 1000, tz=timezone.utc)


class MatrixBackend:
    """A logged-in Matrix account (``ChatBackend``). Build it with ``await MatrixBackend.connect(...)``."""

    name = "matrix"

    def __init__(self, client: AsyncClient):
        self._client = client
        self.own_user_id: str = client.user_id
        self._direct: set[str] = set()
        self._names: dict[tuple[str, str], str] = {}
        self._from_ms = 0  # the first poll's time (ms): older events are history, not news

    # --- connecting ------------------------------------------------------------------------------

    @classmethod
    async def connect(cls, *, homeserver: str, user_id: str, access_token: str | None = None,
                      password: str | None = None, device_id: str = "MESHCLAW",
                      timeout: float = 30.0) -> "MatrixBackend":
        """Log in to ``homeserver`` as ``user_id`` with an access token or a password.

        With a password the login names ``device_id``, so every login is the same device (and
        transaction ids stay recognised); with a token the token's own device is used. Raises
        ChatUnavailable (server unreachable), ChatAuthFailed (token or password refused)."""
        if (access_token is None) == (password is None):
            raise ChatError("give exactly one of access_token or password")
        config = AsyncClientConfig(max_limit_exceeded=0, max_timeouts=0, request_timeout=timeout,
                                   encryption_enabled=False, store_sync_tokens=False)
        client = AsyncClient(homeserver.rstrip("/"), user_id, device_id=device_id, config=config)
        backend = cls(client)
        try:
            if password is not None:
                resp = await backend._call(lambda: client.login(password, device_name="MeshClaw"), "log in",
                                           idempotent=True)
            else:
                client.access_token = access_token
                resp = await backend._call(client.whoami, "log in", idempotent=True)
                if resp.user_id != user_id:
                    raise ChatAuthFailed(f"the access token belongs to {resp.user_id}, not {user_id}")
                client.restore_login(resp.user_id, resp.device_id or device_id, access_token)
        except BaseException:
            await client.close()
            raise
        backend.own_user_id = client.user_id
        return backend

    async def close(self) -> None:
        """Release the HTTP session (the login stays valid)."""
        await self._client.close()

    # --- one call, with the fault rules ---------------------------------------------------------

    async def _call(self, fn: Callable[[], Awaitable[Any]], what: str, *, idempotent: bool) -> Any:
        """Run one nio call: unreachable → ChatUnavailable; 429 → wait and repeat if ``idempotent``
        (else ChatRateLimited); another error response → ChatNotFound/ChatAuthFailed/ChatError."""
        server = self._client.homeserver
        for attempt in range(1, MAX_TRIES + 1):
            try:
                resp = await fn()
            except (ClientConnectionError, TimeoutError, asyncio.TimeoutError, OSError) as e:
                raise ChatUnavailable(f"cannot {what}: the Matrix server at {server} is not reachable "
                                      f"({type(e).__name__}{': ' + str(e).splitlines()[0] if str(e) else ''})") from None
            except ClientError as e:
                raise ChatUnavailable(f"cannot {what}: {type(e).__name__} talking to {server}") from None
            if not isinstance(resp, ErrorResponse):
                return resp
            code = resp.status_code or ""
            if code in ("M_LIMIT_EXCEEDED", "429", 429):
                wait = (resp.retry_after_ms or 1000) / 1000
                if not idempotent:
                    raise ChatRateLimited(f"cannot {what}: the Matrix server is rate-limiting this account "
                                          f"(retry after {wait:.1f} s); not repeated, nothing was done", wait)
                if wait > MAX_WAIT or attempt == MAX_TRIES:
                    raise ChatRateLimited(f"cannot {what}: the Matrix server is still rate-limiting this account "
                                          f"after {attempt} tries (retry after {wait:.1f} s)", wait)
                await asyncio.sleep(wait)
                continue
            message = f"cannot {what}: {code or 'error'} {resp.message or ''}".strip()
            if code in ("M_UNKNOWN_TOKEN", "M_FORBIDDEN", "M_MISSING_TOKEN", "M_USER_DEACTIVATED") and what == "log in":
                raise ChatAuthFailed(message)
            if code in ("M_NOT_FOUND", "M_FORBIDDEN", "M_INVALID_PARAM", "M_UNRECOGNIZED", "M_BAD_JSON"):
                raise ChatNotFound(message)
            if code in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
                raise ChatAuthFailed(message)
            raise ChatError(message)
        raise AssertionError("unreachable")

    async def _raw(self, method: str, path: str, body: dict | None, what: str) -> dict:
        """A JSON call nio has no method for (idempotent PUT/GET only); same fault rules."""

        async def once() -> Any:
            resp = await self._client.send(method, path, None if body is None else json.dumps(body),
                                           {"Authorization": f"Bearer {self._client.access_token}",
                                            "Content-Type": "application/json"})
            data = await resp.json(content_type=None)
            if resp.status >= 400:
                return ErrorResponse(data.get("error", ""), data.get("errcode") or str(resp.status),
                                     data.get("retry_after_ms"))
            return data

        return await self._call(once, what, idempotent=True)

    # --- reading ---------------------------------------------------------------------------------

    async def _marked(self) -> dict[str, list[str]]:
        """The account's ``m.direct`` map (user id → room ids); empty when it never marked one (M_NOT_FOUND)."""
        try:
            resp = await self._call(self._client.list_direct_rooms, "read direct conversations", idempotent=True)
        except ChatNotFound:
            return {}
        marked = dict(resp.rooms)
        self._direct |= {r for rooms in marked.values() for r in rooms}
        return marked

    async def _direct_rooms(self) -> set[str]:
        await self._marked()
        return self._direct

    async def _channel(self, room_id: str, direct: set[str]) -> ChatChannel:
        resp = await self._call(lambda: self._client.room_get_state(room_id), f"read room {room_id}", idempotent=True)
        name = topic = ""
        members = []
        for ev in resp.events:
            kind, content = ev.get("type"), ev.get("content") or {}
            if kind == "m.room.name":
                name = content.get("name") or ""
            elif kind == "m.room.topic":
                topic = content.get("topic") or ""
            elif kind == "m.room.member" and content.get("membership") in ("join", "invite"):
                members.append(ev.get("state_key", ""))
                if content.get("displayname"):
                    self._names[(room_id, ev.get("state_key", ""))] = content["displayname"]
        is_direct = room_id in direct or (not name and len(members) <= 2)
        return ChatChannel(room_id, name, topic, is_direct, tuple(sorted(members)))

    async def list_channels(self) -> list[ChatChannel]:
        """Every joined room with its name, topic, members and whether it is a direct conversation."""
        joined = await self._call(self._client.joined_rooms, "list rooms", idempotent=True)
        direct = await self._direct_rooms()
        return [await self._channel(r, direct) for r in joined.rooms]

    def _message(self, room_id: str, source: dict, direct: bool) -> ChatMessage | None:
        if source.get("type") != "m.room.message":
            return None
        content = source.get("content") or {}
        relates = content.get("m.relates_to") or {}
        thread = relates.get("event_id") if relates.get("rel_type") == "m.thread" else None
        if thread is None:  # a plain reply belongs to the conversation under the message it answers
            thread = (relates.get("m.in_reply_to") or {}).get("event_id")
        body = str(content.get("body") or "")
        mentions = set((content.get("m.mentions") or {}).get("user_ids") or [])
        mentions |= set(_USER_ID.findall(body + " " + str(content.get("formatted_body") or "")))
        sender = source.get("sender", "")
        room = self._client.rooms.get(room_id)
        name = self._names.get((room_id, sender)) or (room.user_name(sender) if room else None) or sender
        return ChatMessage(room_id, source.get("event_id", ""), sender, name, body, _when(source.get("origin_server_ts")),
                           thread, direct, tuple(sorted(mentions)))

    async def history(self, channel_id: str, *, limit: int = 50, thread_id: str | None = None) -> list[ChatMessage]:
        """Newest ``limit`` messages, oldest first; with ``thread_id`` the thread's root and its replies."""
        direct = channel_id in await self._direct_rooms()
        limit = max(1, min(limit, 200))
        await self._channel(channel_id, self._direct)  # display names; ChatNotFound for a room we are not in
        if thread_id is not None:
            root = await self._call(lambda: self._client.room_get_event(channel_id, thread_id),
                                    f"read message {thread_id}", idempotent=True)
            found = [root.event.source] + await self._thread_replies(channel_id, thread_id, limit)
            found.sort(key=lambda s: s.get("origin_server_ts", 0))
        else:
            resp = await self._call(lambda: self._client.room_messages(channel_id, limit=limit * 2,
                                                                       direction=MessageDirection.back),
                                    f"read room {channel_id}", idempotent=True)
            found = list(reversed([e.source for e in resp.chunk]))
        out = [m for s in found if (m := self._message(channel_id, s, direct)) is not None]
        return out[-limit:]

    async def _thread_replies(self, room_id: str, root_id: str, limit: int) -> list[dict]:
        """The newest ``limit`` replies in the thread under ``root_id`` (relations API, paginated)."""
        out: list[dict] = []
        start = None
        while len(out) < limit:
            method, path = Api.room_get_event_relations(self._client.access_token, room_id, root_id,
                                                        RelationshipType.thread, None, MessageDirection.back, start,
                                                        None, min(limit, 100))
            resp = await self._call(lambda method=method, path=path: self._client._send(
                RoomEventRelationsResponse, method, path, response_data=(room_id, root_id)),
                f"read the thread {root_id}", idempotent=True)
            out += [e.source for e in resp.events]
            if not resp.next_batch:
                break
            start = resp.next_batch
        return out[:limit]

    # --- posting -------------------------------------------------------------------------------

    async def post(self, channel_id: str, text: str, *, thread_id: str | None = None,
                   idempotency_key: str) -> ChatMessage:
        """Post ``text`` (in the thread under ``thread_id``): once per ``idempotency_key`` (txn id)."""
        content: dict[str, Any] = {"msgtype": "m.text", "body": text}
        mentioned = sorted(set(_USER_ID.findall(text)))
        if mentioned:
            content["m.mentions"] = {"user_ids": mentioned}
        if thread_id is not None:
            content["m.relates_to"] = {"rel_type": "m.thread", "event_id": thread_id, "is_falling_back": True,
                                       "m.in_reply_to": {"event_id": thread_id}}
        txn = txn_id(idempotency_key)
        resp = await self._call(lambda: self._client.room_send(channel_id, "m.room.message", content, tx_id=txn),
                                f"post in {channel_id}", idempotent=True)  # the same txn id never posts twice
        return ChatMessage(channel_id, resp.event_id, self.own_user_id, self.own_user_id, text,
                           datetime.now(timezone.utc), thread_id, channel_id in self._direct, tuple(mentioned))

    async def _find_direct(self, user_id: str) -> str | None:
        marked = await self._marked()
        if marked.get(user_id):
            return marked[user_id][0]
        direct = self._direct
        joined = await self._call(self._client.joined_rooms, "list rooms", idempotent=True)
        for room_id in joined.rooms:  # a room created before a crash, not yet marked as direct
            channel = await self._channel(room_id, direct)
            if channel.is_direct and set(channel.members) == {self.own_user_id, user_id}:
                return room_id
        return None

    async def direct_room(self, user_id: str) -> str:
        """The one-to-one room with ``user_id``: found (m.direct, or a two-person room), else created and
        marked in the account's ``m.direct``. Creating is not repeated on a 429 (ChatRateLimited)."""
        if not _USER_ID.fullmatch(user_id):
            raise ChatNotFound(f"{user_id!r} is not a Matrix user id like @bob:example.com")
        found = await self._find_direct(user_id)
        if found is not None:
            return found
        resp = await self._call(lambda: self._client.room_create(is_direct=True, invite=[user_id],
                                                                 preset=RoomPreset.trusted_private_chat),
                                f"open a direct conversation with {user_id}", idempotent=False)
        mapping = await self._marked()
        mapping[user_id] = [resp.room_id] + [r for r in mapping.get(user_id, []) if r != resp.room_id]
        path = Api._build_path(["user", self.own_user_id, "account_data", "m.direct"])
        await self._raw("PUT", path, mapping, "mark the direct conversation")
        self._direct.add(resp.room_id)
        return resp.room_id

    async def direct_message(self, user_id: str, text: str, *, idempotency_key: str) -> ChatMessage:
        """Post ``text`` to ``user_id`` in the one-to-one room (found or created), once per key."""
        room_id = await self.direct_room(user_id)
        message = await self.post(room_id, text, idempotency_key=idempotency_key)
        return ChatMessage(room_id, message.message_id, message.author_id, message.author_name, text, message.sent_at,
                           None, True, message.mentions)

    # --- events ------------------------------------------------------------------------------

    async def poll(self, cursor: str | None, *, timeout_s: float = 0.0) -> tuple[list[ChatEvent], str]:
        """Messages and reactions by others since ``cursor`` (None: from now); joins rooms it is invited to."""
        if cursor is None:
            self._from_ms = int(datetime.now(timezone.utc).timestamp() * 1000) - HISTORY_GRACE_MS
            first = await self._call(lambda: self._client.sync(timeout=0, sync_filter={
                **_SYNC_FILTER, "room": {**_SYNC_FILTER["room"], "timeline": {"limit": 0}}}),
                "read new events", idempotent=True)
            cursor = first.next_batch
            await self._join_invites(first)
            if timeout_s <= 0:
                return [], cursor
        resp = await self._call(lambda: self._client.sync(timeout=int(timeout_s * 1000), since=cursor,
                                                          sync_filter=_SYNC_FILTER),
                                "read new events", idempotent=True)
        await self._join_invites(resp)
        direct = self._direct
        events: list[ChatEvent] = []
        for room_id, info in resp.rooms.join.items():
            is_direct = room_id in direct or self._small_unnamed(room_id)
            for ev in info.timeline.events:
                source = ev.source
                if source.get("sender") == self.own_user_id or source.get("origin_server_ts", 0) < self._from_ms:
                    continue
                if source.get("type") == "m.reaction":
                    rel = (source.get("content") or {}).get("m.relates_to") or {}
                    if rel.get("rel_type") == "m.annotation" and rel.get("event_id"):
                        events.append(ChatReaction(room_id, rel["event_id"], source.get("sender", ""),
                                                   str(rel.get("key", "")), _when(source.get("origin_server_ts"))))
                    continue
                message = self._message(room_id, source, is_direct)
                if message is not None:
                    events.append(message)
        return events, resp.next_batch

    def _small_unnamed(self, room_id: str) -> bool:
        room = self._client.rooms.get(room_id)
        return room is not None and not room.name and room.member_count <= 2

    async def _join_invites(self, resp: Any) -> None:
        for room_id, info in resp.rooms.invite.items():
            for ev in getattr(info, "invite_state", []) or []:
                if getattr(ev, "state_key", None) == self.own_user_id and (getattr(ev, "source", {}) or {}).get(
                        "content", {}).get("is_direct"):
                    self._direct.add(room_id)
            await self._call(lambda room_id=room_id: self._client.join(room_id), f"join {room_id}", idempotent=True)
