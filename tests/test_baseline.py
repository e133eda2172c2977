"""Alerts when an agent deviates from its own baseline."""

from __future__ import annotations

from meshclaw.policy.baseline import deviations
from tests.builders import Org, call, say
from tests.runtime_support import run, runtime
from tests.test_runs import config


def lists_only() -> Org:
    """keeper as in tests.test_runs, whose model only lists the notes."""
    return config().scripted("script", call("notes.list"), say("done"))


def test_new_tool_after_history_and_bursts():
    assert deviations("a", "email.send", earlier_runs=1, total_calls=1, last_hour=1, last_week=1) == []
    [new] = deviations("a", "email.send", earlier_runs=5, total_calls=1, last_hour=1, last_week=1)
    assert new.kind == "new-tool" and "first time" in new.message
    assert deviations("a", "t", earlier_runs=9, total_calls=500, last_hour=12, last_week=1700) == []  # its normal rate
    [burst] = deviations("a", "t", earlier_runs=9, total_calls=40, last_hour=30, last_week=40)
    assert burst.kind == "burst" and "30 times in the last hour" in burst.message


def test_first_use_of_a_read_tool_is_expected_but_its_burst_is_not():
    assert deviations("a", "notes.list", earlier_runs=5, total_calls=1, last_hour=1, last_week=1, read=True) == []
    [new] = deviations("a", "notes.add", earlier_runs=5, total_calls=1, last_hour=1, last_week=1, read=False)
    assert new.kind == "new-tool"
    [burst] = deviations("a", "notes.list", earlier_runs=9, total_calls=40, last_hour=30, last_week=40, read=True)
    assert burst.kind == "burst"


def test_runtime_raises_an_alert_for_a_first_use(home):
    with runtime(home, lists_only()) as rt:
        for _ in range(3):
            run(rt, "keeper", "list my notes")
    with runtime(home, config()) as rt:
        outcome, events = run(rt, "keeper", "remember milk")
        alerts = [r for r in rt.store.audit.records(run_id=outcome.run_id) if r.kind == "alert"]
        assert [(a.tool, a.verdict) for a in alerts] == [("notes.add", "new-tool")]
        assert any(e["kind"] == "alert" for e in events)


def test_runtime_raises_no_alert_for_the_first_use_of_a_granted_read_tool(home):
    adds_only = config().scripted("script", call("notes.add", text="buy milk"), say("done"))
    with runtime(home, adds_only) as rt:
        for _ in range(3):
            run(rt, "keeper", "remember milk")
    with runtime(home, config()) as rt:
        outcome, _ = run(rt, "keeper", "list and remember")
        calls = [r.tool for r in rt.store.audit.records(run_id=outcome.run_id) if r.kind == "call"]
        assert "notes.list" in calls
        assert [r for r in rt.store.audit.records(run_id=outcome.run_id) if r.kind == "alert"] == []


def test_alerts_command_lists_them_newest_first(home, cli):
    from tests.conftest import write_config

    write_config(home, config())
    assert "no alerts since 7d" in cli("alerts", check=True).stdout
    with runtime(home, lists_only()) as rt:
        for _ in range(3):
            run(rt, "keeper", "list my notes")
    with runtime(home, config()) as rt:
        outcome, _ = run(rt, "keeper", "remember milk")
    shown = cli("alerts", "--agent", "keeper", env={"COLUMNS": "300"}, check=True).stdout
    assert "keeper new-tool" in shown and f"run {outcome.run_id[:12]}" in shown and "notes.add" in shown
    assert "no alerts" in cli("alerts", "--agent", "someone-else", check=True).stdout
    kinds = cli("audit", "show", "--kind", "alert", "--json", check=True).stdout
    assert '"kind": "alert"' in kinds and '"kind": "call"' not in kinds
