"""Protecting any Python function or MCP server with the guard, outside agent runs, with audit.

    protector = Protector(["crm.lookup", {"tool": "mail.send", "when": {"to": {"domain_in": ["example.com"]}}}],
                          owner="alice", store=store)

    @protector.protect("mail.send", effect="external", sensitive=["to"])
    def send(to: str, body: str) -> str: ...

    with protector.session(request="mail the report to bob@example.com"):
        send("bob@example.com", "...")       # decided by decide(), audited, then run
        send("eve@evil.example", "...")      # raises PolicyDenied: outside the grant's condition

Each call is decided by the same ``decide()`` as agent tool calls: deny by default, argument
conditions, rate limits, autonomy, the kill switch (with a store) and provenance. A call that needs
approval goes to ``approver`` when one is given, or raises ``ApprovalNeeded``. With a store, every
decision and every executed call is written to the audit log, like an agent's.

An MCP server goes behind a Protector with ``meshclaw.connectors.mcp.protected.protect_mcp``
(it lives with the MCP client, a layer above this one).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import time
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable, Iterator

from meshclaw.domain.config import Agent, Autonomy
from meshclaw.domain.decisions import Decision, Verdict
from meshclaw.domain.effects import TOOL_ATTR, Effect, ToolSpec
from meshclaw.domain.secrets import Secrets
from meshclaw.domain.runs import AuditKind
from meshclaw.policy.library import (ApprovalNeeded, GrantLike, Policy, PolicyDenied, PolicyError, Session,
                                     call_arguments)

from .pipeline import CallScope, GuardPipeline

if TYPE_CHECKING:
    from meshclaw.store.facade import Store

Approver = Callable[[ApprovalNeeded], "bool | Awaitable[bool]"]

__all__ = ["Protector", "PolicyDenied", "ApprovalNeeded", "PolicyError", "Session"]


class Protector:
    """Puts functions and MCP servers behind the guard for one agent config or one set of grants."""

    def __init__(self, source: Agent | Iterable[GrantLike], *, owner: str = "library", name: str = "library",
                 autonomy: Autonomy | str = Autonomy.AUTO, store: "Store | None" = None,
                 secrets: Secrets | None = None, approver: Approver | None = None,
                 provenance_policy: str = "ask", directory: Iterable[str] = ()):
        self.policy = Policy(source, owner=owner, name=name, autonomy=autonomy,
                             provenance_policy=provenance_policy, directory=directory)
        self.agent = self.policy.agent
        self.owner = self.agent.owner
        self.store = store
        self.secrets = secrets
        self.approver = approver
        self._default = self.policy.new_session()
        self._current: ContextVar[Session | None] = ContextVar(f"meshclaw_protector_{id(self)}", default=None)

    # --- sessions ------------------------------------------------------------------------------

    @property
    def current(self) -> Session:
        """The session calls are decided in: the innermost ``with protector.session()``, else a default one."""
        return self._current.get() or self._default

    @contextlib.contextmanager
    def session(self, request: str | None = None) -> Iterator[Session]:
        """A unit of work (one request, one job) with its own provenance, counts and approvals."""
        session = self.policy.new_session(request)
        token = self._current.set(session)
        try:
            yield session
        finally:
            self._current.reset(token)

    # --- protecting functions ------------------------------------------------------------------

    def protect(self, name: str | None = None, *, effect: Effect | str, sensitive: Iterable[str] = (),
                output_trust: str = "trusted", description: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Decorate a sync or async function so that every call is decided first (and audited with a store).

        ``name`` is the tool's name in grants and audit (``toolset.tool``; default ``app.<function name>``).
        """
        if output_trust not in ("trusted", "untrusted"):
            raise ValueError(f"output_trust must be 'trusted' or 'untrusted', not {output_trust!r}")

        def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
            doc = (fn.__doc__ or "").strip().split("\n\n")[0].strip()
            spec = ToolSpec(name=name or f"app.{fn.__name__}", effect=Effect(effect), description=description or doc,
                            sensitive_args=tuple(sensitive), output_trust=output_trust)

            if inspect.iscoroutinefunction(fn):
                @functools.wraps(fn)
                async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                    arguments = call_arguments(fn, args, kwargs)
                    call = await self.admit_async(spec, arguments)
                    return await self.execute_async(call, lambda: fn(*args, **kwargs))

                wrapper: Callable[..., Any] = guarded_async
            else:
                @functools.wraps(fn)
                def guarded_sync(*args: Any, **kwargs: Any) -> Any:
                    arguments = call_arguments(fn, args, kwargs)
                    call = self.admit(spec, arguments)
                    return self.execute(call, lambda: fn(*args, **kwargs))

                wrapper = guarded_sync
            setattr(wrapper, TOOL_ATTR, spec)  # spec_of(wrapper) works, as for @tool functions
            return wrapper

        return decorate

    # --- the decision, shared by functions and MCP tools ---------------------------------------

    def _pipeline(self, session: Session) -> GuardPipeline:
        """The guard pipeline (the same one agent runs use) for one session of this protector."""
        scope = CallScope(run_id=session.id, agent=self.agent, owner_id=self.owner, provenance=session.provenance,
                          call_counts=session.call_counts, approved_keys=session.approved, store=self.store,
                          provenance_policy=self.policy.provenance_policy, audit_prefix="lib", via="library")
        return GuardPipeline(scope)

    def admit(self, spec: ToolSpec, args: dict[str, Any]) -> "_Call":
        """Decide a call (asking the approver if needed) and audit the decision; raise if it may not run."""
        call = self._decide(spec, args)
        if call.decision.verdict is Verdict.ASK and self.approver is not None:
            answer = self.approver(ApprovalNeeded(spec, args, call.decision))
            if inspect.isawaitable(answer):
                getattr(answer, "close", lambda: None)()
                raise TypeError("an async approver can only approve calls of async functions and MCP tools")
            call = self._approved(call, bool(answer))
        Policy.enforce(spec, args, call.decision)
        return call

    async def admit_async(self, spec: ToolSpec, args: dict[str, Any]) -> "_Call":
        call = self._decide(spec, args)
        if call.decision.verdict is Verdict.ASK and self.approver is not None:
            answer = self.approver(ApprovalNeeded(spec, args, call.decision))
            if inspect.isawaitable(answer):
                answer = await answer
            call = self._approved(call, bool(answer))
        Policy.enforce(spec, args, call.decision)
        return call

    def _decide(self, spec: ToolSpec, args: dict[str, Any], call_id: str | None = None) -> "_Call":
        session = self.current
        call = _Call(session, spec, args, call_id or session.next_call_id())
        call.decision = self._pipeline(session).decide(spec, args, call.call_id, approved=call_id is not None)
        return call

    def _approved(self, call: "_Call", yes: bool) -> "_Call":
        if self.store is not None:
            self.store.audit.append(
                f"lib:{call.call_id}:approval", AuditKind.APPROVAL.value, run_id=call.session.id, agent=self.agent.name,
                user_id=self.owner, tool=call.spec.name, verdict="approved" if yes else "denied",
                reason=call.decision.reason, data={"args": call.args, "call_id": call.call_id, "via": "library"})
        if not yes:
            call.decision = Decision.deny("the approver said no", "approval-denied")
            return call
        # Decided again: an approval lifts only the ask, while grants, conditions and limits still hold.
        return self._decide(call.spec, call.args, call.call_id)

    # --- running an admitted call --------------------------------------------------------------

    def execute(self, call: "_Call", run: Callable[[], Any]) -> Any:
        """Run an admitted call, audit its result or error, and remember its output's provenance."""
        pipeline = self._pipeline(call.session)
        started = time.perf_counter()
        try:
            raw = run()
        except Exception as e:
            self._failed(pipeline, call, e)
            raise
        return self._done(pipeline, call, raw, time.perf_counter() - started)

    async def execute_async(self, call: "_Call", run: Callable[[], Awaitable[Any]]) -> Any:
        pipeline = self._pipeline(call.session)
        started = time.perf_counter()
        try:
            raw = await run()
        except Exception as e:
            self._failed(pipeline, call, e)
            raise
        return self._done(pipeline, call, raw, time.perf_counter() - started)

    @staticmethod
    def _done(pipeline: GuardPipeline, call: "_Call", raw: Any, seconds: float) -> Any:
        outcome = pipeline.finished(call.spec, call.args, call.call_id, call.decision, raw, seconds)
        pipeline.settle(call.spec, outcome, call.args)
        return outcome.value

    @staticmethod
    def _failed(pipeline: GuardPipeline, call: "_Call", e: BaseException) -> None:
        pipeline.settle(call.spec, pipeline.failed(call.spec, call.args, call.call_id, call.decision, e))


class _Call:
    """One call on its way through the guard: admit() returns it, execute() runs it."""

    def __init__(self, session: Session, spec: ToolSpec, args: dict[str, Any], call_id: str):
        self.session, self.spec, self.args, self.call_id = session, spec, args, call_id
        self.decision: Decision = Decision.deny("not decided yet", "fail-closed")
        self.after_approval = False
