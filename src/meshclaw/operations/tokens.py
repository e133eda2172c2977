"""Personal API tokens: making, listing and revoking them, and knowing who presents one.

A token lets a program (an MCP client) act as the user it is bound to, with that user's roles as
the configuration says now; it is checked on every use (``authenticate``). Anyone may make,
list and revoke their own tokens; making or revoking one for another user is for admins (listing
another user's: admins and auditors). Making and revoking are audited as ``operation`` records
(``token-create``, ``token-revoke``) that name the token id, never the token; a refused
presentation is audited as ``authenticate`` with verdict ``refused``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from meshclaw.domain.errors import NotAuthorized, NotFound, UsageError
from meshclaw.domain.runs import AuditKind
from meshclaw.store.tokens import PREFIX, TokenRepository

from .actor import Actor
from .context import Context
from .journal import REFUSED, record

DEFAULT_EXPIRY = "90d"
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_expiry(text: str) -> timedelta | None:
    """``30d``, ``12h``, ``90m``, ``2w`` → a duration; ``never`` → None. Raises UsageError otherwise."""
    t = text.strip().lower()
    if t == "never":
        return None
    m = re.fullmatch(r"(\d{1,5})\s*([mhdw])", t)
    if m is None or int(m.group(1)) == 0:
        raise UsageError(f"an expiry is a number with m, h, d or w (30d, 12h), or 'never'; not {text!r}")
    return timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])


@dataclass(frozen=True)
class TokenInfo:
    """A token as people see it: never the token itself. ``state``: active, expired or revoked."""

    id: str
    user_id: str
    name: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    state: str

    @classmethod
    def of(cls, row: Any, now: datetime | None = None) -> "TokenInfo":
        now = now or datetime.now(timezone.utc)
        state = "revoked" if row.revoked_at else "expired" if row.expires_at and row.expires_at <= now else "active"
        return cls(row.id, row.user_id, row.name, row.created_at, row.created_by, row.expires_at, row.revoked_at,
                   row.last_used_at, state)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["user"] = out.pop("user_id")
        return out


@dataclass(frozen=True)
class CreatedToken:
    """A new token: ``token`` is the only copy there will ever be (the store keeps a digest)."""

    info: TokenInfo
    token: str


def _repo(ctx: Context) -> TokenRepository:
    return TokenRepository(ctx.store.db)


def _require_user(ctx: Context, user_id: str) -> None:
    if not any(u.id == user_id for u in ctx.config.users):
        raise NotFound(f"{user_id!r} is not a user in the configuration")


def create_token(ctx: Context, actor: Actor, *, user: str | None = None, name: str | None = None,
                 expires: str = DEFAULT_EXPIRY) -> CreatedToken:
    """Make a token bound to ``user`` (default: the actor), valid for ``expires`` (see ``parse_expiry``).

    Raises UsageError (bad expiry or name), NotFound (no such user), NotAuthorized (a token for
    another user, unless an admin; audited, nothing made)."""
    target = user or actor.user_id
    lifetime = parse_expiry(expires)
    label = (name or "mcp").strip()
    if not label or len(label) > 100:
        raise UsageError("a token's name is 1 to 100 characters")
    _require_user(ctx, target)
    if target != actor.user_id and not actor.is_admin:
        reason = f"{actor.user_id} may not make a token for {target}: only an admin may"
        record(ctx, actor, "token-create", verdict=REFUSED, owner=target, reason=reason)
        raise NotAuthorized(reason)
    expires_at = None if lifetime is None else datetime.now(timezone.utc) + lifetime
    row, token = _repo(ctx).create(target, label, actor.user_id, expires_at)
    record(ctx, actor, "token-create", owner=target, token_id=row.id, name=label,
           expires_at=None if expires_at is None else expires_at.isoformat())
    return CreatedToken(TokenInfo.of(row), token)


def list_tokens(ctx: Context, actor: Actor, *, user: str | None = None) -> list[TokenInfo]:
    """Tokens newest first: the actor's own; with ``user``, that user's (another user's: admins and
    auditors only, NotAuthorized otherwise); an admin or auditor without ``user`` sees everyone's."""
    if user is not None and user != actor.user_id and not actor.reads_everything:
        raise NotAuthorized(f"{actor.user_id} may not list {user}'s tokens")
    who = user if user is not None else (None if actor.reads_everything else actor.user_id)
    return [TokenInfo.of(r) for r in _repo(ctx).list(who)]


def revoke_token(ctx: Context, actor: Actor, token_id: str) -> TokenInfo:
    """Revoke a token now: the next request that presents it is refused. Its user or an admin may.

    Raises NotFound, NotAuthorized (audited, nothing changed)."""
    repo = _repo(ctx)
    row = repo.get(token_id)
    if row is None:
        raise NotFound(f"no token {token_id!r} (see `meshclaw tokens list`)")
    if row.user_id != actor.user_id and not actor.is_admin:
        reason = f"{actor.user_id} may not revoke {row.user_id}'s token {token_id}: only its user or an admin may"
        record(ctx, actor, "token-revoke", verdict=REFUSED, owner=row.user_id, reason=reason, token_id=token_id)
        raise NotAuthorized(reason)
    row = repo.revoke(token_id, actor.user_id)
    record(ctx, actor, "token-revoke", owner=row.user_id, token_id=token_id)
    return TokenInfo.of(row)


def authenticate(ctx: Context, token: str | None, *, surface: str) -> tuple[Actor, str]:
    """The actor a presented token stands for, and the token's id.

    Refused (NotAuthorized, one line saying why, and an ``authenticate`` audit record naming the
    ``surface`` and the token id when known — never the token): no token, not a MeshClaw token,
    unknown, revoked, expired, or bound to a user no longer in the configuration."""
    row = None
    if not token:
        why = "no token: send `Authorization: Bearer <token>` (make one with `meshclaw tokens create`)"
    elif not token.startswith(PREFIX):
        why = "not a MeshClaw token"
    else:
        row = _repo(ctx).find(token)
        now = datetime.now(timezone.utc)
        if row is None:
            why = "unknown token"
        elif row.revoked_at is not None:
            why = f"token {row.id} was revoked"
        elif row.expires_at is not None and row.expires_at <= now:
            why = f"token {row.id} expired at {row.expires_at:%Y-%m-%d %H:%M} UTC"
        elif not any(u.id == row.user_id for u in ctx.config.users):
            why = f"token {row.id} belongs to {row.user_id!r}, who is no longer a user in the configuration"
        else:
            _repo(ctx).used(row.id)
            return Actor.of(ctx.config, row.user_id), row.id
    refused(ctx, surface, why, token_id=None if row is None else row.id, user_id=None if row is None else row.user_id)
    raise NotAuthorized(why)


def refused(ctx: Context, surface: str, why: str, *, token_id: str | None = None, user_id: str | None = None) -> None:
    """Audit a refused presentation (no actor is known, so this is not ``journal.record``)."""
    ctx.store.audit.append(f"operation:authenticate:{uuid.uuid4().hex}", AuditKind.OPERATION.value, user_id=user_id,
                           verdict=REFUSED, reason=why,
                           data={"operation": "authenticate", "surface": surface, "token_id": token_id})
