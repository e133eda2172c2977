"""What both deploy backends (Docker API, supervisord) offer the tools and the health watcher.

A backend is synchronous (the docker SDK and ``xmlrpc.client`` are); tools run it in a thread.
Every method raises ``DeployError`` subclasses with a one-line message, never a library error.

Retries: reads (list, state, logs, versions) are retried with exponential backoff on a timeout
or a refused connection (``settings.retries`` extra attempts, 0.5 s, 1 s, 2 s ...). Calls that
change something (create, start, stop, switch a version) are made once: a timeout there raises
DeployTimeout saying the change may have happened, and a durable replay of the same tool call
finds the deploy by its idempotency key instead of starting it again.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Protocol, TypeVar

from .errors import DeployError, DeployTimeout
from .settings import DeploySettings

T = TypeVar("T")
HISTORY_KEPT = 20  # deploy records remembered per service (idempotency keys and rollback targets)


@dataclass(frozen=True)
class Deployment:
    """One deploy (or rollback) as recorded on the backend: ``key`` is the tool call's idempotency key."""

    version: str
    key: str
    kind: str  # "deploy" | "rollback"
    at: str  # ISO 8601 UTC
    previous: str | None = None

    @staticmethod
    def new(version: str, key: str, kind: str, previous: str | None) -> "Deployment":
        return Deployment(version=version, key=key, kind=kind, previous=previous,
                          at=datetime.now(timezone.utc).isoformat(timespec="seconds"))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ServiceState:
    """A service as the backend sees it. ``state``: running, starting, stopped, exited, failed, missing.
    ``since``: ISO time the state began, when known. ``history``: newest last."""

    name: str
    version: str | None
    state: str
    since: str | None = None
    detail: str = ""
    history: tuple[Deployment, ...] = field(default=())

    @property
    def running(self) -> bool:
        return self.state == "running"

    def previous_version(self) -> str | None:
        """The version deployed before the current one (what a rollback returns to), if recorded."""
        for d in reversed(self.history):
            if d.version == self.version:
                return d.previous
        return None

    def find(self, key: str) -> Deployment | None:
        return next((d for d in self.history if d.key == key), None)


class DeployBackend(Protocol):
    """A connected deploy backend for one set of settings."""

    settings: DeploySettings

    def state(self, service: str) -> ServiceState:
        """The service's version, process state and deploy history (a read: retried)."""
        ...

    def versions(self, service: str) -> list[str]:
        """The versions that can be deployed, sorted (a read: retried)."""
        ...

    def deploy(self, service: str, version: str, key: str, kind: str) -> tuple[ServiceState, bool]:
        """Make ``version`` the running one, once per ``key``: (state after, started now?).

        Raises DeployNotFound for an unknown version, DeployUncertain when an earlier attempt with
        this key broke off, DeployTimeout/DeployError when the backend fails (never retried)."""
        ...

    def logs(self, service: str, lines: int) -> list[str]:
        """The newest ``lines`` log lines of the running version (a read: retried)."""
        ...

    def close(self) -> None:
        ...


def short_key(key: str) -> str:
    """A short stable tag for an idempotency key (container names, file names)."""
    return hashlib.sha256(key.encode()).hexdigest()[:10]


def retrying(settings: DeploySettings, what: str, fn: Callable[[], T], transient: tuple[type[BaseException], ...],
             timeout_types: tuple[type[BaseException], ...]) -> T:
    """Call the read ``fn``; on a ``transient`` error retry up to ``settings.retries`` times with backoff.

    Raises DeployTimeout (a timeout was last) or DeployError (the connection failed) naming ``what``.
    """
    delay = 0.5
    for attempt in range(settings.retries + 1):
        try:
            return fn()
        except transient as e:
            if attempt == settings.retries:
                raise failure(settings, what, e, timeout_types, attempts=attempt + 1) from None
            time.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


def failure(settings: DeploySettings, what: str, e: BaseException, timeout_types: tuple[type[BaseException], ...],
            *, attempts: int = 1, changing: bool = False) -> DeployError:
    """The one-line error for a failed call: a timeout or a connection problem, and whether it was retried."""
    tries = f" ({attempts} attempts)" if attempts > 1 else ""
    doubt = (" It may have taken effect: it is not repeated automatically; check the service's state before "
             "deploying again.") if changing else ""
    if isinstance(e, timeout_types):
        return DeployTimeout(f"the {settings.backend} deploy API at {settings.url} did not answer within "
                             f"{settings.timeout:g} s while {what}{tries}.{doubt}")
    return DeployError(f"the {settings.backend} deploy API at {settings.url} failed while {what}{tries}: "
                       f"{type(e).__name__}: {str(e)[:200]}.{doubt}")
