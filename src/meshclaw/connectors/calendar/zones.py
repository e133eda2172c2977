"""Time zones of received invitations, made portable before they are stored.

Invitations name their zones in many ways (RFC 5545 3.2.19 TZID): IANA names (Google, Apple),
Windows names such as ``W. Europe Standard Time`` (Outlook/Exchange, with or without a
VTIMEZONE), globally unique ids such as ``/mozilla.org/20050126_1/Europe/Berlin`` (Lightning,
Evolution), or a private id defined only by the message's own VTIMEZONE ("Customized Time Zone").
``normalize`` rewrites every TZID that maps to an IANA zone to that name (the wall-clock times stay
as written), writes one VTIMEZONE per zone used, and puts the VTIMEZONEs before the events (some
servers and clients read them in order).  The Windows names come from icalendar's CLDR table.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

# Properties of a VEVENT that carry a TZID parameter (RFC 5545 3.8.2, 3.8.4.4, 3.8.5).
TIMED = ("DTSTART", "DTEND", "DUE", "RECURRENCE-ID", "EXDATE", "RDATE")


def _iana(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return "/" in name or name == "UTC"


def iana_name(tzid: str) -> str | None:
    """The IANA zone a TZID stands for, or None.

    Tries, in order: the name itself, the CLDR Windows table (``Pacific Standard Time`` ->
    ``America/Los_Angeles``), then the trailing Area/City of a globally unique id.
    """
    cleaned = tzid.strip().strip('"').strip("/")
    if _iana(cleaned):
        return cleaned
    if cleaned in WINDOWS_TO_OLSON:
        return WINDOWS_TO_OLSON[cleaned]
    parts = cleaned.split("/")
    for start in range(1, len(parts)):
        candidate = "/".join(parts[start:])
        if "/" in candidate and _iana(candidate):
            return candidate
    return None


def _properties(ev: icalendar.Event) -> list:
    out = []
    for name in TIMED:
        value = ev.get(name)
        if value is None:
            continue
        out += value if isinstance(value, list) else [value]
    return out


def normalize(cal: icalendar.Calendar, fallback: ZoneInfo | None = None) -> tuple[icalendar.Calendar, list[str]]:
    """A copy of ``cal`` with portable zones, and notes on any guess that was made.

    A TZID that is neither IANA, Windows nor defined by a VTIMEZONE in the message cannot be read
    exactly: its times are read in ``fallback`` (the recipient's zone; UTC without one) and a note
    says so.  Raises ValueError when the data cannot be written back as iCalendar.
    """
    cal = icalendar.Calendar.from_ical(cal.to_ical())  # the caller's object stays as it was
    defined = {str(tz.get("tzid")) for tz in cal.walk("VTIMEZONE")}
    rename: dict[str, str] = {}
    notes: list[str] = []
    guess = getattr(fallback, "key", None) or "UTC"
    for ev in cal.walk("VEVENT"):
        for prop in _properties(ev):
            tzid = prop.params.get("TZID") if hasattr(prop, "params") else None
            if not tzid or tzid in rename:
                continue
            mapped = iana_name(tzid)
            if mapped is None and tzid not in defined:
                mapped = guess
                notes.append(f"unknown time zone {tzid!r} read as {guess}")
            if mapped is not None:
                rename[tzid] = mapped
    # A private zone is known by its definition, not its name: every Outlook message calls its own
    # "Customized Time Zone", and icalendar caches zones by name for the whole process.
    private: dict[str, tuple[str, object]] = {}
    for tz in cal.walk("VTIMEZONE"):
        tzid = str(tz.get("tzid"))
        if tzid not in rename and tzid not in private:
            digest = hashlib.sha256(tz.to_ical()).hexdigest()[:8]
            private[tzid] = (f"{tzid} ({digest})", tz.to_tz(lookup_tzid=False))
            tz["TZID"] = private[tzid][0]
    text = cal.to_ical()
    out = icalendar.Calendar.from_ical(text)
    for ev in out.walk("VEVENT"):
        for name in TIMED:
            value = ev.get(name)
            if value is None:
                continue
            for prop in value if isinstance(value, list) else [value]:
                tzid = prop.params.get("TZID")
                if tzid in rename:
                    _retag(prop, rename[tzid], ZoneInfo(rename[tzid]))
                elif tzid in private:
                    _retag(prop, *private[tzid])
    # Only the zones still used, each defined once, before any event.  A private zone is written
    # anew from what it means (plain STANDARD/DAYLIGHT observances): servers refuse some of the
    # forms clients write, such as a DATE as an observance's start.
    used = {p.params["TZID"] for ev in out.walk("VEVENT") for p in _properties(ev) if "TZID" in p.params}
    first, last = _span(out)
    first, last = first - timedelta(days=366), last + timedelta(days=731)
    kept = [icalendar.Timezone.from_tzinfo(zone, tzid=tzid, first_date=first, last_date=last)  # type: ignore[arg-type]
            for tzid, zone in private.values() if tzid in used]
    out.subcomponents = kept + [c for c in out.subcomponents if c.name != "VTIMEZONE"]
    out.add_missing_timezones(first_date=first, last_date=last)
    zones = [c for c in out.subcomponents if c.name == "VTIMEZONE"]
    out.subcomponents = zones + [c for c in out.subcomponents if c.name != "VTIMEZONE"]
    return icalendar.Calendar.from_ical(out.to_ical()), notes


def _retag(prop: object, tzid: str, zone: object) -> None:
    """Name another zone on a parsed date-time property, keeping its wall-clock time."""
    prop.params["TZID"] = tzid  # type: ignore[attr-defined]
    items = prop.dts if isinstance(prop, icalendar.vDDDLists) else [prop]  # EXDATE/RDATE are lists
    for item in items:
        dt = getattr(item, "dt", None)
        if isinstance(dt, tuple):  # a PERIOD (RFC 5545 3.3.9): start and end or duration
            item.dt = tuple(_in_zone(v, zone) for v in dt)
        else:
            item.dt = _in_zone(dt, zone)


def _in_zone(value: object, zone: object) -> object:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=zone)  # type: ignore[arg-type]
    return value


def _span(cal: icalendar.Calendar) -> tuple[date, date]:
    days = []
    for ev in cal.walk("VEVENT"):
        for name in ("DTSTART", "DTEND", "RECURRENCE-ID"):
            if name in ev:
                value = ev.decoded(name)
                days.append(value.date() if isinstance(value, datetime) else value)
    today = date.today()
    return (min(days), max(days)) if days else (today, today)
