"""The calendar tools, unchanged, on the sandbox backend: the seeded week listed with the standup
expanded, free/busy of the owner and colleagues (times only), a meeting created once per call with
its invitation delivered to the colleague's sandbox INBOX, and the bad inputs."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from meshclaw.connectors.calendar import CalendarError
from meshclaw.connectors.calendar.seed import calendars
from meshclaw.connectors.calendar.settings import CalendarSettings
from meshclaw.connectors.calendar.tools import calendar_create, calendar_freebusy, calendar_list
from tests.sandbox_support import sandbox_ctx, sandbox_store

MONDAY = date(2026, 3, 2)
TZ = "Europe/Berlin"
CAL = {"backend": "sandbox", "workplace": "demo", "timezone": TZ}


def run(coro):
    return asyncio.run(coro)


def day(n: int, hh: int = 0, mm: int = 0) -> str:
    return datetime.combine(MONDAY + timedelta(days=n), time(hh, mm)).isoformat(timespec="minutes")


@pytest.fixture
def store(tmp_path):
    store = sandbox_store(tmp_path / "home", seed_mail=False)
    for user, objects in calendars(MONDAY, tz=TZ).items():
        for ics in objects:
            uid = ics.split("UID:", 1)[1].split("\r\n", 1)[0].strip()
            store.workplaces.put_event("demo", user, "work", uid, ics)
    return store


def ctx(store, user="alice", **kw):
    return sandbox_ctx(store, "calendar", CAL, user=user, **kw)


def test_list_expands_the_week_like_the_server(store):
    listed = run(calendar_list(ctx(store), day(0), day(7)))
    events = listed.value["events"] if hasattr(listed, "value") else listed["events"]
    standups = [e for e in events if e["title"] == "Team standup"]
    assert [e["start"] for e in standups] == [day(n, 9, 30) for n in range(5)]
    assert "All-hands" in {e["title"] for e in events}
    assert [e["start"] for e in events] == sorted(e["start"] for e in events)


def test_freebusy_gives_times_for_the_owner_and_colleagues(store):
    fb = run(calendar_freebusy(ctx(store), day(0), day(1), people=["bob", "carol", "zed@nowhere.test"]))
    assert fb["timezone"] == TZ
    assert [day(0, 9, 30), day(0, 9, 45)] in fb["busy"]["me"]
    assert [day(0, 9, 30), day(0, 9, 45)] in fb["busy"]["bob"]
    assert "zed@nowhere.test" in fb["unavailable"]
    # Of a colleague's calendar only the times: the stored copy handed to the connector has no titles.
    [first, *_] = store.workplaces.events("demo", "bob", "work")
    access = ctx(store).deps.state.open()
    reduced = access.busy_objects("bob", "work")
    assert "SUMMARY" in first[1] and all("SUMMARY" not in r and "ATTENDEE" not in r for r in reduced)


def test_create_books_once_and_invites_by_sandbox_mail(store):
    made = run(calendar_create(ctx(store, tool_call_id="c1"), "Plan Q3", day(8, 14), day(8, 14, 30),
                               attendees=["bob@example.com", "dana@customer.example"]))
    again = run(calendar_create(ctx(store, tool_call_id="c1"), "Plan Q3", day(8, 14), day(8, 14, 30),
                                attendees=["bob@example.com", "dana@customer.example"]))
    assert made["invited"] == ["bob@example.com", "dana@customer.example"] and again.get("already_done")
    assert len([e for e in store.workplaces.events("demo", "alice", "work") if "Plan Q3" in e[1]]) == 1
    [invite] = store.workplaces.messages("demo", "bob", "INBOX")
    assert b"METHOD:REQUEST" in invite.raw.replace(b"\r\n ", b"") or b"method=REQUEST" in invite.raw
    assert [to for _, to, _ in store.workplaces.outside("demo")] == [["dana@customer.example"]]
    fb = run(calendar_freebusy(ctx(store), day(8), day(9)))
    assert [day(8, 14), day(8, 14, 30)] in fb["busy"]["me"]


def test_an_unknown_workplace_is_a_clear_error(store):
    with pytest.raises(CalendarError, match="no sandbox workplace 'elsewhere'"):
        run(calendar_freebusy(sandbox_ctx(store, "calendar", {**CAL, "workplace": "elsewhere"}), day(0), day(1)))


@pytest.mark.parametrize("settings, problem", [
    ({**CAL, "url": "https://cal.example.com/"}, "remove url"),
    ({"backend": "sandbox"}, "needs the workplace"),
    ({"url": "https://cal.example.com/", "username": "a", "password": "secret:x", "workplace": "demo"},
     "workplace is only for backend 'sandbox'"),
    ({"url": "https://cal.example.com/"}, "needs username, password"),
])
def test_settings_refuse_a_mix_of_sandbox_and_server(settings, problem):
    with pytest.raises(ValidationError, match=problem):
        CalendarSettings.model_validate(settings)
