"""The MCP server's HTTP edge: every request needs a valid personal token (refusals are 401 with the
reason, audited), and a peer that sends garbage or hangs up mid-call gets a clear error or nothing,
while the server keeps serving everyone else."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import httpx2
import pytest

from meshclaw.operations.actor import Actor
from meshclaw.operations.tokens import create_token, revoke_token
from meshclaw.store.tables import ApiToken
from tests.support.mcp_server_proc import call as mcp_call
from tests.support.mcp_server_proc import http_client
from tests.test_mcp_server import context, served  # noqa: F401 (the module's server fixture)
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}


def _post(url: str, token: str | None, body: str | dict, **headers: str) -> httpx2.Response:
    h = {**HEADERS, **headers, **({"authorization": f"Bearer {token}"} if token else {})}
    content = body if isinstance(body, str) else json.dumps(body)
    return httpx2.post(url, headers=h, content=content, timeout=30)


def _refusals(home, since: int) -> list:  # type: ignore[no-untyped-def]
    return [r for r in context(home).store.audit.records(kind="operation")
            if r.seq > since and r.data.get("operation") == "authenticate"]


def _last_seq(home) -> int:  # type: ignore[no-untyped-def]
    rows = context(home).store.audit.records(newest_first=True, limit=1)
    return rows[0].seq if rows else 0


def test_missing_bad_revoked_and_expired_tokens_are_refused_with_the_reason_and_audited(served):
    server, home, tokens = served
    ctx = context(home)
    alice = Actor.of(ctx.config, "alice")
    revoked = create_token(ctx, alice, name="old laptop")
    revoke_token(ctx, alice, revoked.info.id)
    expired = create_token(ctx, alice, name="short", expires="1h")
    with ctx.store.db.session() as s:  # an hour has passed
        s.get(ApiToken, expired.info.id).expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    before = _last_seq(home)

    cases = [(None, "no token"), ("not-a-token", "not a MeshClaw token"), ("mcl_" + "x" * 43, "unknown token"),
             (revoked.token, f"token {revoked.info.id} was revoked"), (expired.token, f"token {expired.info.id} expired")]
    for token, why in cases:
        r = _post(server.url, token, INIT)
        assert r.status_code == 401, (why, r.status_code, r.text)
        assert r.json()["error"] == "invalid_token" and r.json()["error_description"].startswith(why)
        assert "invalid_token" in r.headers["www-authenticate"]
    refusals = _refusals(home, before)
    assert [r.reason.split(":")[0] if r.reason.startswith("no token") else r.reason for r in refusals][:3] == [
        "no token", "not a MeshClaw token", "unknown token"]
    assert all(r.verdict == "refused" and r.data["surface"] == "mcp-http" for r in refusals)
    by_token = {r.data["token_id"]: r for r in refusals if r.data["token_id"]}
    assert by_token[revoked.info.id].user_id == "alice" and by_token[expired.info.id].user_id == "alice"
    assert not any(revoked.token in json.dumps(r.data) + (r.reason or "") for r in refusals)  # never the token
    assert _post(server.url, tokens["alice"], INIT).status_code == 200  # a good token still works


def test_a_token_revoked_mid_session_is_refused_on_its_next_request(served):
    server, home, tokens = served
    ctx = context(home)
    made = create_token(ctx, Actor.of(ctx.config, "bob"), name="session")

    async def go():  # type: ignore[no-untyped-def]
        async with http_client(server.url, made.token) as c:
            err, agents = await mcp_call(c, "list_agents")
            assert not err and [a["name"] for a in agents["agents"]] == ["bobs"]
            revoke_token(ctx, Actor.of(ctx.config, "bob"), made.info.id)
            with pytest.raises(Exception) as refused:
                await mcp_call(c, "list_agents")
            return refused.value

    from mcp import MCPError

    error = asyncio.run(go())
    assert isinstance(error, MCPError), repr(error)  # the SDK's client words a 401 as "an error response"
    assert any(r.data["token_id"] == made.info.id and "revoked" in r.reason for r in _refusals(home, 0))


def test_garbage_json_gets_a_clear_error_and_the_server_keeps_serving(served):
    server, home, tokens = served
    t = tokens["alice"]
    r = _post(server.url, t, "{not json")
    assert r.status_code == 400 and r.json()["error"]["code"] == -32700 and "Parse error" in r.json()["error"]["message"]
    r = _post(server.url, t, '{"hello": 1}')
    assert r.status_code == 400 and r.json()["error"]["code"] == -32602
    r = _post(server.url, t, '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_agents"')  # cut off
    assert r.status_code == 400 and "Parse error" in r.json()["error"]["message"]
    r = _post(server.url, t, b"\xff\xfe\x00garbage".decode("latin-1"))
    assert r.status_code == 400

    async def go():  # type: ignore[no-untyped-def]
        async with http_client(server.url, t) as c:
            bad = await c.call_tool("start_run", {"agent": 5})
            assert bad.is_error and "validation error" in bad.content[0].text.lower()
            unknown = await c.call_tool("no_such_tool", {})
            assert unknown.is_error and "Unknown tool" in unknown.content[0].text
            err, answer = await mcp_call(c, "answer_approval", approval="nope", decision="maybe")
            assert err and "decision is 'approve' or 'deny'" in answer
            err, agents = await mcp_call(c, "list_agents")
            assert not err and agents["agents"]

    asyncio.run(go())
    assert server.alive()


def test_a_client_that_hangs_up_mid_call_leaves_the_server_serving_and_the_run_going(served):
    server, home, tokens = served
    ctx = context(home)
    before = {a.id for a in ctx.store.approvals.pending()}

    async def hang_up():  # type: ignore[no-untyped-def]
        async with http_client(server.url, tokens["alice"]) as c:
            call = asyncio.ensure_future(mcp_call(c, "start_run", agent="keeper", task="remember milk",
                                                  wait_seconds=120))
            # The run has started and waits for alice: now the client goes away in the middle of the call.
            await asyncio.to_thread(wait_for, lambda: {a.id for a in ctx.store.approvals.pending()} - before, 60, 0.1,
                                    "the started run asking")
            call.cancel()
            with pytest.raises(asyncio.CancelledError):
                await call

    asyncio.run(hang_up())
    [new] = [a for a in ctx.store.approvals.pending() if a.id not in before]
    assert server.alive()

    async def after():  # type: ignore[no-untyped-def]
        async with http_client(server.url, tokens["alice"]) as c:
            err, agents = await mcp_call(c, "list_agents")
            assert not err and agents["agents"]
            err, run = await mcp_call(c, "get_run", run=new.run_id)
            assert not err and run["status"] == "waiting"  # the run went on without its caller
            err, _ = await mcp_call(c, "answer_approval", approval=new.id, decision="approve")
            err, run = await mcp_call(c, "get_run", run=new.run_id, wait_seconds=60)
            assert not err and run["status"] == "succeeded"

    asyncio.run(after())
    assert not any("Traceback" in line for line in server.stderr), "\n".join(server.stderr)


def test_a_session_opened_with_one_token_is_not_usable_with_another(served):
    server, home, tokens = served
    opened = _post(server.url, tokens["alice"], INIT)
    session = opened.headers["mcp-session-id"]
    listing = {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "list_agents", "arguments": {}}}
    r = _post(server.url, tokens["bob"], listing, **{"mcp-session-id": session, "mcp-protocol-version": "2025-06-18"})
    assert r.status_code == 404 and "alice" not in r.text and "keeper" not in r.text
