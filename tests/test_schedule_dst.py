"""Cron triggers across daylight-saving changes, by cronie's rule: a job with fixed times runs once per
local time it names (the first occurrence of a repeated time; right after the change for a skipped
one), a job with a wildcard minute or hour runs by real elapsed time.

The zones cover a one-hour change at 02:00/03:00 (Europe/Berlin, America/New_York,
Australia/Sydney in the southern hemisphere), a 30-minute change (Australia/Lord_Howe) and changes
at midnight (America/Havana, America/Santiago). Transition instants are those of tzdata for 2026.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from meshclaw.domain.config import Trigger
from meshclaw.surfaces.cron_times import is_wall_clock_schedule, next_cron_time
from meshclaw.surfaces.schedules import fire, firing_run_id, next_fire
from tests.runtime_support import runtime

UTC = timezone.utc


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def sequence(cron: str, zone: str, after: datetime, count: int) -> list[datetime]:
    trigger = Trigger(cron=cron, timezone=zone, task="t")
    found = []
    for _ in range(count):
        after = next_fire(trigger, after)
        found.append(after)
    return found


def local_days(times: list[datetime], zone: str) -> list:
    return [t.astimezone(ZoneInfo(zone)).date() for t in times]


# (zone, daily schedule whose time happens twice that day, the day, UTC of its first occurrence)
REPEATED = [
    ("Europe/Berlin", "30 2 * * *", "2026-10-25", utc(2026, 10, 25, 0, 30)),  # 02:30 CEST, not 02:30 CET
    ("America/New_York", "30 1 * * *", "2026-11-01", utc(2026, 11, 1, 5, 30)),  # 01:30 EDT
    ("Australia/Sydney", "30 2 * * *", "2026-04-05", utc(2026, 4, 4, 15, 30)),  # 02:30 AEDT
    ("Australia/Lord_Howe", "45 1 * * *", "2026-04-05", utc(2026, 4, 4, 14, 45)),  # 01:45 +11, not +10:30
    ("America/Havana", "30 0 * * *", "2026-11-01", utc(2026, 11, 1, 4, 30)),  # 00:30 CDT
    ("America/Santiago", "30 23 * * *", "2026-04-04", utc(2026, 4, 5, 2, 30)),  # 23:30 -03
    ("America/Santiago", "0 30 23 * * *", "2026-04-04", utc(2026, 4, 5, 2, 30)),  # with seconds
]

# (zone, daily schedule whose time is skipped that day, the day, UTC of the change it runs at)
SKIPPED = [
    ("Europe/Berlin", "30 2 * * *", "2026-03-29", utc(2026, 3, 29, 1, 0)),  # runs at 03:00 CEST
    ("America/New_York", "30 2 * * *", "2026-03-08", utc(2026, 3, 8, 7, 0)),
    ("Australia/Sydney", "30 2 * * *", "2026-10-04", utc(2026, 10, 3, 16, 0)),
    ("Australia/Lord_Howe", "15 2 * * *", "2026-10-04", utc(2026, 10, 3, 15, 30)),  # 02:00-02:30 is skipped
    ("America/Havana", "30 0 * * *", "2026-03-08", utc(2026, 3, 8, 5, 0)),  # midnight to 01:00 is skipped
    ("America/Santiago", "0 0 * * *", "2026-09-06", utc(2026, 9, 6, 4, 0)),  # Saturday 24:00 becomes 01:00
]


def _around(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC) - timedelta(days=3)


@pytest.mark.parametrize("zone, cron, day, first", REPEATED, ids=[f"{z}-{c}" for z, c, _, _ in REPEATED])
def test_a_daily_job_runs_once_on_the_day_its_time_repeats(zone, cron, day, first):
    times = sequence(cron, zone, _around(day), 7)
    days = local_days(times, zone)
    start = days[0]
    assert days == [start + timedelta(days=n) for n in range(7)]  # one per local day, none twice
    assert first in times  # at the first occurrence of the repeated time
    assert first.astimezone(ZoneInfo(zone)).fold == 0


@pytest.mark.parametrize("zone, cron, day, change", SKIPPED, ids=[f"{z}-{c}" for z, c, _, _ in SKIPPED])
def test_a_daily_job_whose_time_is_skipped_runs_right_after_the_change(zone, cron, day, change):
    times = sequence(cron, zone, _around(day), 7)
    days = local_days(times, zone)
    assert days == [days[0] + timedelta(days=n) for n in range(7)]  # no day skipped
    assert change in times
    before = change - timedelta(seconds=1)
    assert before.astimezone(ZoneInfo(zone)).utcoffset() != change.astimezone(ZoneInfo(zone)).utcoffset()


def test_several_skipped_times_of_one_job_make_one_firing():
    times = sequence("0,30 2 * * *", "Europe/Berlin", utc(2026, 3, 28, 12, 0), 3)
    assert times == [utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 0), utc(2026, 3, 30, 0, 30)]


def test_resuming_in_the_second_pass_of_the_repeated_hour_does_not_run_the_day_again():
    trigger = Trigger(cron="30 2 * * *", timezone="Europe/Berlin", task="t")
    first_pass, second_pass = utc(2026, 10, 25, 0, 10), utc(2026, 10, 25, 1, 10)  # both 02:10 local
    assert next_fire(trigger, first_pass) == utc(2026, 10, 25, 0, 30)
    assert next_fire(trigger, second_pass) == utc(2026, 10, 26, 1, 30)  # the next day, 02:30 CET
    assert next_fire(trigger, utc(2026, 10, 25, 0, 30)) == utc(2026, 10, 26, 1, 30)


def test_a_weekly_job_keeps_its_local_weekday_when_the_change_is_at_midnight():
    # Havana skips Sunday 00:00-01:00 on 2026-03-08; Santiago repeats Saturday 23:00-24:00 on 2026-04-04.
    assert sequence("30 0 * * 0", "America/Havana", utc(2026, 3, 1, 12), 2) == [utc(2026, 3, 8, 5, 0),
                                                                                 utc(2026, 3, 15, 4, 30)]
    assert sequence("30 23 * * 6", "America/Santiago", utc(2026, 3, 30), 2) == [utc(2026, 4, 5, 2, 30),
                                                                                utc(2026, 4, 12, 3, 30)]


WHOLE_HOUR_CHANGES = [
    ("Europe/Berlin", utc(2026, 3, 28, 12)), ("Europe/Berlin", utc(2026, 10, 24, 12)),
    ("America/New_York", utc(2026, 3, 7, 12)), ("America/New_York", utc(2026, 10, 31, 12)),
    ("Australia/Sydney", utc(2026, 4, 4)), ("Australia/Sydney", utc(2026, 10, 3)),
    ("America/Havana", utc(2026, 3, 7, 12)), ("America/Havana", utc(2026, 10, 31, 12)),
    ("America/Santiago", utc(2026, 4, 4)), ("America/Santiago", utc(2026, 9, 5)),
]


@pytest.mark.parametrize("zone, after", WHOLE_HOUR_CHANGES, ids=[f"{z}-{a:%m}" for z, a in WHOLE_HOUR_CHANGES])
def test_hourly_and_quarter_hourly_jobs_run_per_real_hour_across_a_change(zone, after):
    hourly = sequence("0 * * * *", zone, after, 36)
    assert all(b - a == timedelta(hours=1) for a, b in zip(hourly, hourly[1:])), hourly
    offsets = {t.astimezone(ZoneInfo(zone)).utcoffset() for t in hourly}
    assert len(offsets) == 2  # the window really spans the change
    quarter = sequence("*/15 * * * *", zone, after, 36 * 4)
    assert all(b - a == timedelta(minutes=15) for a, b in zip(quarter, quarter[1:]))


def test_hourly_job_on_a_half_hour_change_runs_at_each_local_full_hour_that_exists():
    zone = ZoneInfo("Australia/Lord_Howe")
    back = sequence("0 * * * *", "Australia/Lord_Howe", utc(2026, 4, 4, 12, 30), 4)
    # 00:00 and 01:00 at +11, then 01:30-02:00 happens twice but holds no full hour, then 02:00 and
    # 03:00 at +10:30: 90 real minutes between the second and the third
    assert back == [utc(2026, 4, 4, 13, 0), utc(2026, 4, 4, 14, 0), utc(2026, 4, 4, 15, 30), utc(2026, 4, 4, 16, 30)]
    forward = sequence("0 * * * *", "Australia/Lord_Howe", utc(2026, 10, 3, 14, 0), 3)
    # 01:00 +10:30, then 02:00 does not exist (02:00 becomes 02:30), then 03:00 +11
    assert forward == [utc(2026, 10, 3, 14, 30), utc(2026, 10, 3, 16, 0), utc(2026, 10, 3, 17, 0)]
    assert [t.astimezone(zone).minute for t in back + forward] == [0] * 7


def test_every_ten_seconds_runs_by_real_time_through_the_repeated_hour():
    times = sequence("*/10 * * * * *", "Europe/Berlin", utc(2026, 10, 25, 0, 59, 30), 6)
    assert times == [utc(2026, 10, 25, 0, 59, 40) + timedelta(seconds=10 * n) for n in range(6)]


def test_rare_wildcard_jobs_far_from_now_cross_several_changes():
    # Hourly on 29 February, asked in the summer of 2026: two years and four changes away, in CET.
    assert next_fire(Trigger(cron="0 * 29 2 *", timezone="Europe/Berlin", task="t"),
                     utc(2026, 7, 1)) == utc(2028, 2, 28, 23, 0)
    # Every half hour on 25 October, asked in June: both passes of the repeated hour run.
    night = sequence("*/30 * 25 10 *", "Europe/Berlin", utc(2026, 6, 1), 8)
    assert night[0] == utc(2026, 10, 24, 22, 0)  # 00:00 CEST
    assert all(b - a == timedelta(minutes=30) for a, b in zip(night, night[1:]))


@pytest.mark.parametrize("cron, wall_clock", [
    ("30 2 * * *", True), ("0 9-17 * * 1-5", True), ("0,30 2 * * *", True), ("0 30 2 * * *", True),
    ("0 * * * *", False), ("*/5 2 * * *", False), ("0 */2 * * *", False), ("*/10 * * * * *", False),
])
def test_which_schedules_follow_the_wall_clock(cron, wall_clock):
    assert is_wall_clock_schedule(cron) is wall_clock


def test_utc_schedules_and_naive_times():
    assert next_cron_time("30 2 * * *", UTC, utc(2026, 10, 25)) == utc(2026, 10, 25, 2, 30)
    with pytest.raises(ValueError):
        next_cron_time("30 2 * * *", UTC, datetime(2026, 10, 25))


CONFIG = """
users: [{id: alice, name: Alice, email: alice@example.com}]
models:
  script:
    kind: scripted
    turns:
      - {text: "noted"}
agents:
  - name: keeper
    owner: alice
    instructions: Keep notes.
    model: script
    autonomy: auto
    toolsets:
      notes: {grants: [notes.add]}
    triggers:
      - {cron: "30 2 * * *", timezone: Europe/Berlin, task: "Note the night."}
"""


def test_two_workers_fire_the_repeated_night_once(home):
    """Two workers, one started in each pass of the repeated hour, walk the schedule and fire."""
    with runtime(home, CONFIG) as rt:
        agent = rt.config.agent("keeper")
        trigger = agent.triggers[0]

        async def worker(start: datetime, until: datetime) -> list[str | None]:
            started, at = [], next_fire(trigger, start)
            while at < until:
                started.append(await fire(rt, agent, 0, trigger, at))
                if started[-1] is not None:
                    await rt.wait(started[-1])  # a firing is skipped while the previous run still goes
                at = next_fire(trigger, at)
            return started

        async def go() -> list[str]:
            first = await worker(utc(2026, 10, 24, 0, 10), utc(2026, 10, 27))  # from 02:10 CEST on the 24th
            second = await worker(utc(2026, 10, 25, 0, 50), utc(2026, 10, 27))  # from 02:50 CEST on the 25th
            assert second == [None]  # the 26th was already started by the first worker
            ids = [i for i in first if i is not None]
            for run_id in ids:
                await rt.wait(run_id)
            return ids

        ids = asyncio.run(go())
        runs = rt.store.runs.list()
        assert len(ids) == 3 and sorted(r.id for r in runs) == sorted(ids)
        tasks = sorted(r.task.rsplit("scheduled for ", 1)[1] for r in runs)
        assert tasks == ["2026-10-24 00:30:00 UTC.", "2026-10-25 00:30:00 UTC.", "2026-10-26 01:30:00 UTC."]
        assert ids[1] == firing_run_id(agent, 0, trigger, utc(2026, 10, 25, 0, 30))
