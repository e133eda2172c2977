"""The kill switch (stop, start) and promotion out of rehearsal.

Stopping or starting one agent, and promoting it, are for its owner, a delegate or an admin;
stopping or starting every agent at once (``ALL``) is for an admin.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from meshclaw.domain.errors import NotAuthorized
from meshclaw.domain.runs import AuditKind, RunStatus

from .actor import Actor
from .authority import require_act
from .context import Context, agent_named
from .journal import REFUSED, record


@dataclass(frozen=True)
class Switched:
    """The kill switch's new state for ``agent`` (None: every agent); ``still_stopped`` when a global stop remains."""

    agent: str | None
    stopped: bool
    cancelled_runs: list[str] = field(default_factory=list)
    still_stopped: bool = False
    was_stopped: bool = True  # start: whether a stop held the agent (or, for every agent, whether stop --all did);
    # stop: whether its own switch (or the global one, for every agent) was already on


@dataclass(frozen=True)
class Promoted:
    agent: str
    owner: str


def _require_admin_for_all(ctx: Context, actor: Actor, operation: str) -> None:
    if actor.is_admin:
        return
    reason = f"{actor.user_id} may not {operation} every agent: only an admin may"
    record(ctx, actor, operation, verdict=REFUSED, reason=reason, all_agents=True)
    raise NotAuthorized(reason)


def _switch_target(ctx: Context, actor: Actor, agent: str | None, operation: str) -> Any:
    """The agent a kill-switch operation acts on (None: every agent, for admins only), once the actor may."""
    target = agent_named(ctx.config, agent) if agent is not None else None
    if target is None:
        _require_admin_for_all(ctx, actor, operation)
    else:
        require_act(ctx, actor, target, operation)
    return target


def stop(ctx: Context, actor: Actor, agent: str | None) -> Switched:
    """Stop ``agent`` (None: every agent) now: its running and waiting runs are cancelled, and nothing
    new starts until ``start``. Raises NotFound, NotAuthorized (audited, nothing changed)."""
    from meshclaw.runtime.control import cancel_runs
    from meshclaw.store.agent_state import ALL

    target = _switch_target(ctx, actor, agent, "stop")
    key = ALL if target is None else target.name
    was = ctx.store.agents.set_stopped(key, True, actor.user_id)  # first, so nothing new starts while we cancel
    active = ctx.store.runs.active(agent=None if target is None else target.name)
    cancel_runs(ctx.home, ctx.store_url, [r.id for r in active])
    for r in active:
        ctx.store.runs.set_status(r.id, RunStatus.STOPPED.value, error=f"stopped by {actor.user_id} (kill switch)")
    cancelled = [r.id for r in active]
    ctx.store.audit.append(f"stop:{key}:{_now()}", AuditKind.KILL_SWITCH.value, agent=None if target is None else key,
                           user_id=None if target is None else target.owner, verdict="stopped",
                           data={"by": actor.user_id, "agent": key, "cancelled_runs": cancelled})
    record(ctx, actor, "stop", agent=None if target is None else key, owner=None if target is None else target.owner,
           cancelled_runs=cancelled)
    return Switched(None if target is None else key, True, cancelled, was_stopped=was)


def stop_without_configuration(store: Any, home: Path, store_url: str | None, agent: str | None, *, login: str,
                               problem: str, owner: str | None = None) -> Switched:
    """The kill switch when the configuration cannot be loaded (``problem``: its first error): stop
    ``agent`` (None: every agent) by name, cancel its running and waiting runs, and audit who did it
    as the machine ``login`` (the record is the agent's ``owner``'s, when the file still names one). Stopping must never wait for a configuration to be fixed; the caller
    allows it only to the login that owns the data dir (``owns_data_dir``), which holds the whole store
    anyway. Starting again needs a valid configuration (``start``)."""
    from meshclaw.runtime.control import cancel_runs
    from meshclaw.store.agent_state import ALL

    key = ALL if agent is None else agent
    by = f"login:{login}"
    was = store.agents.set_stopped(key, True, by)
    active = store.runs.active(agent=agent)
    cancel_runs(home, store_url, [r.id for r in active])
    for r in active:
        store.runs.set_status(r.id, RunStatus.STOPPED.value, error=f"stopped by {by} (kill switch)")
    cancelled = [r.id for r in active]
    store.audit.append(f"stop:{key}:{_now()}", AuditKind.KILL_SWITCH.value, agent=agent, user_id=owner, verdict="stopped",
                       data={"by": by, "agent": key, "cancelled_runs": cancelled,
                             "configuration": f"could not be loaded: {problem}"})
    return Switched(agent, True, cancelled, was_stopped=was)


def owns_data_dir(home: Path) -> bool:
    """Whether this process's effective uid owns the data dir ``home`` (and so its store and keys)."""
    try:
        return home.stat().st_uid == os.geteuid()
    except OSError:
        return False


def start(ctx: Context, actor: Actor, agent: str | None) -> Switched:
    """Lift the kill switch for ``agent`` (None: the global one). Raises NotFound, NotAuthorized
    (audited, nothing changed). ``still_stopped`` says a global stop still holds the agent;
    ``was_stopped`` False: nothing held it, so nothing was re-enabled."""
    from meshclaw.store.agent_state import ALL

    target = _switch_target(ctx, actor, agent, "start")
    key = ALL if target is None else target.name
    was = ctx.store.agents.is_stopped(key)  # its own stop or stop --all (read before lifting it)
    ctx.store.agents.set_stopped(key, False, actor.user_id)
    ctx.store.audit.append(f"start:{key}:{_now()}", AuditKind.KILL_SWITCH.value, agent=None if target is None else key,
                           user_id=None if target is None else target.owner, verdict="started",
                           data={"by": actor.user_id, "agent": key})
    record(ctx, actor, "start", agent=None if target is None else key, owner=None if target is None else target.owner)
    still = target is not None and ctx.store.agents.is_stopped(key)
    return Switched(None if target is None else key, False, [], still, was)


def promote(ctx: Context, actor: Actor, agent: str) -> Promoted:
    """Let ``agent`` act for real (new agents only rehearse). Raises NotFound, NotAuthorized (audited,
    nothing changed)."""
    target = agent_named(ctx.config, agent)
    require_act(ctx, actor, target, "promote")
    ctx.store.agents.set_promoted(target.name, True, actor.user_id)
    ctx.store.audit.append(f"promote:{target.name}:{_now()}", AuditKind.PROMOTION.value, agent=target.name,
                           user_id=target.owner, verdict="promoted", data={"by": actor.user_id})
    record(ctx, actor, "promote", agent=target.name, owner=target.owner)
    return Promoted(target.name, target.owner)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()
