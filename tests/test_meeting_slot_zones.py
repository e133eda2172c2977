"""Slots suit everyone's working day: a colleague in another time zone has their own 09:00-17:00
(agents/meeting_scheduler/slots.py: choose_slots, off_hours), and the workflow takes each
colleague's zone from the directory (workflow.zones_of)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from meshclaw.agents.meeting_scheduler.slots import choose_slots, off_hours, window_for
from meshclaw.agents.meeting_scheduler.workflow import zones_of
from meshclaw.domain.config import User

BERLIN, TOKYO, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Tokyo"), ZoneInfo("America/New_York")
NOW = datetime(2026, 6, 3, 10, 10, tzinfo=BERLIN)  # a Wednesday


def test_a_colleague_in_new_york_gets_slots_in_his_own_day():
    window = window_for("next_week", NOW)
    slots = choose_slots({"timezone": "Europe/Berlin", "busy": {"me": [], "omar": []}}, window, 30, {"omar": NEW_YORK})
    assert slots and all(9 <= s.astimezone(NEW_YORK).hour and e.astimezone(NEW_YORK).hour <= 17 for s, e in slots)
    assert slots[0][0] == datetime(2026, 6, 8, 15, 0, tzinfo=BERLIN)


def test_days_that_never_meet_give_no_slot():
    window = window_for("next_week", NOW)
    assert choose_slots({"busy": {}}, window, 30, {"keiko": TOKYO, "omar": NEW_YORK}) == []


def test_off_hours_cover_nights_and_weekends_in_the_persons_zone():
    window = (datetime(2026, 6, 5, 0, 0, tzinfo=BERLIN), datetime(2026, 6, 8, 0, 0, tzinfo=BERLIN))  # Fri..Sun
    blocks = off_hours(TOKYO, window)
    saturday = datetime(2026, 6, 6, 12, 0, tzinfo=TOKYO)
    friday_noon = datetime(2026, 6, 5, 12, 0, tzinfo=TOKYO)
    assert any(s <= saturday < e for s, e in blocks) and not any(s <= friday_noon < e for s, e in blocks)


def test_the_workflow_takes_each_colleagues_zone_from_the_directory():
    users = [User(id="keiko", name="Keiko Tanaka", email="k@x.test", timezone="Asia/Tokyo"),
             User(id="ravi", name="Ravi Patel", email="r@x.test")]
    assert zones_of([("k@x.test", "keiko"), ("r@x.test", "ravi"), ("guest@y.test", None)], users, "Europe/Berlin") \
        == {"keiko": TOKYO, "ravi": BERLIN}
