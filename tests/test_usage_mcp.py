"""The MCP ``usage`` tool through a real ``meshclaw mcp-server --http`` process: the same report as
``meshclaw usage --json`` (the same operations) for the token's user, under the same privacy rules —
your own figures, your reports' through the management chain, organisation aggregates only for
groups of k or more — and a peer refused a colleague's figures, on the record and shown to them."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from meshclaw.domain.config_file import load_config
from meshclaw.operations import usage as ops
from meshclaw.operations.actor import Actor
from meshclaw.operations.context import Context
from meshclaw.operations.tokens import create_token
from meshclaw.store.facade import Store
from tests.builders import Org
from tests.support.mcp_server_proc import call as mcp_call
from tests.support.mcp_server_proc import http_client, start_http_server

pytestmark = pytest.mark.slow

TODAY = datetime.now(timezone.utc).date()
ORG = (Org().user("carol", roles=["employee", "manager"]).user("alice", manager="carol").user("bob", manager="carol")
       .user("root", roles=["admin"]).model("local", "bundled").set("usage", {"min_group_size": 5}))
USERS = ("alice", "bob", "carol")


def context(home: Path) -> Context:
    return Context(load_config(home / "meshclaw.yaml"), Store(home), home)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(server, home, tokens by user): alice, bob and carol each made 3 model requests a day for 4 days."""
    home = tmp_path_factory.mktemp("mcp-usage")
    ORG.write(home)
    ctx = context(home)
    for n, user in enumerate(USERS):
        for d in range(4):
            for i in range(3):
                at = datetime.combine(TODAY - timedelta(days=d), time(9 + i), tzinfo=timezone.utc)
                ctx.store.usage.record(f"{user}-{d}-{i}", run_id=f"run-{user}-{d}", agent=f"{user}-agent",
                                       user_id=user, model="local", input_tokens=100 * (n + 1), output_tokens=10,
                                       at=at)
    ctx.store.usage.flush()  # the server is another process: what this one queued is written now
    tokens = {u: create_token(ctx, Actor.of(ctx.config, u), name="test").token for u in (*USERS, "root")}
    server = start_http_server(home)
    yield server, home, tokens
    server.stop()


def expected(home: Path, user: str, fn, **kw) -> dict:  # type: ignore[no-untyped-def]
    """What ``meshclaw usage --json`` prints for ``user`` (the same operation, as JSON text holds it)."""
    ctx = context(home)
    return json.loads(json.dumps(fn(ctx, Actor.of(ctx.config, user), **kw).as_dict(), default=str))


def reads_of(home: Path, user: str) -> list[tuple[str, str]]:
    """(reader, verdict) of every read of ``user``'s figures by someone else (``meshclaw usage reads``)."""
    ctx = context(home)
    return [(e.data["actor"], e.verdict) for e in ops.usage_reads(ctx, Actor.of(ctx.config, user))]


def test_the_tool_is_read_only_and_gives_you_your_own_report(served):
    server, home, tokens = served

    async def go():  # type: ignore[no-untyped-def]
        async with http_client(server.url, tokens["alice"]) as c:
            [tool] = [t for t in (await c.list_tools()).tools if t.name == "usage"]
            assert tool.annotations.read_only_hint is True
            assert "aggregates of groups of 5 or more people" in tool.description  # k as configured
            return await mcp_call(c, "usage", by="day")

    err, got = asyncio.run(go())
    assert not err, got
    assert got["scope"] == "me" and got["subject"] == "alice"
    assert got["total"]["requests"] == 12 and got["total"]["input_tokens"] == 1200
    assert got == expected(home, "alice", ops.my_usage, by="day")  # the report `meshclaw usage --json` prints
    assert len(got["rows"]) == 4


def test_a_manager_reads_the_team_and_a_report_and_the_report_sees_it(served):
    server, home, tokens = served

    async def go():  # type: ignore[no-untyped-def]
        async with http_client(server.url, tokens["carol"]) as c:
            return await mcp_call(c, "usage", scope="team"), await mcp_call(c, "usage", scope="person", user="alice")

    (err1, team), (err2, alice) = asyncio.run(go())
    assert not err1 and not err2, (team, alice)
    assert team["people"] == 2 and team["total"]["requests"] == 24  # alice and bob, not carol herself
    assert team["total"]["input_tokens"] == 1200 + 2400
    assert alice["subject"] == "alice" and alice["total"]["input_tokens"] == 1200
    assert ("carol", "done") in reads_of(home, "alice") and ("carol", "done") in reads_of(home, "bob")


def test_a_peer_is_refused_a_colleagues_figures_on_the_record(served):
    server, home, tokens = served

    async def go():  # type: ignore[no-untyped-def]
        async with http_client(server.url, tokens["bob"]) as c:
            refused = await mcp_call(c, "usage", scope="person", user="alice")
            team = await mcp_call(c, "usage", scope="team")
            org = await mcp_call(c, "usage", scope="org")
            bad = await mcp_call(c, "usage", scope="everyone")
            return refused, team, org, bad

    (err, text), (err_t, team), (err_o, org), (err_b, bad) = asyncio.run(go())
    assert err and "not authorized: bob may not read alice's usage" in text and "1200" not in text, text
    assert not err_t and team["people"] == 0 and team["total"]["requests"] == 0  # bob manages nobody
    assert err_o and "not authorized" in org
    assert err_b and "scope is one of" in bad
    assert ("bob", "refused") in reads_of(home, "alice")  # alice sees the attempt
    mcp = [r for r in context(home).store.audit.records(kind="operation")
           if r.data.get("operation") == "mcp:usage" and r.data.get("actor") == "bob"]
    assert [r.verdict for r in mcp] == ["refused", "done", "refused", "error"]


def test_an_admin_gets_aggregates_only_for_groups_of_k_or_more(served):
    server, home, tokens = served

    async def go():  # type: ignore[no-untyped-def]
        async with http_client(server.url, tokens["root"]) as c:
            return await mcp_call(c, "usage", scope="org", by="day"), await mcp_call(c, "usage", scope="person",
                                                                                     user="alice")

    (err, org), (err_p, person) = asyncio.run(go())
    assert not err, org
    assert org["total"]["requests"] == 0 and org["rows"] == []  # 3 people a day, fewer than k = 5: withheld
    assert any("withheld" in n for n in org["notes"])
    assert err_p and "not authorized" in person  # an admin is not alice's manager
    assert org == expected(home, "root", ops.org_usage, by="day")
