"""DBOS set-up for durable runs: the system database, a pinned application version, executor ids.

Every process gets its own executor id (``host:pid``) so that starting a second CLI never steals
the live runs of another; ``recover_orphans`` picks up the runs of processes that died.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

# Bump when the shape of durable checkpoints changes (pydantic-ai upgrade, step layout):
# DBOS recovers only workflows whose application version matches.
DURABLE_FORMAT = "meshclaw-durable-1"


def system_database_url(home: Path, store_url: str | None) -> str:
    if store_url and store_url.startswith(("postgresql", "postgres")):
        base, _, db = store_url.rpartition("/")
        db, sep, query = db.partition("?")
        return f"{base}/{db}_dbos{sep}{query}"
    return f"sqlite:///{home / 'dbos.sqlite'}"


def _sqlite_engine(url: str) -> Any:
    from sqlalchemy import create_engine, event

    from meshclaw.store.database import wal_pragmas

    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(engine, "connect", lambda conn, _rec: wal_pragmas(conn, 30_000))
    return engine


HEARTBEAT_SECONDS = 5.0


def dead_after_seconds() -> float:
    """How long another host's process may miss heartbeats before its runs are taken over."""
    from meshclaw.domain.environment import environment

    return environment().executor_dead_after


def host_name() -> str:
    """This machine's name in executor ids: MESHCLAW_HOST, or the host name."""
    from meshclaw.domain.environment import environment

    return environment().host


def executor_id() -> str:
    return f"{host_name()}:{os.getpid()}"


def _log_level() -> str:
    from meshclaw.domain.environment import environment

    return environment().dbos_log_level


def launch_dbos(home: Path, store_url: str | None) -> None:
    from dbos import DBOS, DBOSConfig

    url = system_database_url(home, store_url)
    config: DBOSConfig = {
        "name": "meshclaw",
        "system_database_url": url,
        "application_version": DURABLE_FORMAT,
        "executor_id": executor_id(),
        "log_level": _log_level(),
        "notification_listener_polling_interval_sec": 0.1,
    }
    if url.startswith("sqlite"):
        from meshclaw.store.database import private_file

        private_file(home / "dbos.sqlite")  # the durable runs' checkpoints hold user data too
        config["system_database_engine"] = _sqlite_engine(url)
    DBOS(config=config)
    DBOS.launch()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


LastSeen = Callable[[list[str]], dict[str, datetime]]


def orphan_executors(extra: list[str] | None = None, last_seen: LastSeen | None = None) -> list[str]:
    """Executor ids that still own pending runs but whose process is gone: on this host, a pid
    that no longer runs; on another host, a heartbeat older than ``dead_after_seconds()``
    (a process that never sent one is only taken over when named in ``extra``)."""
    from dbos import DBOS

    host = host_name()
    mine = executor_id()
    owners = {w.executor_id for w in DBOS.list_workflows(status="PENDING") if w.executor_id} - {mine}
    foreign = [o for o in owners if o.rpartition(":")[0] != host]
    seen = last_seen(foreign) if (last_seen and foreign) else {}
    stale_before = datetime.now(timezone.utc) - timedelta(seconds=dead_after_seconds())
    dead = []
    for owner in owners:
        h, _, pid = owner.rpartition(":")
        if owner in (extra or []) or owner == "local":
            dead.append(owner)
        elif h == host:
            if pid.isdigit() and not _alive(int(pid)):
                dead.append(owner)
        elif owner in seen and seen[owner] < stale_before:
            dead.append(owner)
    return dead


def recover_orphans(extra: list[str] | None = None, last_seen: LastSeen | None = None) -> list[Any]:
    """Take over the pending runs of dead processes; returns their workflow handles."""
    from dbos import DBOS

    dead = orphan_executors(extra, last_seen)
    return DBOS._recover_pending_workflows(dead) if dead else []


class Heartbeat:
    """Records every few seconds that this process is alive, from a daemon thread."""

    def __init__(self, registry: Any):
        import threading

        self.registry = registry
        self.id = executor_id()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="meshclaw-heartbeat", daemon=True)

    def start(self) -> None:
        self.registry.beat(self.id, host_name(), os.getpid())
        self._thread.start()

    def _run(self) -> None:
        import logging

        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self.registry.beat(self.id, host_name(), os.getpid())
            except Exception as e:  # noqa: BLE001 - a missed beat is retried; the store may be briefly busy
                logging.getLogger(__name__).warning("heartbeat not recorded: %s", e)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        try:
            self.registry.gone(self.id)
        except Exception:  # noqa: BLE001 - exiting anyway; other hosts then wait for the timeout
            pass
