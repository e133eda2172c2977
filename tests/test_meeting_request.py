"""The scheduler's check of the model's reading: what the owner's request states exactly is put back
(``agents/meeting_scheduler/request.py``); what it leaves open stays as the model read it."""

from __future__ import annotations

import pytest

from meshclaw.agents.meeting_scheduler.request import settle, stated_minutes, stated_when
from meshclaw.agents.meeting_scheduler.workflow import MeetingRequest


def _read(people: list[str], minutes: int = 30, when: str = "next_week", date: str = "") -> MeetingRequest:
    return MeetingRequest(people=people, minutes=minutes, when=when, date=date, title="t")


@pytest.mark.parametrize("text, minutes", [
    ("an hour with Lena", 60), ("half an hour with Lena", 30), ("a half hour sync", 30), ("a half-hour catch-up", 30),
    ("an hour and a half with the team", 90), ("a quarter of an hour", 15), ("1.5 hours on the budget", 90),
    ("two hours with Omar", 120), ("a 45-minute review", 45), ("grab 20 mins", 20), ("30m with Ana", 30),
    ("a 2h workshop", 120), ("15 minute sync", 15),
    ("lunch at 12:30 with Ana", None), ("a 1:1 with Jonas", None),  # times of day and "1:1" are no length
    ("30 minutes now or an hour later", None),  # two lengths that disagree: left to the model
])
def test_a_stated_length_is_read_once(text, minutes):
    assert stated_minutes(text) == minutes


@pytest.mark.parametrize("text, when", [
    ("with Keiko on 2026-06-03", ("date", "2026-06-03")), ("sometime next week", ("next_week", "")),
    ("tomorrow if you can", ("tomorrow", "")), ("not this week but next week", None),
    ("2026-06-03 or 2026-06-04", None), ("ticket 2026-06-031", None),
])
def test_a_stated_day_or_week_is_read_once(text, when):
    assert stated_when(text) == when


def test_settle_puts_back_what_the_request_states():
    text = "book a one hour call with jan.weber@brightmart.test and Leo on 2026-06-10"
    got = settle(_read(["Leo", "jan.weber"], minutes=30, when="next_week"), text)
    assert got.people == ["jan.weber@brightmart.test", "Leo"]
    assert (got.minutes, got.when, got.date, got.title) == (60, "date", "2026-06-10", "t")


def test_an_address_the_model_left_out_is_added_and_names_are_kept_as_read():
    got = settle(_read(["Tom"]), "45 min with Tom and kim@partner.test this week")
    assert got.people == ["Tom", "kim@partner.test"] and got.minutes == 45 and got.when == "this_week"


def test_an_address_the_request_does_not_hold_is_dropped():
    got = settle(_read(["Ana", "benito@partner.test"]), "15 min with Ana and ben.ito@partner.test tomorrow")
    assert got.people == ["Ana", "ben.ito@partner.test"]


def test_no_length_said_is_the_default_and_an_unclear_one_is_the_models():
    assert settle(_read(["Raj"], minutes=60), "find time with Raj next week").minutes == 30
    assert settle(_read(["Raj"], minutes=50), "a couple of minutes with Raj, or half an hour").minutes == 50
