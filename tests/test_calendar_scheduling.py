"""The scheduling rules on their own (no server): what a received message does to the stored copy,
for malformed input, occurrences named in other zones, open-ended series and ended series."""

from __future__ import annotations

from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from meshclaw.connectors.calendar import events
from meshclaw.connectors.calendar.incoming import decide
from meshclaw.connectors.calendar.scheduling import end_before, label, occurs, parts

DATA = Path(__file__).parent / "data" / "calendar"
BOB, OLGA = "bob@example.com", {"olga@example.org"}
BASE = (DATA / "ordering-first.ics").read_text()
BERLIN = ZoneInfo("Europe/Berlin")


def cal(text: str) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(text)


def stored() -> icalendar.Calendar:
    action, data = decide(cal(BASE), None, BOB, OLGA)
    assert action == "added"
    return data


def occurrence(line: str, seq: int = 1) -> str:
    """BASE as a message about one occurrence: ``line`` is its RECURRENCE-ID property."""
    return BASE.replace("SEQUENCE:0", f"SEQUENCE:{seq}\n{line}").replace("RRULE:FREQ=WEEKLY;COUNT=3\n", "")


@pytest.mark.parametrize(("text", "why"), [
    (BASE.replace("RRULE:FREQ=WEEKLY;COUNT=3", "RRULE:FREQ=SOMETIMES;COUNT=x"),
     "ignored: the invitation cannot be read: RRULE (Expected frequency, got: SOMETIMES)"),
    (BASE.replace("DTSTART;TZID=Europe/Berlin:20261202T090000\n", ""), "ignored: the invitation has no start time (DTSTART)"),
    (BASE.replace("DTEND;TZID=Europe/Berlin:20261202T093000", "DTEND;TZID=Europe/Berlin:20261201T093000"),
     "ignored: the invitation ends before it starts"),
    (occurrence("RECURRENCE-ID:tomorrow"), "ignored: the invitation cannot be read: RECURRENCE-ID"),
    (BASE.replace("SEQUENCE:0", "SEQUENCE:high"), "ignored: the invitation cannot be read: SEQUENCE"),
    (BASE.replace("DTSTAMP:20261120T100000Z", "DTSTAMP:yesterday"), "ignored: the invitation cannot be read: DTSTAMP"),
    (BASE.replace("END:VCALENDAR", BASE.split("METHOD:REQUEST\n")[1].replace("order-0011", "other")),
     "ignored: an iTIP message carries exactly one meeting (one UID)"),
    (BASE.replace("METHOD:REQUEST", "METHOD:COUNTER"), "ignored: method COUNTER is not handled"),
])
def test_malformed_messages_are_ignored_and_the_stored_copy_stays(text, why):
    before = stored()
    for existing in (None, before):
        action, data = decide(cal(text), existing, BOB, OLGA)
        assert action.startswith(why) and data is None
    assert parts(before)[0]["LOCATION"] == "Room A"


def test_an_occurrence_named_in_utc_is_the_same_occurrence():
    action, data = decide(cal(occurrence("RECURRENCE-ID:20261209T080000Z").replace("Room A", "Room U")), stored(), BOB, OLGA)
    assert action == "updated: the occurrence 2026-12-09T08:00Z"
    master, [moved] = parts(data)
    assert str(master["LOCATION"]) == "Room A" and str(moved["LOCATION"]) == "Room U"  # the series is untouched


def test_an_occurrence_the_series_does_not_have_changes_nothing():
    action, data = decide(cal(occurrence("RECURRENCE-ID;VALUE=DATE:20261209")), stored(), BOB, OLGA)
    assert action == "ignored: 2026-12-09 is not an occurrence of the series (RECURRENCE-ID matches none)"
    assert data is None


def test_this_and_future_on_an_open_ended_series_is_kept_as_a_labelled_range():
    open_ended = decide(cal(BASE.replace("COUNT=3", "INTERVAL=1")), None, BOB, OLGA)[1]
    change = occurrence("RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20261216T090000")
    action, data = decide(cal(change), open_ended, BOB, OLGA)
    assert action.startswith("updated: this and later occurrences from 2026-12-16T09:00 (best effort: kept as a range")
    master, [rest] = parts(data)
    assert "RRULE" in master and rest["RECURRENCE-ID"].params["RANGE"] == "THISANDFUTURE"


def test_a_whole_cancel_at_a_lower_sequence_is_older():
    newer = decide(cal(BASE.replace("SEQUENCE:0", "SEQUENCE:3")), None, BOB, OLGA)[1]
    action, data = decide(cal(BASE.replace("METHOD:REQUEST", "METHOD:CANCEL").replace("SEQUENCE:0", "SEQUENCE:2")),
                          newer, BOB, OLGA)
    assert action == "unchanged (older): the calendar has a newer version of the meeting" and data is None


def test_ending_a_series_writes_until_in_the_form_rfc_5545_asks():
    zoned = parts(stored())[0]
    assert end_before(zoned, datetime(2026, 12, 16, 9, tzinfo=BERLIN))
    assert zoned["RRULE"]["UNTIL"] == [datetime(2026, 12, 16, 7, 59, 59, tzinfo=timezone.utc)]
    assert "COUNT" not in zoned["RRULE"] and not occurs(zoned, datetime(2026, 12, 16, 9, tzinfo=BERLIN))
    assert occurs(zoned, datetime(2026, 12, 9, 9, tzinfo=BERLIN))
    days = parts(cal((DATA / "allday-series.ics").read_text()))[0]
    assert end_before(days, date(2026, 12, 15)) and days["RRULE"]["UNTIL"] == [date(2026, 12, 14)]
    assert not end_before(days, date(2026, 12, 1))  # from its first occurrence on: nothing left
    floating = parts(cal(BASE.replace(";TZID=Europe/Berlin", "")))[0]
    assert end_before(floating, datetime(2026, 12, 16, 9))
    assert floating["RRULE"]["UNTIL"] == [datetime(2026, 12, 16, 8, 59, 59)]


def test_labels():
    assert label(datetime(2026, 12, 9, 10, tzinfo=BERLIN)) == "2026-12-09T10:00"
    assert label(datetime(2026, 12, 9, 9, tzinfo=timezone.utc)) == "2026-12-09T09:00Z"
    assert label(date(2026, 12, 9)) == "2026-12-09"
    assert events.mailto("MAILTO:Bob@Example.com") == "Bob@Example.com"


def test_rdate_periods_become_start_times_and_a_longer_period_an_override():
    text = (DATA / "exchange-rdate-periods.ics").read_text().replace("20261208T080000/20261208T090000",
                                                                      "20261208T080000/20261208T113000")
    action, data = decide(cal(text), None, BOB, OLGA)
    assert action == "added"
    master, [longer] = parts(data)
    chicago = ZoneInfo("America/Chicago")
    assert [d.dt for p in master["RDATE"] for d in p.dts] == [
        datetime(2026, 12, d, 8, tzinfo=chicago) for d in (1, 3, 8)]
    assert events.times(longer) == (datetime(2026, 12, 8, 8, tzinfo=chicago), datetime(2026, 12, 8, 11, 30, tzinfo=chicago))
    assert "PERIOD" not in data.to_ical().decode()


def test_a_moved_series_drops_changes_of_occurrences_it_no_longer_has_and_says_so():
    first = stored()
    moved_one = occurrence("RECURRENCE-ID;TZID=Europe/Berlin:20261209T090000").replace("Room A", "Room M")
    data = decide(cal(moved_one), first, BOB, OLGA)[1]
    later = BASE.replace("SEQUENCE:0", "SEQUENCE:2").replace("T090000", "T130000").replace("T093000", "T133000")
    action, data = decide(cal(later), data, BOB, OLGA)
    assert action == "updated: the series, changes of 1 occurrence(s) the new series no longer has removed"
    assert parts(data)[1] == []


def test_an_older_whole_meeting_brings_no_occurrence_changes_with_it():
    newer = decide(cal(BASE.replace("SEQUENCE:0", "SEQUENCE:3")), None, BOB, OLGA)[1]
    old_series = BASE.split("END:VCALENDAR")[0] + occurrence(
        "RECURRENCE-ID;TZID=Europe/Berlin:20261209T090000").split("METHOD:REQUEST\n")[1]
    action, data = decide(cal(old_series), newer, BOB, OLGA)
    assert action.startswith("unchanged (older): the calendar has a newer version of the series, the occurrence")
    assert data is None


def test_one_bad_occurrence_does_not_stop_the_rest_of_the_update():
    two = occurrence("RECURRENCE-ID;TZID=Europe/Berlin:20261209T090000").split("END:VCALENDAR")[0] + \
        occurrence("RECURRENCE-ID;TZID=Europe/Berlin:20261209T100000").split("METHOD:REQUEST\n")[1]
    action, data = decide(cal(two), stored(), BOB, OLGA)
    assert action == ("updated: the occurrence 2026-12-09T09:00; ignored: 2026-12-09T10:00 is not an occurrence "
                      "of the series (RECURRENCE-ID matches none)")
    assert len(parts(data)[1]) == 1
