"""Where a calendar connection comes from: the CalDAV server, or the owner's sandbox workplace.

    conn = calendar_connection(settings, calendar_login(ctx, settings))

``login`` is the resolved CalDAV password for ``backend: caldav`` and the owner's workplace view
(the ``workplace`` state of the tool context, opened) for ``backend: sandbox``; both connections
answer the same calls, so every tool runs the same code on either.
"""

from __future__ import annotations

from typing import Any

from meshclaw.domain.secrets import SecretMissing

from .errors import CalendarError
from .settings import CalendarSettings


def calendar_connection(settings: CalendarSettings, login: Any) -> Any:
    """A CalDAV ``Connection`` or a ``SandboxConnection``, by ``settings.backend``."""
    if settings.backend == "sandbox":
        from .sandbox import SandboxConnection

        return SandboxConnection(settings, login)
    from .client import Connection

    return Connection(settings, login)


def calendar_login(ctx: Any, settings: CalendarSettings) -> Any:
    """The CalDAV password, or the opened workplace view; CalendarError when neither can be had."""
    if settings.backend == "sandbox":
        state = getattr(ctx.deps, "state", None)
        if state is None or not hasattr(state, "open"):
            raise CalendarError("the sandbox calendar backend needs MeshClaw's store, which this run does not have")
        try:
            return state.open()
        except LookupError as e:
            raise CalendarError(str(e.args[0]) if e.args else str(e)) from None
    try:
        return ctx.deps.secret(settings.password)
    except SecretMissing as e:
        raise CalendarError(f"the calendar password cannot be resolved: {e}") from None
