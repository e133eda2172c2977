"""RFC 5546 scheduling on one stored calendar object: a series, its occurrences, which copy is newer.

Pure functions over ``icalendar`` objects.  A calendar object holds one meeting (one UID): the
series (the VEVENT without RECURRENCE-ID, with its RRULE/RDATE/EXDATE) and any number of
overrides, each a VEVENT whose RECURRENCE-ID names the occurrence it replaces (RFC 5545 3.8.4.4).
An iTIP message about one occurrence changes that occurrence only; the series is touched only by
a message about the series (or by RANGE=THISANDFUTURE, which ends it early).

Which copy is newer (RFC 5546 2.1.5): the higher SEQUENCE; at equal SEQUENCE the later DTSTAMP.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta, timezone
from itertools import islice
from typing import Iterable

import icalendar
import recurring_ical_events

from . import events

FUTURE_MAX = 400  # occurrences of a THISANDFUTURE change written out one by one; beyond, kept as a range
_EPOCH = datetime.min.replace(tzinfo=timezone.utc)
_NOT_IN_OVERRIDES = ("RRULE", "RDATE", "EXDATE", "RECURRENCE-ID", "DURATION")


def parts(cal: icalendar.Calendar) -> tuple[icalendar.Event | None, list[icalendar.Event]]:
    """(the series or single event, the overrides of single occurrences) of one calendar object."""
    master, overrides = None, []
    for ev in cal.walk("VEVENT"):
        if "RECURRENCE-ID" in ev:
            overrides.append(ev)
        elif master is None:
            master = ev
    return master, overrides


def recurrence_id(ev: icalendar.Event) -> date | datetime:
    """The occurrence a component replaces, as written (a date, a floating or a zoned date-time)."""
    return ev.decoded("recurrence-id")


def same_time(a: date | datetime, b: date | datetime) -> bool:
    """Whether two RECURRENCE-ID values name the same occurrence: instants for zoned times,
    wall-clock times for floating ones, days for dates (RFC 5545 3.8.4.4)."""
    return _key(a) == _key(b)


def later(a: date | datetime, b: date | datetime) -> bool:
    """Whether occurrence time ``a`` comes after ``b`` (compared as ``same_time`` does)."""
    return _key(a) > _key(b)  # type: ignore[operator]


def _key(value: date | datetime) -> tuple[str, object]:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return "instant", value.astimezone(timezone.utc).replace(tzinfo=None)
        return "floating", value
    return "day", value


def is_this_and_future(ev: icalendar.Event) -> bool:
    """RECURRENCE-ID;RANGE=THISANDFUTURE: the change applies to this and every later occurrence."""
    rid = ev.get("RECURRENCE-ID")
    return rid is not None and str(rid.params.get("RANGE", "")).upper() == "THISANDFUTURE"


def stamp(ev: icalendar.Event) -> datetime:
    """DTSTAMP as an aware UTC time; a missing one counts as the oldest possible."""
    if "DTSTAMP" not in ev:
        return _EPOCH
    value = ev.decoded("dtstamp")
    if not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def order(new: icalendar.Event, old: icalendar.Event) -> int:
    """1 if ``new`` is newer than ``old``, -1 if older, 0 if the same revision (RFC 5546 2.1.5)."""
    a, b = (events.sequence(new), stamp(new)), (events.sequence(old), stamp(old))
    return (a > b) - (a < b)


def find_override(cal: icalendar.Calendar, when: date | datetime) -> icalendar.Event | None:
    """The stored override of the occurrence at ``when``, if there is one."""
    return next((o for o in parts(cal)[1] if same_time(recurrence_id(o), when)), None)


def _alone(master: icalendar.Event) -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add_component(copy.deepcopy(master))
    return cal


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


def occurs(master: icalendar.Event, when: date | datetime) -> bool:
    """Whether the series has an occurrence starting at ``when`` (its rule, RDATEs, minus EXDATEs)."""
    if "RRULE" not in master and "RDATE" not in master:
        return same_time(master.decoded("dtstart"), when)
    found = recurring_ical_events.of(_alone(master)).between(_day(when) - timedelta(days=1), _day(when) + timedelta(days=2))
    return any(same_time(o.decoded("dtstart"), when) for o in found)


def later_starts(master: icalendar.Event, when: date | datetime, limit: int = FUTURE_MAX) -> list[date | datetime] | None:
    """Starts of the occurrences at or after ``when``; None when there are more than ``limit``
    (an open-ended series)."""
    found = islice(recurring_ical_events.of(_alone(master)).after(_day(when)), limit + 1)
    starts = [o.decoded("dtstart") for o in found]
    if len(starts) > limit:
        return None
    return [s for s in starts if _key(s) >= _key(when) or same_time(s, when)]


def as_override(master: icalendar.Event, when: date | datetime) -> icalendar.Event:
    """A copy of the series' details as the override of the occurrence at ``when``."""
    start, end = events.times(master)
    ev = copy.deepcopy(master)
    for name in _NOT_IN_OVERRIDES:
        events.replace(ev, name, None)
    if isinstance(start, datetime) and isinstance(when, datetime) and start.tzinfo and when.tzinfo:
        when = when.astimezone(start.tzinfo)
    events.replace(ev, "dtstart", when)
    events.replace(ev, "dtend", when + (end - start))
    ev.add("recurrence-id", when)
    return ev


def end_before(master: icalendar.Event, when: date | datetime) -> bool:
    """End the series before the occurrence at ``when`` (RRULE UNTIL, later RDATEs dropped).

    Returns False when nothing of the series is left (``when`` is its first occurrence).
    """
    start = master.decoded("dtstart")
    if _key(when) <= _key(start) or same_time(start, when):
        return False
    if "RRULE" in master:
        rule = master["RRULE"]
        rule.pop("COUNT", None)
        if isinstance(when, datetime):
            until = when - timedelta(seconds=1)
            # RFC 5545 3.3.10: UNTIL is UTC when DTSTART has a zone, floating when it is floating.
            rule["UNTIL"] = [until.astimezone(timezone.utc) if until.tzinfo else until]
        else:
            rule["UNTIL"] = [when - timedelta(days=1)]
    if "RDATE" in master:
        kept = [d.dt for p in _as_list(master["RDATE"]) for d in p.dts if later(when, _start_of(d.dt))]
        events.replace(master, "rdate", None)
        for value in kept:
            master.add("rdate", value)
    return True


def plain_rdates(cal: icalendar.Calendar) -> None:
    """Write RDATE;VALUE=PERIOD (RFC 5545 3.8.5.2) as start times, in place.

    Many CalDAV servers (those built on vobject, Radicale among them) refuse periods.  The
    series' own length applies to each start; a period of another length becomes an override
    of that occurrence with its own end, so no time is lost.
    """
    for ev in list(cal.walk("VEVENT")):
        values = [d.dt for p in _as_list(ev.get("RDATE", [])) for d in p.dts]
        if not any(isinstance(v, tuple) for v in values):
            continue
        start, end = events.times(ev)
        longer: list[tuple[datetime, datetime]] = []
        events.replace(ev, "rdate", None)
        for value in values:
            if isinstance(value, tuple):
                begin, until = value
                until = begin + until if isinstance(until, timedelta) else until
                if until - begin != end - start:
                    longer.append((begin, until))
                value = begin
            ev.add("rdate", value)
        for begin, until in longer:
            one = as_override(ev, begin)
            events.replace(one, "dtend", until)
            cal.add_component(one)


def _start_of(value: object) -> date | datetime:
    """An RDATE value's start: the value itself, or the start of a PERIOD."""
    return value[0] if isinstance(value, tuple) else value  # type: ignore[return-value]


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]


def keep_answer(new: icalendar.Event, old: icalendar.Event | None, attendee: str) -> None:
    """Keep ``attendee``'s answer from ``old`` when ``new`` is the same revision number.

    An update that does not raise SEQUENCE is not significant (RFC 5546 2.1.4): the answer
    stands.  A higher SEQUENCE asks again, with the PARTSTAT the organizer sent.
    """
    if old is None or events.sequence(new) != events.sequence(old):
        return
    before = [a for a in events.attendees_of(old) if events.mailto(a).lower() == attendee.lower()]
    now = [a for a in events.attendees_of(new) if events.mailto(a).lower() == attendee.lower()]
    if before and now and "PARTSTAT" in before[0].params:
        now[0].params["PARTSTAT"] = before[0].params["PARTSTAT"]
        if "RSVP" not in before[0].params:
            now[0].params.pop("RSVP", None)


def replace_components(cal: icalendar.Calendar, drop: Iterable[icalendar.Event], add: Iterable[icalendar.Event]) -> None:
    """Swap components of ``cal`` in place (by identity), keeping the others in their order."""
    gone = {id(c) for c in drop}
    cal.subcomponents = [c for c in cal.subcomponents if id(c) not in gone] + list(add)


def label(when: date | datetime) -> str:
    """An occurrence as people read it: 2026-12-09T10:00 (its own zone), 2026-12-09T09:00Z, or the day."""
    if isinstance(when, datetime):
        utc = when.tzinfo is not None and when.utcoffset() == timedelta(0) and getattr(when.tzinfo, "key", "UTC") == "UTC"
        return when.replace(tzinfo=None).isoformat(timespec="minutes") + ("Z" if utc else "")
    return when.isoformat()
