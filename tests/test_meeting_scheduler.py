"""The meeting scheduler: the request read by one judgement, free/busy read by code, slots found in
working hours, and the invitation sent only after the owner's yes (a real Radicale and Postfix)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from meshclaw.agents.meeting_scheduler.slots import find_slots, window_for
from meshclaw.agents.meeting_scheduler.workflow import Unresolved, resolve
from meshclaw.domain.config import User
from tests.servers.calendar_fixtures import (  # noqa: F401
    calendar_ctx, calendar_mail, mail, mail_servers, radicale_server)

BERLIN = ZoneInfo("Europe/Berlin")


def at(d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 6, 1 + d, hh, mm, tzinfo=BERLIN)  # 1 June 2026 is a Monday


def test_slots_avoid_every_busy_block_stay_in_working_hours_and_spread_over_days():
    busy = [(at(0, 9), at(0, 12)), (at(0, 12), at(0, 12, 30)), (at(1, 8), at(1, 17))]
    slots = find_slots(busy, (at(0, 0), at(5, 0)), 60)
    assert slots == [(at(0, 12, 30), at(0, 13, 30)), (at(2, 9), at(2, 10)), (at(3, 9), at(3, 10))]
    assert find_slots([(at(0, 0), at(5, 0))], (at(0, 0), at(5, 0)), 30) == []  # nobody free
    assert find_slots([], (at(5, 0), at(7, 0)), 30) == []  # a weekend has no working hours
    with pytest.raises(ValueError):
        find_slots([], (at(0, 0), at(1, 0)), 0)


def test_windows_are_in_the_owners_week():
    now = at(2, 15, 10)  # Wednesday 15:10
    assert window_for("next_week", now) == (datetime(2026, 6, 8, tzinfo=BERLIN), datetime(2026, 6, 13, tzinfo=BERLIN))
    assert window_for("today", now)[0] == now
    assert window_for("date", now, "2026-06-05") == (at(4, 0), at(5, 0))
    with pytest.raises(ValueError, match="in the past"):
        window_for("date", now, "2026-05-01")


def test_people_are_resolved_in_the_directory_exactly_once():
    users = [User(id="alice", name="Alice Example", email="alice@example.com"),
             User(id="raj", name="Raj Kumar", email="raj@example.com"),
             User(id="ana", name="Ana Silva", email="ana@example.com"),
             User(id="ana2", name="Ana Costa", email="ana.costa@example.com")]
    assert resolve("Raj", users, "alice") == ("raj@example.com", "raj")
    assert resolve("kim@partner.test", users, "alice") == ("kim@partner.test", None)
    with pytest.raises(Unresolved, match="several people match"):
        resolve("Ana", users, "alice")
    with pytest.raises(Unresolved, match="nobody in the directory"):
        resolve("Zed", users, "alice")


@pytest.mark.slow
def test_a_meeting_is_booked_only_after_the_owners_yes(radicale_server, calendar_ctx, calendar_mail, home):
    from meshclaw.connectors.calendar.tools import calendar_create, calendar_list
    from tests.runtime_support import runtime
    from tests.servers.calendar_fixtures import calendar_settings
    from tests.test_approvals import _answer, _pending
    from tests.test_calendar_meetings import next_week

    s, mail = radicale_server, calendar_mail
    asyncio.run(calendar_create(calendar_ctx("bob", call="busy", mail=mail), "Bob's focus block",
                                next_week(s, 0, 9), next_week(s, 0, 12)))
    (home / "secrets.env").write_text(f"alice_cal={s.users['alice']}\nalice_smtp={mail.password('alice@example.com')}\n")
    (home / "secrets.env").chmod(0o600)
    request = {"people": ["Bob"], "minutes": 30, "when": "next_week", "date": "", "title": "Roadmap sync"}
    config = {
        "organisation": {"name": "Example", "domains": ["example.com"], "timezone": s.tz},
        "users": [{"id": "alice", "name": "Alice", "email": "alice@example.com"},
                  {"id": "bob", "name": "Bob Builder", "email": "bob@example.com"}],
        "models": {"m": {"kind": "scripted", "turns": [{"text": json.dumps(request)}]}},
        "agents": [{"name": "scheduler", "owner": "alice", "instructions": "Schedule meetings.", "model": "m",
                    "workflow": "meeting-scheduler", "autonomy": "ask",
                    "toolsets": {"calendar": {"grants": ["calendar.freebusy", "calendar.create"],
                                              "settings": calendar_settings(s, "alice", mail)}}}],
    }
    with runtime(home, json.dumps(config)) as rt:
        async def go():  # type: ignore[no-untyped-def]
            run_id = await rt.start("scheduler", "find 30 minutes with Bob next week for a roadmap sync")
            try:
                [asked] = await _pending(rt, timeout=30)
            except AssertionError:
                raise AssertionError(str(await rt.wait(run_id)))
            assert asked.tool == "calendar.create" and asked.args["attendees"] == ["bob@example.com"]
            start = datetime.fromisoformat(asked.args["start"])
            assert time(9) <= start.time() and start.weekday() < 5
            assert not (start.weekday() == 0 and start.time() < time(12))  # Bob's focus block
            assert not mail.messages("bob@example.com")  # nothing sent before the yes
            _answer(rt, asked, "approved")
            return await rt.wait(run_id), start

        outcome, start = asyncio.run(go())
    assert outcome.status == "succeeded" and outcome.output.startswith("Booked 'Roadmap sync'"), outcome
    monday = datetime.combine(s.monday + timedelta(days=7), time(0)).isoformat()
    listed = asyncio.run(calendar_list(calendar_ctx("alice"), monday,
                                       (datetime.fromisoformat(monday) + timedelta(days=5)).isoformat()))
    events = getattr(listed, "value", listed)["events"]  # a labelled result or its plain value
    [booked] = [e for e in events if e["title"] == "Roadmap sync"]
    assert datetime.fromisoformat(booked["start"]).replace(tzinfo=None) == start.replace(tzinfo=None)
