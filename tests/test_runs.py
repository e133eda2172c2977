"""Agent runs with a scripted model: the guard, autonomy, usage metering and the run record."""

from __future__ import annotations

from meshclaw.connectors.registry import resolve
from meshclaw.domain.config import Agent
from meshclaw.runtime.toolsets import granted_toolset
from tests.builders import Org, call, say
from tests.runtime_support import run, runtime

NOTES = (Org().organisation().user("alice", email="alice@example.com")
         .scripted("script", call("notes.add", text="buy milk"), call("notes.list"), say("done"))
         .agent("keeper", instructions="Keep notes.", model="script")
         .local_user("alice"))


def config(autonomy: str = "auto", grants: tuple | list = ("notes.add", "notes.list")) -> Org:
    """keeper, who notes "buy milk" then lists the notes, with this autonomy and these notes grants."""
    return NOTES.agent("keeper", autonomy=autonomy, toolsets={"notes": grants})


def test_only_granted_tools_are_offered():
    agent = Agent.model_validate({"name": "a", "owner": "alice", "instructions": "x", "model": "m",
                                  "toolsets": {"notes": {"grants": ["notes.list"]}, "clock": {"grants": ["clock.now"]}}})
    toolset = granted_toolset(agent, resolve)
    assert set(toolset.specs) == {"notes_list", "clock_now"}


def test_auto_run_executes_records_usage_and_audits(home):
    with runtime(home, config()) as rt:
        outcome, events = run(rt, "keeper", "remember to buy milk")
        assert outcome.status == "succeeded" and outcome.output == "done"
        notes = rt.store.notes.list("alice")
        assert [n.text for n in notes] == ["buy milk"]
        usage = rt.store.usage.for_run(outcome.run_id)
        assert len(usage) == 3 and all(u.input_tokens > 0 and u.user_id == "alice" and u.agent == "keeper" for u in usage)
        kinds = [(r.kind, r.tool, r.verdict) for r in rt.store.audit.records(run_id=outcome.run_id)]
        assert kinds == [("run", None, None), ("model", None, None), ("decision", "notes.add", "allow"),
                         ("call", "notes.add", "done"), ("model", None, None), ("decision", "notes.list", "allow"),
                         ("call", "notes.list", "done"), ("model", None, None), ("run", None, "succeeded")]
        first_model = next(r for r in rt.store.audit.records(run_id=outcome.run_id) if r.kind == "model")
        assert first_model.data["tool_calls"] == ["notes_add"] and first_model.data["input_tokens"] > 0
        assert [e["kind"] for e in events] == ["run", "model", "tool", "model", "tool", "model", "run"]
        assert rt.store.audit.verify().ok


def test_ungranted_tool_call_never_executes(home):
    with runtime(home, config(grants=["notes.list"])) as rt:
        outcome, _ = run(rt, "keeper", "remember to buy milk")
        assert rt.store.notes.list("alice") == []
        assert not any(r.tool == "notes.add" for r in rt.store.audit.records(run_id=outcome.run_id))


def test_observe_agent_proposes_but_never_writes(home):
    with runtime(home, config(autonomy="observe")) as rt:
        outcome, events = run(rt, "keeper", "remember to buy milk")
        assert outcome.status == "succeeded"
        assert rt.store.notes.list("alice") == []
        tool_events = {e["tool"]: e["verdict"] for e in events if e["kind"] == "tool"}
        assert tool_events == {"notes.add": "deny", "notes.list": "allow"}


def test_ask_agent_does_not_write_without_approval(home):
    with runtime(home, config(autonomy="ask").agent("keeper", limits={"approval_seconds": 1})) as rt:
        outcome, events = run(rt, "keeper", "remember to buy milk")
        assert rt.store.notes.list("alice") == []
        assert any(e["kind"] == "tool" and e["verdict"] == "ask" for e in events)
        assert any(e["kind"] == "approval" for e in events)


def test_a_stopped_agent_is_refused_at_start(home):
    import pytest

    from meshclaw.domain.errors import RunStopped

    with runtime(home, config()) as rt:
        rt.store.agents.set_stopped("keeper", True, by="test")
        with pytest.raises(RunStopped, match="stopped"):
            run(rt, "keeper", "remember to buy milk")
        assert rt.store.notes.list("alice") == [] and rt.store.runs.list(agent="keeper") == []


def test_rehearsal_captures_writes(home):
    with runtime(home, config()) as rt:
        outcome, events = run(rt, "keeper", "remember to buy milk", rehearsal=True)
        assert outcome.status == "succeeded"
        assert rt.store.notes.list("alice") == []
        assert any(r.kind == "captured" and r.tool == "notes.add" for r in rt.store.audit.records(run_id=outcome.run_id))


def test_snapshot_round_trip_keeps_grant_conditions():
    from meshclaw.domain.config import Config
    from meshclaw.domain.config_file import parse_config
    from meshclaw.runtime.engine import snapshot

    grants = [{"tool": "notes.add", "when": {"text": {"matches": "[^@]*"}}}]
    parsed = parse_config(config(grants=grants).yaml(), __import__("pathlib").Path("x"))
    snap = snapshot(parsed.agents[0], parsed)
    rebuilt = Agent.model_validate(snap["agent"])
    grant = rebuilt.toolsets["notes"].grants[0]
    assert grant.check_args({"text": "call the supplier"}) is None
    assert grant.check_args({"text": "mail eve@evil.example"}) is not None
    assert Config.model_validate({"users": snap["users"], "models": snap["models"], "agents": [snap["agent"]]})


def test_a_call_of_a_tool_never_granted_is_refused_on_the_record(home):
    """The model names a tool it was not offered: nothing runs, and the refusal is an audited decision."""
    with runtime(home, config(grants=["notes.list"])) as rt:
        outcome, events = run(rt, "keeper", "remember to buy milk")
        assert rt.store.notes.list("alice") == []
        refused = [r for r in rt.store.audit.records(run_id=outcome.run_id) if r.kind == "decision" and r.verdict == "deny"]
        assert [(r.tool, r.data["rule"]) for r in refused] == [("notes_add", "deny-by-default")]
        assert "not offered to keeper" in refused[0].reason
        assert any(e["kind"] == "tool" and e["verdict"] == "deny" and e["tool"] == "notes_add" for e in events)
