"""Agent runs with a scripted model: the guard, autonomy, usage metering and the run record."""

from __future__ import annotations

from meshclaw.connectors.registry import resolve
from meshclaw.domain.config import Agent
from meshclaw.runtime.toolsets import granted_toolset
from tests.runtime_support import run, runtime
from tests.support.local_user import mapped

BASE = mapped("""
organisation: {name: Example Corp, domains: [example.com]}
users:
  - {id: alice, name: Alice, email: alice@example.com}
models:
  script:
    kind: scripted
    turns:
      - {tool: notes.add, args: {text: "buy milk"}}
      - {tool: notes.list, args: {}}
      - {text: "done"}
agents:
  - name: keeper
    owner: alice
    instructions: Keep notes.
    model: script
    autonomy: AUTONOMY
    toolsets:
      notes: {grants: GRANTS}
""")


def config(autonomy="auto", grants="[notes.add, notes.list]") -> str:
    return BASE.replace("AUTONOMY", autonomy).replace("GRANTS", grants)


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
    with runtime(home, config(grants="[notes.list]")) as rt:
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
    text = config(autonomy="ask").replace("    toolsets:", "    limits: {approval_seconds: 1}\n    toolsets:")
    with runtime(home, text) as rt:
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

    parsed = parse_config(config(grants='[{tool: notes.add, when: {text: {matches: "[^@]*"}}}]'), __import__("pathlib").Path("x"))
    snap = snapshot(parsed.agents[0], parsed)
    rebuilt = Agent.model_validate(snap["agent"])
    grant = rebuilt.toolsets["notes"].grants[0]
    assert grant.check_args({"text": "call the supplier"}) is None
    assert grant.check_args({"text": "mail eve@evil.example"}) is not None
    assert Config.model_validate({"users": snap["users"], "models": snap["models"], "agents": [snap["agent"]]})
