"""``meshclaw mcp-server --stdio``, started by an MCP client as a subprocess: it acts as the user of
MESHCLAW_TOKEN (checked at start), else as the user this OS login maps to in ``local_users``."""

from __future__ import annotations

import asyncio
import json
import subprocess

import pytest

import meshclaw
from meshclaw.operations.actor import Actor
from meshclaw.operations.tokens import create_token, revoke_token
from tests.cli_support import ROOT
from tests.support.mcp_server_proc import call as mcp_call
from tests.support.mcp_server_proc import server_env, stdio_command
from tests.test_mcp_server import ORG, context, operations

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stdio_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("mcp-stdio")
    ORG.local_user("alice").write(home)
    ctx = context(home)
    for agent in ("keeper", "greeter", "bobs"):
        ctx.store.agents.set_promoted(agent, True, "test")
    return home


async def _session(home, token: str | None, body):  # type: ignore[no-untyped-def]
    from mcp import Client, StdioServerParameters

    command, args = stdio_command()
    env = server_env(home, **({"MESHCLAW_TOKEN": token} if token else {}))
    async with Client(StdioServerParameters(command=command, args=args, env=env, cwd=str(ROOT))) as c:
        return await body(c)


def test_a_token_holder_lists_agents_and_runs_one_over_stdio(stdio_home):
    ctx = context(stdio_home)
    made = create_token(ctx, Actor.of(ctx.config, "bob"), name="editor")

    async def body(c):  # type: ignore[no-untyped-def]
        err, agents = await mcp_call(c, "list_agents")
        assert not err and [a["name"] for a in agents["agents"]] == ["bobs"]  # bob's token: bob, not the OS login
        err, run = await mcp_call(c, "start_run", agent="bobs", task="say hello", wait_seconds=60)
        assert not err and run["status"] == "succeeded" and run["output"] == "hello from greeter"
        err, text = await mcp_call(c, "start_run", agent="greeter", task="say hello")
        assert err and "not authorized: bob may not run greeter" in text
        return run["run"]

    run_id = asyncio.run(_session(stdio_home, made.token, body))
    records = [r for r in operations(stdio_home, "bob") if r.data.get("surface") == "mcp-stdio"]
    assert [r.data["operation"] for r in records] == ["mcp:list_agents", "mcp:start_run", "mcp:start_run"]
    assert all(r.data["token_id"] == made.info.id for r in records)
    assert records[1].run_id == run_id and records[2].verdict == "refused"


def test_without_a_token_the_os_login_mapping_decides(stdio_home):
    async def body(c):  # type: ignore[no-untyped-def]
        err, agents = await mcp_call(c, "list_agents")
        return [a["name"] for a in agents["agents"]]

    assert asyncio.run(_session(stdio_home, None, body)) == ["keeper", "greeter"]  # local_users: this login → alice
    last = operations(stdio_home, "alice", "mcp:list_agents")[-1]
    assert last.data["surface"] == "mcp-stdio" and last.data["token_id"] is None


def test_a_revoked_or_unknown_token_stops_the_stdio_server_with_one_line(stdio_home):
    ctx = context(stdio_home)
    made = create_token(ctx, Actor.of(ctx.config, "alice"), name="gone")
    revoke_token(ctx, Actor.of(ctx.config, "alice"), made.info.id)
    command, args = stdio_command()
    for token, why in [(made.token, f"token {made.info.id} was revoked"), ("mcl_nope", "unknown token")]:
        p = subprocess.run([command, *args], env=server_env(stdio_home, MESHCLAW_TOKEN=token), cwd=ROOT,
                           input="", capture_output=True, text=True, timeout=120)
        assert p.returncode == 3 and p.stderr.strip() == f"meshclaw: {why}" and p.stdout == "", (p.returncode, p.stderr)
    refused = [r for r in context(stdio_home).store.audit.records(kind="operation")
               if r.data.get("operation") == "authenticate" and r.data.get("surface") == "mcp-stdio"]
    assert [r.reason for r in refused][-2:] == [f"token {made.info.id} was revoked", "unknown token"]


def test_garbage_lines_get_a_parse_error_and_the_server_reads_on(stdio_home):
    command, args = stdio_command()
    p = subprocess.Popen([command, *args], env=server_env(stdio_home), cwd=ROOT, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}
    lines = ["this is not json", json.dumps(init), json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}),
             '{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "list_ag',
             json.dumps({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "list_agents", "arguments": {}}})]
    assert p.stdin is not None and p.stdout is not None
    p.stdin.write("\n".join(lines) + "\n")
    p.stdin.flush()
    replies = [json.loads(p.stdout.readline()) for _ in range(4)]
    p.stdin.close()
    assert p.wait(60) == 0
    assert replies[0]["id"] is None and replies[0]["error"]["code"] == -32700
    assert "not a JSON-RPC message" in replies[0]["error"]["message"]
    assert replies[1]["id"] == 1 and replies[1]["result"]["serverInfo"]["name"] == "meshclaw"
    assert replies[1]["result"]["serverInfo"]["version"] == meshclaw.__version__
    assert replies[2]["id"] is None and replies[2]["error"]["code"] == -32700  # the cut-off line
    assert replies[3]["id"] == 3 and not replies[3]["result"].get("isError")
    assert [a["name"] for a in replies[3]["result"]["structuredContent"]["agents"]] == ["keeper", "greeter"]
