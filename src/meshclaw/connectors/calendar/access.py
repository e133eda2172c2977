"""What every calendar tool needs from its run context: settings, a connection, passwords, the owner.

Shared by the model's tools (``tools.py``) and the answering tool (``replies.py``), which
import it from here and never from each other.
"""

from __future__ import annotations

from typing import Any

from pydantic_ai import RunContext

from meshclaw.domain.secrets import SecretMissing
from meshclaw.runtime.context import RunDeps

from .backend import calendar_connection, calendar_login
from .errors import CalendarError
from .settings import CalendarSettings, load_settings

TOOLSET = "calendar"


def secret(ctx: RunContext[RunDeps], ref: str, what: str) -> str:
    """The value behind a secret reference (``secret:NAME``, ``env:VAR``); CalendarError naming ``what``."""
    try:
        return ctx.deps.secret(ref)
    except SecretMissing as e:
        raise CalendarError(f"the {what} cannot be resolved: {e}") from None


def connect(ctx: RunContext[RunDeps]) -> tuple[CalendarSettings, Any]:
    """The agent's calendar settings and a (lazy) CalDAV connection; CalendarError on bad settings."""
    settings = load_settings(ctx.deps.settings)  # validated against CalendarSettings, the connector's model
    return settings, calendar_connection(settings, calendar_login(ctx, settings))


def smtp_password(ctx: RunContext[RunDeps], settings: CalendarSettings) -> Any:
    """The SMTP password for invitations and answers, or None when the mail server takes no login;
    for ``backend: sandbox``, the owner's workplace view that delivers them (imip.send)."""
    if settings.backend == "sandbox":
        return calendar_login(ctx, settings)
    return secret(ctx, settings.smtp_password, "SMTP password") if settings.smtp_password else None


def owner_email(ctx: RunContext[RunDeps], settings: CalendarSettings) -> str | None:
    """The owner's address as organizer or attendee: the settings' ``email``, else the directory's."""
    return settings.email or ctx.deps.owner.email


def call_key(ctx: RunContext[RunDeps]) -> str:
    """The idempotency key of this tool call (the same after a crash and replay)."""
    if not ctx.tool_call_id:
        # Without a stable id every retry would look like a new request and could double-book.
        raise CalendarError("this tool needs a tool call id to run idempotently")
    return ctx.deps.idempotency_key(ctx.tool_call_id)
