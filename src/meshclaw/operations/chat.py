"""What the chat control channel needs from the operations layer: who a chat account is, the audit
record of an account that is no one, how an approval request reads in chat, and the summary of recent runs.

Who is acting is decided by the server user id only (``users[].chat: {matrix: '@alice:example.com'}``),
never by a display name, which anyone can set to anything.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from meshclaw.domain.config import Config
from meshclaw.domain.runs import AuditKind

from .actor import Actor
from .approvals import PendingApproval
from .context import Context
from .journal import REFUSED
from .runs import list_runs

APPROVE_WORDS = {"yes", "y", "approve", "approved", "ok", "okay"}
DENY_WORDS = {"no", "n", "deny", "denied", "reject"}
APPROVE_REACTIONS = {"👍", "👍️", "+1", "✅", ":+1:", "thumbsup"}
DENY_REACTIONS = {"👎", "👎️", "-1", "❌", ":-1:", "thumbsdown"}


def chat_actor(config: Config, backend: str, account: str) -> Actor | None:
    """The user whose verified ``chat`` account on ``backend`` is ``account`` (a server user id), or None."""
    for user in config.users:
        if user.chat.get(backend) == account:  # type: ignore[call-overload]
            return Actor(user.id, frozenset(user.roles))
    return None


def chat_account(config: Config, backend: str, user_id: str) -> str | None:
    """The verified chat account of ``user_id`` on ``backend``, or None."""
    for user in config.users:
        if user.id == user_id:
            return user.chat.get(backend)  # type: ignore[call-overload]
    return None


def refuse_unknown(ctx: Context, backend: str, account: str, attempted: str, **details: Any) -> int:
    """Audit (kind ``operation``, verdict ``refused``) an attempt from a chat account mapped to no user.

    Nothing else happens: the account is told nothing. Returns the record's sequence number."""
    data = {"actor": None, "chat_backend": backend, "chat_account": account, "operation": attempted, **details}
    return ctx.store.audit.append(f"operation:chat-{attempted}:{uuid.uuid4().hex}", AuditKind.OPERATION.value,
                                  verdict=REFUSED, reason=f"{backend} account {account} is not mapped to a user",
                                  data=data)


def decision_of_text(text: str) -> str | None:
    """``approved``/``denied`` for an answer word ("yes", "deny"...), else None."""
    word = text.strip().lower().rstrip(".!")
    if word in APPROVE_WORDS:
        return "approved"
    if word in DENY_WORDS:
        return "denied"
    return None


def decision_of_reaction(key: str) -> str | None:
    """``approved`` for 👍 (or +1), ``denied`` for 👎 (or -1), else None."""
    key = key.strip()
    if key in APPROVE_REACTIONS:
        return "approved"
    if key in DENY_REACTIONS:
        return "denied"
    return None


def approval_text(p: PendingApproval) -> str:
    """An approval request as a chat message: the action, every argument, where each came from."""
    lines = [f"Approval needed: {p.agent} wants to run {p.tool}.", f"Why it asks: {p.reason}", "Arguments:"]
    for name, value in p.args.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        lines.append(f"  {name} = {shown}")
        origins = p.origins.get(name, [])
        for origin in origins:
            lines.append(f"    {origin.get('value')!s}: {origin.get('trust')}, from {origin.get('source')}")
        if not origins:  # only targets (recipients, channels, ids) are traced by the guard
            lines.append("    origin: not traced (content written in the run, not a target)")
    lines.append(f"Reply yes or no to this message (or react 👍 / 👎). Request {p.id}, expires "
                 f"{p.expires_at:%Y-%m-%d %H:%M} UTC.")
    return "\n".join(lines)


def recent_summary(ctx: Context, actor: Actor, *, hours: float = 24.0, limit: int = 20) -> str:
    """What the actor's readable agents did in the last ``hours``: one line per run, newest first."""
    since = datetime.now(timezone.utc) - timedelta(hours=hours)
    runs = list_runs(ctx, actor, limit=limit, since=since)
    if not runs:
        return f"No runs in the last {hours:g} hours."
    lines = [f"{len(runs)} run(s) in the last {hours:g} hours:"]
    for r in runs:
        said = (r.output or r.error or "").strip().splitlines()
        lines.append(f"- {r.created_at:%H:%M} {r.agent} ({r.trigger}) {r.status}: {r.task.strip()[:80]}"
                     + (f" → {said[0][:120]}" if said else ""))
    return "\n".join(lines)
