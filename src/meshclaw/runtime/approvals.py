"""Waiting for a person: the guard said "ask", so the run parks durably until an answer or expiry.

The request is created in a durable step (once, even on replay); the wait is DBOS ``recv``, whose
deadline is stored, so a run waiting for approval survives restarts and still expires on time.
A person may answer with a wider scope (identical calls, or the same recipients, for this run or
for a stated time): that is a grant (``policy/approvals.py``), and a later call it covers is not
asked again. Which grants are in force is read at the call's time inside the durable step, so a
replayed run decides the same, and a grant revoked or expired since stops covering at once.
A person asked more than their daily approval budget is still asked, told so (``alerts.py``).

``request_approval`` returns the answer; it never runs the call itself: the caller runs it again
through the guard pipeline with ``approved=True``.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timezone
from typing import Any

from meshclaw.domain.effects import ToolSpec
from meshclaw.domain.runs import ApprovalEvent, AuditKind, RunStatus
from meshclaw.policy.approvals import approval_key, covering_grant, target_key

from .alerts import check_approval_fatigue
from .context import Outcome, RunDeps
from .steps import durable_step

TOPIC = "approval:{id}"
APPROVED, DENIED, EXPIRED = "approved", "denied", "expired"


def _origins(deps: RunDeps, spec: ToolSpec, args: dict[str, Any]) -> dict[str, Any]:
    names = spec.sensitive_args or tuple(args)
    return {k: [asdict(o) for o in v] for k, v in deps.provenance.trace(args, names).items()}


async def request_approval(deps: RunDeps, spec: ToolSpec, args: dict[str, Any], call_id: str, outcome: Outcome) -> str:
    """Ask the agent's owner about one call and wait: ``"approved"``, ``"denied"`` or ``"expired"``.

    A call covered by a grant in force now (``policy.approvals.covering_grant``) answers at once
    (``approved``), audited with the grant's id. The wait ends at the agent's ``limits.approval_seconds``.
    """
    key, wider = approval_key(spec, args), target_key(spec, args)
    event = deps.idempotency_key(call_id)

    async def open_request() -> dict[str, Any]:
        now = datetime.now(timezone.utc)
        grants = deps.store.approval_grants.in_force(deps.agent.name, [k for k in (key, wider) if k], now)
        grant = covering_grant(spec, args, grants, agent=deps.agent.name, run_id=deps.run_id, at=now)
        if grant is not None:
            why = _covered_words(grant)
            deps.store.audit.append(f"{event}:approval", AuditKind.APPROVAL.value, run_id=deps.run_id,
                                    agent=deps.agent.name, user_id=deps.owner.id, tool=spec.name, verdict="covered",
                                    reason=why, data={"grant": grant.id, "scope": grant.scope, "at": now.isoformat(),
                                                      "args": args})
            return {"id": grant.id, "covered": True, "expires_at": None, "why": why}
        a, created = deps.store.approvals.request(
            event, run_id=deps.run_id, agent=deps.agent.name, user_id=deps.owner.id,
            tool=spec.name, args=args, origins=_origins(deps, spec, args), reason=outcome.reason, rule=outcome.rule,
            batch_key=key, target_key=wider, expires_in=deps.agent.limits.approval_seconds,
        )
        notice = a.notice
        if created:
            deps.store.audit.append(f"{event}:approval", AuditKind.APPROVAL.value,
                                    run_id=deps.run_id, agent=deps.agent.name, user_id=deps.owner.id, tool=spec.name,
                                    verdict="requested", reason=outcome.reason, data={"approval": a.id, "args": args})
            notice = check_approval_fatigue(deps.store, run_id=deps.run_id, agent=deps.agent.name, person=deps.owner.id,
                                            approval_id=a.id, budget=deps.owner.approvals_per_day, emit=deps.emit)
        # Waiting from the moment the request exists: whoever sees it pending sees the run waiting too.
        deps.store.runs.set_status(deps.run_id, RunStatus.WAITING)
        return {"id": a.id, "covered": False, "expires_at": a.expires_at.timestamp(), "notice": notice}

    info = await durable_step(f"approval:{spec.name}", open_request)
    if info["covered"]:
        # No approval event: nobody is waited for (the grant is on the audit record, and the call's
        # own "allow" follows); an approval event would be printed as a request to answer.
        return APPROVED
    reason = outcome.reason + (f" [{info['notice']}]" if info.get("notice") else "")
    deps.emit(ApprovalEvent(info["id"], spec.name, args, reason))
    return await _wait(deps, info)


def _covered_words(grant: Any) -> str:
    what = "identical calls" if grant.scope == "arguments" else "the same recipients"
    until = "for this run" if grant.run_id else f"until {grant.expires_at:%Y-%m-%d %H:%M} UTC"
    return f"covered by approval grant {grant.id} ({what}, {until}; `meshclaw approvals revoke {grant.id}`)"


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
