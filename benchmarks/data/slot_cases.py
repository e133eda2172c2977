"""Meeting-scheduler slot cases with the right first slot (made-up people of Northwind Labs).

Maya Chen (Europe/Berlin) asks for a meeting. Each case gives the request as the scheduler's one
judgement reads it (people as directory ids, minutes, when, date), the run's "now", each colleague's
time zone, and the ``calendar.freebusy`` answer in the tool's shape (times in the calendar's zone
without an offset, or with one; a pending invitation is marked "tentative"). The right answer is
the first slot booked (local Berlin time, "YYYY-MM-DD HH:MM") or None: a clear "no slot" result.
Scored through ``slots.window_for`` and ``slots.choose_slots``, the calls the workflow makes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

BERLIN = "Europe/Berlin"
ZONES = {"ravi": BERLIN, "sofia": "Europe/Lisbon", "keiko": "Asia/Tokyo", "omar": "America/New_York",
         "priya": "Asia/Kolkata"}
WED = datetime(2026, 6, 3, 10, 10, tzinfo=ZoneInfo(BERLIN))  # 1 June 2026 is a Monday


@dataclass(frozen=True)
class SlotCase:
    name: str
    people: tuple[str, ...]  # directory ids (an outside address has no free/busy)
    minutes: int
    when: str
    busy: dict  # who -> [[start, end(, "tentative")], ...]; "me" is the owner
    expected: str | None
    now: datetime = WED
    on: str = ""
    unavailable: dict = field(default_factory=dict)

    def freebusy(self) -> dict:
        """The case's ``calendar.freebusy`` answer."""
        asked = {p: [] for p in self.people if "@" not in p and p not in self.unavailable}
        answer = {"timezone": BERLIN, "busy": {"me": [], **asked, **self.busy}}
        if self.unavailable:
            answer["unavailable"] = self.unavailable
        return answer


def day(d: int, hh: int, mm: int = 0, month: int = 6) -> str:
    return f"2026-{month:02d}-{d:02d}T{hh:02d}:{mm:02d}"


def all_week(first: int, hh0: int = 8, hh1: int = 18) -> list[list[str]]:
    return [[day(d, hh0), day(d, hh1)] for d in range(first, first + 5)]


CASES = [
    SlotCase("an empty week: Monday 09:00", ("ravi",), 30, "next_week", {}, "2026-06-08 09:00"),
    SlotCase("both busy in turns on Monday morning", ("ravi",), 30, "next_week",
             {"me": [[day(8, 9), day(8, 12)]], "ravi": [[day(8, 12), day(8, 13)]]}, "2026-06-08 13:00"),
    SlotCase("the colleague is out all Monday", ("ravi",), 60, "next_week", {"ravi": [[day(8, 0), day(9, 0)]]},
             "2026-06-09 09:00"),
    SlotCase("a pending invitation (tentative) counts as busy", ("ravi",), 30, "next_week",
             {"me": [[day(8, 9), day(8, 10), "tentative"]]}, "2026-06-08 10:00"),
    SlotCase("nobody free all week: no slot", ("ravi",), 30, "next_week", {"ravi": all_week(8)}, None),
    SlotCase("Tokyo colleague: only 09:00-10:00 Berlin is in her day; an hour does not fit after 09:30",
             ("keiko",), 60, "next_week", {"me": [[day(8, 9), day(8, 9, 30)]]}, "2026-06-09 09:00"),
    SlotCase("New York colleague: his day starts at 15:00 Berlin", ("omar",), 30, "next_week", {},
             "2026-06-08 15:00"),
    SlotCase("Tokyo and New York together: their days never meet Berlin's at once", ("keiko", "omar"), 30,
             "next_week", {}, None),
    SlotCase("Lisbon colleague: an hour behind, from 10:00 Berlin", ("sofia",), 30, "next_week", {},
             "2026-06-08 10:00"),
    SlotCase("India colleague (UTC+5:30): her day ends 13:30 Berlin", ("priya",), 60, "next_week",
             {"me": [[day(8, 9), day(8, 12, 45)]]}, "2026-06-09 09:00"),
    SlotCase("today from now: rounded up to the next half hour", ("ravi",), 30, "today",
             {"me": [[day(3, 10, 30), day(3, 11)]]}, "2026-06-03 11:00"),
    SlotCase("today, too late in the day: no slot", ("ravi",), 30, "today", {}, None,
             now=datetime(2026, 6, 3, 16, 45, tzinfo=ZoneInfo(BERLIN))),
    SlotCase("tomorrow is a Saturday: no working hours", ("ravi",), 30, "tomorrow", {}, None,
             now=datetime(2026, 6, 5, 11, 0, tzinfo=ZoneInfo(BERLIN))),
    SlotCase("a given date, 90 minutes between three busy blocks", ("sofia",), 90, "date",
             {"me": [[day(10, 10), day(10, 11)], [day(10, 12), day(10, 12, 30)]], "sofia": [[day(10, 12, 30), day(10, 14)]]},
             "2026-06-10 14:00", on="2026-06-10"),
    SlotCase("busy times given in UTC", ("ravi",), 30, "next_week",
             {"ravi": [["2026-06-08T07:00:00+00:00", "2026-06-08T09:00:00+00:00"]]}, "2026-06-08 11:00"),
    SlotCase("a block that ends off the half hour", ("ravi",), 30, "next_week", {"me": [[day(8, 8), day(8, 10, 10)]]},
             "2026-06-08 10:30"),
    SlotCase("an outside guest has no free/busy: the owner's time decides", ("kim@partner.test",), 30, "next_week",
             {"me": [[day(8, 9), day(8, 10)]]}, "2026-06-08 10:00"),
    SlotCase("a colleague who shares no free/busy is named, the rest decides", ("ravi",), 30, "next_week",
             {"me": [[day(8, 9), day(8, 9, 30)]]}, "2026-06-08 09:30",
             unavailable={"ravi": "ravi's calendar does not share free/busy with maya"}),
    SlotCase("daylight saving gap: New York has moved its clocks, Berlin not yet (5 h apart)", ("omar",), 30,
             "this_week", {}, "2026-03-25 14:00", now=datetime(2026, 3, 25, 10, 10, tzinfo=ZoneInfo(BERLIN))),
]
