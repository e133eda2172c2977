"""Waiting for a person: the guard said "ask", so the run parks durably until an answer or expiry.

The request is created in a durable step (once, even on replay); the wait is DBOS ``recv``, whose
deadline is stored, so a run waiting for approval survives restarts and still expires on time.
An approval given "for this run" covers identical later calls (same approval key, see
``policy/approvals.py``), so a person is not asked the same thing twenty times.

``request_approval`` returns the answer; it never runs the call itself: the caller runs it again
through the guard pipeline with ``approved=True``.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from meshclaw.domain.effects import ToolSpec
from meshclaw.domain.runs import ApprovalEvent, AuditKind, RunStatus
from meshclaw.policy.approvals import approval_key

from .context import Outcome, RunDeps
from .steps import durable_step

TOPIC = "approval:{id}"
APPROVED, DENIED, EXPIRED = "approved", "denied", "expired"


def _origins(deps: RunDeps, spec: ToolSpec, args: dict[str, Any]) -> dict[str, Any]:
    names = spec.sensitive_args or tuple(args)
    return {k: [asdict(o) for o in v] for k, v in deps.provenance.trace(args, names).items()}


async def request_approval(deps: RunDeps, spec: ToolSpec, args: dict[str, Any], call_id: str, outcome: Outcome) -> str:
    """Ask the agent's owner about one call and wait: ``"approved"``, ``"denied"`` or ``"expired"``.

    A pending request that a person approved "for this run" with the same approval key answers
    at once (``approved``). The wait ends at the agent's ``limits.approval_seconds``.
    """
    key = approval_key(spec, args)

    async def open_request() -> dict[str, Any]:
        covering = deps.store.approvals.covering(deps.run_id, key)
        if covering is not None:
            return {"id": covering.id, "covered": True, "expires_at": None}
        a, created = deps.store.approvals.request(
            deps.idempotency_key(call_id), run_id=deps.run_id, agent=deps.agent.name, user_id=deps.owner.id,
            tool=spec.name, args=args, origins=_origins(deps, spec, args), reason=outcome.reason, rule=outcome.rule,
            batch_key=key, expires_in=deps.agent.limits.approval_seconds,
        )
        if created:
            deps.store.audit.append(f"{deps.idempotency_key(call_id)}:approval", AuditKind.APPROVAL.value,
                                    run_id=deps.run_id, agent=deps.agent.name, user_id=deps.owner.id, tool=spec.name,
                                    verdict="requested", reason=outcome.reason, data={"approval": a.id, "args": args})
        # Waiting from the moment the request exists: whoever sees it pending sees the run waiting too.
        deps.store.runs.set_status(deps.run_id, RunStatus.WAITING)
        return {"id": a.id, "covered": False, "expires_at": a.expires_at.timestamp()}

    info = await durable_step(f"approval:{spec.name}", open_request)
    if info["covered"]:
        deps.emit(ApprovalEvent(info["id"], spec.name, args, "covered by an earlier approval for this run"))
        return APPROVED
    deps.emit(ApprovalEvent(info["id"], spec.name, args, outcome.reason))
    return await _wait(deps, info)


async def _wait(deps: RunDeps, info: dict[str, Any]) -> str:
    from dbos import DBOS

    timeout = max(1.0, info["expires_at"] - datetime.now(timezone.utc).timestamp())
    deps.store.runs.set_status(deps.run_id, RunStatus.WAITING)
    message = await DBOS.recv_async(topic=TOPIC.format(id=info["id"]), timeout_seconds=timeout)
    deps.store.runs.set_status(deps.run_id, RunStatus.RUNNING)
    if message is None:
        async def expire() -> None:
            deps.store.approvals.close(info["id"], EXPIRED)

        await durable_step("approval:expire", expire)
        return EXPIRED
    return APPROVED if message.get("decision") == APPROVED else DENIED
