"""Scheduled (cron) triggers: validated in the config, fired by the worker once per scheduled time
even with several workers on one PostgreSQL store, silenced by the kill switch."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from datetime import datetime, timezone

import pytest

from meshclaw.domain.config import Trigger
from meshclaw.surfaces.schedules import fire, next_fire
from tests.conftest import MESHCLAW, ROOT, write_config
from tests.runtime_support import runtime
from tests.support.local_user import mapped
from tests.waiting import wait_for

CONFIG = mapped("""
users: [{id: alice, name: Alice, email: alice@example.com}]
models:
  script:
    kind: scripted
    turns:
      - {tool: notes.add, args: {text: "stand-up at nine"}}
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
      - {cron: "CRON", task: "Note the stand-up."}
""")


def config(cron: str = "0 7 * * 1-5") -> str:
    return CONFIG.replace("CRON", cron)


def test_next_fire_reads_the_schedule_in_its_time_zone():
    paris = Trigger(cron="0 9 * * *", timezone="Europe/Paris", task="t")
    after = datetime(2026, 11, 23, 7, 30, tzinfo=timezone.utc)
    assert next_fire(paris, after) == datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)  # 09:00 CET
    utc = Trigger(cron="0 9 * * *", task="t")
    assert next_fire(utc, after) == datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
    seconds = Trigger(cron="*/10 * * * * *", task="t")
    assert next_fire(seconds, after) == datetime(2026, 11, 23, 7, 30, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize("trigger, problem", [
    ('{cron: "every morning", task: x}', "'every morning' is not a cron schedule"),
    ('{cron: "0 7 * * *", timezone: Mars/Olympus, task: x}', "unknown time zone 'Mars/Olympus'"),
    ('{event: pager.paged, task: x}', "unknown event 'pager.paged' (known: "),
    ('{cron: "0 7 * * *", event: email.received, task: x}', "a trigger has either 'cron' or 'event'"),
])
def test_bad_triggers_fail_config_check_with_their_line(home, cli, trigger, problem):
    text = config().replace('{cron: "0 7 * * 1-5", task: "Note the stand-up."}', trigger)
    write_config(home, text)
    p = cli("config", "check")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    line = text.lstrip().splitlines().index(f"      - {trigger}") + 1  # as write_config writes it
    assert f"line {line}" in p.stderr and problem in p.stderr, p.stderr


def test_a_firing_starts_one_run_and_respects_promotion_and_the_kill_switch(home):
    with runtime(home, config(), promote=False) as rt:
        agent = rt.config.agent("keeper")
        trigger = agent.triggers[0]
        at = datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc)

        async def go() -> None:
            run_id = await fire(rt, agent, 0, trigger, at)
            assert run_id is not None
            assert await fire(rt, agent, 0, trigger, at) is None  # the same time never runs twice
            outcome = await rt.wait(run_id)
            assert outcome.status == "succeeded"
            run = rt.store.runs.get(run_id)
            assert run.trigger == "cron" and run.rehearsal  # not promoted yet: a rehearsal
            assert run.task == "Note the stand-up.\n\nTrigger: scheduled for 2026-11-23 07:00:00 UTC."
            rt.store.agents.set_stopped("keeper", True, by="alice")
            assert await fire(rt, agent, 0, trigger, datetime(2026, 11, 24, 7, 0, tzinfo=timezone.utc)) is None

        asyncio.run(go())
        assert len(rt.store.runs.list()) == 1


@pytest.mark.slow
@pytest.mark.postgres
def test_two_workers_fire_each_scheduled_time_once(home, cli, pg_url):
    write_config(home, config("*/2 * * * * *"))  # every two seconds
    env = dict(os.environ, PYTHONPATH=str(ROOT), MESHCLAW_HOME=str(home), MESHCLAW_DATABASE_URL=pg_url)
    cli("promote", "keeper", env={"MESHCLAW_DATABASE_URL": pg_url}, check=True)
    workers = [subprocess.Popen([*MESHCLAW, "worker"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    try:

        def four_succeeded() -> bool:
            runs = json.loads(cli("runs", "--json", env={"MESHCLAW_DATABASE_URL": pg_url}, check=True).stdout)
            assert all(w.poll() is None for w in workers), runs
            return sum(r["status"] == "succeeded" for r in runs) >= 4

        wait_for(four_succeeded, 60, 0.5, what="four scheduled runs")
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        outputs = [w.communicate(timeout=30)[0] for w in workers]
    assert all("1 schedule(s)" in out for out in outputs), outputs
    runs = json.loads(cli("runs", "--json", env={"MESHCLAW_DATABASE_URL": pg_url}, check=True).stdout)
    tasks = [r["task"] for r in runs]
    assert all(r["trigger"] == "cron" and not r["rehearsal"] for r in runs)
    assert len(tasks) == len(set(tasks)), tasks  # each scheduled time ran once, not once per worker
    seconds = sorted(int(t.rsplit(":", 1)[1].split()[0]) for t in tasks)
    assert all(s % 2 == 0 for s in seconds), tasks


def test_a_schedule_is_skipped_not_stacked_while_the_previous_run_waits(home):
    from tests.test_approvals import _pending
    from tests.test_approvals import config as asking

    trigger = Trigger(cron="0 7 * * *", task="note it")
    with runtime(home, asking()) as rt:
        async def go():  # type: ignore[no-untyped-def]
            first = await rt.start("keeper", "remember milk")
            await _pending(rt)  # the first run waits for a person
            agent = rt.config.agent("keeper")
            skipped = await fire(rt, agent, 0, trigger, datetime(2026, 12, 1, 7, tzinfo=timezone.utc))
            return first, skipped

        first, skipped = asyncio.run(go())
        assert skipped is None
        assert [r.id for r in rt.store.runs.list(agent="keeper")] == [first]
