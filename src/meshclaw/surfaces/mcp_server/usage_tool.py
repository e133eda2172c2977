"""The read-only MCP tool ``usage``: the report ``meshclaw usage --json`` prints, for the token's user.

It calls the same operations as the command line (``operations/usage.py``), so the same privacy rules
hold, whichever surface asks: ``scope`` ``me`` is the caller's own figures; ``team`` their direct and
indirect reports together, and ``person`` one of them (only for the days the caller was in that
person's management chain); ``org`` organisation or ``team:M`` aggregates for an admin or auditor,
released only for groups of at least k people (``usage.min_group_size``, which the tool's description
states), over closed UTC days only, never per person. A peer
asking for a colleague's figures is refused (NotAuthorized, on the record as a refused ``usage.read``
the colleague sees in ``meshclaw usage reads``). Every read of another person's figures is audited by
the operation, and the call itself by the service (``mcp:usage``).
"""

from __future__ import annotations

from typing import Any, Callable

import anyio
from mcp.server.mcpserver import Context as McpContext

from meshclaw.domain.errors import UsageError
from meshclaw.operations.actor import Actor
from meshclaw.operations.context import Context

from .service import Caller, Service

SCOPES = ("me", "team", "person", "org")


async def usage_call(service: Service, caller: Caller, scope: str = "me", user: str | None = None,
                     group: str = "organisation", by: str | None = None, since: str | None = None,
                     until: str | None = None) -> Any:
    """The ``usage`` report as JSON values (``UsageReport.as_dict``). Raises CallRefused with one line for
    a refused read (``not authorized: …``) or bad arguments (an unknown scope, a bad day or grouping)."""
    from meshclaw.operations import usage as ops

    args = {"scope": scope, "user": user, "group": group, "by": by, "since": since, "until": until}

    async def body(ctx: Context, actor: Actor) -> tuple[Any, dict[str, Any]]:
        if scope not in SCOPES:
            raise UsageError(f"scope is one of {', '.join(SCOPES)}, not {scope!r}")
        if scope == "person" and not user:
            raise UsageError("scope 'person' needs user: the id of someone you manage (or yourself)")
        first, last = ops.day_arg(since), ops.day_arg(until)

        def report() -> Any:
            if scope == "org":
                return ops.org_usage(ctx, actor, group=group, since=first, until=last, by=by)
            if scope == "team":
                return ops.team_usage(ctx, actor, since=first, until=last, by=by)
            if scope == "person":
                return ops.person_usage(ctx, actor, str(user), since=first, until=last, by=by)
            return ops.my_usage(ctx, actor, since=first, until=last, by=by)

        out = await anyio.to_thread.run_sync(report)
        return out.as_dict(), {"scope": scope, "subject": out.subject}

    return await service.call(caller, "usage", args, body)


def description(k: int) -> str:
    """The ``usage`` tool's description, stating the configured k (``usage.min_group_size``)."""
    return ("Usage figures with value beside them: tokens and cost, outcomes and minutes saved, waste with a "
            "suggestion. scope: 'me' (yours), 'team' (your reports together), 'person' (user: someone you "
            f"manage), 'org' (admins and auditors: aggregates of groups of {k} or more people, closed UTC days "
            "only). by: agent, day, model or trigger (org: day). since/until: 2026-11-01 or 7d / 30d (default "
            "the last 30 days).")


def register(mcp: Any, service: Service, guarded: Callable[..., Any], annotations: Any) -> None:
    """Add the ``usage`` tool to ``mcp`` (``guarded`` turns a refusal into the SDK's ToolError). Its
    description states k as configured when the server starts (``service.runtime.config``); the rule
    itself reads the configuration of each call."""
    async def call(caller: Caller, *rest: Any) -> Any:
        return await usage_call(service, caller, *rest)

    @mcp.tool(annotations=annotations, description=description(service.runtime.config.usage.min_group_size))
    async def usage(ctx: McpContext, scope: str = "me", user: str | None = None, group: str = "organisation",
                    by: str | None = None, since: str | None = None, until: str | None = None) -> dict[str, Any]:
        return await guarded(call, ctx, scope, user, group, by, since, until)
