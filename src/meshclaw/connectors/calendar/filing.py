"""``calendar.file_invitation``: a received invitation, cancellation or answer filed in the owner's
calendar, as a guarded call from workflow code (never offered to a model).

The message comes from the mail system (``email.raw``), not from a model, so a model cannot hand
it a forged one; the rules of ``inbox.apply_invitation`` (``incoming.decide``) decide what the
message may change, and the guard pipeline decides, audits and checkpoints the write like any
other call. The message is outside content by design (``outside_content``): what it puts in the
calendar is marked as coming from mail, and ``calendar.list`` labels it so.
"""

from __future__ import annotations

from typing import Any

from pydantic_ai import RunContext

from meshclaw.domain.effects import Effect, tool

from .backend import calendar_login
from .errors import CalendarError
from .inbox import apply_invitation
from .settings import load_settings


@tool("calendar.file_invitation", Effect.WRITE, output_trust="untrusted", offered=False, outside_content=("message",))
async def calendar_file_invitation(ctx: RunContext[Any], message: str) -> dict[str, Any]:
    """File the invitation, cancellation or answer that ``message`` (a whole email) carries in the owner's calendar.

    Returns ``{"uid", "method", "action"}`` as ``apply_invitation`` does ("added", "updated", "cancelled",
    "answer recorded: ...", "unchanged ...", "ignored: <why>").

    Args:
        message: the email exactly as received (``email.raw``'s ``message``).
    """
    settings = load_settings(ctx.deps.settings)
    recipient = settings.email or ctx.deps.owner.email
    if not recipient:
        raise CalendarError("the owner has no email address (set users[].email or the calendar's email setting)")
    password = calendar_login(ctx, settings)
    return await apply_invitation(settings, password, message.encode("utf-8", errors="surrogateescape"), recipient)
