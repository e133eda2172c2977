"""The vocabulary of runs: statuses, kinds, audit record kinds and the typed events a run emits.

Everything that prints, streams or stores a run speaks these types; the values are the strings
kept in the store and sent over the worker socket, so they never change meaning.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, ClassVar


class RunStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"  # parked on a person's approval
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    STOPPED = "stopped"  # kill switch or budget
    CANCELLED = "cancelled"  # interrupted by a person
    DENIED = "denied"
    NO_ANSWER = "no-answer"  # finished, but the model's final answer was empty or template text

    @property
    def finished(self) -> bool:
        return self in FINISHED


FINISHED = frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.STOPPED, RunStatus.CANCELLED,
                      RunStatus.DENIED, RunStatus.NO_ANSWER})


class RunKind(StrEnum):
    """What executes a run: the model-driven tool loop, or a named workflow written in code."""

    AGENT = "agent"
    WORKFLOW = "workflow"


class AuditKind(StrEnum):
    RUN = "run"
    MODEL = "model"
    DECISION = "decision"
    APPROVAL = "approval"
    CALL = "call"
    CAPTURED = "captured"  # a rehearsal's write, not executed
    REPLAYED = "replayed"  # a rehearsal's read, answered from a recorded run
    ALERT = "alert"
    KILL_SWITCH = "kill-switch"
    PROMOTION = "promotion"
    TOOL_PINNED = "tool-pinned"
    JUDGEMENT = "judgement"  # one typed model judgement made by a workflow
    OPERATION = "operation"  # something a person or program did through meshclaw.operations
    OBSERVED = "observed"  # what a person did, seen later, with an earlier run's work (a draft sent, a message moved back)


# --- events a run emits while it goes (printed by the CLI, streamed by the worker) ------------


@dataclass
class RunEvent:
    """Base of the typed run events; ``as_dict()`` is the wire form (``{"kind": ..., ...}``)."""

    kind: ClassVar[str] = "event"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}


@dataclass
class RunStatusEvent(RunEvent):
    kind: ClassVar[str] = "run"
    status: str
    agent: str | None = None
    task: str | None = None
    output: str | None = None
    error: str | None = None


@dataclass
class ModelEvent(RunEvent):
    kind: ClassVar[str] = "model"
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    seconds: float = 0.0


@dataclass
class ToolEvent(RunEvent):
    kind: ClassVar[str] = "tool"
    tool: str
    verdict: str
    args: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    result: str | None = None
    error: str | None = None


@dataclass
class ApprovalEvent(RunEvent):
    kind: ClassVar[str] = "approval"
    id: str
    tool: str
    args: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


@dataclass
class AlertEvent(RunEvent):
    kind: ClassVar[str] = "alert"
    message: str


EVENT_TYPES: dict[str, type[RunEvent]] = {t.kind: t for t in (RunStatusEvent, ModelEvent, ToolEvent, ApprovalEvent, AlertEvent)}


def event_from_dict(data: dict[str, Any]) -> RunEvent | dict[str, Any]:
    """The typed event for a wire dict; an unknown kind (a newer worker) comes back as the dict."""
    kind = data.get("kind")
    cls = EVENT_TYPES.get(str(kind))
    if cls is None:
        return data
    fields = {k: v for k, v in data.items() if k != "kind" and k in cls.__dataclass_fields__}
    return cls(**fields)


# The outcome kinds usage reports count (operations/usage_value.py ``KINDS`` gives each its rule and default
# minutes saved; tests/test_usage_value.py checks the two agree). Here so that the configuration's
# ``usage.minutes_saved`` can be checked when it loads.
OUTCOME_KINDS = ("draft_sent_unchanged", "draft_sent_edited", "draft_unsent", "message_sent", "report_sent",
                 "message_filed", "filed_moved_back", "meeting_booked", "invitation_answered", "approval_granted",
                 "approval_denied", "deployment_rolled_back", "rollback_late", "note_saved")
