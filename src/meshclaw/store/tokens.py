"""Personal API tokens: only a SHA-256 digest of each token is stored.

A token is ``mcl_`` followed by 43 URL-safe characters (32 random bytes). It is shown once, when
made; what is kept is its digest, so a copy of the database does not hold a usable token. A
token is found by its digest (a lookup by a 256-bit hash of a 256-bit secret leaks nothing
useful through timing).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timezone

from sqlalchemy import select

from .database import Database
from .tables import ApiToken

PREFIX = "mcl_"


def digest(token: str) -> str:
    """The stored form of a token: SHA-256 of its UTF-8 text, hex (64 characters)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _aware(dt: datetime | None) -> datetime | None:
    return dt if dt is None or dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _detach(s, row: ApiToken) -> ApiToken:  # type: ignore[no-untyped-def]
    s.flush()
    s.expunge(row)
    for k in ("created_at", "expires_at", "revoked_at", "last_used_at"):
        setattr(row, k, _aware(getattr(row, k)))
    return row


class TokenRepository:
    def __init__(self, db: Database):
        self.db = db

    def create(self, user_id: str, name: str, created_by: str, expires_at: datetime | None) -> tuple[ApiToken, str]:
        """Make a token for ``user_id``; returns (its row, the token text — shown once, never stored)."""
        token = PREFIX + secrets.token_urlsafe(32)
        with self.db.session() as s:
            row = ApiToken(id=secrets.token_hex(6), user_id=user_id, name=name, token_hash=digest(token),
                           created_at=datetime.now(timezone.utc), created_by=created_by, expires_at=expires_at)
            s.add(row)
            return _detach(s, row), token

    def find(self, token: str) -> ApiToken | None:
        """The row of a presented token (revoked and expired ones included: the caller says why it refuses)."""
        with self.db.session() as s:
            row = s.scalar(select(ApiToken).where(ApiToken.token_hash == digest(token)))
            return None if row is None else _detach(s, row)

    def get(self, token_id: str) -> ApiToken | None:
        with self.db.session() as s:
            row = s.get(ApiToken, token_id)
            return None if row is None else _detach(s, row)

    def used(self, token_id: str) -> None:
        """Note that a token was used now (shown by ``meshclaw tokens list``)."""
        with self.db.session() as s:
            row = s.get(ApiToken, token_id)
            if row is not None:
                row.last_used_at = datetime.now(timezone.utc)

    def list(self, user_id: str | None = None) -> list[ApiToken]:
        """Tokens, newest first (of ``user_id`` only, if given)."""
        with self.db.session() as s:
            query = select(ApiToken).order_by(ApiToken.created_at.desc())
            if user_id is not None:
                query = query.where(ApiToken.user_id == user_id)
            return [_detach(s, r) for r in s.scalars(query).all()]

    def revoke(self, token_id: str, by: str) -> ApiToken:
        """Revoke a token for good. KeyError if there is no such token; a second revocation changes nothing."""
        with self.db.session() as s:
            row = s.get(ApiToken, token_id)
            if row is None:
                raise KeyError(f"no token {token_id!r} (see `meshclaw tokens list`)")
            if row.revoked_at is None:
                row.revoked_at, row.revoked_by = datetime.now(timezone.utc), by
            return _detach(s, row)
