"""iCalendar events in and out: parsing times the model writes, building VEVENTs, compact summaries.

Pure functions over ``icalendar`` objects, no network: the CalDAV client and the iMIP module
both use them.  Bookkeeping lives in ``X-MESHCLAW-*`` properties on the organizer's copy and is
stripped before anything is mailed.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable
from zoneinfo import ZoneInfo

import icalendar
from pydantic_ai import ModelRetry

PRODID = "-//MeshClaw//calendar connector//EN"
CALL = "X-MESHCLAW-CALL"  # hash of the idempotency key of the last change applied
INVITED = "X-MESHCLAW-INVITED"  # the SEQUENCE whose invitations (or cancellation) were mailed
REMOVED = "X-MESHCLAW-REMOVED"  # attendees taken off the list who are still to be told
RECEIVED = "X-MESHCLAW-RECEIVED"  # stored from a received invitation: outside content, whoever it names
_UID_NAMESPACE = uuid.UUID("5b0e3f0a-8a55-4f5e-9a1e-6d7c0f1b2c3d")
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
DESCRIPTION_MAX = 400  # the model is small: long agendas are cut, the full text stays on the server


def uid_for(idempotency_key: str) -> str:
    """A stable UID for a tool call: the same call after a crash finds the same event."""
    return f"{uuid.uuid5(_UID_NAMESPACE, idempotency_key)}@meshclaw"


def call_mark(idempotency_key: str) -> str:
    # Hashed so run ids do not leak into events that colleagues can see.
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


def parse_when(value: str, zone: ZoneInfo, name: str = "time") -> datetime:
    """An ISO date or date-time from the model; without an offset it is in the owner's zone."""
    text = str(value).strip().replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ModelRetry(f"{name} {value!r} is not a date-time: write it like 2026-03-02T14:30 (ISO 8601)") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=zone)
    # In the owner's zone: iCalendar has no way to write a bare "+02:00" offset.
    return parsed.astimezone(zone)


def check_range(start: datetime, end: datetime, what: str = "end", max_days: int | None = None) -> None:
    if end <= start:
        raise ModelRetry(f"{what} ({end.isoformat(timespec='minutes')}) must be after start ({start.isoformat(timespec='minutes')})")
    if max_days is not None and end - start > timedelta(days=max_days):
        raise ModelRetry(f"the range is longer than {max_days} days: ask for a shorter range")


def check_addresses(addresses: Iterable[str]) -> list[str]:
    out: list[str] = []
    for a in addresses:
        a = a.strip()
        if not _EMAIL.match(a):
            raise ModelRetry(f"{a!r} is not an email address: attendees are given as addresses (name@example.com)")
        if a.lower() not in (o.lower() for o in out):
            out.append(a)
    return out


def mailto(address: str) -> str:
    """The address of a CAL-ADDRESS value: ``mailto:`` removed in any letter case (RFC 3986 3.1)."""
    text = str(address).strip()
    return text[7:] if text[:7].lower() == "mailto:" else text


def organizer_of(ev: icalendar.Event) -> str | None:
    org = ev.get("organizer")
    return mailto(org) if org else None


def attendees_of(ev: icalendar.Event) -> list[icalendar.vCalAddress]:
    raw = ev.get("attendee")
    if raw is None:
        return []
    return list(raw) if isinstance(raw, list) else [raw]


def attendee_addresses(ev: icalendar.Event) -> list[str]:
    return [mailto(a) for a in attendees_of(ev)]


def master(cal: icalendar.Calendar) -> icalendar.Event:
    """The event itself (not an override of one occurrence of a series)."""
    events = [c for c in cal.walk("VEVENT")]
    for ev in events:
        if "RECURRENCE-ID" not in ev:
            return ev
    return events[0]


def _address(email: str, **params: str) -> icalendar.vCalAddress:
    a = icalendar.vCalAddress(f"mailto:{email}")
    for k, v in params.items():
        a.params[k] = v
    return a


def set_attendees(ev: icalendar.Event, attendees: list[str], keep: list[icalendar.vCalAddress] | None = None) -> None:
    """Replace the attendee list, keeping the answers (PARTSTAT) of people who stay."""
    previous = {mailto(a).lower(): a for a in (keep or [])}
    if "ATTENDEE" in ev:
        del ev["ATTENDEE"]
    for email in attendees:
        old = previous.get(email.lower())
        ev.add("attendee", old if old is not None else _address(
            email, ROLE="REQ-PARTICIPANT", PARTSTAT="NEEDS-ACTION", RSVP="TRUE"))


def new_event(uid: str, *, summary: str, start: datetime, end: datetime, organizer: str,
              attendees: list[str], description: str = "", location: str = "") -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    ev = icalendar.Event()
    ev.add("uid", uid)
    ev.add("dtstamp", datetime.now(timezone.utc))
    ev.add("dtstart", start)
    ev.add("dtend", end)
    ev.add("summary", summary)
    ev.add("sequence", 0)
    ev.add("status", "CONFIRMED")
    if description:
        ev.add("description", description)
    if location:
        ev.add("location", location)
    if attendees:
        ev.add("organizer", _address(organizer))
        set_attendees(ev, attendees)
    cal.add_component(ev)
    refresh_zone(cal, start, end)
    return cal


def refresh_zone(cal: icalendar.Calendar, start: datetime, end: datetime) -> None:
    """(Re)write the VTIMEZONE of the event's own zone so that it covers start..end.

    Only the transitions around the event: the library's default (1970-2038) is kilobytes of
    RDATEs in every invitation.  Other zones' definitions (from other people's clients) stay.
    """
    tzid = getattr(start.tzinfo, "key", None)
    if tzid:
        cal.subcomponents = [c for c in cal.subcomponents if not (c.name == "VTIMEZONE" and str(c.get("tzid")) == tzid)]
    cal.add_missing_timezones(first_date=start.date() - timedelta(days=366), last_date=end.date() + timedelta(days=366))


def replace(ev: icalendar.Event, name: str, value: Any) -> None:
    if name in ev:
        del ev[name]
    if value not in (None, ""):
        ev.add(name, value)


def sequence(ev: icalendar.Event) -> int:
    return int(ev.get("sequence", 0))


def bump(ev: icalendar.Event) -> None:
    """A significant change: attendees' clients replace their copy only when SEQUENCE grows."""
    replace(ev, "sequence", sequence(ev) + 1)
    replace(ev, "dtstamp", datetime.now(timezone.utc))


def times(ev: icalendar.Event) -> tuple[date | datetime, date | datetime]:
    start = ev.decoded("dtstart")
    if "DTEND" in ev:
        end = ev.decoded("dtend")
    elif "DURATION" in ev:
        end = start + ev.decoded("duration")
    else:
        end = start + (timedelta(days=1) if not isinstance(start, datetime) else timedelta(0))
    return start, end


def local(value: date | datetime, zone: ZoneInfo) -> str:
    if not isinstance(value, datetime):
        return value.isoformat()
    if value.tzinfo is None:  # floating time: the same wall clock everywhere
        return value.isoformat(timespec="minutes")
    return value.astimezone(zone).replace(tzinfo=None).isoformat(timespec="minutes")


def by_others(ev: icalendar.Event, owner: str | None) -> bool:
    """Whether the text of this event may have been written by someone other than the owner."""
    org = organizer_of(ev)
    return org is not None and (owner is None or org.lower() != owner.lower())


def summary(ev: icalendar.Event, zone: ZoneInfo, owner: str | None) -> dict[str, Any]:
    """A compact, JSON-able view of one event (one occurrence, when expanded)."""
    start, end = times(ev)
    out: dict[str, Any] = {"uid": str(ev.get("uid", "")), "title": str(ev.get("summary", "")),
                           "start": local(start, zone), "end": local(end, zone)}
    if not isinstance(start, datetime):
        out["all_day"] = True
    if "RECURRENCE-ID" in ev or "RRULE" in ev:
        out["recurring"] = True
    status = str(ev.get("status", "")).lower()
    if status and status != "confirmed":
        out["status"] = status
    if ev.get("location"):
        out["location"] = str(ev["location"])
    org = organizer_of(ev)
    if org and by_others(ev, owner):
        out["organizer"] = org
    if owner:
        mine = [a for a in attendees_of(ev) if mailto(a).lower() == owner.lower()]
        if mine and mine[0].params.get("PARTSTAT", "") not in ("", "ACCEPTED"):
            out["my_answer"] = str(mine[0].params["PARTSTAT"]).lower()
    people = attendee_addresses(ev)
    if people:
        out["attendees"] = people[:15] + ([f"+{len(people) - 15} more"] if len(people) > 15 else [])
        if not by_others(ev, owner):  # the organizer sees who answered what
            answers = {mailto(a): str(a.params.get("PARTSTAT", "")).lower() for a in attendees_of(ev)[:15]}
            answered = {k: v for k, v in answers.items() if v and v != "needs-action"}
            if answered:
                out["answers"] = answered
    text = str(ev.get("description", "")).strip()
    if text:
        out["description"] = text if len(text) <= DESCRIPTION_MAX else text[:DESCRIPTION_MAX] + "…"
    return out
