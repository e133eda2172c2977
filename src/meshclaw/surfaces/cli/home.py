"""Where MeshClaw keeps its data and finds its configuration."""

from __future__ import annotations

from pathlib import Path

from meshclaw.domain.environment import environment


def meshclaw_home() -> Path:
    return environment().home


def config_path() -> Path:
    return environment().config_file


def store_url() -> str | None:
    """MESHCLAW_DATABASE_URL selects PostgreSQL (postgresql://user@host/db); SQLite in the data dir otherwise."""
    return environment().database_url


def worker_socket(home: Path | None = None) -> Path:
    """Where a running ``meshclaw worker`` takes runs handed over by ``meshclaw run`` (see surfaces/handoff.py)."""
    return (home or meshclaw_home()) / "worker.sock"
