"""Waiting for a person: the guard said "ask", so the run parks durably until an answer or expiry.

The request is created in a durable step (once, even on replay); the wait is DBOS ``recv``, whose
deadline is stored, so a run waiting for approval survives restarts and still expires on time.
An approval given "for this run" covers identical later calls (same tool, same sensitive
arguments), so a person is not asked the same thing twenty times.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from meshclaw.policy.guard import CallRequest

from .context import RunDeps
from .steps import durable_step

TOPIC = "approval:{id}"


def batch_key(request: CallRequest) -> str:
    names = request.spec.sensitive_args or tuple(sorted(request.args))
    material = {n: request.args.get(n) for n in names}
    return f"{request.spec.name}:{json.dumps(material, sort_keys=True, default=str)}"[:200]


def _origins(deps: RunDeps, request: CallRequest) -> dict[str, Any]:
    names = request.spec.sensitive_args or tuple(request.args)
    return {k: [asdict(o) for o in v] for k, v in deps.provenance.trace(request.args, names).items()}


async def ask_person(request: CallRequest, call_id: str, outcome: Any, toolset: Any, name: str,
                     tool_args: dict[str, Any], ctx: Any, tool: Any) -> Any:
    deps: RunDeps = ctx.deps
    spec = request.spec
    key = batch_key(request)

    async def open_request() -> dict[str, Any]:
        covering = deps.store.approvals.covering(deps.run_id, key)
        if covering is not None:
            return {"id": covering.id, "covered": True, "expires_at": None}
        a, created = deps.store.approvals.request(
            deps.idempotency_key(call_id), run_id=deps.run_id, agent=deps.agent.name, user_id=deps.owner.id,
            tool=spec.name, args=tool_args, origins=_origins(deps, request), reason=outcome.reason, rule=outcome.rule,
            batch_key=key, expires_in=deps.agent.limits.approval_seconds,
        )
        if created:
            deps.store.audit.append(f"{deps.idempotency_key(call_id)}:approval", "approval", run_id=deps.run_id,
                                    agent=deps.agent.name, user_id=deps.owner.id, tool=spec.name, verdict="requested",
                                    reason=outcome.reason, data={"approval": a.id, "args": tool_args})
        return {"id": a.id, "covered": False, "expires_at": a.expires_at.timestamp()}

    info = await durable_step(f"approval:{spec.name}", open_request)
    if not info["covered"]:
        deps.emit({"kind": "approval", "id": info["id"], "tool": spec.name, "args": tool_args, "reason": outcome.reason})
        answer = await _wait(deps, info)
        if answer != "approved":
            return f"Not done: {spec.name} was {answer} ({'the owner said no' if answer == 'denied' else 'nobody answered in time'})."
    else:
        deps.emit({"kind": "approval", "id": info["id"], "tool": spec.name, "args": tool_args,
                   "reason": "covered by an earlier approval for this run"})
    deps.approved_calls.add(call_id)
    return await toolset.call_tool(name, tool_args, ctx, tool)


async def _wait(deps: RunDeps, info: dict[str, Any]) -> str:
    from dbos import DBOS

    timeout = max(1.0, info["expires_at"] - datetime.now(timezone.utc).timestamp())
    deps.store.runs.set_status(deps.run_id, "waiting")
    message = await DBOS.recv_async(topic=TOPIC.format(id=info["id"]), timeout_seconds=timeout)
    deps.store.runs.set_status(deps.run_id, "running")
    if message is None:
        async def expire() -> None:
            deps.store.approvals.close(info["id"], "expired")

        await durable_step("approval:expire", expire)
        return "expired"
    return "approved" if message.get("decision") == "approved" else "denied"
