"""MeshClaw as an MCP server over streamable HTTP: a real ``meshclaw mcp-server --http`` process on a
random loopback port, driven by the ``mcp`` SDK's client and by fastmcp's client (a third-party one).

Who may do what is the operations layer's rule, the same as on the command line: the owner (or a
delegate, or an admin) runs agents and answers their approvals; a manager reads reports' runs; a
colleague sees nothing of another person's and is refused, on the record.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from meshclaw.domain.config_file import load_config
from meshclaw.operations.actor import Actor
from meshclaw.operations.context import Context
from meshclaw.operations.tokens import create_token
from meshclaw.store.facade import Store
from tests.builders import Org, call, say
from tests.support.mcp_server_proc import call as mcp_call
from tests.support.mcp_server_proc import http_client, start_http_server
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

ORG = (Org().user("carol", roles=["employee", "manager"])
       .user("alice", manager="carol").user("bob").user("root", roles=["admin"])
       .scripted("script", call("notes.add", text="buy milk"), say("done"))
       .scripted("hello", say("hello from greeter"))
       .agent("keeper", model="script", owner="alice", autonomy="ask", toolsets={"notes": ["notes.add", "notes.list"]})
       .agent("greeter", model="hello", owner="alice", autonomy="auto")
       .agent("bobs", model="hello", owner="bob", autonomy="auto"))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(server, home, tokens by user) — one server for the module; each test makes what it needs."""
    home = tmp_path_factory.mktemp("mcp-http")
    ORG.write(home)
    ctx = context(home)
    for agent in ("keeper", "greeter", "bobs"):
        ctx.store.agents.set_promoted(agent, True, "test")
    tokens = {u: create_token(ctx, Actor.of(ctx.config, u), name="test").token for u in ("alice", "bob", "carol", "root")}
    server = start_http_server(home)
    yield server, home, tokens
    server.stop()


def context(home: Path) -> Context:
    return Context(load_config(home / "meshclaw.yaml"), Store(home), home)


def operations(home: Path, actor: str | None = None, operation: str | None = None) -> list:
    """The ``operation`` audit records, oldest first (of ``actor`` / ``operation`` only, if given)."""
    rows = context(home).store.audit.records(kind="operation")
    return [r for r in rows if (actor is None or r.data.get("actor") == actor)
            and (operation is None or r.data.get("operation") == operation)]


async def _start_waiting(client) -> dict:  # type: ignore[no-untyped-def]
    err, started = await mcp_call(client, "start_run", agent="keeper", task="remember milk", wait_seconds=1)
    assert not err, started
    assert started["status"] == "waiting" and started["finished"] is False and len(started["pending_approvals"]) == 1
    return started


def test_owner_lists_agents_runs_and_answers_an_approval_that_resumes_the_run(served):
    server, home, tokens = served

    async def go():  # type: ignore[no-untyped-def]
        async with http_client(server.url, tokens["alice"]) as c:
            names = sorted(t.name for t in (await c.list_tools()).tools)
            assert names == ["answer_approval", "get_run", "list_agents", "list_approvals", "list_runs", "start_run",
                             "usage"]
            err, agents = await mcp_call(c, "list_agents")
            assert not err and [a["name"] for a in agents["agents"]] == ["keeper", "greeter"]  # not bob's

            t0 = time.monotonic()
            started = await _start_waiting(c)  # the run waits for alice: the call returns after its 1 s wait
            assert time.monotonic() - t0 < 15
            err, pending = await mcp_call(c, "list_approvals")
            [request] = [a for a in pending["approvals"] if a["run"] == started["run"]]
            assert request["id"] == started["pending_approvals"][0]
            assert request["tool"] == "notes.add" and request["args"] == {"text": "buy milk"}
            assert request["origins"]["text"][0]["trust"] == "unknown"  # where the argument came from

            err, answered = await mcp_call(c, "answer_approval", approval=request["id"], decision="approve",
                                           reason="yes, milk")
            assert not err and answered["decision"] == "approved" and answered["run"] == started["run"]
            err, run = await mcp_call(c, "get_run", run=started["run"], wait_seconds=60)
            assert not err and run["status"] == "succeeded" and run["output"] == "done", run
            kinds = [(s["kind"], s["tool"], s["verdict"]) for s in run["steps"]]
            assert ("approval", "notes.add", "approved") in kinds and ("call", "notes.add", "done") in kinds
            err, runs = await mcp_call(c, "list_runs", agent="keeper")
            assert started["run"] in [r["id"] for r in runs["runs"]]
            return started["run"]

    run_id = asyncio.run(go())
    assert context(home).store.notes.list("alice")[-1].text == "buy milk"
    mine = operations(home, "alice")
    calls = [r.data["operation"] for r in mine if r.data.get("surface") == "mcp-http"]
    for tool in ("mcp:list_agents", "mcp:start_run", "mcp:list_approvals", "mcp:answer_approval", "mcp:get_run",
                 "mcp:list_runs"):
        assert tool in calls  # reads are audited too, naming the surface
    assert all(r.data["token_id"] and r.verdict == "done" for r in mine if r.data.get("surface") == "mcp-http")
    # The operations wrote their own records for what acted.
    assert [r.run_id for r in mine if r.data["operation"] == "run"][-1] == run_id
    assert any(r.data["operation"] == "approve" and r.reason == "yes, milk" for r in mine)


def test_a_colleague_sees_nothing_and_is_refused_on_the_record_and_a_manager_reads_but_cannot_answer(served):
    server, home, tokens = served

    async def go():  # type: ignore[no-untyped-def]
        async with http_client(server.url, tokens["alice"]) as alice:
            started = await _start_waiting(alice)
            approval = started["pending_approvals"][0]
            async with http_client(server.url, tokens["bob"]) as bob:
                err, pending = await mcp_call(bob, "list_approvals")
                assert not err and all(a["run"] != started["run"] for a in pending["approvals"])
                err, agents = await mcp_call(bob, "list_agents")
                assert [a["name"] for a in agents["agents"]] == ["bobs"]
                err, runs = await mcp_call(bob, "list_runs")
                assert started["run"] not in [r["id"] for r in runs["runs"]]
                err, text = await mcp_call(bob, "get_run", run=started["run"])
                assert err and "not authorized: bob may not read run" in text
                err, text = await mcp_call(bob, "answer_approval", approval=approval, decision="approve")
                assert err and "not authorized: bob may not approve keeper" in text
                err, text = await mcp_call(bob, "start_run", agent="keeper", task="add eggs")
                assert err and "not authorized: bob may not run keeper" in text
            async with http_client(server.url, tokens["carol"]) as carol:  # alice's manager
                err, run = await mcp_call(carol, "get_run", run=started["run"])
                assert not err and run["status"] == "waiting" and run["user"] == "alice"
                err, text = await mcp_call(carol, "answer_approval", approval=approval, decision="deny")
                assert err and "not authorized: carol may not deny keeper" in text
            # Still pending for alice, who denies it; the run goes on without the action.
            err, pending = await mcp_call(alice, "list_approvals")
            assert approval in [a["id"] for a in pending["approvals"]]
            err, answered = await mcp_call(alice, "answer_approval", approval=approval, decision="deny", reason="no")
            assert not err and answered["decision"] == "denied"
            return started["run"]

    run_id = asyncio.run(go())
    refused = [(r.data["operation"], r.verdict) for r in operations(home, "bob") if r.verdict == "refused"]
    assert ("mcp:get_run", "refused") in refused and ("mcp:answer_approval", "refused") in refused
    assert ("approve", "refused") in refused and ("run", "refused") in refused  # the operations' own records
    carol_refused = [r for r in operations(home, "carol", "deny") if r.verdict == "refused"]
    assert carol_refused and carol_refused[-1].user_id == "alice"  # in the owner's audit view
    assert any(r.run_id == run_id for r in operations(home, "carol", "mcp:get_run"))  # the manager's read, on record


def test_a_long_run_returns_its_id_and_status_when_the_wait_ends(served):
    server, home, tokens = served

    async def go():  # type: ignore[no-untyped-def]
        async with http_client(server.url, tokens["alice"]) as c:
            t0 = time.monotonic()
            err, started = await mcp_call(c, "start_run", agent="keeper", task="remember milk", wait_seconds=3)
            waited = time.monotonic() - t0
            assert not err and started["status"] == "waiting" and started["run"]
            assert 3 <= waited < 20, waited
            err, again = await mcp_call(c, "get_run", run=started["run"][:10], wait_seconds=1)
            assert not err and again["id"] == started["run"] and again["status"] == "waiting"
            err, text = await mcp_call(c, "start_run", agent="keeper", task="x", wait_seconds=100000)
            assert err and "wait_seconds is 0 to 600" in text
            await mcp_call(c, "answer_approval", approval=started["pending_approvals"][0], decision="deny")

    asyncio.run(go())


def test_fastmcp_client_lists_agents_and_runs_a_scripted_agent(served):
    from fastmcp import Client

    server, home, tokens = served

    async def go():  # type: ignore[no-untyped-def]
        async with Client(server.url, auth=tokens["alice"]) as c:
            tools = {t.name for t in await c.list_tools()}
            assert {"list_agents", "start_run", "get_run", "list_approvals", "answer_approval"} <= tools
            agents = (await c.call_tool("list_agents", {})).structured_content
            assert [a["name"] for a in agents["agents"]] == ["keeper", "greeter"]
            run = (await c.call_tool("start_run", {"agent": "greeter", "task": "say hello", "wait_seconds": 60})).data
            assert run["status"] == "succeeded" and run["output"] == "hello from greeter"
            detail = (await c.call_tool("get_run", {"run": run["run"]})).structured_content
            assert detail["task"] == "say hello" and detail["steps"]

    asyncio.run(go())
    assert any(r.data.get("args", {}).get("agent") == "greeter" for r in operations(home, "alice", "mcp:start_run"))
