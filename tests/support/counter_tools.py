"""A third-party-style toolset for the crash test: each call leaves a side effect in a separate
SQLite file that the test reads from outside the worker process."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from pydantic_ai import RunContext

from meshclaw.domain.effects import Effect, Toolset, tool
from meshclaw.runtime.context import RunDeps


def _db() -> sqlite3.Connection:
    conn = sqlite3.connect(os.environ["COUNTER_DB"], timeout=30, isolation_level=None)
    conn.execute("CREATE TABLE IF NOT EXISTS effects (idem TEXT PRIMARY KEY, key TEXT)")
    conn.execute("CREATE TABLE IF NOT EXISTS attempts (key TEXT)")
    conn.execute("CREATE TABLE IF NOT EXISTS reads (key TEXT)")
    return conn


@tool("counter.bump", Effect.WRITE)
async def bump(ctx: RunContext[RunDeps], key: str) -> str:
    """Record one side effect for key."""
    conn = _db()
    conn.execute("INSERT INTO attempts VALUES (?)", (key,))
    # The idempotency key makes a re-run of an interrupted call a no-op.
    conn.execute("INSERT OR IGNORE INTO effects VALUES (?, ?)", (ctx.deps.idempotency_key(ctx.tool_call_id), key))
    conn.close()
    marker = Path(os.environ["COUNTER_DB"] + f".{key}.reached")
    if key == os.environ.get("COUNTER_HANG_ON") and not marker.exists():
        marker.write_text("x")
        time.sleep(600)  # the test kills the process here, mid-call, after the effect
    return f"bumped {key}"


@tool("counter.get", Effect.READ)
async def get(ctx: RunContext[RunDeps], key: str) -> str:
    """How many side effects key has had."""
    conn = _db()
    conn.execute("INSERT INTO reads VALUES (?)", (key,))
    [(count,)] = conn.execute("SELECT COUNT(*) FROM effects WHERE key = ?", (key,)).fetchall()
    conn.close()
    return f"{key}: {count}"


def toolset() -> Toolset:
    return Toolset("counter", "A side-effect counter for tests.", [bump, get])
