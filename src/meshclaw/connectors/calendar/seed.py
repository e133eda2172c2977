"""A deterministic, realistic week of meetings for a small team, relative to a given Monday.

Used by the test fixtures and by demos: the same Monday always gives the same UIDs, times and
texts, so tests can name a meeting and know when it happens.  Each meeting is written to the
calendar of every participant who has one (organizer and internal attendees), the way it would
look after invitations had been accepted; people outside ``users`` (a customer) have no calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar

USERS = ("alice", "bob", "carol")  # bob manages alice and carol
CUSTOMER = "dana@customer.example"


@dataclass(frozen=True)
class SeedMeeting:
    uid: str
    summary: str
    start: datetime
    end: datetime
    organizer: str  # user id
    attendees: tuple[str, ...]  # user ids, or full addresses for outsiders
    description: str = ""
    location: str = ""
    weekdays_repeat: int = 0  # >0: repeats on that many consecutive weekdays (a daily standup)

    def participants(self) -> list[str]:
        return [self.organizer, *(a for a in self.attendees if a != self.organizer)]


def week_of_meetings(monday: date, tz: str = "Europe/Berlin") -> list[SeedMeeting]:
    """The team's meetings in the week starting ``monday`` (local times in ``tz``)."""
    if monday.weekday() != 0:
        raise ValueError(f"{monday} is not a Monday")
    zone = ZoneInfo(tz)
    tag = monday.strftime("%Y%m%d")

    def at(day: int, hh: int, mm: int = 0) -> datetime:
        return datetime.combine(monday + timedelta(days=day), time(hh, mm), tzinfo=zone)

    return [
        SeedMeeting(
            uid=f"standup-{tag}@seed.meshclaw",
            summary="Team standup",
            start=at(0, 9, 30),
            end=at(0, 9, 45),
            organizer="bob",
            attendees=("alice", "carol"),
            description="Yesterday, today, blockers. Keep it under 15 minutes.",
            location="Room Ada / video",
            weekdays_repeat=5,
        ),
        SeedMeeting(
            uid=f"one-on-one-alice-{tag}@seed.meshclaw",
            summary="1:1 Alice / Bob",
            start=at(1, 14, 0),
            end=at(1, 14, 30),
            organizer="bob",
            attendees=("alice",),
            description="Agenda: quarterly goals, the on-call rotation, training budget.",
            location="Bob's office",
        ),
        SeedMeeting(
            uid=f"customer-call-{tag}@seed.meshclaw",
            summary="Customer call: Dana (renewal)",
            start=at(2, 11, 0),
            end=at(2, 12, 0),
            organizer="alice",
            attendees=("carol", CUSTOMER),
            description="Renewal terms and the open support tickets. Carol brings the usage report.",
            location="Video call",
        ),
        SeedMeeting(
            uid=f"focus-alice-{tag}@seed.meshclaw",
            summary="Focus time",
            start=at(2, 14, 0),
            end=at(2, 16, 0),
            organizer="alice",
            attendees=(),
            description="Writing the migration plan.",
        ),
        SeedMeeting(
            uid=f"one-on-one-carol-{tag}@seed.meshclaw",
            summary="1:1 Carol / Bob",
            start=at(3, 10, 0),
            end=at(3, 10, 30),
            organizer="bob",
            attendees=("carol",),
            description="Agenda: conference talk, hiring loop feedback.",
            location="Bob's office",
        ),
        SeedMeeting(
            uid=f"deploy-review-{tag}@seed.meshclaw",
            summary="Deploy review: release 4.2",
            start=at(3, 15, 0),
            end=at(3, 16, 0),
            organizer="carol",
            attendees=("alice", "bob"),
            description="Go/no-go for Friday's release. Rollback plan and dashboards ready.",
            location="Room Lovelace",
        ),
        SeedMeeting(
            uid=f"all-hands-{tag}@seed.meshclaw",
            summary="All-hands",
            start=at(4, 16, 0),
            end=at(4, 17, 0),
            organizer="bob",
            attendees=("alice", "carol"),
            description="Quarter in review, questions from the team.",
            location="Main hall",
        ),
    ]


def address(who: str, domain: str) -> str:
    return who if "@" in who else f"{who}@{domain}"


def to_ics(meeting: SeedMeeting, domain: str = "example.com") -> str:
    """One meeting as an iCalendar object, as the participants' calendars would hold it."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//MeshClaw//seed//EN")
    cal.add("version", "2.0")
    ev = icalendar.Event()
    ev.add("uid", meeting.uid)
    # A fixed DTSTAMP keeps the seed byte-for-byte deterministic.
    ev.add("dtstamp", meeting.start.astimezone(ZoneInfo("UTC")) - timedelta(days=7))
    ev.add("dtstart", meeting.start)
    ev.add("dtend", meeting.end)
    ev.add("summary", meeting.summary)
    ev.add("sequence", 0)
    if meeting.description:
        ev.add("description", meeting.description)
    if meeting.location:
        ev.add("location", meeting.location)
    if meeting.weekdays_repeat:
        ev.add("rrule", {"freq": "daily", "byday": ["MO", "TU", "WE", "TH", "FR"], "count": meeting.weekdays_repeat})
    if meeting.attendees:
        organizer = icalendar.vCalAddress(f"mailto:{address(meeting.organizer, domain)}")
        organizer.params["CN"] = meeting.organizer.capitalize()
        ev.add("organizer", organizer)
        for who in meeting.attendees:
            att = icalendar.vCalAddress(f"mailto:{address(who, domain)}")
            att.params["PARTSTAT"] = "ACCEPTED"
            att.params["ROLE"] = "REQ-PARTICIPANT"
            ev.add("attendee", att)
    cal.add_component(ev)
    # Transitions around the seeded week only, not the library's default 1970-2038 list.
    cal.add_missing_timezones(first_date=meeting.start.date() - timedelta(days=366),
                              last_date=meeting.end.date() + timedelta(days=366))
    return cal.to_ical().decode()


def calendars(monday: date, users: tuple[str, ...] = USERS, tz: str = "Europe/Berlin",
              domain: str = "example.com") -> dict[str, list[str]]:
    """For each user, the iCalendar objects their calendar holds this week."""
    out: dict[str, list[str]] = {u: [] for u in users}
    for meeting in week_of_meetings(monday, tz):
        ics = to_ics(meeting, domain)
        for who in meeting.participants():
            if who in out:
                out[who].append(ics)
    return out
