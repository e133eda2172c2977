"""Opening what a command needs (configuration, store, runtime), with one-line errors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from meshclaw.domain.errors import UsageError

from .home import config_path, meshclaw_home, store_url

if TYPE_CHECKING:
    from meshclaw.domain.config import Config
    from meshclaw.operations.actor import Actor
    from meshclaw.operations.context import Context
    from meshclaw.runtime.engine import Runtime
    from meshclaw.store.facade import Store


class CliError(UsageError):
    """Printed as one line on stderr; the command exits with ``code``."""

    def __init__(self, message: str, code: int = 1):
        super().__init__(message)
        self.code = code


def load() -> "Config":
    from meshclaw.domain.config_file import load_config

    return load_config(config_path())


def secrets() -> "object":
    from meshclaw.domain.secrets import Secrets

    return Secrets(meshclaw_home() / "secrets.env")


def open_store(known_secrets: "object | None" = None) -> "Store":
    from meshclaw.store.facade import Store

    s = known_secrets or secrets()
    return Store(meshclaw_home(), store_url(), secret_values=s.values)  # type: ignore[attr-defined]


def open_runtime(config: "Config | None" = None) -> "Runtime":
    from meshclaw.connectors.registry import resolve
    from meshclaw.runtime.engine import Runtime

    config = config or load()
    s = secrets()  # one read of the secrets file serves the store's redaction and the runtime
    rt = Runtime(config, meshclaw_home(), open_store(s), s, resolve)  # type: ignore[arg-type]
    rt.launch()
    return rt


def context(config: "Config | None" = None) -> "Context":
    """What operations work on: the configuration (loaded if not given), the store, the data dir."""
    from meshclaw.operations.context import Context

    return Context(config or load(), open_store(), meshclaw_home(), store_url())


def local_actor(config: "Config") -> "Actor":
    """Who this command acts as: the user this login maps to in ``local_users`` (NotAuthorized if none)."""
    from meshclaw.operations.actor import Actor

    return Actor.local(config)


def home() -> Path:
    return meshclaw_home()
