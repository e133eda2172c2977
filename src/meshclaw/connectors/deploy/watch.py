"""Watching services' health and turning changes into ``deploy.health_changed`` events.

Every ``interval`` seconds the watcher checks each service (process state plus health URL, as
``deploy.health`` does). The first check of a service sets its baseline and reports nothing; after
that, healthy → failing reports ``change: "failing"`` and failing → healthy ``change: "recovered"``.
A check that cannot reach the deploy API at all counts as failing (the reason says so), so an
outage of the backend itself is noticed too. The event's fields are system data: service name,
versions, states, the reason in a few words; nothing the service wrote.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from .backend import ServiceState
from .errors import DeployError
from .health import Health, assess, prober
from .settings import DeploySettings

log = logging.getLogger(__name__)

HEALTH_CHANGED = "deploy.health_changed"


@dataclass(frozen=True)
class HealthChange:
    """One change of a service's health. ``observed_at``: time.time() of the check that saw it;
    ``monotonic_at``: time.monotonic() of that check (for measuring delays in one process)."""

    service: str
    change: str  # "failing" | "recovered"
    version: str | None
    state: str
    reason: str
    observed_at: float
    monotonic_at: float

    def as_dict(self) -> dict[str, Any]:
        return {"event": HEALTH_CHANGED, "service": self.service, "change": self.change, "version": self.version,
                "state": self.state, "reason": self.reason, "observed_at": self.observed_at}


def _check(settings: DeploySettings, backend: Any, service: str) -> Health:
    try:
        return assess(settings, backend.state(service), prober(backend))
    except DeployError as e:
        state = ServiceState(service, None, "unknown", detail=f"the deploy API is unreachable: {e}")
        return Health(service, None, state, "failing", "the deploy API could not be asked", None, time.time())


class HealthWatcher:
    """Keeps the last verdict per service; ``poll()`` checks all once and returns the changes."""

    def __init__(self, settings: DeploySettings, backend: Any, services: list[str] | None = None):
        self.settings, self.backend = settings, backend
        self.services = services or list(settings.services)
        self.last: dict[str, str] = {}

    def poll(self) -> list[HealthChange]:
        changes = []
        for service in self.services:
            health = _check(self.settings, self.backend, service)
            now = time.monotonic()
            before = self.last.get(service)
            self.last[service] = health.status
            if before is None or before == health.status:
                continue
            change = "failing" if health.status == "failing" else "recovered"
            changes.append(HealthChange(service, change, health.version, health.state.state, health.reason(),
                                        health.checked_at, now))
        return changes


async def watch_health(settings: DeploySettings, backend: Any, on_change: Callable[[HealthChange], Any],
                       stop: asyncio.Event, *, interval: float = 10.0,
                       on_ready: Callable[[], Any] | None = None) -> None:
    """Check every ``interval`` seconds until ``stop`` is set; call ``on_change`` (plain or async) per change.

    ``on_ready()`` is called once the baseline of every service is taken. A failing handler is
    logged and the watch goes on.
    """
    watcher = HealthWatcher(settings, backend)
    first = True
    while not stop.is_set():
        for change in await asyncio.to_thread(watcher.poll):
            try:
                result = on_change(change)
                if inspect.isawaitable(result):
                    await result
            except Exception:  # noqa: BLE001 - one failing handler must not stop the watch
                log.exception("deploy health handler failed")
        if first:
            first = False
            if on_ready is not None:
                on_ready()
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass
