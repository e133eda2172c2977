"""The sandbox deploy backend: a workplace's services in MeshClaw's store, behind the same tools.

    backend = open_sandbox(settings, ctx.deps.state)    # settings: backend sandbox, workplace demo

It offers what the Docker and supervisord backends offer (``backend.DeployBackend``): a service's
version, process state and deploy history, the versions that can be deployed, the newest log
lines, a deploy or rollback made once per idempotency key — plus ``probe``: a health URL cannot be
reached in a sandbox, so the service's row in the store says what it answers (an HTTP status and
body, or nothing). ``health.assess`` judges that answer exactly as it judges an HTTP one, so the
tools, the guard and the health watcher are the same for an agent in the sandbox as in production.

Time: scripted changes (``store/workplace_deploy.py``, e.g. the demo night's failure) take effect
when the service is looked at on or after their time; ``clock`` (UTC) is the time of each look.
Services are those the settings name; one the workplace does not hold is ``missing``, with a
detail saying so, never an error. Nothing here leaves the machine.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any, Callable

from sqlalchemy.exc import SQLAlchemyError

from .backend import Deployment, ServiceState
from .errors import DeployError, DeployNotFound
from .health import BODY_KEPT, HttpCheck
from .settings import DeploySettings, ServiceSettings


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def open_sandbox(settings: DeploySettings, state: Any, clock: Callable[[], datetime] | None = None) -> "SandboxBackend":
    """The sandbox backend on the workplace the settings name; DeployError (one line) when the run has no
    store (``state`` None) or the workplace does not exist."""
    if state is None or not hasattr(state, "open"):
        raise DeployError("the sandbox deploy backend needs MeshClaw's store, which this run does not have")
    try:
        access = state.open()
    except LookupError as e:
        raise DeployError(f"the sandbox deploy backend cannot open its workplace: {e}") from None
    return SandboxBackend(settings, access.deployments(), clock)


class SandboxBackend:
    """Deploy backend over a sandbox workplace's services (see the module docstring).

    ``deployments``: the workplace's services (``WorkplaceAccess.deployments()``)."""

    def __init__(self, settings: DeploySettings, deployments: Any, clock: Callable[[], datetime] | None = None):
        self.settings = settings
        self._deployments = deployments
        self._clock = clock or _utcnow

    def close(self) -> None:
        return None

    def _known(self, service: str) -> ServiceSettings:
        spec = self.settings.services.get(service)
        if spec is None:
            raise DeployNotFound(f"there is no service {service!r}; services: {', '.join(self.settings.services)}")
        return spec

    def _row(self, service: str) -> Any | None:
        """The service's row as of now (scripted changes applied), or None if the workplace has none."""
        self._known(service)
        try:
            return self._deployments.service(service, now=self._clock())
        except LookupError:
            return None
        except SQLAlchemyError as e:  # the store itself (a locked or missing database): one line, never a trace
            raise DeployError(f"the sandbox workplace's store failed while reading {service}: "
                              f"{type(e).__name__}: {str(e).splitlines()[0][:200]}") from None

    # --- reads -------------------------------------------------------------------------------

    def state(self, service: str) -> ServiceState:
        row = self._row(service)
        where = f"sandbox workplace {self._deployments.workplace!r}"
        if row is None:
            return ServiceState(service, None, "missing", detail=f"the {where} has no service of this name")
        if row.version is None:
            return ServiceState(service, None, "missing", detail=f"no version was deployed yet in the {where}")
        history = tuple(Deployment(**d) for d in row.history)
        return ServiceState(service, row.version, row.state, since=row.since.isoformat(timespec="seconds"),
                            detail=row.detail, history=history)

    def versions(self, service: str) -> list[str]:
        row = self._row(service)
        return sorted(row.versions) if row is not None else []

    def logs(self, service: str, lines: int) -> list[str]:
        row = self._row(service)
        return list(row.logs[-max(0, lines):]) if row is not None and lines > 0 else []

    def probe(self, service: str, url: str, timeout: float) -> HttpCheck:
        """What the service's health URL answers now, from its row (``timeout`` is not waited in a sandbox)."""
        started = time.perf_counter()
        row = self._row(service)
        ms = round((time.perf_counter() - started) * 1000, 1)
        if row is None or row.health_status is None:
            return HttpCheck(url, False, None, ms, error="did not answer: connection refused")
        status = row.health_status
        return HttpCheck(url, 200 <= status < 300, status, ms, body=row.health_body[:BODY_KEPT])

    # --- the deploy (made once per key) --------------------------------------------------------

    def deploy(self, service: str, version: str, key: str, kind: str) -> tuple[ServiceState, bool]:
        self._known(service)
        row = self._row(service)
        if row is None:
            raise DeployNotFound(f"{service} is not in the sandbox workplace {self._deployments.workplace!r}: "
                                 f"it has no versions to deploy")
        now = self._clock()
        stamp = now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        logs = [f"{stamp} INFO {kind} of {service}: {row.version or 'nothing'} -> {version}",
                f"{stamp} INFO {service} {version} started"]
        try:
            _, started = self._deployments.deploy(service, version, key=key, kind=kind, when=now, logs=logs)
        except ValueError:
            raise DeployNotFound(f"{service} has no version {version!r} in the sandbox workplace; "
                                 f"versions: {', '.join(sorted(row.versions)) or 'none'}") from None
        except LookupError as e:
            raise DeployNotFound(f"{service} is not in the sandbox workplace: {e}") from None
        except SQLAlchemyError as e:
            raise DeployError(f"the sandbox workplace's store failed during the {kind} of {service}: "
                              f"{type(e).__name__}: {str(e).splitlines()[0][:200]}") from None
        return self.state(service), started
