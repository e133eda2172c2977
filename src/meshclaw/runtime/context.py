"""What a tool receives while it runs: the run it belongs to, its owner, settings and secrets.

Tools are plain async functions ``async def name(ctx: RunContext[RunDeps], ...)`` declared with
``@tool`` (see ``meshclaw.domain.effects``); pydantic-ai passes this object as ``ctx.deps``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from meshclaw.domain.config import Agent, Config, User
from meshclaw.domain.secrets import Secrets
from meshclaw.policy.provenance import ProvenanceTracker

if TYPE_CHECKING:
    from meshclaw.store.database import Store

    from .recorded import RecordedInputs


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
    listeners: list[Callable[[dict[str, Any]], None]] = field(default_factory=list)
    # Per-run policy state, rebuilt identically when a durable run replays.
    provenance: ProvenanceTracker = field(default_factory=ProvenanceTracker)
    call_counts: dict[str, int] = field(default_factory=dict)
    approved_calls: set[str] = field(default_factory=set)
    on_ask: Any = None  # async handler for calls the guard wants a person to approve
    pin_checks: dict[str, tuple[str, bool]] = field(default_factory=dict)  # MCP tool -> (fingerprint, offered)

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

    def emit(self, event: dict[str, Any]) -> None:
        for listen in self.listeners:
            listen(event)
