"""A run's context, in one place: what the run knows while it goes, and the outcome of a guarded call.

``RunDeps`` is the run's own state (its agent, owner, provenance, counts, approvals); the guard
pipeline and the metered model read it. Tools never see it: they receive the narrow context of
their own connector (``runtime/tool_context.py``). ``current_run`` lets the metered model find
the run a model request belongs to. ``Outcome`` is what one guarded call's durable step returns.
"""

from __future__ import annotations

from datetime import datetime

from contextvars import ContextVar
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Callable

from meshclaw.domain.config import Agent, Config, User
from meshclaw.domain.credentials import sanitise
from meshclaw.domain.errors import RunStopped
from meshclaw.domain.provenance import Label
from meshclaw.domain.runs import RunEvent
from meshclaw.domain.secrets import Secrets
from meshclaw.policy.provenance import ProvenanceTracker

if TYPE_CHECKING:
    from meshclaw.store.facade import Store

    from .recorded import RecordedInputs

__all__ = ["RunDeps", "Outcome", "current_run", "RunStopped", "shown_event"]


def _clean(value: Any, secret_values: list[str]) -> Any:
    if isinstance(value, str):
        return sanitise(value, secret_values)
    if isinstance(value, dict):
        return {k: _clean(v, secret_values) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_clean(v, secret_values) for v in value)
    return value


def shown_event(event: RunEvent, secrets: Secrets) -> RunEvent:
    """``event`` as its listeners may see it (the live lines of ``meshclaw run``, the worker's stream,
    the demos): every string in it, call arguments and results included, passed through
    ``domain.credentials.sanitise`` with ``secrets.values()``, the redaction the audit log, a run's
    output and its error get. Events are the only way a run's steps leave the runtime as they happen,
    so both ``RunDeps.emit`` and a connector's ``ToolContext.emit`` send them through here."""
    values = secrets.values()
    return replace(event, **{f.name: _clean(getattr(event, f.name), values) for f in fields(event)})


@dataclass
class Outcome:
    """What one guarded call's durable step returns (and DBOS checkpoints)."""

    verdict: str
    reason: str
    rule: str
    value: Any = None
    label: Label | None = None
    error: str | None = None
    read_args: dict[str, Any] | None = None  # set on a completed read: a rehearsal may replay it (see recorded.py)


@dataclass
class RunDeps:
    run_id: str
    agent: Agent
    owner: User
    config: Config
    store: "Store"
    secrets: Secrets
    task: str = ""
    rehearsal: bool = False  # writes are captured, not executed
    recorded: "RecordedInputs | None" = None  # a rehearsal on recorded inputs: reads come from here
    listeners: list[Callable[[RunEvent], None]] = field(default_factory=list)
    # Per-run policy state, rebuilt identically when a durable run replays.
    provenance: ProvenanceTracker = field(default_factory=ProvenanceTracker)
    call_counts: dict[str, int] = field(default_factory=dict)
    approved_keys: set[str] = field(default_factory=set)  # approval keys a person approved in this run
    pin_checks: dict[str, tuple[str, bool]] = field(default_factory=dict)  # MCP tool -> (fingerprint, offered)
    code_calls: int = 0  # guarded calls made from workflow code so far, to number them deterministically
    now_line: str = ""  # the run's date, time and the owner's time zone, sent with every model request
    started_at: "datetime | None" = None  # when the run was created (UTC): workflow code's "now", the same on replay

    def calls_today(self, tool_name: str) -> int:
        """Executed calls of this tool by this agent since midnight UTC (for per-day grant limits)."""
        if self.store is None:
            return 0
        return self.store.audit.count_calls(agent=self.agent.name, tool=tool_name)

    def settings(self, toolset: str) -> dict[str, Any]:
        """The agent's connection settings for one toolset (host, mailbox, calendar URL...)."""
        grant = self.agent.toolsets.get(toolset)
        return dict(grant.settings) if grant else {}

    def secret(self, ref: str) -> str:
        return self.secrets.resolve(ref)

    def idempotency_key(self, tool_call_id: str) -> str:
        """Stable across crash and replay: connectors use it to make a repeated side effect a no-op."""
        return f"{self.run_id}:{tool_call_id}"

    def emit(self, event: RunEvent) -> None:
        """Send ``event`` to the run's listeners, without a secret value in it (``shown_event``)."""
        if self.listeners:
            event = shown_event(event, self.secrets)
        for listen in self.listeners:
            listen(event)


current_run: ContextVar[RunDeps | None] = ContextVar("meshclaw_current_run", default=None)
