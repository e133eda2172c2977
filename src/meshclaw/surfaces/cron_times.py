"""When a cron schedule fires in a time zone with daylight-saving changes (cronie's rule).

croniter walks a schedule correctly in fixed-offset time, but across a change of a zone's UTC
offset it fires a daily ``30 2 * * *`` twice in Europe/Berlin's repeated October hour. MeshClaw
follows cronie (cron(8), "Daylight Saving Time and other time changes"):

- A job with fixed times (neither its minute nor its hour field, nor the seconds field when there
  is one, starts with ``*``) runs at the local wall-clock times it names, once each: a time that
  happens twice (the repeated interval when clocks go back) runs at its first occurrence only; a
  time that does not happen (the skipped interval when clocks go forward) runs right after the
  change, so a daily job skips no day. Several skipped times of one job fall on the same instant,
  the change itself, so they make one firing.
- A job with a wildcard minute or hour (``*``, ``*/5``: hourly or more often) runs by real elapsed
  time: at every real instant whose local wall clock matches. It fires in both passes of a repeated
  hour and not in the skipped one, so an hourly job runs once per real hour where the zone shifts
  by whole hours.

Instants are returned in UTC with whole seconds; the zone is any ``tzinfo`` following PEP 495
(``zoneinfo.ZoneInfo``), whose ``fold`` tells the two occurrences of a repeated time apart.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo

__all__ = ["is_wall_clock_schedule", "next_cron_time"]

_SECOND = timedelta(seconds=1)


def is_wall_clock_schedule(cron: str) -> bool:
    """True when ``cron`` names fixed local times (cronie's non-wildcard job), False when it runs by real time.

    ``cron`` has five fields, or six with seconds first (as MeshClaw's config accepts). Cronie marks
    a job as wildcard when its minute or hour field starts with ``*``; a seconds field counts too.
    """
    fields = cron.split()
    timed = fields[:3] if len(fields) >= 6 else fields[:2]
    return not any(field.startswith("*") for field in timed)


def next_cron_time(cron: str, zone: tzinfo, after: datetime) -> datetime:
    """The first time ``cron`` fires strictly after ``after`` (timezone-aware), as an aware UTC datetime.

    ``cron`` is a croniter expression with seconds first when it has six fields. Raises ValueError
    (from croniter) for an expression croniter does not accept, and ValueError if ``after`` is naive.
    """
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError("next_cron_time needs a timezone-aware time")
    after = after.astimezone(timezone.utc)
    if is_wall_clock_schedule(cron):
        return _next_wall_clock(cron, zone, after)
    return _next_real_time(cron, zone, after)


def _croniter(cron: str, start: datetime):
    from croniter import croniter

    return croniter(cron, start, second_at_beginning=True)


def _next_wall_clock(cron: str, zone: tzinfo, after: datetime) -> datetime:
    """Walk the schedule on naive local wall-clock times and map each to the instant it runs at."""
    # No wall time before ``after``'s own maps to an instant after it (a skipped time maps to the
    # change, which a wall clock past the gap has passed), so the walk starts there.
    it = _croniter(cron, after.astimezone(zone).replace(tzinfo=None, microsecond=0))
    while True:
        candidate: datetime = it.get_next(datetime)
        instant = _instant_of(candidate, zone)
        if instant > after:
            return instant


def _instant_of(wall: datetime, zone: tzinfo) -> datetime:
    """The UTC instant a naive local time runs at: itself, its first occurrence, or the change after a gap."""
    first = wall.replace(tzinfo=zone, fold=0)
    first_utc = first.astimezone(timezone.utc)
    if first_utc.astimezone(zone).replace(tzinfo=None) == wall:
        return first_utc  # exists; fold=0 is the first of two occurrences when it is repeated
    # Not a real local time: it lies in the interval skipped when clocks went forward. fold=0 read
    # it with the offset before the change (a later instant), fold=1 with the one after (earlier).
    before_change = wall.replace(tzinfo=zone, fold=1).astimezone(timezone.utc)
    change = _first_change(zone, before_change, first_utc, before_change.astimezone(zone).utcoffset())
    return change or first_utc  # a change lies between the two readings, by what a gap is


def _next_real_time(cron: str, zone: tzinfo, after: datetime) -> datetime:
    """Next real instant whose local wall clock matches: croniter in the offset in force, per stretch."""
    start, offset = after, after.astimezone(zone).utcoffset()
    while True:
        fixed = timezone(offset)
        candidate = _croniter(cron, start.astimezone(fixed).replace(microsecond=0)).get_next(datetime)
        candidate = candidate.astimezone(timezone.utc)
        change = _first_change(zone, start, candidate, offset)
        if change is None:
            return candidate
        # The offset changed before the candidate: continue from the change (which may itself
        # match, hence one second before it), reading the wall clock in the new offset.
        start, offset = change - _SECOND, change.astimezone(zone).utcoffset()


def _first_change(zone: tzinfo, low: datetime, high: datetime, offset: timedelta | None) -> datetime | None:
    """The first whole second in (low, high] whose UTC offset is not ``offset``, or None if there is none.

    Walks day by day (changes of one zone are months apart), then bisects the day that has one.
    """
    def differs(second: int) -> bool:
        return datetime.fromtimestamp(second, timezone.utc).astimezone(zone).utcoffset() != offset

    day = 86_400
    low_s, end_s = int(low.timestamp()), int(high.timestamp())
    while low_s < end_s:
        high_s = min(low_s + day, end_s)
        if differs(high_s):
            while high_s - low_s > 1:
                middle = (low_s + high_s) // 2
                if differs(middle):
                    high_s = middle
                else:
                    low_s = middle
            return datetime.fromtimestamp(high_s, timezone.utc)
        low_s = high_s
    return None
