"""Built-in toolsets that need no outside service: the owner's notes, and the clock.

The notes tools touch only their connector's state, the run owner's notes (``ctx.deps.state``).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic_ai import RunContext

from meshclaw.domain.effects import Effect, Toolset, tool
from meshclaw.domain.provenance import Label, Source, Trust
from meshclaw.policy.provenance import LabelledFields
from meshclaw.runtime.tool_context import ToolContext

NOTE_META = Label(Source.TOOL, Trust.TRUSTED, "note metadata kept by MeshClaw")


@tool("notes.add", Effect.WRITE)
async def notes_add(ctx: RunContext[ToolContext], text: str) -> dict:
    """Save a short note for the owner.

    Args:
        text: the note, one or two sentences.
    """
    text = text.strip()[:4000]
    trust, origin = note_label(getattr(ctx.deps, "provenance", None), text)
    note_id, created = ctx.deps.state.add(ctx.deps.idempotency_key(ctx.tool_call_id or "call"), text,
                                          trust=trust, origin=origin)
    return {"note_id": note_id, "saved": True, "new": created}


def note_label(provenance: Any, text: str) -> tuple[str, str]:
    """The label a note keeps: trusted only if its run had read nothing untrusted, or the text is the
    owner's own words; otherwise untrusted, naming what the run had read. Without a view of the
    run's provenance, untrusted."""
    if provenance is None:
        return "untrusted", "written outside a run"
    if not provenance.tainted or provenance.in_owner_text(text):
        return "trusted", ""
    return "untrusted", "written after reading " + ", ".join(provenance.untrusted_origins()[:3])


def _note_view(n: Any) -> LabelledFields:
    """A stored note as the model sees it; its text carries the label of the run that wrote it."""
    if n.trust == "trusted":
        text_label = Label(Source.TOOL, Trust.TRUSTED, f"note {n.id}, written by {n.agent}")
    else:
        text_label = Label(Source.EXTERNAL, Trust.UNTRUSTED, f"note {n.id}, {n.origin or 'of unknown provenance'}")
    return LabelledFields({"id": n.id, "text": n.text, "at": n.created_at.isoformat(timespec="minutes")},
                          {"id": NOTE_META, "at": NOTE_META, "text": text_label})


@tool("notes.list", Effect.READ)
async def notes_list(ctx: RunContext[ToolContext], contains: str | None = None) -> list[dict]:
    """List the owner's most recent notes.

    Args:
        contains: only notes containing this text.
    """
    notes = ctx.deps.state.list(contains=contains, limit=20)
    return [_note_view(n) for n in notes]


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
