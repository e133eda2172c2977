"""The calendar connector's sandbox backend: ``Connection``'s calls over a workplace in the store.

    conn = SandboxConnection(settings, ctx.deps.state.open())   # settings.backend == "sandbox"

Objects are iCalendar text, as a CalDAV server holds them; reading expands repeating events into
occurrences (``recurring_ical_events``, as the server's ``expand`` does), free/busy honours
cancelled and transparent events, and a replace only succeeds on the version that was read (an
ETag). Of a colleague's calendar only the times are visible (free/busy), as on a server that shares
free/busy and nothing else. Invitations are delivered to the workplace's mailboxes.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from email.message import EmailMessage
from typing import Any, Iterator

import icalendar
import recurring_ical_events

from .client import BUSY_TYPES, Busy, merge
from .errors import CalendarError, NotAllowed
from .settings import CalendarSettings


@dataclass
class SandboxCalendar:
    """A calendar in the workplace: the owner's (``user`` None) or a colleague's (free/busy only)."""

    name: str
    url: str
    user: str | None = None


@dataclass
class SandboxObject:
    """One stored calendar object, with the version (etag) it was read at."""

    calendar: SandboxCalendar
    uid: str
    data: str
    etag: int

    @property
    def url(self) -> str:
        return f"{self.calendar.url}{self.uid}.ics"

    @property
    def icalendar_instance(self) -> icalendar.Calendar:
        return icalendar.Calendar.from_ical(self.data)


def _aware(value: Any, zone: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=zone)
    return datetime.combine(value, time(0), tzinfo=zone)


class SandboxConnection:
    """The same calls as ``client.Connection`` (see the module docstring)."""

    def __init__(self, settings: CalendarSettings, access: Any):
        self.settings = settings
        self.access = access
        self.where = f"sandbox:/{settings.workplace}/"

    @contextlib.contextmanager
    def errors(self, what: str, where: str | None = None) -> Iterator[None]:
        """Store problems as CalendarError naming the operation, as the CalDAV connection does."""
        try:
            yield
        except CalendarError:
            raise
        except LookupError as e:
            raise CalendarError(f"{what}: nothing found at {where or self.where} ({e})") from None
        except ValueError as e:
            raise CalendarError(f"{what}: {e}; read it again and retry") from None

    # --- calendars -----------------------------------------------------------------------------

    def calendars(self) -> list[SandboxCalendar]:
        return [SandboxCalendar(n, f"{self.where}{n}/") for n in self.access.calendars(self.settings.calendar)]

    def calendar(self, name: str | None = None) -> SandboxCalendar:
        wanted = (name or self.settings.calendar).strip()
        found = self.calendars()
        for cal in found:
            if cal.name.lower() == wanted.lower():
                return cal
        known = ", ".join(c.name for c in found) or "none"
        raise CalendarError(f"no calendar {wanted!r} for {self.access.owner!r} (calendars: {known})")

    def colleague_calendar(self, user: str, email: str | None) -> SandboxCalendar:
        return SandboxCalendar(self.settings.calendar, f"{self.where}{user}/{self.settings.calendar}/", user=user)

    # --- reading -------------------------------------------------------------------------------

    def _objects(self, cal: SandboxCalendar) -> list[str]:
        if cal.user is None:
            return [ics for _, ics, _ in self.access.events(cal.name)]
        return self.access.busy_objects(cal.user, cal.name)

    def _occurrences(self, cal: SandboxCalendar, start: datetime, end: datetime) -> list[icalendar.Event]:
        out: list[icalendar.Event] = []
        for ics in self._objects(cal):
            parsed = icalendar.Calendar.from_ical(ics)
            out += recurring_ical_events.of(parsed).between(start, end)
        zone = self.settings.zone
        return sorted(out, key=lambda ev: _aware(ev.decoded("dtstart"), zone))

    def events(self, cal: SandboxCalendar, start: datetime, end: datetime) -> list[icalendar.Event]:
        """Every event (and occurrence of a series) overlapping [start, end), in start order."""
        if cal.user is not None:
            raise NotAllowed(f"listing events: {cal.user}'s calendar shares free/busy only")
        with self.errors("listing events", cal.url):
            return self._occurrences(cal, start, end)

    def freebusy(self, cal: SandboxCalendar, start: datetime, end: datetime, who: str = "") -> list[Busy]:
        """Busy periods in [start, end): cancelled and transparent events do not count; tentative ones do."""
        with self.errors(f"free/busy of {who or cal.url}", cal.url):
            found = self._occurrences(cal, start, end)
        zone = self.settings.zone
        out: list[Busy] = []
        for ev in found:
            if str(ev.get("status", "")).upper() == "CANCELLED" or str(ev.get("transp", "")).upper() == "TRANSPARENT":
                continue
            begin = _aware(ev.decoded("dtstart"), zone)
            if "dtend" in ev:
                until = _aware(ev.decoded("dtend"), zone)
            elif "duration" in ev:
                until = begin + ev.decoded("duration")
            else:
                until = begin if isinstance(ev.decoded("dtstart"), datetime) else _aware(
                    date.fromordinal(ev.decoded("dtstart").toordinal() + 1), zone)
            kind = "BUSY-TENTATIVE" if str(ev.get("status", "")).upper() == "TENTATIVE" else "BUSY"
            if kind in BUSY_TYPES and until > start and begin < end:
                out.append(Busy(max(begin, start).astimezone(timezone.utc), min(until, end).astimezone(timezone.utc),
                                tentative=kind == "BUSY-TENTATIVE"))
        return merge(out)

    def find(self, cal: SandboxCalendar, uid: str) -> SandboxObject | None:
        if cal.user is not None:
            raise NotAllowed(f"looking up event {uid}: {cal.user}'s calendar shares free/busy only")
        found = self.access.events(cal.name, uid)
        return SandboxObject(cal, found[0][0], found[0][1], found[0][2]) if found else None

    # --- writing -------------------------------------------------------------------------------

    def create(self, cal: SandboxCalendar, data: icalendar.Calendar) -> SandboxObject:
        if cal.user is not None:
            raise NotAllowed(f"saving the event: {cal.user}'s calendar is not the owner's")
        uid = str(next(iter(data.walk("VEVENT")))["uid"])
        text = data.to_ical().decode()
        with self.errors("saving the event", cal.url):
            etag = self.access.put_event(cal.name, uid, text)
        return SandboxObject(cal, uid, text, etag)

    def store(self, obj: SandboxObject, data: icalendar.Calendar) -> None:
        """Replace an object; fails if it changed since it was read (its etag)."""
        text = data.to_ical().decode()
        with self.errors("saving the event", obj.url):
            obj.etag = self.access.put_event(obj.calendar.name, obj.uid, text, obj.etag)
        obj.data = text

    def delete(self, obj: SandboxObject) -> None:
        with self.errors("removing the event", obj.url):
            self.access.delete_event(obj.calendar.name, obj.uid)


def deliver(settings: CalendarSettings, access: Any, msg: EmailMessage, recipients: list[str]) -> list[str]:
    """Deliver an iMIP message in the workplace (people of the organisation get it in their INBOX,
    others are recorded as sent outside); the recipients refused (none)."""
    if access is None or not hasattr(access, "deliver"):
        raise CalendarError("invitations in the sandbox need the workplace, which this run does not have")
    try:
        access.deliver(msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")), recipients)
    except LookupError as e:
        raise CalendarError(f"the sandbox workplace {settings.workplace!r} could not deliver the invitation: {e}") from None
    return []
