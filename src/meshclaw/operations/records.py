"""Typed views of stored rows that operations return: audit entries, runs and their usage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


def wire_dict(record: Any) -> dict[str, Any]:
    """A record dataclass as JSON output names it: ``run_id`` → ``run``, ``user_id`` → ``user``."""
    out = asdict(record)
    out["run"], out["user"] = out.pop("run_id"), out.pop("user_id")
    return out


@dataclass(frozen=True)
class AuditEntry:
    """One audit record as people see it (``hash`` is its link in the HMAC chain)."""

    seq: int
    at: datetime
    kind: str
    run_id: str | None
    agent: str | None
    user_id: str | None
    tool: str | None
    verdict: str | None
    reason: str | None
    data: dict[str, Any]
    hash: str

    @classmethod
    def of(cls, r: Any) -> "AuditEntry":
        return cls(r.seq, r.at, r.kind, r.run_id, r.agent, r.user_id, r.tool, r.verdict, r.reason, dict(r.data or {}),
                   r.hash)

    def as_dict(self) -> dict[str, Any]:
        return wire_dict(self)


@dataclass(frozen=True)
class Usage:
    """Tokens a run's model requests used (input, output, and input read from a prefix cache)."""

    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0


@dataclass(frozen=True)
class RunSummary:
    """One run: who it acted for, how it ended, and its token totals."""

    id: str
    agent: str
    user_id: str
    status: str
    trigger: str
    task: str
    created_at: datetime
    finished_at: datetime | None
    output: str | None
    error: str | None
    rehearsal: bool
    usage: Usage | None = field(default_factory=Usage)  # None: not the reader's to see (operations/usage_access.py)
    model: str = ""  # the model's name in the configuration the run started with ("local", "claude")

    @classmethod
    def of(cls, store: Any, r: Any) -> "RunSummary":
        t = store.usage.totals(run_id=r.id)
        model = str(((r.snapshot or {}).get("agent") or {}).get("model") or "")
        return cls(r.id, r.agent, r.user_id, r.status, r.trigger, r.task, r.created_at, r.finished_at, r.output, r.error,
                   bool(r.rehearsal), Usage(t.requests, t.input_tokens, t.output_tokens, t.cache_read_tokens), model)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["user"] = out.pop("user_id")
        return out


@dataclass(frozen=True)
class ModelCall:
    model: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    seconds: float


@dataclass(frozen=True)
class RunDetail:
    """A run with every audit record it wrote (model calls, guard decisions, tool calls) and its model calls."""

    run: RunSummary
    steps: list[AuditEntry]
    model_calls: list[ModelCall]

    def as_dict(self) -> dict[str, Any]:
        return {**self.run.as_dict(), "steps": [s.as_dict() for s in self.steps],
                "model_calls": [asdict(m) for m in self.model_calls]}
