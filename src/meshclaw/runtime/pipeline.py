"""The guard pipeline: the one path every tool call takes, from an agent run, workflow code or the library.

    decide → audit the decision → execute (or capture it, or replay it) → label → audit the result

For a durable run the whole of it is one durable step, so a replayed run neither re-decides nor
re-executes a completed call; a call that was in flight when the process died runs again with the
same idempotency key, which connectors use to make the repeat a no-op. Outside a durable run (the
library) the same stages run plainly, synchronously or not.

Two wrappers stand in for execution inside the step: a rehearsal captures every write (audited as
``captured``, nothing executed), and a rehearsal on recorded inputs answers every read from an
earlier run's checkpoints (``replayed``). "Ask" is an answer, not a callback: the pipeline returns
an ``Outcome`` whose verdict is ``ask``; the caller obtains a person's answer and runs the call
again with ``approved=True``, which is decided (and audited) afresh: an approval lifts only the ask,
while grants, conditions and limits still hold.

What the pipeline updates *after* the step — the run's call counts and what it has seen
(provenance) — is rebuilt identically on replay, because it is computed from checkpointed outcomes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from meshclaw.domain.credentials import sanitise, without_secret_values
from meshclaw.domain.config import Agent
from meshclaw.domain.decisions import Decision, Verdict
from meshclaw.domain.effects import Effect, ToolSpec
from meshclaw.domain.provenance import Label, Source, Trust
from meshclaw.domain.runs import AuditKind
from meshclaw.policy.approvals import is_approved
from meshclaw.policy.guard import CallRequest, decide
from meshclaw.policy.provenance import ProvenanceTracker, label_for

from .context import Outcome
from .steps import durable_step

if TYPE_CHECKING:
    from meshclaw.store.facade import Store

    from .recorded import RecordedInputs

STEP_PREFIX = "tool:"  # durable step names; recorded.py finds a run's reads by it


def summary(value: Any, limit: int = 400) -> str:
    """A tool result shortened for audit records and printed steps."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


@dataclass
class CallScope:
    """Whose calls these are and what their run has seen: an agent run's state or a library session's.

    ``audit_prefix`` starts every audit key of a call (``<prefix>:<call id>:decision`` ...): the run
    id for runs, ``lib`` for the library. ``via`` is written into each audit record.
    """

    run_id: str
    agent: Agent
    owner_id: str
    provenance: ProvenanceTracker
    call_counts: dict[str, int] = field(default_factory=dict)
    approved_keys: set[str] = field(default_factory=set)
    store: "Store | None" = None
    provenance_policy: str = "ask"
    rehearsal: bool = False
    recorded: "RecordedInputs | None" = None
    audit_prefix: str = ""
    via: str = "run"
    on_executed: Callable[[ToolSpec, str], None] | None = None  # e.g. baseline alerts, inside the step

    def calls_today(self, tool: str) -> int:
        return self.store.audit.count_calls(agent=self.agent.name, tool=tool) if self.store is not None else 0

    def key(self, call_id: str) -> str:
        return f"{self.audit_prefix or self.run_id}:{call_id}"


class GuardPipeline:
    """Runs calls through the guard for one scope (see the module docstring)."""

    def __init__(self, scope: CallScope):
        self.scope = scope

    # --- the stages --------------------------------------------------------------------------

    def decide(self, spec: ToolSpec, args: dict[str, Any], call_id: str, *, approved: bool = False) -> Decision:
        """The guard's decision for this call, audited. Any failure to read policy state is a deny."""
        s = self.scope
        try:
            stopped = s.store.agents.is_stopped(s.agent.name) if s.store is not None else False
        except Exception as e:  # noqa: BLE001 - without the kill switch's state, fail closed
            decision = Decision.deny(f"policy state unavailable, denied for safety: {type(e).__name__}: {e}", "fail-closed")
        else:
            request = CallRequest(
                spec=spec, args=dict(args), agent=s.agent, provenance=s.provenance,
                calls_this_run=s.call_counts.get(spec.name, 0), calls_today=lambda: s.calls_today(spec.name),
                approved=approved or is_approved(spec, args, s.approved_keys), stopped=stopped,
                provenance_policy=s.provenance_policy,
            )
            decision = decide(request)
        self._audit(f"{s.key(call_id)}:decision{':approved' if approved else ''}", AuditKind.DECISION, spec,
                    decision.verdict.value, decision.reason,
                    {"args": args, "rule": decision.rule, "effect": spec.effect.value, "call_id": call_id})
        return decision

    def stand_in(self, spec: ToolSpec, args: dict[str, Any], call_id: str, decision: Decision) -> Outcome | None:
        """A rehearsal's answer in place of executing: a replayed read or a captured write; None to execute."""
        s = self.scope
        if s.recorded is not None and spec.effect is Effect.READ:
            return self._replay(spec, args, call_id, decision)
        if s.rehearsal and spec.effect is not Effect.READ:
            self._audit(f"{s.key(call_id)}:captured", AuditKind.CAPTURED, spec, None, None, {"args": args})
            return Outcome("allow", decision.reason, decision.rule, f"[rehearsal] {spec.name} was captured, not executed",
                           Label(Source.TOOL, Trust.TRUSTED, "rehearsal"))
        return None

    def finished(self, spec: ToolSpec, args: dict[str, Any], call_id: str, decision: Decision, raw: Any,
                 seconds: float) -> Outcome:
        """Label an executed call's result (with no secret value in it: ``without_secret_values``) and audit it."""
        value, label = label_for(spec, raw)
        value = without_secret_values(value, self.scope.store.audit.secret_values if self.scope.store is not None else [])
        self._audit(f"{self.scope.key(call_id)}:result", AuditKind.CALL, spec, "done", None,
                    {"args": args, "result": summary(value), "label": label.as_dict(), "seconds": round(seconds, 4),
                     "call_id": call_id})
        if self.scope.on_executed is not None:
            self.scope.on_executed(spec, self.scope.key(call_id))
        read_args = dict(args) if spec.effect is Effect.READ else None
        return Outcome("allow", decision.reason, decision.rule, value, label, read_args=read_args)

    def failed(self, spec: ToolSpec, args: dict[str, Any], call_id: str, decision: Decision, e: BaseException) -> Outcome:
        # never a credential: not in a URL the error quotes, nor a secret value it echoes (env: or secret:)
        secrets = self.scope.store.audit.secret_values if self.scope.store is not None else []
        error = sanitise(f"{type(e).__name__}: {e}", secrets)
        self._audit(f"{self.scope.key(call_id)}:result", AuditKind.CALL, spec, "error", error,
                    {"args": args, "call_id": call_id})
        return Outcome("allow", decision.reason, decision.rule, None, None, error)

    def settle(self, spec: ToolSpec, outcome: Outcome, args: dict[str, Any] | None = None) -> None:
        """After the step: count an allowed call (executed or failed) and remember what it returned
        (with the call's arguments: a lookup the owner asked for finds the owner's objects)."""
        if outcome.verdict != Verdict.ALLOW:
            return
        self.scope.call_counts[spec.name] = self.scope.call_counts.get(spec.name, 0) + 1
        if outcome.label is not None:
            self.scope.provenance.observe_result(spec, args, outcome.value, outcome.label)

    # --- whole calls -------------------------------------------------------------------------

    async def run(self, spec: ToolSpec, args: dict[str, Any], call_id: str, execute: Callable[[], Awaitable[Any]],
                  *, approved: bool = False, reraise: bool = False) -> Outcome:
        """One call, as one durable step inside a durable run. ``reraise``: a tool's exception is
        audited and raised again (the library), instead of coming back in ``Outcome.error`` (runs)."""
        from pydantic_ai.exceptions import ModelRetry

        async def step() -> Outcome:
            decision = self.decide(spec, args, call_id, approved=approved)
            if decision.verdict is not Verdict.ALLOW:
                return Outcome(decision.verdict.value, decision.reason, decision.rule)
            stood_in = self.stand_in(spec, args, call_id, decision)
            if stood_in is not None:
                return stood_in
            started = time.perf_counter()
            try:
                raw = await execute()
            except ModelRetry:
                raise  # the model is asked to fix its call; nothing ran
            except Exception as e:  # noqa: BLE001 - a connector failure is audited, then reported
                outcome = self.failed(spec, args, call_id, decision, e)
                if reraise:
                    raise
                return outcome
            return self.finished(spec, args, call_id, decision, raw, time.perf_counter() - started)

        try:
            outcome = await durable_step(f"{STEP_PREFIX}{spec.name}", step)
        except Exception as e:
            from pydantic_ai.exceptions import ModelRetry as _Retry

            if not isinstance(e, _Retry):
                self.scope.call_counts[spec.name] = self.scope.call_counts.get(spec.name, 0) + 1
            raise
        self.settle(spec, outcome, args)
        return outcome

    def run_sync(self, spec: ToolSpec, args: dict[str, Any], call_id: str, execute: Callable[[], Any], *,
                 approved: bool = False) -> Outcome:
        """The same call for a synchronous function (library use, never inside a durable run).
        A tool's exception is audited, counted and raised again."""
        decision = self.decide(spec, args, call_id, approved=approved)
        if decision.verdict is not Verdict.ALLOW:
            return Outcome(decision.verdict.value, decision.reason, decision.rule)
        outcome = self.stand_in(spec, args, call_id, decision)
        if outcome is None:
            started = time.perf_counter()
            try:
                raw = execute()
            except Exception as e:
                self.failed(spec, args, call_id, decision, e)
                self.scope.call_counts[spec.name] = self.scope.call_counts.get(spec.name, 0) + 1
                raise
            outcome = self.finished(spec, args, call_id, decision, raw, time.perf_counter() - started)
        self.settle(spec, outcome, args)
        return outcome

    # --- helpers -----------------------------------------------------------------------------

    def _replay(self, spec: ToolSpec, args: dict[str, Any], call_id: str, decision: Decision) -> Outcome:
        recorded = self.scope.recorded
        assert recorded is not None
        answer = recorded.answer(spec.name, args)
        key = f"{self.scope.key(call_id)}:replayed"
        if answer is None:
            missing = recorded.missing(spec.name, args)
            self._audit(key, AuditKind.REPLAYED, spec, "not recorded", missing, {"args": args, "from_run": recorded.source_run})
            return Outcome("allow", decision.reason, decision.rule, None, None, missing)
        value, label = answer
        self._audit(key, AuditKind.REPLAYED, spec, "done", None, {"args": args, "result": summary(value),
                                                                  "label": label.as_dict(), "from_run": recorded.source_run})
        return Outcome("allow", decision.reason, decision.rule, value, label, read_args=dict(args))

    def _audit(self, key: str, kind: AuditKind, spec: ToolSpec, verdict: str | None, reason: str | None,
               data: dict[str, Any]) -> None:
        s = self.scope
        if s.store is None:
            return
        if s.via != "run":
            data = {**data, "via": s.via}
        s.store.audit.append(key, kind.value, run_id=s.run_id, agent=s.agent.name, user_id=s.owner_id, tool=spec.name,
                             verdict=verdict, reason=reason, data=data)
