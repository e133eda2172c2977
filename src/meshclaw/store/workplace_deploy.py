"""Sandbox deployments in the store: a workplace's services, their deploy history, health and logs.

    repo = WorkplaceDeployRepository(db)
    repo.add_service("demo", "payments", {"2.4.0": 200, "2.4.1": 200})
    repo.deploy("demo", "payments", "2.4.1", key="seed-1", kind="deploy", when=t, logs=["... starting"])
    repo.script("demo", "payments", at=t2, version="2.4.1", state="running", health_status=503, logs=[...])
    repo.service("demo", "payments", now=t3)      # ServiceRow; the scripted change is applied if t3 >= t2

A health URL cannot be reached in a sandbox, so what it answers is part of the service's row
(``health_status``: an HTTP status, or None when it does not answer), as are the process state and
the newest log lines. A scripted change (the demo night's failure) takes effect on the first look at
the service at or after its time, once, and is persisted then: a store reopened later sees the same.
It applies only to the version deployed when it was scripted (``version``) and only if nothing was
deployed since its time: a rollback made after a failure is not undone by it.

Every method is one transaction. Unknown services raise ``WorkplaceMissing``; an unknown version
``ValueError``; both with one line naming what there is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from sqlalchemy import select

from .database import Database
from .tables_workplace import WorkplaceService, WorkplaceServiceChange
from .workplace import WorkplaceMissing, _utc

HISTORY_KEPT = 20  # deploy records per service, as the real backends keep
LOGS_KEPT = 500  # newest log lines per service


@dataclass(frozen=True)
class ServiceRow:
    """A service as stored. ``history``: dicts (version, key, kind, at ISO UTC, previous), newest last."""

    service: str
    version: str | None
    state: str
    since: datetime
    detail: str
    versions: dict[str, int]
    history: tuple[dict, ...]
    health_status: int | None
    health_body: str
    logs: tuple[str, ...]


def _row(s: WorkplaceService) -> ServiceRow:
    return ServiceRow(s.service, s.version, s.state, _utc(s.since), s.detail or "", dict(s.versions or {}),
                      tuple(s.history or ()), s.health_status, s.health_body or "", tuple(s.logs or ()))


class WorkplaceDeployRepository:
    """The sandbox deployment tables (see the module docstring)."""

    def __init__(self, db: Database):
        self.db = db

    def add_service(self, workplace: str, service: str, versions: dict[str, int], *, logs: Sequence[str] = (),
                    when: datetime | None = None) -> None:
        """Make ``service`` with the versions that can be deployed (version -> the health status it answers
        once started), nothing deployed yet (state ``missing``). Replaces a service of that name."""
        if not versions:
            raise ValueError(f"service {service!r} needs at least one version")
        with self.db.session() as s:
            old = s.get(WorkplaceService, (workplace, service))
            if old is not None:
                s.delete(old)
                s.flush()
            s.add(WorkplaceService(workplace=workplace, service=service, version=None, state="missing",
                                   since=_utc(when), detail="", versions={str(k): int(v) for k, v in versions.items()},
                                   history=[], health_status=None, health_body="", logs=list(logs)[-LOGS_KEPT:]))

    def services(self, workplace: str) -> list[str]:
        """The workplace's service names, sorted."""
        with self.db.session() as s:
            return list(s.scalars(select(WorkplaceService.service).where(WorkplaceService.workplace == workplace)
                                  .order_by(WorkplaceService.service)))

    def _get(self, s, workplace: str, service: str) -> WorkplaceService:
        row = s.get(WorkplaceService, (workplace, service), with_for_update=True)
        if row is None:
            known = ", ".join(s.scalars(select(WorkplaceService.service).where(
                WorkplaceService.workplace == workplace).order_by(WorkplaceService.service))) or "none"
            raise WorkplaceMissing(f"service {service!r} in workplace {workplace!r} (its services: {known})")
        return row

    def _advance(self, s, row: WorkplaceService, now: datetime) -> None:
        """Apply the scripted changes due by ``now``, oldest first (each once)."""
        due = s.scalars(select(WorkplaceServiceChange).where(
            WorkplaceServiceChange.workplace == row.workplace, WorkplaceServiceChange.service == row.service,
            WorkplaceServiceChange.applied.is_(False), WorkplaceServiceChange.at <= now)
            .order_by(WorkplaceServiceChange.at, WorkplaceServiceChange.id))
        for change in due:
            change.applied = True
            last = (row.history or [{}])[-1]
            deployed_at = datetime.fromisoformat(last["at"]) if last.get("at") else None
            at = _utc(change.at)
            if change.version is not None and change.version != row.version:
                continue  # scripted for a version no longer running
            if deployed_at is not None and deployed_at > at:
                continue  # something was deployed after it: the change is history
            row.state, row.since, row.detail = change.state, at, change.detail or ""
            row.health_status, row.health_body = change.health_status, change.health_body or ""
            row.logs = (list(row.logs or []) + list(change.logs or []))[-LOGS_KEPT:]

    def service(self, workplace: str, service: str, *, now: datetime | None = None) -> ServiceRow:
        """The service as it is at ``now`` (default: the current time), scripted changes applied."""
        with self.db.session() as s:
            row = self._get(s, workplace, service)
            self._advance(s, row, _utc(now))
            return _row(row)

    def deploy(self, workplace: str, service: str, version: str, *, key: str, kind: str,
               when: datetime | None = None, logs: Sequence[str] = ()) -> tuple[ServiceRow, bool]:
        """Make ``version`` the running one, once per ``key``: (the service after, started now?).

        The new version answers its health URL with the status its ``versions`` entry says. A key
        already in the history is not deployed again. ValueError for a version it does not have."""
        when = _utc(when)
        with self.db.session() as s:
            row = self._get(s, workplace, service)
            self._advance(s, row, when)
            if any(d.get("key") == key for d in row.history or []):
                return _row(row), False
            versions = dict(row.versions or {})
            if version not in versions:
                raise ValueError(f"{service} has no version {version!r}; versions: {', '.join(sorted(versions))}")
            record = {"version": version, "key": key, "kind": kind, "at": when.isoformat(timespec="seconds"),
                      "previous": row.version}
            row.history = (list(row.history or []) + [record])[-HISTORY_KEPT:]
            status = versions[version]
            row.version, row.state, row.since, row.detail = version, "running", when, ""
            row.health_status, row.health_body = status, '{"status": "ok"}' if 200 <= status < 300 else ""
            row.logs = (list(row.logs or []) + list(logs))[-LOGS_KEPT:]
            return _row(row), True

    def script(self, workplace: str, service: str, *, at: datetime, state: str = "running",
               health_status: int | None = None, health_body: str = "", detail: str = "", logs: Sequence[str] = (),
               version: str | None = None) -> None:
        """Schedule a change of the service at ``at`` (see the module docstring)."""
        with self.db.session() as s:
            self._get(s, workplace, service)
            s.add(WorkplaceServiceChange(workplace=workplace, service=service, at=_utc(at), version=version,
                                         state=state, health_status=health_status, health_body=health_body,
                                         detail=detail, logs=list(logs), applied=False))


@dataclass(frozen=True)
class WorkplaceDeployments:
    """One workplace's services, as the sandbox deploy backend sees them (no adding or scripting)."""

    _repo: WorkplaceDeployRepository
    workplace: str

    def services(self) -> list[str]:
        """The workplace's service names, sorted."""
        return self._repo.services(self.workplace)

    def service(self, service: str, *, now: datetime | None = None) -> ServiceRow:
        """The service at ``now`` (scripted changes applied); WorkplaceMissing for an unknown one."""
        return self._repo.service(self.workplace, service, now=now)

    def deploy(self, service: str, version: str, *, key: str, kind: str, when: datetime | None = None,
               logs: Sequence[str] = ()) -> tuple[ServiceRow, bool]:
        """``WorkplaceDeployRepository.deploy`` in this workplace: once per ``key``."""
        return self._repo.deploy(self.workplace, service, version, key=key, kind=kind, when=when, logs=logs)
