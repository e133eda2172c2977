"""Where MeshClaw keeps its data and finds its configuration."""

from __future__ import annotations

import os
from pathlib import Path


def meshclaw_home() -> Path:
    return Path(os.environ.get("MESHCLAW_HOME", "~/.meshclaw")).expanduser()


def config_path() -> Path:
    env = os.environ.get("MESHCLAW_CONFIG")
    return Path(env).expanduser() if env else meshclaw_home() / "meshclaw.yaml"


def store_url() -> str | None:
    """MESHCLAW_DATABASE_URL selects PostgreSQL (postgresql://user@host/db); SQLite in the data dir otherwise."""
    return os.environ.get("MESHCLAW_DATABASE_URL") or None


def worker_socket(home: Path | None = None) -> Path:
    """Where a running ``meshclaw worker`` takes runs handed over by ``meshclaw run`` (see surfaces/handoff.py)."""
    return (home or meshclaw_home()) / "worker.sock"
