"""Who may act for an agent, and whose runs and audit records a person may read.

Acting (approve an agent's calls, promote it, stop or start it, accept its changed tools, run
it): the agent's owner, a user the owner names in ``users[].delegates``, or an admin.

Reading (runs, approvals, audit records, pinned tools): the metering rules — an employee reads
what concerns their own agents; a manager also reads their direct and indirect reports' (the
chain of ``users[].manager``); an admin or auditor reads everything; nobody else reads anything.
"""

from __future__ import annotations

from meshclaw.domain.config import Agent, Config
from meshclaw.domain.errors import NotAuthorized

from .actor import Actor
from .context import Context
from .journal import REFUSED, record


def may_act_for_agent(config: Config, actor: Actor, agent: Agent) -> bool:
    """True if ``actor`` is the agent's owner, one of the owner's delegates, or an admin."""
    if actor.is_admin or actor.user_id == agent.owner:
        return True
    owner = next((u for u in config.users if u.id == agent.owner), None)
    return owner is not None and actor.user_id in owner.delegates


def reports_of(config: Config, manager: str) -> set[str]:
    """Every user whose chain of ``manager`` links leads to ``manager`` (direct and indirect reports)."""
    managers = {u.id: u.manager for u in config.users}
    out = set()
    for user_id in managers:
        seen, up = {user_id}, managers.get(user_id)
        while up is not None and up not in seen:  # a loop in the chain ends the walk
            if up == manager:
                out.add(user_id)
                break
            seen.add(up)
            up = managers.get(up)
    return out


def may_read_user(config: Config, actor: Actor, user_id: str | None) -> bool:
    """True if ``actor`` may read runs and audit records about ``user_id``'s agents.

    ``user_id`` None (a record about no one's agent, such as ``stop --all``) is for admins and auditors."""
    if actor.reads_everything:
        return True
    if user_id is None:
        return False
    return user_id == actor.user_id or user_id in reports_of(config, actor.user_id)


def readable_users(config: Config, actor: Actor) -> set[str] | None:
    """The user ids whose records ``actor`` may read; None means everyone's (admin, auditor)."""
    if actor.reads_everything:
        return None
    return {actor.user_id} | reports_of(config, actor.user_id)


def require_act(ctx: Context, actor: Actor, agent: Agent, operation: str, *, verb: str | None = None,
                **details: object) -> None:
    """Raise NotAuthorized unless ``actor`` may act for ``agent``; a refusal is audited first (``verb``
    words the refusal when the operation's name does not read well in it)."""
    if may_act_for_agent(ctx.config, actor, agent):
        return
    reason = (f"{actor.user_id} may not {verb or operation} {agent.name}: only its owner {agent.owner}, "
              "a delegate or an admin may")
    record(ctx, actor, operation, verdict=REFUSED, agent=agent.name, owner=agent.owner, reason=reason, **details)
    raise NotAuthorized(reason)


def require_read(ctx: Context, actor: Actor, user_id: str | None, what: str) -> None:
    """Raise NotAuthorized unless ``actor`` may read records about ``user_id``'s agents (reads are not audited)."""
    if not may_read_user(ctx.config, actor, user_id):
        raise NotAuthorized(f"{actor.user_id} may not read {what}")
