"""For triggers: is the owner in a meeting right now, and until when?

No model and no run context here: a trigger has the settings and the resolved password.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from typing import Any

from .backend import calendar_connection
from .settings import CalendarSettings, load_settings


async def busy_now(settings: CalendarSettings | dict[str, Any], password: str,
                   now: datetime | None = None) -> tuple[bool, datetime | None]:
    """Is the owner in a meeting now, and until when (back-to-back meetings count as one)?

    For triggers: no model, no run context.  ``password`` is the resolved CalDAV password.
    Cancelled and free (transparent) events do not count; tentative ones do.
    """
    settings = load_settings(settings)
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=settings.zone)
    conn = calendar_connection(settings, password)

    def work() -> tuple[bool, datetime | None]:
        # A week ahead: long enough that "until" is not cut short by the window for any real day.
        for block in conn.freebusy(conn.calendar(), now - timedelta(minutes=1), now + timedelta(days=7)):
            if block.start <= now < block.end:
                return True, block.end.astimezone(settings.zone)
        return False, None

    return await asyncio.to_thread(work)
