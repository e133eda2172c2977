"""Answering an invitation: ``calendar.respond`` saves the owner's answer on their copy of the
meeting and mails it to the organizer as an iMIP REPLY (the organizer's side records it with
``apply_invitation``).

The answer that was mailed is remembered on the owner's copy (``X-MESHCLAW-REPLIED``: the
SEQUENCE and the answer), so a replayed tool call does not mail it twice, and a changed answer
or an answer to an updated meeting is mailed again.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import icalendar
from pydantic_ai import ModelRetry, RunContext

from meshclaw.domain.effects import Effect, tool
from meshclaw.runtime.context import RunDeps

from . import events, imip
from .access import connect, owner_email, smtp_password
from .errors import CalendarError

REPLIED = "X-MESHCLAW-REPLIED"
PARTSTAT = {"accepted": "ACCEPTED", "declined": "DECLINED", "tentative": "TENTATIVE"}


@tool("calendar.respond", Effect.EXTERNAL, sensitive=("uid",))
async def calendar_respond(ctx: RunContext[RunDeps], uid: str, answer: Literal["accepted", "declined", "tentative"],
                           comment: str = "", calendar: str | None = None) -> dict[str, Any]:
    """Answer a meeting invitation in the owner's calendar: accepted, declined or tentative.

    The answer is saved on the owner's calendar and emailed to the organizer.
    """
    if answer not in PARTSTAT:
        raise ModelRetry("answer is one of: accepted, declined, tentative")
    settings, conn = connect(ctx)
    owner = owner_email(ctx, settings)
    if not owner:
        raise CalendarError("answering needs the owner's address: set email in the calendar settings")
    if not settings.mails_invitations:
        raise CalendarError("answers go to the organizer by email: set smtp_host (and smtp_* settings) in the "
                            "calendar settings")
    partstat = PARTSTAT[answer]

    def write() -> tuple[Any, icalendar.Calendar, str, bool]:
        cal = conn.calendar(calendar)
        obj = conn.find(cal, uid.strip())
        if obj is None:
            raise ModelRetry(f"no event with uid {uid!r} in calendar {calendar or settings.calendar!r}: "
                             "take the uid from calendar_list")
        data = icalendar.Calendar.from_ical(obj.data)
        ev = events.master(data)
        organizer = events.organizer_of(ev)
        if not organizer or not events.by_others(ev, owner):
            raise CalendarError("the owner organizes this meeting: only invitations from others are answered")
        mine = [a for a in events.attendees_of(ev) if events.mailto(a).lower() == owner.lower()]
        if not mine:
            raise CalendarError(f"{owner} is not an attendee of this meeting")
        marker = f"{events.sequence(ev)}:{partstat}"
        for component in data.walk("VEVENT"):  # the series and each changed occurrence the owner attends
            for me in events.attendees_of(component):
                if events.mailto(me).lower() == owner.lower():
                    me.params["PARTSTAT"] = partstat
                    me.params.pop("RSVP", None)
        already = str(ev.get(REPLIED, "")) == marker
        conn.store(obj, data)
        return obj, data, organizer, already

    obj, data, organizer, already = await asyncio.to_thread(write)
    out: dict[str, Any] = {"uid": uid.strip(), "answer": answer, "organizer": organizer}
    if already:
        return out | {"already_done": True}
    msg = imip.build_reply(data, settings, owner, organizer, partstat, comment)
    await imip.send(settings, smtp_password(ctx, settings), msg, [organizer])
    # Recorded after sending: a crash in between mails the same Message-ID again, which clients merge.
    events.replace(events.master(data), REPLIED, f"{events.sequence(events.master(data))}:{partstat}")
    await asyncio.to_thread(conn.store, obj, data)
    return out | {"told": organizer}
