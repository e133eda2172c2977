"""What operations work on: the configuration, the store, and where the durable-run database is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from meshclaw.domain.config import Config
from meshclaw.domain.errors import NotFound
from meshclaw.store.facade import Store


@dataclass
class Context:
    """``home`` is the data dir and ``store_url`` the database URL (None: SQLite in ``home``); both
    name the durable-run database that approvals and the kill switch reach from another process."""

    config: Config
    store: Store
    home: Path
    store_url: str | None = None

    @classmethod
    def of_runtime(cls, runtime: Any) -> "Context":
        """The context of a launched ``Runtime`` (its configuration may be reloaded between calls)."""
        url = runtime.store.url if runtime.store.db.dialect == "postgresql" else None
        return cls(runtime.config, runtime.store, runtime.home, url)


def agent_named(config: Config, name: str) -> Any:
    """The configuration's agent ``name``; raises NotFound listing the known agents."""
    try:
        return config.agent(name)
    except KeyError as e:
        raise NotFound(str(e.args[0])) from None
