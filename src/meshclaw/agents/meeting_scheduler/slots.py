"""Free slots from busy times: pure, in the owner's time zone, within working hours.

    find_slots(busy=[(start, end), ...], window=(monday_09, friday_17), minutes=30, count=3)

Busy intervals are half-open ``[start, end)`` aware datetimes (RFC 5545 FREEBUSY periods); a slot
never overlaps one, lies inside working hours (default 09:00–17:00, Monday to Friday), starts on a
step (default 30 minutes), and the slots returned are spread over different days when they can be.

    choose_slots(freebusy_answer, window, minutes=30, zones={"raj": ZoneInfo("Asia/Kolkata")})

is what the workflow calls: the busy periods of a ``calendar.freebusy`` answer (a pending invitation,
marked tentative, is busy too) plus, for each colleague in another time zone, the hours outside
their own working day (09:00–17:00 on weekdays, in their zone), so a slot suits everyone's day.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, Iterable, Literal, Mapping
from zoneinfo import ZoneInfo

When = Literal["today", "tomorrow", "this_week", "next_week", "date"]


def window_for(when: str, now: datetime, on: str = "") -> tuple[datetime, datetime]:
    """The search window ``[start, end)`` for a request, from ``now`` (aware, the owner's zone).

    ``today``/``tomorrow``/``date`` (``on`` = YYYY-MM-DD) are one day; ``this_week`` runs from now to
    Friday; ``next_week`` is next Monday to Friday. Raises ValueError on a date in the past or unreadable."""
    zone = now.tzinfo
    start_of = lambda d: datetime.combine(d, time(0, 0), tzinfo=zone)  # noqa: E731
    today = now.date()
    if when == "today":
        return now, start_of(today + timedelta(days=1))
    if when == "tomorrow":
        return start_of(today + timedelta(days=1)), start_of(today + timedelta(days=2))
    if when == "date":
        day = date.fromisoformat(on.strip())
        if day < today:
            raise ValueError(f"{day} is in the past")
        return max(now, start_of(day)), start_of(day + timedelta(days=1))
    monday = today - timedelta(days=today.weekday())
    if when == "this_week":
        return now, start_of(monday + timedelta(days=5))
    return start_of(monday + timedelta(days=7)), start_of(monday + timedelta(days=12))


def find_slots(busy: Iterable[tuple[datetime, datetime]], window: tuple[datetime, datetime], minutes: int, *,
               count: int = 3, day_start: time = time(9, 0), day_end: time = time(17, 0),
               step_minutes: int = 30) -> list[tuple[datetime, datetime]]:
    """Up to ``count`` free slots of ``minutes`` in ``window``, earliest first, at most one a day while
    other days have room (then more on the same days)."""
    if minutes <= 0:
        raise ValueError("a meeting needs a positive length")
    blocks = sorted((s, e) for s, e in busy if e > window[0] and s < window[1])
    length, step = timedelta(minutes=minutes), timedelta(minutes=step_minutes)
    free: list[tuple[datetime, datetime]] = []
    zone = window[0].tzinfo
    day = window[0].date()
    while datetime.combine(day, time(0, 0), tzinfo=zone) < window[1]:
        if day.weekday() < 5:
            open_, close = datetime.combine(day, day_start, tzinfo=zone), datetime.combine(day, day_end, tzinfo=zone)
            t = max(open_, _round_up(window[0], step, open_))
            while t + length <= min(close, window[1]):
                clash = next((e for s, e in blocks if s < t + length and e > t), None)
                if clash is None:
                    free.append((t, t + length))
                    t += step
                else:
                    t = _round_up(clash, step, open_)
        day += timedelta(days=1)
    firsts, seen = [], set()
    for s, e in free:
        if s.date() not in seen:
            seen.add(s.date())
            firsts.append((s, e))
    rest = [x for x in free if x not in firsts]
    return (firsts + rest)[:count]


def _round_up(at: datetime, step: timedelta, origin: datetime) -> datetime:
    if at <= origin:
        return origin
    steps = -(-(at - origin) // step)
    return origin + steps * step


def busy_of(freebusy: dict[str, Any], zone: tzinfo | None) -> list[tuple[datetime, datetime]]:
    """The busy periods of everyone in a ``calendar.freebusy`` answer ({"busy": {who: [[start, end(, "tentative")],
    ...]}}); times without an offset are in ``zone``. Raises ValueError on an unreadable time."""

    def aware(text: str) -> datetime:
        t = datetime.fromisoformat(str(text))
        return t if t.tzinfo else t.replace(tzinfo=zone)

    return [(aware(p[0]), aware(p[1])) for pairs in (freebusy.get("busy") or {}).values() for p in pairs]


def off_hours(zone: tzinfo, window: tuple[datetime, datetime], day_start: time = time(9, 0),
              day_end: time = time(17, 0)) -> list[tuple[datetime, datetime]]:
    """The times in ``window`` outside a person's working day in their ``zone`` (nights and weekends), as busy blocks."""
    out = []
    day = window[0].astimezone(zone).date() - timedelta(days=1)
    last = window[1].astimezone(zone).date() + timedelta(days=1)
    while day <= last:
        midnight = datetime.combine(day, time(0, 0), tzinfo=zone)
        next_midnight = datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=zone)
        if day.weekday() >= 5:
            out.append((midnight, next_midnight))
        else:
            out += [(midnight, datetime.combine(day, day_start, tzinfo=zone)),
                    (datetime.combine(day, day_end, tzinfo=zone), next_midnight)]
        day += timedelta(days=1)
    return out


def choose_slots(freebusy: dict[str, Any], window: tuple[datetime, datetime], minutes: int,
                 zones: Mapping[str, tzinfo | None] | None = None, *, count: int = 3) -> list[tuple[datetime, datetime]]:
    """Up to ``count`` slots when the owner and everyone in ``freebusy`` are free, within the owner's working
    hours (the window's zone) and each colleague's own (``zones``: who → their zone). Empty: no slot."""
    calendar_zone = ZoneInfo(freebusy["timezone"]) if freebusy.get("timezone") else window[0].tzinfo
    busy = busy_of(freebusy, calendar_zone)
    for _, zone in sorted((zones or {}).items(), key=lambda kv: kv[0]):
        if zone is not None:
            busy += off_hours(zone, window)
    return find_slots(busy, window, minutes, count=count)
