"""Reading calendars against a real Radicale: events with recurrence expansion, free/busy, busy_now, errors."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic_ai import ModelRetry

from meshclaw.connectors.calendar import CalendarError, NotAllowed, busy_now, load_settings
from meshclaw.connectors.calendar.client import Connection
from meshclaw.connectors.calendar.tools import calendar_freebusy, calendar_list
from meshclaw.domain.provenance import Labelled, Source, Trust
from meshclaw.domain.errors import ConnectorProblem
from tests.servers.calendar_fixtures import calendar_ctx, calendar_settings, radicale_server  # noqa: F401


def day(server, n: int, hh: int = 0, mm: int = 0) -> datetime:
    """A local time in the seeded week: n=0 is Monday."""
    return datetime.combine(server.monday + timedelta(days=n), time(hh, mm), tzinfo=ZoneInfo(server.tz))


def iso(dt: datetime) -> str:
    return dt.replace(tzinfo=None).isoformat(timespec="minutes")


def run(coro):
    return asyncio.run(coro)


def test_list_week_expands_the_daily_standup(radicale_server, calendar_ctx):
    s = radicale_server
    result = run(calendar_list(calendar_ctx("alice"), iso(day(s, 0)), iso(day(s, 7))))

    # Bob and Carol organized some of these: their titles and agendas are data, not instructions.
    assert isinstance(result, Labelled)
    assert (result.label.source, result.label.trust) == (Source.EXTERNAL, Trust.UNTRUSTED)
    assert "bob@example.com" in result.label.origin and "carol@example.com" in result.label.origin
    listed = result.value["events"]
    assert result.value["timezone"] == "Europe/Berlin"
    assert [e["title"] for e in listed].count("Team standup") == 5
    standups = [e for e in listed if e["title"] == "Team standup"]
    assert [e["start"] for e in standups] == [iso(day(s, n, 9, 30)) for n in range(5)]
    assert all(e["recurring"] and e["end"].endswith("09:45") for e in standups)
    assert {e["title"] for e in listed} == {
        "Team standup", "1:1 Alice / Bob", "Customer call: Dana (renewal)", "Focus time",
        "Deploy review: release 4.2", "All-hands"}
    assert len(listed) == 10
    assert [e["start"] for e in listed] == sorted(e["start"] for e in listed)
    one_on_one = next(e for e in listed if e["title"] == "1:1 Alice / Bob")
    assert one_on_one["organizer"] == "bob@example.com" and "quarterly goals" in one_on_one["description"]
    # Repeats of the standup are listed briefly: the model is small.
    assert "description" in standups[0] and "description" not in standups[1]
    json.dumps(result.value)  # compact and JSON-able


def test_list_of_the_owners_own_events_is_trusted(radicale_server, calendar_ctx):
    s = radicale_server
    result = run(calendar_list(calendar_ctx("alice"), iso(day(s, 2, 13)), iso(day(s, 2, 17))))
    assert not isinstance(result, Labelled)
    assert [e["title"] for e in result["events"]] == ["Focus time"]
    assert result["events"][0]["start"] == iso(day(s, 2, 14)) and "organizer" not in result["events"][0]


def test_list_accepts_offsets_and_dates(radicale_server, calendar_ctx):
    s = radicale_server
    tuesday = (s.monday + timedelta(days=1)).isoformat()
    wednesday = (s.monday + timedelta(days=2)).isoformat()
    by_date = run(calendar_list(calendar_ctx("alice"), tuesday, wednesday)).value["events"]
    assert [e["title"] for e in by_date] == ["Team standup", "1:1 Alice / Bob"]
    # 13:00-13:30 UTC is 14:00-14:30 in Berlin in winter, 15:00-15:30 in summer: ask for the 1:1 in UTC.
    start_utc = day(s, 1, 14).astimezone(ZoneInfo("UTC"))
    result = run(calendar_list(calendar_ctx("alice"), start_utc.isoformat(), (start_utc + timedelta(minutes=30)).isoformat()))
    assert [e["title"] for e in result.value["events"]] == ["1:1 Alice / Bob"]


def test_freebusy_for_the_owner_and_a_colleague(radicale_server, calendar_ctx):
    s = radicale_server
    result = run(calendar_freebusy(calendar_ctx("alice"), iso(day(s, 3)), iso(day(s, 4)), ["bob", "carol@example.com"]))
    thursday = lambda hh, mm: iso(day(s, 3, hh, mm))  # noqa: E731
    assert result["busy"]["me"] == [[thursday(9, 30), thursday(9, 45)], [thursday(15, 0), thursday(16, 0)]]
    assert result["busy"]["bob"] == [[thursday(9, 30), thursday(9, 45)], [thursday(10, 0), thursday(10, 30)],
                                     [thursday(15, 0), thursday(16, 0)]]
    assert result["busy"]["carol@example.com"] == result["busy"]["bob"]
    assert "unavailable" not in result
    # Free/busy is times only: nothing of what the meetings are about.
    assert "Deploy" not in json.dumps(result) and "1:1" not in json.dumps(result)


def test_freebusy_reports_what_is_not_allowed(radicale_server, calendar_ctx):
    s = radicale_server
    # Everyone's "private" calendar is shared with nobody, free/busy included.
    ctx = calendar_ctx("alice", colleague_calendar="{user}/private/")
    result = run(calendar_freebusy(ctx, iso(day(s, 0)), iso(day(s, 1)), ["bob", "dana@customer.example"]))
    assert result["unavailable"]["bob"] == "bob's calendar does not share free/busy with alice"
    assert "not a person in the organisation's directory" in result["unavailable"]["dana@customer.example"]
    assert result["busy"]["me"] == [[iso(day(s, 0, 9, 30)), iso(day(s, 0, 9, 45))]]
    # A colleague without such a calendar: said so, with the address that was tried.
    missing = run(calendar_freebusy(calendar_ctx("alice", colleague_calendar="{user}/holidays/"),
                                    iso(day(s, 0)), iso(day(s, 1)), ["bob"]))
    assert missing["unavailable"]["bob"] == f"free/busy of bob's calendar: nothing found at {s.url}bob/holidays/"


def test_a_colleagues_event_details_are_refused(radicale_server):
    s = radicale_server
    conn = Connection(load_settings(calendar_settings(s, "alice")), s.users["alice"])
    bobs = conn.colleague_calendar("bob", "bob@example.com")
    with pytest.raises(NotAllowed, match="does not allow 'alice'"):
        conn.events(bobs, day(s, 0), day(s, 7))
    assert conn.freebusy(bobs, day(s, 0), day(s, 7))  # ...while the free/busy report is allowed


@pytest.mark.parametrize(("when", "expected"), [
    ((0, 9, 35), (0, 9, 45)),  # in Monday's standup
    ((2, 11, 30), (2, 12, 0)),  # in the customer call
    ((2, 15, 59), (2, 16, 0)),  # the last minute of focus time
    ((4, 16, 0), (4, 17, 0)),  # the all-hands, right at its start
    ((2, 12, 0), None),  # the customer call has just ended
    ((1, 13, 0), None),  # a free Tuesday afternoon
    ((5, 10, 0), None),  # Saturday
])
def test_busy_now_during_and_outside_meetings(radicale_server, when, expected):
    s = radicale_server
    settings = calendar_settings(s, "alice")
    busy, until = run(busy_now(settings, s.users["alice"], now=day(s, *when)))
    if expected is None:
        assert (busy, until) == (False, None)
    else:
        assert busy is True and until == day(s, *expected)
        assert until.utcoffset() == day(s, *expected).utcoffset()  # reported in the owner's zone


def test_busy_now_takes_naive_times_in_the_owners_zone(radicale_server):
    s = radicale_server
    busy, until = run(busy_now(calendar_settings(s, "alice"), s.users["alice"], now=day(s, 0, 9, 40).replace(tzinfo=None)))
    assert busy and until == day(s, 0, 9, 45)


# --- bad input --------------------------------------------------------------------------------


def test_wrong_password_is_a_clear_error(radicale_server, calendar_ctx):
    s = radicale_server
    with pytest.raises(CalendarError, match="rejected the username or password for 'alice'") as caught:
        run(busy_now(calendar_settings(s, "alice"), "not-alices-password"))
    assert "not-alices-password" not in str(caught.value)
    # Through a tool: alice's settings pointing at bob's secret.
    ctx = calendar_ctx("alice", password="secret:bob_cal")
    with pytest.raises(CalendarError, match="rejected the username or password") as caught:
        run(calendar_list(ctx, iso(day(s, 0)), iso(day(s, 1))))
    assert s.users["bob"] not in str(caught.value)


def test_end_before_start_is_a_clear_error(radicale_server, calendar_ctx):
    s = radicale_server
    with pytest.raises(ModelRetry, match=r"must be after start"):
        run(calendar_list(calendar_ctx("alice"), iso(day(s, 2)), iso(day(s, 1))))
    with pytest.raises(ModelRetry, match=r"must be after start"):
        run(calendar_freebusy(calendar_ctx("alice"), iso(day(s, 2, 10)), iso(day(s, 2, 10))))


def test_unreadable_times_are_a_clear_error(radicale_server, calendar_ctx):
    with pytest.raises(ModelRetry, match=r"'next tuesday' is not a date-time: write it like"):
        run(calendar_list(calendar_ctx("alice"), "next tuesday", "2026-03-03"))


def test_unknown_calendar_is_a_clear_error(radicale_server, calendar_ctx):
    s = radicale_server
    with pytest.raises(CalendarError, match=r"no calendar 'holidays' for 'alice' \(calendars: .*work \(Work\)"):
        run(calendar_list(calendar_ctx("alice"), iso(day(s, 0)), iso(day(s, 1)), calendar="holidays"))
    # The same from the settings, for a trigger.
    with pytest.raises(CalendarError, match="no calendar 'holidays'"):
        run(busy_now(calendar_settings(s, "alice", calendar="holidays"), s.users["alice"]))


def test_display_name_finds_the_calendar(radicale_server, calendar_ctx):
    s = radicale_server
    result = run(calendar_list(calendar_ctx("alice", calendar="Work"), iso(day(s, 2, 13)), iso(day(s, 2, 17))))
    assert [e["title"] for e in result["events"]] == ["Focus time"]


def test_bad_settings_and_unreachable_server_are_clear_errors(radicale_server, calendar_ctx):
    s = radicale_server
    # Settings are validated against the connector's model before any of its tools runs.
    with pytest.raises(ConnectorProblem, match="url must use https unless the CalDAV server is on this machine"):
        calendar_ctx("alice", url="http://cal.example.com/")
    with pytest.raises(CalendarError, match="the calendar password cannot be resolved"):
        run(calendar_list(calendar_ctx("alice", password="secret:nobody_cal"), "2026-01-01", "2026-01-02"))
    with pytest.raises(CalendarError, match="cannot reach the CalDAV server at http://127.0.0.1:1/"):
        run(busy_now(calendar_settings(s, "alice", url="http://127.0.0.1:1/"), s.users["alice"]))
