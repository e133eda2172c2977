"""The owner's memory: show, diff, review, roll back, add a standing rule, consolidate now, the diary.

Whose memory: an agent's memory belongs to its owner. Reading or changing a user's memory is for
that user, a user they name in ``delegates``, or an admin; an auditor may read. Managers do not
read their reports' memory (it is personal, unlike runs and spending). Every read and change is
audited as an ``operation`` record (refusals included); the runtime's own reads and consolidations
are audited in the run (``memory.recall``, ``memory.dream``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meshclaw.domain.errors import NotAuthorized, NotFound, UsageError

from .actor import Actor
from .authority import require_act
from .context import Context, agent_named
from .journal import REFUSED, record

EVERY_AGENT = "*"


@dataclass(frozen=True)
class EntryView:
    key: str
    version: int
    owner: str
    agent: str
    kind: str
    subject: str
    text: str
    confidence: float
    status: str
    sources: list[int]
    trust: str
    target: str | None
    at: str
    by: str
    reason: str
    problem: str = ""  # a damaged row: what is wrong with it

    @classmethod
    def of(cls, e: Any) -> "EntryView":
        problem = ""
        sources = e.sources if isinstance(e.sources, list) else []
        if not isinstance(e.sources, list):
            problem = "its sources are unreadable"
        if e.kind not in ("fact", "preference", "procedure", "rule"):
            problem = f"unknown kind {e.kind!r}"
        return cls(e.key, e.version, e.owner, e.agent, e.kind, e.subject, e.text or "", float(e.confidence or 0),
                   e.status, sources, e.trust, e.target, e.at.isoformat(timespec="seconds"), e.by, e.reason or "",
                   problem)


@dataclass(frozen=True)
class Change:
    field: str
    before: Any
    after: Any


def _may(ctx: Context, actor: Actor, owner: str, *, change: bool) -> bool:
    if actor.is_admin or actor.user_id == owner:
        return True
    if not change and "auditor" in actor.roles:
        return True
    user = next((u for u in ctx.config.users if u.id == owner), None)
    return user is not None and actor.user_id in user.delegates


def _require(ctx: Context, actor: Actor, owner: str, operation: str, *, change: bool, **details: Any) -> None:
    if _may(ctx, actor, owner, change=change):
        return
    reason = f"{actor.user_id} may not {'change' if change else 'read'} {owner}'s memory: only {owner}, a delegate or an admin may"
    record(ctx, actor, operation, verdict=REFUSED, owner=owner, reason=reason, **details)
    raise NotAuthorized(reason)


def _entry(ctx: Context, key: str) -> Any:
    e = ctx.store.memory.entry(key)
    if e is None:
        raise NotFound(f"no memory entry {key!r} (see `meshclaw memory show`)")
    return e


def show(ctx: Context, actor: Actor, *, user: str | None = None, agent: str | None = None,
         status: str | None = "active", limit: int = 200) -> list[EntryView]:
    """The current entries of ``user``'s memory (default: the actor's), filtered by agent and status
    (None: every status). Raises NotAuthorized (audited)."""
    owner = user or actor.user_id
    _require(ctx, actor, owner, "memory.show", change=False, agent=agent)
    rows = ctx.store.memory.entries(owner, agents=None if agent is None else [agent, EVERY_AGENT],
                                    statuses=None if status is None else [status], limit=limit)
    record(ctx, actor, "memory.show", owner=owner, agent=agent, status=status, entries=len(rows))
    return [EntryView.of(r) for r in rows]


def history(ctx: Context, actor: Actor, key: str) -> list[EntryView]:
    """Every version of entry ``key``, oldest first. Raises NotFound, NotAuthorized."""
    e = _entry(ctx, key)
    _require(ctx, actor, e.owner, "memory.history", change=False, entry=key)
    record(ctx, actor, "memory.history", owner=e.owner, agent=e.agent, entry=key)
    return [EntryView.of(r) for r in ctx.store.memory.history(key)]


def diff(ctx: Context, actor: Actor, key: str, *, before: int | None = None, after: int | None = None) -> list[Change]:
    """What differs between two versions of entry ``key`` (default: the previous and the current).
    Raises NotFound, NotAuthorized, UsageError for a version the entry does not have."""
    versions = {v.version: v for v in history(ctx, actor, key)}
    after = after if after is not None else max(versions)
    before = before if before is not None else after - 1
    if before not in versions or after not in versions:
        raise UsageError(f"memory entry {key} has versions {min(versions)}..{max(versions)}, not {before} and {after}")
    a, b = versions[before], versions[after]
    fields = ("text", "status", "confidence", "kind", "subject", "sources", "trust", "target", "by", "reason")
    return [Change(f, getattr(a, f), getattr(b, f)) for f in fields if getattr(a, f) != getattr(b, f)]


def review(ctx: Context, actor: Actor, *, user: str | None = None) -> list[EntryView]:
    """Proposed entries of ``user``'s memory waiting for review (learnt from outside content)."""
    return show(ctx, actor, user=user, status="proposed")


def decide(ctx: Context, actor: Actor, key: str, *, approve: bool, note: str = "") -> EntryView:
    """Approve or reject proposed entry ``key``. Approving makes it active (or, for a proposal that
    would change an active entry, writes that entry's next version with the proposed text); the
    previous state is kept. Raises NotFound, NotAuthorized, UsageError when it is not proposed."""
    p = _entry(ctx, key)
    _require(ctx, actor, p.owner, "memory.review", change=True, entry=key)
    if p.status != "proposed":
        raise UsageError(f"memory entry {key} is {p.status}, not proposed")
    base = dict(owner=p.owner, agent=p.agent, kind=p.kind, subject=p.subject, text=p.text, sources=p.sources,
                embedding=p.embedding, by=actor.user_id)
    why = f" ({note})" if note else ""
    if not approve:
        row = ctx.store.memory.write(key, **base, confidence=p.confidence, status="rejected", trust=p.trust,
                                     target=p.target, expect_version=p.version, reason=f"rejected by {actor.user_id}{why}")
    elif p.target and ctx.store.memory.entry(p.target) is not None:
        t = ctx.store.memory.entry(p.target)
        row = ctx.store.memory.write(p.target, **base, confidence=p.confidence, status="active", trust="approved",
                                     expect_version=t.version,
                                     reason=f"{actor.user_id} approved proposal {key}: was {t.text!r}{why}")
        ctx.store.memory.write(key, **base, confidence=p.confidence, status="retired", trust=p.trust,
                               target=p.target, expect_version=p.version, reason=f"applied to {p.target}")
    else:
        row = ctx.store.memory.write(key, **base, confidence=p.confidence, status="active", trust="approved",
                                     expect_version=p.version, reason=f"approved by {actor.user_id}{why}")
    record(ctx, actor, "memory.review", owner=p.owner, agent=p.agent, entry=key, approved=approve,
           version=row.version, text=p.text[:200])
    return EntryView.of(row)


def rollback(ctx: Context, actor: Actor, key: str, *, to_version: int | None = None) -> EntryView:
    """Restore entry ``key`` as it was at ``to_version`` (default: the version before the current) as its
    next version; nothing is deleted. Raises NotFound, NotAuthorized, UsageError for a missing version."""
    current = _entry(ctx, key)
    _require(ctx, actor, current.owner, "memory.rollback", change=True, entry=key)
    to_version = to_version if to_version is not None else current.version - 1
    old = ctx.store.memory.entry(key, to_version)
    if old is None or to_version >= current.version:
        raise UsageError(f"memory entry {key} has no earlier version {to_version} (current: {current.version})")
    row = ctx.store.memory.write(key, owner=old.owner, agent=old.agent, kind=old.kind, subject=old.subject,
                                 text=old.text, confidence=old.confidence, status=old.status, sources=old.sources,
                                 trust=old.trust, target=old.target, embedding=old.embedding, by=actor.user_id,
                                 expect_version=current.version,
                                 reason=f"rolled back to version {to_version} by {actor.user_id}")
    record(ctx, actor, "memory.rollback", owner=current.owner, agent=current.agent, entry=key, to_version=to_version,
           version=row.version)
    return EntryView.of(row)


def add_rule(ctx: Context, actor: Actor, text: str, *, agent: str | None = None, kind: str = "rule") -> EntryView:
    """Add a standing rule (or preference/procedure) in the owner's own words: active at once, applied on
    every model request of ``agent`` (None: every agent of the actor). Raises NotFound, NotAuthorized, UsageError."""
    from meshclaw.runtime.memory.consolidate import subject_key
    from meshclaw.runtime.memory.embeddings import embed, to_bytes

    text = " ".join(text.split())
    if not text:
        raise UsageError("a rule needs its text")
    if kind not in ("rule", "preference", "procedure", "fact"):
        raise UsageError(f"a memory entry's kind is rule, preference, procedure or fact, not {kind!r}")
    owner = actor.user_id
    if agent is not None:
        target = agent_named(ctx.config, agent)
        require_act(ctx, actor, target, "memory.rule")
        owner = target.owner
    row = ctx.store.memory.write(None, owner=owner, agent=agent or EVERY_AGENT, kind=kind,
                                 subject=subject_key("", text), text=text, confidence=1.0, status="active",
                                 sources=[], trust="trusted", embedding=to_bytes(embed([text])[0]), by=actor.user_id,
                                 reason=f"written by {actor.user_id}")
    record(ctx, actor, "memory.rule", owner=owner, agent=agent, entry=row.key, text=text[:200])
    return EntryView.of(row)


def diary(ctx: Context, actor: Actor, *, user: str | None = None, agent: str | None = None, limit: int = 10) -> list[Any]:
    """The dream diary of ``user``'s memory, newest first: rows with run_id, status, episodes, changes, diary."""
    owner = user or actor.user_id
    _require(ctx, actor, owner, "memory.diary", change=False, agent=agent)
    record(ctx, actor, "memory.diary", owner=owner, agent=agent)
    return ctx.store.dreams.dreams(owner, agent=agent, limit=limit)


async def dream(runtime: Any, actor: Actor, agent: str, *, calls: int | None = None, seconds: int | None = None) -> Any:
    """Consolidate ``agent``'s new episodes now, as a run of the agent (workflow ``memory.dream``);
    returns the run's outcome. Raises NotFound, NotAuthorized (audited), RunStopped."""
    from meshclaw.runtime.memory.episodes import DREAM_WORKFLOW

    ctx = Context.of_runtime(runtime)
    target = agent_named(ctx.config, agent)
    require_act(ctx, actor, target, "memory.dream")
    task = "consolidate memory" + (f" calls={calls}" if calls else "") + (f" seconds={seconds}" if seconds else "")
    run_id = await runtime.start(target.name, task, trigger="dream", workflow=DREAM_WORKFLOW)
    record(ctx, actor, "memory.dream", owner=target.owner, agent=target.name, run_id=run_id)
    return await runtime.wait(run_id)
