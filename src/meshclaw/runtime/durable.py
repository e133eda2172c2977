"""DBOS set-up for durable runs: the system database, a pinned application version, executor ids.

Every process gets its own executor id (``host:pid``) so that starting a second CLI never steals
the live runs of another; ``recover_orphans`` picks up the runs of processes that died.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any

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


def executor_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def launch_dbos(home: Path, store_url: str | None) -> None:
    from dbos import DBOS, DBOSConfig

    url = system_database_url(home, store_url)
    config: DBOSConfig = {
        "name": "meshclaw",
        "system_database_url": url,
        "application_version": DURABLE_FORMAT,
        "executor_id": executor_id(),
        "log_level": os.environ.get("MESHCLAW_DBOS_LOG_LEVEL", "WARNING"),
        "notification_listener_polling_interval_sec": 0.1,
    }
    if url.startswith("sqlite"):
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


def orphan_executors(extra: list[str] | None = None) -> list[str]:
    """Executor ids of this host whose process is gone and that still own pending runs."""
    from dbos import DBOS

    host = socket.gethostname()
    mine = executor_id()
    owners = {w.executor_id for w in DBOS.list_workflows(status="PENDING") if w.executor_id}
    dead = []
    for owner in owners:
        if owner == mine:
            continue
        h, _, pid = owner.rpartition(":")
        if owner in (extra or []) or owner == "local" or (h == host and pid.isdigit() and not _alive(int(pid))):
            dead.append(owner)
    return dead


def recover_orphans(extra: list[str] | None = None) -> list[Any]:
    """Take over the pending runs of dead processes; returns their workflow handles."""
    from dbos import DBOS

    dead = orphan_executors(extra)
    return DBOS._recover_pending_workflows(dead) if dead else []
