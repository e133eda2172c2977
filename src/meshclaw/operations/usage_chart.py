"""Recording the management chart as it is seen, and saying when a plain edit of ``manager:`` moved
someone's figures to a new manager.

Every usage read (``operations.usage``) and ``meshclaw config check`` call ``observe``: the
configuration's current manager of each user is stored when it differs from the store's last
observation (``store.org_observations``). ``operations.usage_org`` turns those observations into who
managed whom on which day; ``plain_changes`` names the changes that rely on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from meshclaw.store.org_observations import Observation, with_chart

from .usage_org import observed_timeline


def current_chart(config: Any) -> dict[str, str | None]:
    """``{user id: manager id or None}`` as the configuration states it now."""
    return {u.id: u.manager for u in config.users}


def observe(config: Any, store: Any, *, record: bool = True, at: datetime | None = None) -> dict[str, list[Observation]]:
    """Record each configured user's current manager where it differs from the store's last
    observation of them (a user's first observation starts their history), first seen at ``at``
    (default now, UTC); returns the observations of every user (``usage_org``'s ``observed``).
    ``record`` False: store nothing, return what recording would give (a configuration file that is
    not the one in use). Raises StoreError when the store cannot be read or written."""
    if record:
        return store.managers.observe(current_chart(config), at=at)
    return with_chart(store.managers.history(), current_chart(config), at or datetime.now(timezone.utc))


@dataclass(frozen=True)
class PlainChange:
    """``user_id``'s manager moved from ``previous`` (None: nobody) to ``manager`` without a
    ``manager_since``: ``manager`` sees their figures from ``since``, the day the store first saw it."""

    index: int  # the user's position in ``users``
    user_id: str
    previous: str | None
    manager: str
    since: date

    @property
    def message(self) -> str:
        return (f"{self.user_id}'s manager changed from {self.previous or 'nobody'} to {self.manager} "
                f"(first seen {self.since.isoformat()}); {self.manager} sees {self.user_id}'s figures from that "
                "day; add manager_since to say otherwise")


def plain_changes(config: Any, observed: dict[str, list[Observation]]) -> list[PlainChange]:
    """Each user whose current manager (not nobody) came after another one in the store's observations
    and whose configuration gives no ``manager_since``: the days that manager sees rest on when the
    store first saw the change (``usage_org``). ``meshclaw config check`` prints one warning each."""
    out = []
    for i, u in enumerate(config.users):
        if u.manager is None or u.manager_since is not None or u.manager_history:
            continue
        line = observed_timeline(observed.get(u.id, ()))
        if len(line) >= 2 and line[-1][1] == u.manager:
            out.append(PlainChange(i, u.id, line[-2][1], u.manager, line[-1][0]))
    return out
