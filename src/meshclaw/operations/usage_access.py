"""Usage figures on the other read paths: a run's token counts (``runs``, ``runs show``) and the
token counts in its ``model`` audit records (``audit show``) follow the usage rule of
``operations/usage.py``, not only the rule for reading runs.

An admin or auditor may read everyone's runs and audit records (security oversight), but usage
figures per person only as their own or as that person's manager on the day (``usage_org``): so
``runs --json`` or ``audit show --kind model`` is never a per-person ranking for someone who may read
only organisation aggregates. Where the figures are withheld, the run shows none (not zero) and the
model records keep everything but their counts.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

from .actor import Actor
from .context import Context
from .records import AuditEntry
from .usage_chart import observe
from .usage_org import visible_windows

# The fields of a ``model`` audit record that are usage figures (runtime/metered.py writes them).
USAGE_FIELDS = frozenset({"input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                          "reasoning_tokens", "cost", "seconds", "usage", "requests"})


class UsageAccess:
    """Answers "may ``actor`` see ``user_id``'s usage figures of ``day``?" for one read (the chart is read once)."""

    def __init__(self, ctx: Context, actor: Actor):
        self.ctx, self.actor = ctx, actor
        self._observed: Any = None
        self._users = {u.id for u in ctx.config.users}
        self._seen: dict[tuple[str, date], bool] = {}

    def allows(self, user_id: str | None, at: datetime | None) -> bool:
        """True for the actor's own figures and for a report's on a day the actor managed them."""
        if user_id is None or user_id == self.actor.user_id:
            return True
        when = at or datetime.now(timezone.utc)
        when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)  # SQLite hands back naive UTC
        day = when.astimezone(timezone.utc).date()
        key = (user_id, day)
        if key not in self._seen:
            if self._observed is None:
                self._observed = observe(self.ctx.config, self.ctx.store)
            self._seen[key] = user_id in self._users and bool(visible_windows(
                self.ctx.config, self.actor.user_id, [user_id], day, day + timedelta(days=1), self._observed))
        return self._seen[key]

    def entry(self, e: AuditEntry) -> AuditEntry:
        """``e`` without its usage figures when they are not the actor's to see (``model`` records only)."""
        if e.kind != "model" or self.allows(e.user_id, e.at):
            return e
        return replace(e, data={k: v for k, v in e.data.items() if k not in USAGE_FIELDS} | {"usage": "withheld"})
