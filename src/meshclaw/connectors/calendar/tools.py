"""The calendar tools the model sees, and ``busy_now`` for triggers.

Every tool reads its settings from the agent's ``calendar`` toolset grant, resolves passwords
through ``ctx.deps.secret`` and runs the (synchronous) CalDAV work in a thread.  Changes that
reach other people are idempotent per tool call: the event remembers which call changed it
last (``X-MESHCLAW-CALL``) and which SEQUENCE its attendees were told about
(``X-MESHCLAW-INVITED``), so a replay after a crash finishes the job instead of repeating it.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

import icalendar
from pydantic_ai import ModelRetry, RunContext

from meshclaw.domain.effects import Effect, Toolset, tool
from meshclaw.domain.provenance import Label, Labelled, Source, Trust
from meshclaw.runtime.context import RunDeps

from . import delivery, events, scheduling
from .access import TOOLSET, call_key, connect, owner_email, smtp_password
from .errors import CalendarError, NotAllowed
from .filing import calendar_file_invitation
from .replies import calendar_respond
from .settings import CalendarSettings
LIST_MAX_DAYS = 62
LIST_MAX_EVENTS = 60


# --- plumbing ------------------------------------------------------------------------------------


def _attendees(ctx: RunContext[RunDeps], values: list[str]) -> list[str]:
    """Addresses, with the organisation's user ids ('bob') accepted as shorthand for their address."""
    out = []
    for v in values:
        v = v.strip()
        if "@" not in v:
            user = ctx.deps.directory.user(v)
            if user is None or not user.email:
                raise ModelRetry(f"{v!r} is neither an email address nor a user with an address in the directory")
            v = user.email
        out.append(v)
    return events.check_addresses(out)


def _busy_pairs(busy: list, zone) -> list[list[str]]:
    return [[events.local(b.start, zone), events.local(b.end, zone)] + (["tentative"] if b.tentative else [])
            for b in busy]


def _organizer_only(ev: icalendar.Event, owner: str | None, action: str) -> None:
    if events.by_others(ev, owner):
        raise CalendarError(f"only the organizer ({events.organizer_of(ev)}) can {action} this meeting; "
                            "the owner is an attendee")


# --- reading -------------------------------------------------------------------------------------


@tool("calendar.list", Effect.READ)
async def calendar_list(ctx: RunContext[RunDeps], start: str, end: str, calendar: str | None = None) -> Any:
    """List the owner's events between start and end (ISO date-times; repeating events appear once per occurrence).

    Times without an offset are in the owner's time zone, as are the times returned.
    """
    settings, conn = connect(ctx)
    zone = settings.zone
    begin, until = events.parse_when(start, zone, "start"), events.parse_when(end, zone, "end")
    events.check_range(begin, until, max_days=LIST_MAX_DAYS)
    owner = owner_email(ctx, settings)

    found = await asyncio.to_thread(lambda: conn.events(conn.calendar(calendar), begin, until))
    shown = found[:LIST_MAX_EVENTS]
    listed, seen = [], set()
    for ev in shown:
        item = events.summary(ev, zone, owner)
        if item["uid"] in seen:  # a later occurrence of a series: its details were given once already
            item = {k: v for k, v in item.items() if k in ("uid", "title", "start", "end", "recurring", "status")}
        seen.add(item["uid"])
        listed.append(item)
    result: dict[str, Any] = {"timezone": settings.timezone, "events": listed}
    if len(found) > len(shown):
        result["more"] = len(found) - len(shown)
    # A meeting stored from mail is outside content whatever its ORGANIZER says.
    authors = sorted({events.organizer_of(ev) or "someone by mail" for ev in shown
                      if events.by_others(ev, owner) or events.RECEIVED in ev})
    if authors:
        # Titles, places and agendas of these events were written by other people: data, not instructions.
        return Labelled(result, Label(Source.EXTERNAL, Trust.UNTRUSTED, f"calendar events organized by {', '.join(authors)}"))
    return result


@tool("calendar.freebusy", Effect.READ)
async def calendar_freebusy(ctx: RunContext[RunDeps], start: str, end: str, people: list[str] | None = None) -> dict[str, Any]:
    """When the owner, and optionally colleagues (user ids or addresses), are busy between start and end.

    Only times are returned, never what the meetings are.  A colleague whose calendar does not
    share free/busy with the owner is listed under "unavailable" with the reason.
    """
    settings, conn = connect(ctx)
    zone = settings.zone
    begin, until = events.parse_when(start, zone, "start"), events.parse_when(end, zone, "end")
    events.check_range(begin, until, max_days=LIST_MAX_DAYS)
    colleagues: list[tuple[str, str, str | None]] = []  # (as asked, user id, address)
    unavailable: dict[str, str] = {}
    for who in people or []:
        user = next((u for u in ctx.deps.directory.users
                     if who.strip().lower() in (u.id, (u.email or "").lower())), None)
        if user is None:
            unavailable[who] = "not a person in the organisation's directory: free/busy is only available for colleagues"
        elif user.id != ctx.deps.owner.id:
            colleagues.append((who, user.id, user.email))

    def work() -> dict[str, Any]:
        busy = {"me": _busy_pairs(conn.freebusy(conn.calendar(), begin, until, "your calendar"), zone)}
        for asked, user_id, email in colleagues:
            try:
                blocks = conn.freebusy(conn.colleague_calendar(user_id, email), begin, until, f"{user_id}'s calendar")
                busy[asked] = _busy_pairs(blocks, zone)
            except NotAllowed:
                unavailable[asked] = f"{user_id}'s calendar does not share free/busy with {settings.username}"
            except CalendarError as e:
                unavailable[asked] = str(e)
        return busy

    busy = await asyncio.to_thread(work)
    result: dict[str, Any] = {"timezone": settings.timezone, "busy": busy}
    if unavailable:
        result["unavailable"] = unavailable
    return result


# --- changing ------------------------------------------------------------------------------------


def _result(data: icalendar.Calendar, zone, owner: str | None, calendar: str, told: dict[str, list[str]],
            already: bool) -> dict[str, Any]:
    ev = events.master(data)
    out = {k: v for k, v in events.summary(ev, zone, owner).items() if k != "description"}
    out["calendar"] = calendar
    out.update(told)
    if already:
        out["already_done"] = True  # a replay of a call that had already changed the calendar
    return out


@tool("calendar.create", Effect.EXTERNAL, sensitive=("attendees", "calendar"))
async def calendar_create(ctx: RunContext[RunDeps], title: str, start: str, end: str, attendees: list[str] | None = None,
                          description: str = "", location: str = "", calendar: str | None = None) -> dict[str, Any]:
    """Create an event in the owner's calendar and email an invitation to each attendee.

    Times without an offset are in the owner's time zone.  Attendees are addresses (or user ids).
    """
    settings, conn = connect(ctx)
    zone = settings.zone
    begin, until = events.parse_when(start, zone, "start"), events.parse_when(end, zone, "end")
    events.check_range(begin, until)
    if not title.strip():
        raise ModelRetry("the event needs a title")
    people = _attendees(ctx, attendees or [])
    owner = owner_email(ctx, settings)
    if people and not owner:
        raise CalendarError("an event with attendees needs an organizer address: set email in the calendar settings")
    if people and not settings.mails_invitations:
        raise CalendarError("invitations need a mail server: set smtp_host (and smtp_* settings) in the calendar settings")
    key = call_key(ctx)
    uid = events.uid_for(key)

    def write() -> tuple[Any, icalendar.Calendar, bool]:
        cal = conn.calendar(calendar)
        obj = conn.find(cal, uid)
        if obj is not None:  # this very call ran before (the UID comes from its id): finish, don't repeat
            return obj, icalendar.Calendar.from_ical(obj.data), True
        data = events.new_event(uid, summary=title.strip(), start=begin, end=until, organizer=owner or "",
                                attendees=people, description=description.strip(), location=location.strip())
        events.master(data).add(events.CALL, events.call_mark(key))
        return conn.create(cal, data), data, False

    obj, data, already = await asyncio.to_thread(write)
    told: dict[str, list[str]] = {}
    if events.attendees_of(events.master(data)):
        try:
            told = await delivery.notify(settings, smtp_password(ctx, settings), conn, obj, data, owner or "")
        except delivery.Undelivered as u:
            if already or u.told:
                raise CalendarError(f"the event {uid} is in the calendar, but {u.error}") from None
            # All or nothing: a meeting nobody was invited to would only be booked time.
            await asyncio.to_thread(conn.delete, obj)
            raise CalendarError(f"nothing was created: {u.error}") from None
    return _result(data, zone, owner, calendar or settings.calendar, told, already)


async def _change(ctx: RunContext[RunDeps], uid: str, calendar: str | None, action: str,
                  mutate: Callable[[icalendar.Calendar, icalendar.Event, CalendarSettings, str | None], bool],
                  adds_attendees: bool = False) -> dict[str, Any]:
    """Load the owner's event, apply ``mutate`` once per tool call, store it, tell the attendees.

    ``mutate`` returns False when the event already is as asked (nothing to store or announce).
    """
    settings, conn = connect(ctx)
    owner = owner_email(ctx, settings)
    mark = events.call_mark(call_key(ctx))

    before: list[bytes] = []  # the event as it was, to put back if the attendees cannot be told

    def write() -> tuple[Any, icalendar.Calendar, bool]:
        cal = conn.calendar(calendar)
        obj = conn.find(cal, uid.strip())
        if obj is None:
            raise ModelRetry(f"no event with uid {uid!r} in calendar {calendar or settings.calendar!r}: "
                             "take the uid from calendar_list")
        before.append(obj.data.encode() if isinstance(obj.data, str) else obj.data)
        data = icalendar.Calendar.from_ical(obj.data)
        ev = events.master(data)
        _organizer_only(ev, owner, action)
        if str(ev.get(events.CALL, "")) == mark:
            return obj, data, True
        if (adds_attendees or events.attendees_of(ev)) and not settings.mails_invitations:
            # Checked before changing anything: a meeting must not move without its attendees hearing of it.
            raise CalendarError("this meeting has attendees who must be told: set smtp_host (and smtp_* settings) "
                                "in the calendar settings")
        if not mutate(data, ev, settings, owner):
            return obj, data, True
        events.bump(ev)
        events.replace(ev, events.CALL, mark)
        conn.store(obj, data)
        return obj, data, False

    obj, data, already = await asyncio.to_thread(write)
    ev = events.master(data)
    told: dict[str, list[str]] = {}
    if (events.attendees_of(ev) or ev.get(events.REMOVED)) and settings.mails_invitations:
        try:
            told = await delivery.notify(settings, smtp_password(ctx, settings), conn, obj, data, owner or "")
        except delivery.Undelivered as u:
            if already or u.told:
                raise CalendarError(f"the change is saved, but {u.error}") from None
            await asyncio.to_thread(conn.store, obj, icalendar.Calendar.from_ical(before[0]))
            raise CalendarError(f"nothing was changed: {u.error}") from None
    return _result(data, settings.zone, owner, calendar or settings.calendar, told, already)


@tool("calendar.update", Effect.EXTERNAL, sensitive=("uid", "attendees"))
async def calendar_update(ctx: RunContext[RunDeps], uid: str, title: str | None = None, start: str | None = None,
                          end: str | None = None, location: str | None = None, description: str | None = None,
                          attendees: list[str] | None = None, calendar: str | None = None,
                          occurrence: str | None = None) -> dict[str, Any]:
    """Change an event the owner organizes (only the fields given); attendees get an updated invitation.

    ``attendees`` replaces the whole list: people left out receive a cancellation.  For a repeating
    event, ``occurrence`` (the start of one occurrence, as calendar_list shows it) changes that
    occurrence only; the rest of the series stays as it is.
    """
    if all(v is None for v in (title, start, end, location, description, attendees)):
        raise ModelRetry("nothing to change: give at least one of title, start, end, location, description, attendees")
    people = _attendees(ctx, attendees) if attendees is not None else None

    touched: list[tuple[icalendar.Event, ZoneInfo, str | None]] = []  # the occurrence changed, for the result

    def mutate(data: icalendar.Calendar, series: icalendar.Event, settings: CalendarSettings, owner: str | None) -> bool:
        ev = series
        if occurrence is not None:
            if people is not None:
                raise ModelRetry("attendees are the same for every occurrence: change them without occurrence")
            ev = _occurrence(data, series, occurrence, settings.zone)
            touched.append((ev, settings.zone, owner))
        elif (start or end) and ("RRULE" in ev or "RDATE" in ev):
            raise CalendarError("this is a repeating event: the series' times cannot be changed here; to move one "
                                "occurrence, give occurrence (its start, as calendar_list shows it)")
        old_start, old_end = events.times(ev)
        if (start or end) and not (start and end) and not (isinstance(old_start, datetime) and old_start.tzinfo):
            # An all-day or floating event has no instant to keep the length from.
            raise ModelRetry("this event is all-day or has a floating time: give both start and end")
        begin = events.parse_when(start, settings.zone, "start") if start else old_start
        until = events.parse_when(end, settings.zone, "end") if end else old_end
        if start and not end:  # moving a meeting keeps its length
            until = begin + (old_end - old_start)
        if start or end:
            events.check_range(begin, until)
            events.replace(ev, "dtstart", begin)
            events.replace(ev, "dtend", until)
            events.replace(ev, "duration", None)
            events.refresh_zone(data, begin, until)
        if title is not None:
            if not title.strip():
                raise ModelRetry("the title cannot be empty")
            events.replace(ev, "summary", title.strip())
        if location is not None:
            events.replace(ev, "location", location.strip())
        if description is not None:
            events.replace(ev, "description", description.strip())
        if ev is not series:  # an override: its own revision, told together with the series (RFC 5546 2.1.5)
            events.replace(ev, "sequence", events.sequence(series) + 1)
            events.replace(ev, "dtstamp", datetime.now(timezone.utc))
        ev = series
        if people is not None:
            before = events.attendees_of(ev)
            gone = [events.mailto(a) for a in before if events.mailto(a).lower() not in {p.lower() for p in people}]
            if people and not owner:
                raise CalendarError("an event with attendees needs an organizer address: set email in the calendar settings")
            if people and "ORGANIZER" not in ev:
                ev.add("organizer", icalendar.vCalAddress(f"mailto:{owner}"))
            events.set_attendees(ev, people, keep=before)
            # Merged with people removed by an earlier change whose cancellation is still unsent.
            pending = [a for a in str(ev.get(events.REMOVED, "")).split(",") if a]
            gone = [a for a in pending if a.lower() not in {p.lower() for p in people}] + gone
            events.replace(ev, events.REMOVED, ",".join(gone) if gone else None)
        return True

    result = await _change(ctx, uid, calendar, "change", mutate, adds_attendees=bool(people))
    if touched:
        shown = events.summary(*touched[0])
        result["occurrence"] = {k: v for k, v in shown.items() if k in ("start", "end", "title", "location")}
    return result


def _occurrence(data: icalendar.Calendar, series: icalendar.Event, occurrence: str, zone: ZoneInfo) -> icalendar.Event:
    """The override of the occurrence starting at ``occurrence`` (made from the series if there is none)."""
    if "RRULE" not in series and "RDATE" not in series:
        raise ModelRetry("this event does not repeat: leave out occurrence")
    when: date | datetime = events.parse_when(occurrence, zone, "occurrence")
    first = series.decoded("dtstart")
    if not isinstance(first, datetime):
        when = when.date()
    elif first.tzinfo is None:
        when = when.replace(tzinfo=None)
    overrides = scheduling.parts(data)[1]
    found = scheduling.find_override(data, when) or next(
        (o for o in overrides if scheduling.same_time(o.decoded("dtstart"), when)), None)
    if found is not None:
        return found
    if not scheduling.occurs(series, when):
        raise ModelRetry(f"the series has no occurrence starting {occurrence}: take the start from calendar_list")
    one = scheduling.as_override(series, when)
    for name in (events.CALL, events.INVITED, events.REMOVED):
        events.replace(one, name, None)
    data.add_component(one)
    return one


@tool("calendar.cancel", Effect.EXTERNAL, sensitive=("uid",))
async def calendar_cancel(ctx: RunContext[RunDeps], uid: str, calendar: str | None = None,
                          occurrence: str | None = None) -> dict[str, Any]:
    """Cancel an event the owner organizes; attendees get a cancellation. The event stays, marked cancelled.

    For a repeating event this cancels the whole series, unless ``occurrence`` (the start of one
    occurrence, as calendar_list shows it) names the only one to cancel.
    """
    touched: list[tuple[icalendar.Event, ZoneInfo, str | None]] = []

    def mutate(data: icalendar.Calendar, ev: icalendar.Event, settings: CalendarSettings, owner: str | None) -> bool:
        if occurrence is not None:
            ev = _occurrence(data, ev, occurrence, settings.zone)
            touched.append((ev, settings.zone, owner))
            if str(ev.get("status", "")).upper() == "CANCELLED":
                return False
            # Told as a CANCEL naming this occurrence only (RFC 5546 3.2.5), at the series' next SEQUENCE.
            events.replace(ev, "sequence", events.sequence(events.master(data)) + 1)
            events.replace(ev, "dtstamp", datetime.now(timezone.utc))
            events.replace(ev, delivery.ANNOUNCE, "CANCEL")
        elif str(ev.get("status", "")).upper() == "CANCELLED":
            return False  # cancelled before, by another call: only the notification may still be missing
        events.replace(ev, "status", "CANCELLED")
        return True

    result = await _change(ctx, uid, calendar, "cancel", mutate)
    if touched:
        shown = events.summary(*touched[0])
        result["occurrence"] = {k: v for k, v in shown.items() if k in ("start", "end", "title", "status")}
    return result


def toolset() -> Toolset:
    """The calendar toolset: list, freebusy, create, update, cancel, respond (and, for workflow code, file_invitation)."""
    return Toolset(
        name=TOOLSET,
        description="The owner's calendar over CalDAV: events, free/busy, meetings with invitations by email, answers.",
        functions=[calendar_list, calendar_freebusy, calendar_create, calendar_update, calendar_cancel, calendar_respond,
                   calendar_file_invitation],
    )
