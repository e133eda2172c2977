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
    # Added after request.settle was written, as a check that it is not fitted to the cases above.
    ("Could you find 45 minutes for me and Priya tomorrow afternoon?", ["Priya"], 45, "tomorrow", ""),
    ("an hour and a half with Omar and Lena next week for the quarterly plan", ["Omar", "Lena"], 90, "next_week", ""),
    ("need a half-hour catch-up with dana@acme.test today", ["dana@acme.test"], 30, "today", ""),
    ("Put 2 hours on the calendar with Jonas and Keiko on 2026-07-01", ["Jonas", "Keiko"], 120, "date", "2026-07-01"),
    ("quick chat with Raj this week", ["Raj"], 30, "this_week", ""),
    ("15 min with Ana and ben.ito@partner.test tomorrow", ["Ana", "ben.ito@partner.test"], 15, "tomorrow", ""),
    ("Organise a 60-minute retro with Sofia, Leo and Amara next week", ["Sofia", "Leo", "Amara"], 60, "next_week", ""),
    ("set a meeting with Lena on 2026-08-14 for one hour", ["Lena"], 60, "date", "2026-08-14"),
]
