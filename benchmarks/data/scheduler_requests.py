"""Meeting requests as owners write them, with what the scheduler must read from each (made-up people).

Each case: the request, and the expected people (as written), minutes, when (and date) — the fields of
``agents.meeting_scheduler.workflow.MeetingRequest`` that decide the booking. The title is free text
and not scored.
"""

from __future__ import annotations

CASES = [
    ("find 30 minutes with Ana and Raj next week", ["Ana", "Raj"], 30, "next_week", ""),
    ("Set up an hour with Priya tomorrow to go through the incident review", ["Priya"], 60, "tomorrow", ""),
    ("can you book 45 min with tom@globex.test this week about the export bug", ["tom@globex.test"], 45, "this_week", ""),
    ("I need a quick 15 minute sync with Lena today", ["Lena"], 15, "today", ""),
    ("schedule a 2 hour planning session with Omar, Sofia and Jonas next week", ["Omar", "Sofia", "Jonas"], 120,
     "next_week", ""),
    ("meeting with Keiko on 2026-06-03, half an hour", ["Keiko"], 30, "date", "2026-06-03"),
    ("find time with Raj next week to talk about the roadmap", ["Raj"], 30, "next_week", ""),
    ("please get me 20 minutes with Amara tomorrow", ["Amara"], 20, "tomorrow", ""),
    ("book a one hour call with jan.weber@brightmart.test and Leo on 2026-06-10", ["jan.weber@brightmart.test", "Leo"],
     60, "date", "2026-06-10"),
    ("90 minutes with Sofia this week for the design review", ["Sofia"], 90, "this_week", ""),
    ("Grab 30 mins with Ana today if possible", ["Ana"], 30, "today", ""),
    ("set up a 1:1 with Jonas next week, 30 minutes", ["Jonas"], 30, "next_week", ""),
]
