"""Telling attendees: what changed since they were last told, mailed as iMIP, then recorded.

The organizer's copy of an event carries ``X-MESHCLAW-INVITED`` (the SEQUENCE attendees know),
``X-MESHCLAW-REMOVED`` (people taken off the list who are still to get a cancellation) and, on a
cancelled occurrence, ``X-MESHCLAW-ANNOUNCE`` (its CANCEL is still to be mailed), so a replayed
tool call sends only what is missing.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import icalendar

from . import events, imip
from .client import Connection
from .errors import CalendarError
from .settings import CalendarSettings

ANNOUNCE = "X-MESHCLAW-ANNOUNCE"  # on an override: "CANCEL" when its cancellation is still to be mailed


class Undelivered(Exception):
    """Mailing failed; ``told`` is what had been sent before the failure."""

    def __init__(self, error: CalendarError, told: dict[str, list[str]]):
        super().__init__(str(error))
        self.error, self.told = error, told


async def notify(settings: CalendarSettings, smtp_password: str | None, conn: Connection, obj: Any,
                 data: icalendar.Calendar, organizer: str) -> dict[str, list[str]]:
    """Mail what attendees have not been told yet (per SEQUENCE), then record that they were."""
    ev = events.master(data)
    seq = events.sequence(ev)
    if str(ev.get(events.INVITED, "")) == str(seq):
        return {}
    current = events.attendee_addresses(ev)
    removed = [a for a in str(ev.get(events.REMOVED, "")).split(",") if a]
    sends: list[tuple[str, list[str], Any]] = []
    if str(ev.get("status", "")).upper() == "CANCELLED":
        if current or removed:
            sends.append(("cancelled", current + removed, imip.build(data, "CANCEL", settings, organizer, current + removed)))
    else:
        cancelled = [o for o in data.walk("VEVENT") if str(o.get(ANNOUNCE, "")) == "CANCEL"]
        if current and cancelled and str(ev.get(events.INVITED, "")) == str(seq - 1):
            # Only occurrences were cancelled since attendees were last told: a CANCEL naming them.
            sends.append(("cancelled", current, imip.build(only_components(data, cancelled), "CANCEL", settings,
                                                           organizer, current)))
        elif current:
            sends.append(("invited", current, imip.build(data, "REQUEST", settings, organizer, current)))
        if removed:
            sends.append(("uninvited", removed, imip.build(only_for(data, removed), "CANCEL", settings, organizer, removed)))
    told: dict[str, list[str]] = {}
    for key, people, msg in sends:
        try:
            refused = await imip.send(settings, smtp_password, msg, people)
        except CalendarError as e:
            raise Undelivered(e, told) from None
        told[key] = [p for p in people if p not in refused]
        if refused:
            told.setdefault("refused_by_mail_server", []).extend(refused)
    # Recorded after sending: a crash in between re-sends with the same Message-ID (clients merge
    # it), which is better than an attendee never hearing of the meeting.
    events.replace(ev, events.INVITED, str(seq))
    events.replace(ev, events.REMOVED, None)
    for component in data.walk("VEVENT"):
        events.replace(component, ANNOUNCE, None)
    await asyncio.to_thread(conn.store, obj, data)
    return told


def only_components(data: icalendar.Calendar, keep: list[icalendar.Event]) -> icalendar.Calendar:
    """A copy holding only the given occurrences (and the time zones): an iTIP message about them."""
    wanted = {id(c) for c in keep}
    out = copy.deepcopy(data)
    out.subcomponents = [copy.deepcopy(c) for c in data.subcomponents if c.name != "VEVENT" or id(c) in wanted]
    return out


def only_for(data: icalendar.Calendar, attendees: list[str]) -> icalendar.Calendar:
    """A copy addressed to some people only: removed attendees get a CANCEL naming just them."""
    out = copy.deepcopy(data)
    for ev in out.walk("VEVENT"):
        events.set_attendees(ev, attendees)
    return out
