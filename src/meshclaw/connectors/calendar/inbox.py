"""The attendee's side of iMIP: put a received invitation (or cancellation) into their calendar.

CalDAV servers here do no scheduling, so a meeting reaches an attendee's calendar the way it
does with any mail-based calendar client: the invitation email is read and its event stored.
An email trigger of the attendee's agent calls ``apply_invitation`` with the raw message.

Mail is untrusted input.  The rules (``incoming.decide``) keep a forged message from doing much:
the recipient must be an attendee; an update or cancellation must come from the organizer of the
copy already stored (and name that organizer in From: Reply-To is whatever the sender wrote, so
it proves nothing); an older version never
overwrites a newer one, and a message about one occurrence of a series changes that occurrence
only.  Authenticating the sender (DKIM/DMARC) is the mail server's job, not this module's.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
from email.message import Message
from email.utils import getaddresses
from typing import Any

import icalendar

from .backend import calendar_connection
from .incoming import decide
from .settings import CalendarSettings, load_settings

__all__ = ["apply_invitation", "calendar_part", "decide"]


def calendar_part(msg: Message) -> icalendar.Calendar | None:
    """The iTIP object of an email: the text/calendar part (or an attached .ics), if any."""
    return _calendar_part(msg)[0]


def _calendar_part(msg: Message) -> tuple[icalendar.Calendar | None, str]:
    """(the first readable calendar part, why the unreadable ones could not be read)."""
    problem = ""
    for part in msg.walk():
        kind = part.get_content_type()
        if kind in ("text/calendar", "application/ics") or (part.get_filename() or "").lower().endswith(".ics"):
            payload = part.get_payload(decode=True)
            if not payload:
                continue
            try:
                cal = icalendar.Calendar.from_ical(payload)
            except ValueError as e:
                problem = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
                continue
            if "METHOD" not in cal and part.get_param("method"):
                # Some clients name the method only on the MIME part (RFC 6047 2.4 wants both).
                cal.add("method", str(part.get_param("method")).upper())
            return cal, ""
    return None, problem


def _senders(msg: Message) -> set[str]:
    """The author addresses of a message (From), lower-cased.  Not Reply-To: anyone can set it."""
    return {a.lower() for _, a in getaddresses(msg.get_all("From", [])) if a}


async def apply_invitation(settings: CalendarSettings | dict[str, Any], password: str,
                           message: bytes | str | Message, recipient: str) -> dict[str, Any]:
    """Store the invitation or cancellation in ``message`` in ``recipient``'s calendar, or, when
    ``recipient`` organizes the meeting, record the attendee's answer (METHOD:REPLY) it carries.

    ``settings``/``password`` are the recipient's own calendar connection.  Returns
    ``{"uid", "method", "action"}``; ``action`` says what happened: "added", "updated" (with
    "updated: the occurrence 2026-12-09T10:00" for one occurrence), "cancelled" (likewise),
    "answer recorded: ...", "unchanged", "unchanged (older): ..." or "ignored: <why>"; a guess
    (a time zone nobody defined) adds "(best effort: ...)".  Nothing stored is replaced unless
    the message is newer (RFC 5546 2.1.5).  CalendarError when the calendar cannot be reached.
    """
    settings = load_settings(settings)
    if isinstance(message, (bytes, str)):
        raw = message.encode() if isinstance(message, str) else message
        message = email.message_from_bytes(raw, policy=email.policy.default)
    itip, problem = _calendar_part(message)
    if itip is None:
        why = f"the calendar part cannot be read ({problem})" if problem else "the message has no calendar part"
        return {"uid": None, "method": None, "action": f"ignored: {why}"}
    first = next(iter(itip.walk("VEVENT")), None)
    uid = str(first.get("uid", "")) if first is not None else ""
    method = str(itip.get("method", "")).upper()
    if not uid:
        return {"uid": None, "method": method or None, "action": "ignored: the calendar part holds no event with a UID"}
    senders = _senders(message)
    conn = calendar_connection(settings, password)

    def work() -> str:
        cal = conn.calendar()
        obj = conn.find(cal, uid)
        existing = icalendar.Calendar.from_ical(obj.data) if obj is not None else None
        action, data = decide(itip, existing, recipient, senders, settings.zone)
        if data is not None:
            if obj is None:
                conn.create(cal, data)
            else:
                conn.store(obj, data)
        return action

    return {"uid": uid, "method": method, "action": await asyncio.to_thread(work)}

