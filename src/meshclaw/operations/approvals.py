"""Pending approval requests, a person's answer to one, and the grants people chose when answering.

Who may answer: the agent's owner, one of the owner's delegates, or an admin (``authority.py``);
anyone else is refused and the refusal audited with their verified user id. An answer is audited
as the actor's user id, never as a name they typed. An approval covers exactly the call shown
unless the person chooses a wider scope at that moment: identical calls (``arguments``) or the same
recipients and targets (``recipient``), for the run or for a stated number of hours (at most
``MAX_GRANT_HOURS``). Such a grant is listed and revocable (``list_grants``, ``revoke_grant``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from meshclaw.domain.errors import NotAuthorized, NotFound, UsageError
from meshclaw.domain.runs import AuditKind

from .actor import Actor
from .authority import may_act_for_agent, require_act
from .context import Context, agent_named
from .journal import REFUSED, record
from .records import wire_dict

APPROVED, DENIED = "approved", "denied"
SCOPES = ("call", "arguments", "recipient")
MAX_GRANT_HOURS = 24.0  # a grant beyond the run lasts at most a day: a wider approval must end


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
    notice: str | None = None  # e.g. the person is over their daily approval budget

    def as_dict(self) -> dict[str, Any]:
        return wire_dict(self)


@dataclass(frozen=True)
class Answer:
    """A recorded answer. ``scope``: ``call`` (this call only), ``arguments`` or ``recipient``; a wider
    scope is a grant (``grant_id``) for the run (``until`` None) or until ``until``."""

    approval_id: str
    decision: str
    tool: str
    run_id: str
    for_run: bool
    scope: str = "call"
    grant_id: str | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class GrantInfo:
    """A wider approval a person gave: what it covers (``scope``, the ``args`` they saw), where and until when."""

    id: str
    approval_id: str
    agent: str
    user_id: str
    tool: str
    scope: str
    args: dict[str, Any]
    run_id: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None

    def as_dict(self) -> dict[str, Any]:
        return wire_dict(self)


def list_pending(ctx: Context, actor: Actor, *, user: str | None = None) -> list[PendingApproval]:
    """The requests ``actor`` may answer (their own agents', their delegators', every one for an admin),
    oldest first; ``user`` keeps only requests for that user's agents."""
    mine = [a.name for a in ctx.config.agents if may_act_for_agent(ctx.config, actor, a)]
    rows = ctx.store.approvals.pending(user_id=user, agents=None if actor.is_admin else mine)
    return [PendingApproval(a.id, a.run_id, a.agent, a.user_id, a.tool, dict(a.args), dict(a.origins), a.reason,
                            a.expires_at, a.notice) for a in rows]


def _scope(decision: str, scope: str, for_run: bool, hours: float | None) -> tuple[str, datetime | None]:
    """The stored scope of an answer and when its grant ends (None: with the run). UsageError if unclear."""
    if scope not in SCOPES:
        raise UsageError(f"an approval's scope is one of {', '.join(SCOPES)}, not {scope!r}")
    if for_run:
        if scope == "call":
            scope = "arguments"
        if hours is not None:
            raise UsageError("choose either --for-run or --hours, not both")
    if decision != APPROVED:
        if scope != "call" or hours is not None or for_run:
            raise UsageError("only an approval can be given a wider scope; a denial covers this call")
        return "call", None
    if hours is not None:
        if scope == "call":
            raise UsageError("--hours needs a wider scope: --scope arguments or --scope recipient")
        if not 0 < hours <= MAX_GRANT_HOURS:
            raise UsageError(f"--hours is more than 0 and at most {MAX_GRANT_HOURS:g}, not {hours:g}")
        return scope, datetime.now(timezone.utc) + timedelta(hours=hours)
    return ("run" if scope == "arguments" else scope), None


def answer(ctx: Context, actor: Actor, approval_id: str, decision: str, *, for_run: bool = False,
           note: str | None = None, scope: str = "call", hours: float | None = None) -> Answer:
    """Approve or deny a pending request as ``actor``; the waiting run resumes (durable message).

    ``scope`` (approvals only): ``call`` (default, exactly this call), ``arguments`` (identical calls)
    or ``recipient`` (calls of this tool to exactly these recipients and targets), for the rest of
    the run, or for ``hours`` (at most ``MAX_GRANT_HOURS``) in any run of the agent. ``for_run`` is
    ``scope="arguments"`` for this run. Only the agent's owner, a delegate or an admin may answer
    (NotAuthorized otherwise, audited with the actor's user id, the request left pending). Raises
    NotFound for an unknown id and UsageError for a request already answered or expired, or a scope
    that does not fit (``recipient`` for a call with no recipient or target)."""
    if decision not in (APPROVED, DENIED):
        raise UsageError(f"an answer is {APPROVED!r} or {DENIED!r}, not {decision!r}")
    stored, until = _scope(decision, scope, for_run, hours)
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
        a, grant = ctx.store.approvals.answer(approval_id, decision, actor.user_id, scope=stored, note=note,
                                              grant_until=until)
    except LookupError as e:
        raise UsageError(str(e.args[0]) if e.args else str(e)) from None
    except ValueError as e:
        raise UsageError(str(e)) from None
    granted = {"grant": grant.id, "grant_scope": grant.scope, "run_only": grant.run_id is not None,
               "until": until.isoformat() if until else None} if grant is not None else {}
    ctx.store.audit.append(f"{a.event_key}:{decision}", AuditKind.APPROVAL.value, run_id=a.run_id, agent=a.agent,
                           user_id=a.user_id, tool=a.tool, verdict=decision, reason=note,
                           data={"approval": a.id, "by": actor.user_id, "scope": a.scope, "args": a.args, **granted})
    record(ctx, actor, operation, agent=a.agent, owner=a.user_id, run_id=a.run_id,
           tool=a.tool, reason=note, approval=a.id, scope=a.scope, **granted)
    from meshclaw.runtime.control import answer_approval

    answer_approval(ctx.home, ctx.store_url, a.run_id, a.id, decision)
    return Answer(a.id, decision, a.tool, a.run_id, grant is not None and grant.run_id is not None,
                  grant.scope if grant is not None else "call", grant.id if grant is not None else None, until)


def _info(g: Any) -> GrantInfo:
    return GrantInfo(g.id, g.approval_id, g.agent, g.user_id, g.tool, g.scope, dict(g.shown), g.run_id, g.created_by,
                     g.created_at, g.expires_at, g.revoked_at, g.revoked_by)


def list_grants(ctx: Context, actor: Actor, *, include_ended: bool = False) -> list[GrantInfo]:
    """The approval grants of the agents ``actor`` may act for (every agent's for an admin), newest
    first; only those still in force unless ``include_ended`` (revoked and expired ones too)."""
    mine = None if actor.is_admin else [a.name for a in ctx.config.agents if may_act_for_agent(ctx.config, actor, a)]
    rows = ctx.store.approval_grants.listing(agents=mine,
                                             active_at=None if include_ended else datetime.now(timezone.utc))
    return [_info(g) for g in rows]


def revoke_grant(ctx: Context, actor: Actor, grant_id: str) -> GrantInfo:
    """Revoke an approval grant as ``actor``: from now on it covers no call (a call it would have
    covered is asked again). Only the agent's owner, a delegate or an admin may (NotAuthorized,
    audited). Raises NotFound for an unknown id, UsageError if already revoked."""
    g = ctx.store.approval_grants.get(grant_id)
    if g is None:
        raise NotFound(f"no approval grant {grant_id!r} (see `meshclaw approvals grants`)")
    if any(a.name == g.agent for a in ctx.config.agents):
        require_act(ctx, actor, agent_named(ctx.config, g.agent), "revoke-grant", verb="revoke a grant of", grant=grant_id)
    elif not actor.is_admin:
        reason = f"{actor.user_id} may not revoke a grant of {g.agent}, which is no longer configured"
        record(ctx, actor, "revoke-grant", verdict=REFUSED, agent=g.agent, owner=g.user_id, reason=reason, grant=grant_id)
        raise NotAuthorized(reason)
    try:
        g = ctx.store.approval_grants.revoke(grant_id, actor.user_id)
    except LookupError as e:
        raise UsageError(str(e.args[0]) if e.args else str(e)) from None
    ctx.store.audit.append(f"approval-grant:{g.id}:revoked", AuditKind.APPROVAL.value, run_id=g.run_id, agent=g.agent,
                           user_id=g.user_id, tool=g.tool, verdict="revoked",
                           data={"grant": g.id, "by": actor.user_id, "scope": g.scope, "approval": g.approval_id})
    record(ctx, actor, "revoke-grant", agent=g.agent, owner=g.user_id, run_id=g.run_id, tool=g.tool, grant=g.id)
    return _info(g)
