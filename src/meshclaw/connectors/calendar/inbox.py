"""The attendee's side of iMIP: put a received invitation (or cancellation) into their calendar.

CalDAV servers here do no scheduling, so a meeting reaches an attendee's calendar the way it
does with any mail-based calendar client: the invitation email is read and its event stored.
An email trigger of the attendee's agent calls ``apply_invitation`` with the raw message.

Mail is untrusted input.  The rules keep a forged message from doing much: the recipient must
be an attendee; an update or cancellation must come from the organizer of the copy already
stored (and name that organizer in From or Reply-To); an older SEQUENCE never overwrites a
newer one.  Authenticating the sender (DKIM/DMARC) is the mail server's job, not this module's.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from email.message import Message
from email.utils import getaddresses
from typing import Any

import icalendar

from . import events
from .client import Connection
from .settings import CalendarSettings, load_settings


def calendar_part(msg: Message) -> icalendar.Calendar | None:
    """The iTIP object of an email: the text/calendar part (or an attached .ics), if any."""
    for part in msg.walk():
        kind = part.get_content_type()
        if kind in ("text/calendar", "application/ics") or part.get_filename("").lower().endswith(".ics"):
            payload = part.get_payload(decode=True)
            if payload:
                try:
                    return icalendar.Calendar.from_ical(payload)
                except ValueError:
                    continue
    return None


def _senders(msg: Message) -> set[str]:
    return {a.lower() for _, a in getaddresses(msg.get_all("From", []) + msg.get_all("Reply-To", [])) if a}


def _stored(data: icalendar.Calendar) -> icalendar.Calendar:
    """What the attendee's calendar keeps: the event without the iTIP method."""
    out = icalendar.Calendar.from_ical(data.to_ical())
    events.replace(out, "method", None)
    return out


def decide(itip: icalendar.Calendar, existing: icalendar.Calendar | None, recipient: str,
           senders: set[str]) -> tuple[str, icalendar.Calendar | None]:
    """What to do with one iTIP object: (action, calendar data to store or None). Pure, for testing."""
    method = str(itip.get("method", "")).upper()
    ev = events.master(itip)
    organizer = (events.organizer_of(ev) or "").lower()
    if method == "REPLY":
        return _reply(ev, existing, recipient, senders)
    if method not in ("REQUEST", "CANCEL"):
        return f"ignored: method {method or 'missing'} is not handled", None
    if not organizer or organizer not in senders:
        return "ignored: the sender is not the meeting's organizer", None
    if recipient.lower() not in {a.lower() for a in events.attendee_addresses(ev)}:
        return "ignored: the recipient is not an attendee", None
    if existing is not None:
        old = events.master(existing)
        if (events.organizer_of(old) or "").lower() != organizer:
            return "ignored: a meeting with this UID already exists, organized by someone else", None
        if events.sequence(ev) < events.sequence(old):
            return "ignored: an older version than the one in the calendar", None
        if events.sequence(ev) == events.sequence(old) and method == "REQUEST":
            return "unchanged", None  # a duplicate invitation; keep the attendee's own answer
    if method == "CANCEL":
        if existing is None:
            return "ignored: cancels a meeting that is not in the calendar", None
        data = icalendar.Calendar.from_ical(existing.to_ical())
        old = events.master(data)
        events.replace(old, "status", "CANCELLED")
        events.replace(old, "sequence", events.sequence(ev))
        return "cancelled", data
    return ("updated" if existing is not None else "added"), _stored(itip)


ANSWERS = ("ACCEPTED", "DECLINED", "TENTATIVE")


def _reply(ev: icalendar.Event, existing: icalendar.Calendar | None, recipient: str,
           senders: set[str]) -> tuple[str, icalendar.Calendar | None]:
    """An attendee's answer, received by the organizer: record it on the organizer's copy."""
    if existing is None:
        return "ignored: answers a meeting that is not in the calendar", None
    data = icalendar.Calendar.from_ical(existing.to_ical())
    stored = events.master(data)
    if (events.organizer_of(stored) or "").lower() != recipient.lower():
        return "ignored: the recipient does not organize this meeting", None
    answers = events.attendees_of(ev)
    if len(answers) != 1:
        return "ignored: an answer names exactly one attendee", None
    who = events.mailto(answers[0]).lower()
    if who not in senders:
        return "ignored: the answer does not come from the attendee it names", None
    partstat = str(answers[0].params.get("PARTSTAT", "")).upper()
    if partstat not in ANSWERS:
        return f"ignored: {partstat or 'no'} answer is not one of accepted, declined, tentative", None
    if events.sequence(ev) < events.sequence(stored):
        return "ignored: answers an older version of the meeting", None
    mine = [a for a in events.attendees_of(stored) if events.mailto(a).lower() == who]
    if not mine:
        return "ignored: the sender is not an attendee of this meeting", None
    if str(mine[0].params.get("PARTSTAT", "")).upper() == partstat:
        return "unchanged", None
    mine[0].params["PARTSTAT"] = partstat  # the property object itself: the stored copy changes with it
    mine[0].params.pop("RSVP", None)
    return f"answer recorded: {who} {partstat.lower()}", data


async def apply_invitation(settings: CalendarSettings | dict[str, Any], password: str,
                           message: bytes | str | Message, recipient: str) -> dict[str, Any]:
    """Store the invitation or cancellation in ``message`` in ``recipient``'s calendar, or, when
    ``recipient`` organizes the meeting, record the attendee's answer (METHOD:REPLY) it carries.

    ``settings``/``password`` are the recipient's own calendar connection.  Returns
    ``{"uid", "method", "action"}``; ``action`` says what happened, or why nothing did.
    """
    settings = load_settings(settings)
    if isinstance(message, (bytes, str)):
        raw = message.encode() if isinstance(message, str) else message
        message = email.message_from_bytes(raw, policy=email.policy.default)
    itip = calendar_part(message)
    if itip is None:
        return {"uid": None, "method": None, "action": "ignored: the message has no calendar part"}
    uid = str(events.master(itip).get("uid", ""))
    method = str(itip.get("method", "")).upper()
    senders = _senders(message)
    conn = Connection(settings, password)

    def work() -> str:
        cal = conn.calendar()
        obj = conn.find(cal, uid)
        existing = icalendar.Calendar.from_ical(obj.data) if obj is not None else None
        action, data = decide(itip, existing, recipient, senders)
        if data is not None:
            if obj is None:
                conn.create(cal, data)
            else:
                conn.store(obj, data)
        return action

    return {"uid": uid, "method": method, "action": await asyncio.to_thread(work)}

