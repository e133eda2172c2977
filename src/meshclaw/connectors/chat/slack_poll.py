"""Reading Slack events by polling: the cursor ``SlackBackend.poll`` hands out, and one channel's scan.

Per member conversation one scan reads the newest ``WINDOW`` top-level messages
(``conversations.history``). New ones (``ts`` above the conversation's high-water mark) are message
events. A thread root whose reply count (or ``latest_reply``) changed has its replies read
(``conversations.replies``); replies newer than the last one seen are events. Reactions shown on
the messages read (``reactions: [{name, users}]``) that were not there before are reaction events
(``reaction_key``: 👍 for ``+1``, and so on).
Threads whose root has left the window, and reactions on replies of a thread that did not change,
are not noticed — a known limit of reading instead of receiving pushed events.

The cursor is ``slack1:`` + compact JSON of ``PollState``: ``at`` (Unix seconds the last scan began;
messages of a conversation first seen later count from the whole second before it), and per conversation ``hw`` (newest
top-level ``ts`` seen), ``th`` (thread root ``ts`` → [reply count, newest reply ``ts``]) and ``rx``
(reactions already reported, as "ts name user").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from meshclaw.connectors.chat.backend import ChatEvent, ChatReaction
from meshclaw.connectors.chat.slack_wire import SlackError

if TYPE_CHECKING:
    from meshclaw.connectors.chat.slack import SlackBackend

PREFIX = "slack1:"
WINDOW = 50
# Channel-event subtypes that say who joined or what was renamed: not something a person wrote.
SKIPPED_SUBTYPES = frozenset({"channel_join", "channel_leave", "group_join", "group_leave", "channel_topic",
                              "channel_purpose", "channel_name", "channel_archive", "channel_unarchive",
                              "group_topic", "group_purpose", "group_name", "message_deleted", "message_changed"})


# Slack names reactions (``+1``, ``white_check_mark``; skin tones as ``+1::skin-tone-3``); the common
# answers are given as the emoji itself, as Matrix gives them, so one rule reads both.
EMOJI = {"+1": "👍", "thumbsup": "👍", "-1": "👎", "thumbsdown": "👎", "white_check_mark": "✅",
         "heavy_check_mark": "✔️", "x": "❌", "no_entry_sign": "🚫", "eyes": "👀", "tada": "🎉"}


def reaction_key(name: str) -> str:
    """A Slack reaction name as the reaction key: the emoji for the common ones, else the name."""
    base = name.split("::", 1)[0]
    return EMOJI.get(base, name)


@dataclass
class ChannelState:
    hw: str
    th: dict[str, list[Any]] = field(default_factory=dict)
    rx: list[str] = field(default_factory=list)


@dataclass
class PollState:
    """Where polling stands; see the module text for the fields."""

    at: float
    channels: dict[str, ChannelState] = field(default_factory=dict)

    def encode(self) -> str:
        body = {"at": round(self.at, 6),
                "ch": {cid: {"hw": c.hw, "th": c.th, "rx": c.rx} for cid, c in sorted(self.channels.items())}}
        return PREFIX + json.dumps(body, separators=(",", ":"), sort_keys=True)

    @classmethod
    def decode(cls, cursor: str) -> "PollState":
        """Raises SlackError for a cursor this backend did not make."""
        if not cursor.startswith(PREFIX):
            raise SlackError("not a Slack poll cursor (it does not start with slack1:)", "bad_cursor")
        try:
            body = json.loads(cursor[len(PREFIX):])
            channels = {str(cid): ChannelState(hw=str(c["hw"]), th={str(k): list(v) for k, v in c.get("th", {}).items()},
                                               rx=[str(x) for x in c.get("rx", [])])
                        for cid, c in body.get("ch", {}).items()}
            return cls(at=float(body["at"]), channels=channels)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise SlackError("the Slack poll cursor is damaged", "bad_cursor") from None

    def channel(self, channel_id: str) -> ChannelState:
        if channel_id not in self.channels:
            self.channels[channel_id] = ChannelState(hw=clock_bound(self.at))
        return self.channels[channel_id]

    def forget_except(self, channel_ids: set[str]) -> None:
        for cid in list(self.channels):
            if cid not in channel_ids:
                del self.channels[cid]


def clock_bound(at: float) -> str:
    """A ``ts`` bound from our clock: the whole second before ``at``. Slack's ``ts`` is seconds and
    microseconds of its clock, but the fraction need not be time (the emulator counts messages
    there), so only the seconds are compared; a message from just before ``at`` may be reported."""
    return f"{int(at) - 1}.000000"


def _ts(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _is_message(m: dict[str, Any]) -> bool:
    return bool(m.get("ts")) and m.get("type", "message") == "message" and m.get("subtype") not in SKIPPED_SUBTYPES


async def scan_channel(backend: "SlackBackend", channel_id: str, state: PollState, *, report: bool,
                       scan_began: float) -> list[ChatEvent]:
    """Read one conversation, update its entry of ``state``, and return its new events (none when
    ``report`` is False: the first scan only notes where things stand)."""
    ch = state.channel(channel_id)
    own = backend.own_user_id
    window = await backend._newest(channel_id, WINDOW)  # newest first
    events: list[ChatEvent] = []
    hw = _ts(ch.hw)
    seen_messages: list[dict[str, Any]] = list(window)

    for m in reversed(window):
        if _ts(m.get("ts")) > hw and report and m.get("user") != own and _is_message(m):
            events.append(await backend._message(channel_id, m))

    threads: dict[str, list[Any]] = {}
    for m in window:
        count = int(m.get("reply_count") or 0)
        root = str(m.get("ts") or "")
        if count <= 0 or not root:
            continue
        before = ch.th.get(root)
        latest = m.get("latest_reply")
        if before is not None and before[0] == count and (not latest or latest == before[1]):
            threads[root] = before
            continue
        # Replies after the newest one seen; for a thread not tracked yet, everything after the
        # root when the root itself is new, else after the last scan began.
        if before is not None:
            after = _ts(before[1])
        elif _ts(root) > hw:
            after = _ts(root)
        else:
            after = _ts(clock_bound(state.at if report else scan_began))
        replies = [r for r in await backend._thread(channel_id, root) if r.get("ts") != root]
        seen_messages.extend(replies)
        for r in replies:
            if _ts(r.get("ts")) > after and report and r.get("user") != own and _is_message(r):
                events.append(await backend._message(channel_id, r))
        last = max(replies, key=lambda r: _ts(r.get("ts")))["ts"] if replies else f"{after:.6f}"
        threads[root] = [count, str(last)]

    known = set(ch.rx)
    current: set[str] = set()
    now = datetime.now(timezone.utc)
    for m in seen_messages:
        for reaction in m.get("reactions") or []:
            for user in reaction.get("users") or []:
                key = f"{m['ts']} {reaction.get('name')} {user}"
                current.add(key)
                if key not in known and report and user != own:
                    events.append(ChatReaction(channel_id=channel_id, message_id=str(m["ts"]), author_id=str(user),
                                               key=reaction_key(str(reaction.get("name") or "")), sent_at=now))
    # Keep reactions of messages not read this time (replies of quiet threads) while still recent.
    read_ts = {str(m.get("ts")) for m in seen_messages}
    oldest = min((_ts(m.get("ts")) for m in window), default=hw)
    kept = {k for k in known if k.split(" ", 1)[0] not in read_ts and _ts(k.split(" ", 1)[0]) >= oldest}

    if window:
        ch.hw = max([ch.hw] + [str(m["ts"]) for m in window if m.get("ts")], key=_ts)
    elif not report:
        ch.hw = clock_bound(scan_began)
    ch.th = threads
    ch.rx = sorted(current | kept)
    return events
