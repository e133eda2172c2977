"""The meeting scheduler as a structured workflow: "find 30 minutes with Ana and Raj next week".

1. One schema-constrained judgement turns the owner's request into ``MeetingRequest`` (who, how long,
   when, a title). The request is the owner's own words; nothing else is read by the model. Code then
   puts back what the request states exactly (an ISO date, a length, the week words, whole addresses:
   ``request.settle``).
2. Code resolves each person in the organisation's directory (id, address, full or first name) —
   a name that matches nobody, or several people, stops the run with that question.
3. ``calendar.freebusy`` for the owner and the colleagues; ``slots.find_slots`` picks up to three
   free slots within working hours in the owner's time zone.
4. ``calendar.create`` for the first slot. The agent is installed with ``autonomy: ask``, so the guard
   holds the invitation until the owner says yes; a no ends the run with the other slots offered.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo
from typing import Literal

from pydantic import BaseModel, Field

from meshclaw.domain.errors import ToolFailed
from meshclaw.policy.library import PolicyDenied
from meshclaw.runtime.calls import Calls
from meshclaw.runtime.workflows import register_workflow

from .request import settle
from .slots import choose_slots, window_for

NAME = "meeting-scheduler"


class MeetingRequest(BaseModel):
    """What the owner asked for."""

    people: list[str] = Field(description="the names or addresses of the people to meet, without the owner")
    minutes: int = Field(ge=5, le=480, description="the meeting's length in minutes")
    when: Literal["today", "tomorrow", "this_week", "next_week", "date"]
    date: str = Field(default="", description="YYYY-MM-DD when 'when' is 'date', else empty")
    title: str = Field(max_length=120, description="a short title for the invitation")


INSTRUCTIONS = """Read the owner's request for a meeting and fill the fields: the people to meet (names or
addresses exactly as written, never the owner), the length in minutes (an hour is 60, half an hour 30;
30 if not said), when (today, tomorrow, this_week, next_week, or date with date as YYYY-MM-DD) and a short
title (what the meeting is about, or "Meeting with" and the names)."""

EXAMPLES = [
    ("find an hour with Lena and Tom tomorrow to plan the launch",
     MeetingRequest(people=["Lena", "Tom"], minutes=60, when="tomorrow", title="Launch planning")),
    ("set up 15 minutes with kim@partner.test on 2026-06-03",
     MeetingRequest(people=["kim@partner.test"], minutes=15, when="date", date="2026-06-03",
                    title="Meeting with kim@partner.test")),
]


class Unresolved(Exception):
    """A person the directory does not name exactly once."""


def resolve(name: str, users: list, owner_id: str) -> tuple[str, str | None]:
    """(how to invite them, their user id or None for an outside address). Raises Unresolved."""
    wanted = name.strip().lower()
    if "@" in wanted:
        user = next((u for u in users if (u.email or "").lower() == wanted), None)
        return (wanted, user.id if user else None)
    matches = [u for u in users if u.id != owner_id and (wanted in (u.id.lower(), u.name.lower())
               or u.name.lower().split()[0] == wanted)]
    if len(matches) != 1:
        found = ", ".join(f"{u.name} ({u.email})" for u in matches)
        raise Unresolved(f"who is {name!r}? " + (f"several people match: {found}" if matches
                                                 else "nobody in the directory has that name"))
    user = matches[0]
    if not user.email:
        raise Unresolved(f"{user.name} has no address in the directory")
    return user.email, user.id


def zones_of(people: list[tuple[str, str | None]], users: list, default: str) -> dict[str, tzinfo]:
    """Each colleague's time zone (user id → zone) from the directory; the organisation's when unset."""
    by_id = {u.id: u for u in users}
    return {uid: ZoneInfo(by_id[uid].timezone or default) for _, uid in people if uid and uid in by_id}


def _fmt(slot: tuple[datetime, datetime]) -> str:
    return f"{slot[0]:%a %d %b %H:%M}–{slot[1]:%H:%M}"


@register_workflow(NAME)
async def meeting_scheduler(calls: Calls) -> str:
    """Find and propose a slot for the owner's meeting request (module docstring); what happened, in words."""
    deps = calls.deps
    ask = await calls.judge(MeetingRequest, instructions=INSTRUCTIONS, content=calls.task, examples=EXAMPLES,
                            name="meeting-request")
    ask = settle(ask, calls.task)  # the length, day and addresses the request states exactly (request.py)
    if not ask.people:
        return "I could not tell who the meeting is with: name the people (or their addresses)."
    try:
        people = [resolve(p, deps.config.users, deps.owner.id) for p in ask.people]
    except Unresolved as e:
        return f"I did not schedule anything: {e}"
    try:
        window = window_for(ask.when, calls.now, ask.date)
    except ValueError as e:
        return f"I did not schedule anything: {e}"
    colleagues = [uid for _, uid in people if uid]
    fb = await calls.tool("calendar.freebusy", start=window[0].isoformat(timespec="minutes"),
                          end=window[1].isoformat(timespec="minutes"), people=colleagues)
    zones = zones_of(people, deps.config.users, deps.config.organisation.timezone)
    try:
        slots = choose_slots(fb, window, ask.minutes, zones)
    except (ValueError, KeyError) as e:
        return f"I did not schedule anything: the free/busy answer could not be read ({e})"
    names = ", ".join(a for a, _ in people)
    unknown = fb.get("unavailable") or {}
    caveat = ("; free/busy unknown for " + ", ".join(unknown)) if unknown else ""
    if not slots:
        return (f"Nobody-free result: no {ask.minutes}-minute slot {ask.when.replace('_', ' ')} when you and "
                f"{names} are all free (09:00-17:00 on weekdays, each in their own time zone){caveat}. "
                "Try a longer window.")
    first, others = slots[0], slots[1:]
    try:
        made = await calls.tool("calendar.create", title=ask.title, start=first[0].isoformat(timespec="minutes"),
                                end=first[1].isoformat(timespec="minutes"), attendees=[a for a, _ in people])
    except PolicyDenied as e:
        alt = "; ".join(_fmt(s) for s in others) or "none"
        return f"Not booked ({e.decision.reason}). Proposed {_fmt(first)} with {names}; other free slots: {alt}{caveat}."
    except ToolFailed as e:
        return f"Not booked: {e}"
    return f"Booked {ask.title!r} {_fmt(first)} with {names} (uid {made.get('uid', '?')}){caveat}."
