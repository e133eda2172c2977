"""The CalDAV protocol layer: connect, find calendars, read, free/busy, store; errors made readable.

Synchronous, like the ``caldav`` library underneath: async callers run it with
``asyncio.to_thread``.  Every failure surfaces as ``CalendarError`` with a message that says what
to fix, and never contains the password.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterator
from urllib.parse import quote

import caldav
import icalendar
from caldav.lib import error as dav_error

from .errors import CalendarError, NotAllowed
from .settings import CalendarSettings

TIMEOUT = 20  # seconds per HTTP request: a hung server must not hold a run forever
BUSY_TYPES = ("BUSY", "BUSY-TENTATIVE", "BUSY-UNAVAILABLE")


@dataclass(frozen=True)
class Busy:
    start: datetime
    end: datetime
    tentative: bool = False


@dataclass
class Connection:
    settings: CalendarSettings
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        # enable_rfc6764=False: the URL is explicit, so no DNS discovery that could redirect it.
        self.client = caldav.DAVClient(url=self.settings.url, username=self.settings.username,
                                       password=self.password, timeout=TIMEOUT, enable_rfc6764=False)
        self._principal: caldav.Principal | None = None

    @contextlib.contextmanager
    def errors(self, what: str, where: str | None = None) -> Iterator[None]:
        """Translate protocol failures into CalendarError, naming the operation and the place."""
        where = where or self.settings.url
        try:
            yield
        except CalendarError:
            raise
        except dav_error.AuthorizationError as e:
            if e.status == 401 or "unauthorized" in str(e.reason).lower():
                raise CalendarError(
                    f"{what}: the CalDAV server at {self.settings.url} rejected the username or password "
                    f"for {self.settings.username!r}; check the calendar settings and the secret") from None
            raise NotAllowed(f"{what}: the server does not allow {self.settings.username!r} to do this at {where}") from None
        except dav_error.NotFoundError:
            raise CalendarError(f"{what}: nothing found at {where}") from None
        except dav_error.ETagMismatchError:
            raise CalendarError(f"{what}: the event changed on the server meanwhile; read it again and retry") from None
        except dav_error.DAVError as e:
            raise CalendarError(f"{what}: the CalDAV server answered {e.status or ''} {e.reason}".replace("  ", " ")) from None
        except OSError as e:  # connection refused, DNS, TLS, timeouts (niquests errors are OSErrors)
            raise CalendarError(f"{what}: cannot reach the CalDAV server at {self.settings.url} ({type(e).__name__})") from None

    # --- calendars -----------------------------------------------------------------------------

    def principal(self) -> caldav.Principal:
        if self._principal is None:
            with self.errors("signing in"):
                self._principal = self.client.principal()
        return self._principal

    def calendars(self) -> list[caldav.Calendar]:
        with self.errors("listing calendars"):
            return self.principal().calendars()

    def calendar(self, name: str | None = None) -> caldav.Calendar:
        """The owner's calendar by id (last URL segment) or display name; default from settings."""
        wanted = (name or self.settings.calendar).strip()
        found = self.calendars()
        names: list[str] = []
        for cal in found:
            cal_id = str(cal.url).rstrip("/").rpartition("/")[2]
            with self.errors("reading calendar names"):
                display = cal.get_display_name() or cal_id
            names.append(display if display == cal_id else f"{cal_id} ({display})")
            if wanted.lower() in (cal_id.lower(), display.lower()):
                return cal
        known = ", ".join(names) or "none"
        raise CalendarError(f"no calendar {wanted!r} for {self.settings.username!r} (calendars: {known})")

    def colleague_calendar(self, user: str, email: str | None) -> caldav.Calendar:
        path = self.settings.colleague_path(user, email)
        return self.client.calendar(url=self.settings.url + quote(path))

    # --- reading -------------------------------------------------------------------------------

    def events(self, cal: caldav.Calendar, start: datetime, end: datetime) -> list[icalendar.Event]:
        """Every event (and every occurrence of a series) overlapping [start, end), in start order."""
        with self.errors("listing events", str(cal.url)):
            found = cal.search(start=start, end=end, event=True, expand=True)
        out: list[icalendar.Event] = []
        for obj in found:
            for ev in obj.icalendar_instance.walk("VEVENT"):
                out.append(ev)
        return sorted(out, key=lambda ev: _sort_key(ev.decoded("dtstart")))

    def freebusy(self, cal: caldav.Calendar, start: datetime, end: datetime, who: str = "") -> list[Busy]:
        """Busy periods from the server's free/busy report (it honours cancelled and transparent events)."""
        with self.errors(f"free/busy of {who or cal.url}", str(cal.url)):
            report = cal.freebusy_request(start, end)
            data = report.data
        out: list[Busy] = []
        for vfb in icalendar.Calendar.from_ical(data).walk("VFREEBUSY"):
            props = vfb.get("freebusy", [])
            # icalendar gives one vPeriod per period, a comma-separated line included.
            for period in props if isinstance(props, list) else [props]:
                fbtype = str(period.params.get("FBTYPE", "BUSY")).upper()
                if fbtype not in BUSY_TYPES:
                    continue
                begin, until = period.dt
                if isinstance(until, timedelta):  # start/duration form
                    until = begin + until
                out.append(Busy(begin, until, tentative=fbtype == "BUSY-TENTATIVE"))
        return merge(out)

    def find(self, cal: caldav.Calendar, uid: str) -> caldav.CalendarObjectResource | None:
        with self.errors(f"looking up event {uid}", str(cal.url)):
            try:
                return cal.get_event_by_uid(uid)
            except dav_error.NotFoundError:
                return None

    # --- writing -------------------------------------------------------------------------------

    def create(self, cal: caldav.Calendar, data: icalendar.Calendar) -> caldav.CalendarObjectResource:
        with self.errors("saving the event", str(cal.url)):
            # Stored as given: SEQUENCE is the connector's business (it drives invitations).
            return cal.add_event(data.to_ical().decode(), increase_seqno=False, no_overwrite=True)

    def store(self, obj: caldav.CalendarObjectResource, data: icalendar.Calendar) -> None:
        """Replace an existing object; the cached ETag makes a concurrent change fail instead of vanish."""
        with self.errors("saving the event", str(obj.url)):
            obj.save(raw_data=data.to_ical(), increase_seqno=False)

    def delete(self, obj: caldav.CalendarObjectResource) -> None:
        with self.errors("removing the event", str(obj.url)):
            obj.delete()


def _sort_key(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)  # type: ignore[attr-defined]


def merge(periods: list[Busy]) -> list[Busy]:
    """Overlapping or back-to-back periods as one: 'busy until' means until the last one ends."""
    out: list[Busy] = []
    for p in sorted(periods, key=lambda p: p.start):
        if out and p.start <= out[-1].end:
            last = out[-1]
            out[-1] = Busy(last.start, max(last.end, p.end), last.tentative and p.tentative)
        else:
            out.append(p)
    return out
