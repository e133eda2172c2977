"""Every ``MESHCLAW_*`` environment variable, read in one place, with types.

``environment()`` reads them once per distinct environment (a test that changes a variable gets
a fresh reading; a process that does not pays for one read). No other module reads ``MESHCLAW_*``
variables; ``tests/test_layering.py`` enforces it.

| variable                        | meaning                                                          |
|---------------------------------|------------------------------------------------------------------|
| MESHCLAW_HOME                   | the data dir (default ``~/.meshclaw``)                           |
| MESHCLAW_CONFIG                 | the configuration file (default ``$MESHCLAW_HOME/meshclaw.yaml``)|
| MESHCLAW_DATABASE_URL           | PostgreSQL store by URL; SQLite in the data dir when unset       |
| MESHCLAW_AUDIT_KEY              | the audit HMAC key shared by every worker (else a 0600 file)     |
| MESHCLAW_AUDIT_CHECKPOINTS      | the signed checkpoint file of the audit log (default ``$MESHCLAW_HOME/audit-checkpoints.jsonl``; put it where the database's writer cannot rewrite it) |
| MESHCLAW_AUDIT_CHECKPOINT_KEY   | the Ed25519 key that signs checkpoints (default ``$MESHCLAW_HOME/audit-checkpoint.key``) |
| MESHCLAW_MODEL_DIR              | the bundled model's folder (default ``$XDG_CACHE_HOME/meshclaw/models``, one copy per machine user) |
| MESHCLAW_HOST                   | this machine's name in executor ids (else the host name)         |
| MESHCLAW_EXECUTOR_DEAD_AFTER    | seconds without heartbeats before another host's runs are taken  |
| MESHCLAW_DBOS_LOG_LEVEL         | the durable-run library's log level (default WARNING)            |
| MESHCLAW_DEBUG                  | show tracebacks for unexpected errors                            |
| MESHCLAW_TOKEN                  | the personal token `meshclaw mcp-server --stdio` acts with (a secret: never printed) |
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

VARIABLES = ("MESHCLAW_HOME", "MESHCLAW_CONFIG", "MESHCLAW_DATABASE_URL", "MESHCLAW_AUDIT_KEY", "MESHCLAW_MODEL_DIR",
             "MESHCLAW_HOST", "MESHCLAW_EXECUTOR_DEAD_AFTER", "MESHCLAW_DBOS_LOG_LEVEL", "MESHCLAW_DEBUG",
             "XDG_CACHE_HOME", "MESHCLAW_TOKEN", "MESHCLAW_AUDIT_CHECKPOINTS", "MESHCLAW_AUDIT_CHECKPOINT_KEY")


@dataclass(frozen=True)
class Environment:
    home: Path
    config_file: Path
    database_url: str | None
    audit_key: str | None
    model_dir: Path
    host: str
    executor_dead_after: float
    dbos_log_level: str
    debug: bool
    token: str | None = None  # MESHCLAW_TOKEN: a secret, left out of repr
    audit_checkpoints: Path | None = None  # None: the data dir's audit-checkpoints.jsonl
    audit_checkpoint_key: Path | None = None  # None: the data dir's audit-checkpoint.key

    def __repr__(self) -> str:  # the audit key is a secret: never printed
        return f"Environment(home={self.home}, config_file={self.config_file}, database_url={'set' if self.database_url else None})"


def environment() -> Environment:
    """The typed ``MESHCLAW_*`` settings of this process (see the table above).

    Raises ``ConfigurationError`` for a value of the wrong type (``MESHCLAW_EXECUTOR_DEAD_AFTER=soon``).
    """
    return _read(tuple(os.environ.get(v) for v in VARIABLES))


@lru_cache(maxsize=8)
def _read(values: tuple[str | None, ...]) -> Environment:
    from .errors import ConfigurationError

    env = dict(zip(VARIABLES, values))
    home = Path(env["MESHCLAW_HOME"] or "~/.meshclaw").expanduser()
    dead_after = env["MESHCLAW_EXECUTOR_DEAD_AFTER"] or "60"
    try:
        dead = float(dead_after)
    except ValueError:
        raise ConfigurationError(f"MESHCLAW_EXECUTOR_DEAD_AFTER must be a number of seconds, not {dead_after!r}") from None
    return Environment(
        home=home,
        config_file=Path(env["MESHCLAW_CONFIG"]).expanduser() if env["MESHCLAW_CONFIG"] else home / "meshclaw.yaml",
        database_url=env["MESHCLAW_DATABASE_URL"] or None,
        audit_key=env["MESHCLAW_AUDIT_KEY"] or None,
        model_dir=Path(env["MESHCLAW_MODEL_DIR"] or Path(env["XDG_CACHE_HOME"] or "~/.cache") / "meshclaw" / "models").expanduser(),
        host=env["MESHCLAW_HOST"] or socket.gethostname(),
        executor_dead_after=dead,
        dbos_log_level=env["MESHCLAW_DBOS_LOG_LEVEL"] or "WARNING",
        debug=bool(env["MESHCLAW_DEBUG"]) and env["MESHCLAW_DEBUG"] not in ("0", "false", "no"),
        token=env["MESHCLAW_TOKEN"] or None,
        audit_checkpoints=Path(env["MESHCLAW_AUDIT_CHECKPOINTS"]).expanduser() if env["MESHCLAW_AUDIT_CHECKPOINTS"] else None,
        audit_checkpoint_key=(Path(env["MESHCLAW_AUDIT_CHECKPOINT_KEY"]).expanduser()
                              if env["MESHCLAW_AUDIT_CHECKPOINT_KEY"] else None),
    )
