"""``Store``: one object that opens the database and hands out the repositories."""

from __future__ import annotations

import os
import secrets as _secrets
from pathlib import Path
from typing import Callable, Iterable

from .agent_state import AgentStateRepository
from .approval_grants import ApprovalGrantRepository
from .approvals import ApprovalRepository
from .audit import AuditLog
from .budget import BudgetLedger
from .database import private_dir, private_file, Database, StoreError, sqlite_url
from .executors import ExecutorRegistry
from .memory import MemoryRepository
from .memory_diary import DreamDiary
from .notes import NoteRepository
from .org_observations import ManagerObservations
from .runs import RunRepository
from .tool_pins import ToolPinRepository
from .usage import UsageRepository
from .workplace import WorkplaceRepository
from .workplace_chat import WorkplaceChatRepository


def audit_key(home: Path, log_has_records: bool = False) -> bytes:
    """The audit HMAC key: MESHCLAW_AUDIT_KEY (shared by every worker on PostgreSQL) or a 0600 file in the data dir.

    A new key file is made only for an empty log: raises StoreError when the file is missing but
    the log holds records (a new key would make every record fail verification and hide the loss)."""
    from meshclaw.domain.environment import environment

    env = environment().audit_key
    if env:
        return env.encode()
    path = home / "audit.key"
    if not path.exists() and log_has_records:
        raise StoreError(f"the audit key {path} is missing, but the audit log holds records chained with it: "
                         "restore the key file (or set MESHCLAW_AUDIT_KEY); a new key is never made over an existing log")
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(_secrets.token_hex(32))
    return path.read_text().strip().encode()


def checkpoint_paths(home: Path) -> tuple[Path, Path]:
    """(the audit checkpoint file, its signing key): MESHCLAW_AUDIT_CHECKPOINTS / _KEY, else in the data dir."""
    from meshclaw.domain.environment import environment

    env = environment()
    return (env.audit_checkpoints or home / "audit-checkpoints.jsonl",
            env.audit_checkpoint_key or home / "audit-checkpoint.key")


def _audit_log(db: Database, home: Path, secret_values: "Iterable[str] | Callable[[], Iterable[str]]") -> AuditLog:
    from .audit_checkpoints import Checkpoints

    probe = AuditLog(db, b"")
    has_records = probe.has_records()
    path, key_path = checkpoint_paths(home)
    anchor = Checkpoints.open(path, key_path, log_has_records=has_records)
    return AuditLog(db, audit_key(home, has_records), secret_values, checkpoints=anchor, checkpoint_path=path)


class Store:
    def __init__(self, home: Path, url: str | None = None,
                 secret_values: "Iterable[str] | Callable[[], Iterable[str]]" = ()):
        self.home = home
        try:
            private_dir(home)
            if url is None:
                private_file(home / "meshclaw.sqlite")
        except OSError as e:
            raise StoreError(f"cannot create the data dir {home}: {e.strerror}") from None
        self.url = url or sqlite_url(home)
        self.db = Database(self.url)
        self.db.migrate()
        self.runs = RunRepository(self.db)
        self.audit = _audit_log(self.db, home, secret_values)
        self.usage = UsageRepository(self.db)
        self.managers = ManagerObservations(self.db)  # the management chart as seen over time
        self.notes = NoteRepository(self.db)
        self.agents = AgentStateRepository(self.db)
        self.approval_grants = ApprovalGrantRepository(self.db)
        self.approvals = ApprovalRepository(self.db, self.approval_grants)
        self.budget = BudgetLedger(self.db)
        self.tool_pins = ToolPinRepository(self.db)
        self.executors = ExecutorRegistry(self.db)
        self.memory = MemoryRepository(self.db)
        self.dreams = DreamDiary(self.db)
        self.workplaces = WorkplaceRepository(self.db)
        self.workplace_chat = WorkplaceChatRepository(self.db)
