"""Built-in toolsets that need no outside service: the owner's notes, and the clock.

The notes tools touch only their connector's state, the run owner's notes (``ctx.deps.state``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic_ai import RunContext

from meshclaw.domain.effects import Effect, Toolset, tool
from meshclaw.runtime.tool_context import ToolContext


@tool("notes.add", Effect.WRITE)
async def notes_add(ctx: RunContext[ToolContext], text: str) -> dict:
    """Save a short note for the owner.

    Args:
        text: the note, one or two sentences.
    """
    note_id, created = ctx.deps.state.add(ctx.deps.idempotency_key(ctx.tool_call_id or "call"), text.strip()[:4000])
    return {"note_id": note_id, "saved": True, "new": created}


@tool("notes.list", Effect.READ)
async def notes_list(ctx: RunContext[ToolContext], contains: str | None = None) -> list[dict]:
    """List the owner's most recent notes.

    Args:
        contains: only notes containing this text.
    """
    notes = ctx.deps.state.list(contains=contains, limit=20)
    return [{"id": n.id, "text": n.text, "at": n.created_at.isoformat(timespec="minutes")} for n in notes]


@tool("clock.now", Effect.READ)
async def clock_now(ctx: RunContext[ToolContext], timezone_name: str = "UTC") -> dict:
    """The current date and time.

    Args:
        timezone_name: an IANA time zone such as Europe/Berlin.
    """
    try:
        zone = ZoneInfo(timezone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone, timezone_name = ZoneInfo("UTC"), "UTC"
    now = datetime.now(timezone.utc).astimezone(zone)
    return {"now": now.isoformat(timespec="seconds"), "weekday": now.strftime("%A"), "timezone": timezone_name}


def notes() -> Toolset:
    return Toolset("notes", "Notes kept for the owner in MeshClaw's store.", [notes_add, notes_list])


def clock() -> Toolset:
    return Toolset("clock", "The current date and time.", [clock_now])
