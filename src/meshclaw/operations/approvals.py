"""Pending approval requests, and a person's answer to one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from meshclaw.domain.errors import NotAuthorized, NotFound, UsageError
from meshclaw.domain.runs import AuditKind

from .actor import Actor
from .authority import may_act_for_agent, require_act
from .context import Context, agent_named
from .journal import REFUSED, record
from .records import wire_dict

APPROVED, DENIED = "approved", "denied"


@dataclass(frozen=True)
class PendingApproval:
    """A call waiting for a person: its exact arguments, where each came from (``origins``), and why it waits."""

    id: str
    run_id: str
    agent: str
    user_id: str
    tool: str
    args: dict[str, Any]
    origins: dict[str, Any]
    reason: str
    expires_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return wire_dict(self)


@dataclass(frozen=True)
class Answer:
    """A recorded answer; ``for_run`` means identical calls later in the same run are covered too."""

    approval_id: str
    decision: str
    tool: str
    run_id: str
    for_run: bool


def list_pending(ctx: Context, actor: Actor, *, user: str | None = None) -> list[PendingApproval]:
    """The requests ``actor`` may answer (their own agents', their delegators', every one for an admin),
    oldest first; ``user`` keeps only requests for that user's agents."""
    mine = [a.name for a in ctx.config.agents if may_act_for_agent(ctx.config, actor, a)]
    rows = ctx.store.approvals.pending(user_id=user, agents=None if actor.is_admin else mine)
    return [PendingApproval(a.id, a.run_id, a.agent, a.user_id, a.tool, dict(a.args), dict(a.origins), a.reason,
                            a.expires_at) for a in rows]


def answer(ctx: Context, actor: Actor, approval_id: str, decision: str, *, for_run: bool = False,
           note: str | None = None) -> Answer:
    """Approve or deny a pending request as ``actor``; the waiting run resumes (durable message).

    Only the agent's owner, a delegate or an admin may answer (NotAuthorized otherwise, audited,
    the request left pending). Raises NotFound for an unknown id and UsageError for a request
    already answered or expired."""
    if decision not in (APPROVED, DENIED):
        raise UsageError(f"an answer is {APPROVED!r} or {DENIED!r}, not {decision!r}")
    pending = ctx.store.approvals.get(approval_id)
    if pending is None:
        raise NotFound(f"no approval request {approval_id!r} (see `meshclaw approvals`)")
    operation = "approve" if decision == APPROVED else "deny"
    if any(a.name == pending.agent for a in ctx.config.agents):
        require_act(ctx, actor, agent_named(ctx.config, pending.agent), operation, approval=approval_id)
    elif not actor.is_admin:  # the agent left the configuration: only an admin may close its requests
        reason = f"{actor.user_id} may not {operation} a request of {pending.agent}, which is no longer configured"
        record(ctx, actor, operation, verdict=REFUSED, agent=pending.agent, owner=pending.user_id, reason=reason,
               approval=approval_id)
        raise NotAuthorized(reason)
    try:
        a = ctx.store.approvals.decide(approval_id, decision, actor.user_id, scope="run" if for_run else "call", note=note)
    except LookupError as e:
        raise UsageError(str(e.args[0]) if e.args else str(e)) from None
    ctx.store.audit.append(f"{a.event_key}:{decision}", AuditKind.APPROVAL.value, run_id=a.run_id, agent=a.agent,
                           user_id=a.user_id, tool=a.tool, verdict=decision, reason=note,
                           data={"approval": a.id, "by": actor.user_id, "scope": a.scope, "args": a.args})
    record(ctx, actor, operation, agent=a.agent, owner=a.user_id, run_id=a.run_id,
           tool=a.tool, reason=note, approval=a.id, scope=a.scope)
    from meshclaw.runtime.control import answer_approval

    answer_approval(ctx.home, ctx.store_url, a.run_id, a.id, decision)
    return Answer(a.id, decision, a.tool, a.run_id, for_run)
