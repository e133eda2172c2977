"""One MCP tool call, whatever the transport: resolve the actor, call the operation, audit, answer.

Every call writes one ``operation`` audit record named ``mcp:<tool>`` with the ``surface``
(``mcp-http`` or ``mcp-stdio``), the token id, the arguments, and a verdict (``done``,
``refused`` for a NotAuthorized, ``error`` for any other refusal), reads included. The
operations themselves write their own records for what acts (``run``, ``approve``, ``deny``),
refusals included, so an act through MCP leaves both.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import anyio

from meshclaw.domain.errors import MeshclawError, NotAuthorized, UsageError
from meshclaw.domain.runs import FINISHED
from meshclaw.operations.actor import Actor
from meshclaw.operations.context import Context
from meshclaw.operations.journal import REFUSED, record

MAX_WAIT = 600.0  # seconds a call may wait for a run to finish
FINISHED_VALUES = frozenset(s.value for s in FINISHED)


class CallRefused(Exception):
    """A call the server refused or could not do; ``str()`` is one line for the client."""


@dataclass(frozen=True)
class Caller:
    """Who is calling: the actor, the token that proved it (None over stdio by OS login), the transport."""

    actor: Actor
    token_id: str | None
    surface: str


def jsonable(value: Any) -> Any:
    """A value with datetimes and other objects as JSON text would hold them."""
    return json.loads(json.dumps(value, default=str, ensure_ascii=False))


class Service:
    """The calls an MCP client makes, over one launched ``Runtime``.

    ``reload_config`` (optional) returns the current configuration before each call, so a changed
    file takes effect without a restart (as in the worker)."""

    def __init__(self, runtime: Any, reload_config: Callable[[], Any] | None = None):
        self.runtime = runtime
        self.reload_config = reload_config
        self._waiters: dict[str, asyncio.Task] = {}

    def context(self) -> Context:
        if self.reload_config is not None:
            self.runtime.config = self.reload_config()
        return Context.of_runtime(self.runtime)

    async def call(self, caller: Caller, tool: str, args: dict[str, Any],
                   body: Callable[[Context, Actor], Awaitable[tuple[Any, dict[str, Any]]]]) -> Any:
        """Run ``body(ctx, actor)`` → (result, audit details), audit the call, and return the result as JSON
        values; a MeshclawError becomes CallRefused with its one line (the audit says refused/error)."""
        ctx = await anyio.to_thread.run_sync(self.context)
        try:
            result, details = await body(ctx, caller.actor)
        except MeshclawError as e:
            verdict = REFUSED if isinstance(e, NotAuthorized) else "error"
            await anyio.to_thread.run_sync(lambda: self._audit(ctx, caller, tool, args, verdict, e.one_line(), {}))
            prefix = "not authorized: " if isinstance(e, NotAuthorized) else ""
            raise CallRefused(prefix + e.one_line()) from None
        except Exception as e:  # noqa: BLE001 - a fault of ours or of the store: on the record, one line out
            line = f"unexpected error: {type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:200]}"
            await anyio.to_thread.run_sync(lambda: self._audit(ctx, caller, tool, args, "error", line, {}))
            raise CallRefused(line) from e
        await anyio.to_thread.run_sync(lambda: self._audit(ctx, caller, tool, args, "done", None, details))
        return jsonable(result)

    @staticmethod
    def _audit(ctx: Context, caller: Caller, tool: str, args: dict[str, Any], verdict: str, reason: str | None,
               details: dict[str, Any]) -> None:
        record(ctx, caller.actor, f"mcp:{tool}", verdict=verdict, reason=reason, surface=caller.surface,
               token_id=caller.token_id, args=jsonable(args), **details)

    # --- the tools ---------------------------------------------------------------------------

    async def list_agents(self, caller: Caller) -> Any:
        from meshclaw.operations.agents import list_agents

        async def body(ctx: Context, actor: Actor) -> tuple[Any, dict[str, Any]]:
            agents = await anyio.to_thread.run_sync(lambda: list_agents(ctx, actor))
            return {"agents": [a.as_dict() for a in agents]}, {}

        return await self.call(caller, "list_agents", {}, body)

    async def start_run(self, caller: Caller, agent: str, task: str, wait_seconds: float = 0) -> Any:
        from meshclaw.operations.runs import start_run

        async def body(ctx: Context, actor: Actor) -> tuple[Any, dict[str, Any]]:
            wait = _bounded(wait_seconds)
            started = await start_run(self.runtime, actor, agent, task)
            for done in [k for k, t in self._waiters.items() if t.done()]:
                self._waiters.pop(done)
            self._waiters[started.run_id] = asyncio.ensure_future(self.runtime.wait(started.run_id))
            state = await self._state(ctx, started.run_id, wait)
            if started.notice:
                state["notice"] = started.notice
            return state, {"run_id": started.run_id, "agent": started.agent, "owner": state["owner"]}

        return await self.call(caller, "start_run", {"agent": agent, "task": task, "wait_seconds": wait_seconds}, body)

    async def get_run(self, caller: Caller, run_id: str, wait_seconds: float = 0) -> Any:
        from meshclaw.operations.runs import show_run

        async def body(ctx: Context, actor: Actor) -> tuple[Any, dict[str, Any]]:
            wait = _bounded(wait_seconds)
            detail = await anyio.to_thread.run_sync(lambda: show_run(ctx, actor, run_id))  # authority first
            if wait and detail.run.status not in FINISHED_VALUES:
                await self._state(ctx, detail.run.id, wait)
                detail = await anyio.to_thread.run_sync(lambda: show_run(ctx, actor, detail.run.id))
            out = detail.as_dict()
            out["pending_approvals"] = await anyio.to_thread.run_sync(lambda: self._pending(ctx, actor, detail.run.id))
            return out, {"run_id": detail.run.id, "agent": detail.run.agent, "owner": detail.run.user_id}

        return await self.call(caller, "get_run", {"run": run_id, "wait_seconds": wait_seconds}, body)

    async def list_runs(self, caller: Caller, agent: str | None = None, limit: int = 20) -> Any:
        from meshclaw.operations.runs import list_runs

        async def body(ctx: Context, actor: Actor) -> tuple[Any, dict[str, Any]]:
            if not 1 <= limit <= 200:
                raise UsageError("limit is 1 to 200")
            runs = await anyio.to_thread.run_sync(lambda: list_runs(ctx, actor, agent=agent, limit=limit))
            return {"runs": [r.as_dict() for r in runs]}, {}

        return await self.call(caller, "list_runs", {"agent": agent, "limit": limit}, body)

    async def list_approvals(self, caller: Caller) -> Any:
        from meshclaw.operations.approvals import list_pending

        async def body(ctx: Context, actor: Actor) -> tuple[Any, dict[str, Any]]:
            pending = await anyio.to_thread.run_sync(lambda: list_pending(ctx, actor))
            return {"approvals": [a.as_dict() for a in pending]}, {}

        return await self.call(caller, "list_approvals", {}, body)

    async def answer_approval(self, caller: Caller, approval_id: str, decision: str, reason: str | None = None,
                              for_run: bool = False) -> Any:
        from meshclaw.operations.approvals import APPROVED, DENIED, answer

        words = {"approve": APPROVED, "approved": APPROVED, "deny": DENIED, "denied": DENIED}
        args = {"approval": approval_id, "decision": decision, "reason": reason, "for_run": for_run}

        async def body(ctx: Context, actor: Actor) -> tuple[Any, dict[str, Any]]:
            chosen = words.get(decision.strip().lower())
            if chosen is None:
                raise UsageError(f"decision is 'approve' or 'deny', not {decision!r}")
            a = await anyio.to_thread.run_sync(
                lambda: answer(ctx, actor, approval_id, chosen, for_run=for_run, note=reason))
            return ({"approval": a.approval_id, "decision": a.decision, "tool": a.tool, "run": a.run_id,
                     "for_run": a.for_run}, {"run_id": a.run_id})

        return await self.call(caller, "answer_approval", args, body)

    # --- waiting -----------------------------------------------------------------------------

    async def _state(self, ctx: Context, run_id: str, wait: float) -> dict[str, Any]:
        """The run's status after waiting up to ``wait`` seconds for it to finish (never longer), with
        its result when finished and the approvals it waits for."""
        deadline = time.monotonic() + wait
        waiter = self._waiters.get(run_id)
        while True:
            run = await anyio.to_thread.run_sync(lambda: ctx.store.runs.get(run_id))
            left = deadline - time.monotonic()
            if run is None or run.status in FINISHED_VALUES or left <= 0:
                break
            if waiter is not None and not waiter.done():
                await asyncio.wait({waiter}, timeout=min(left, 0.5))
            else:
                await asyncio.sleep(min(left, 0.2))
        assert run is not None
        out: dict[str, Any] = {"run": run.id, "agent": run.agent, "owner": run.user_id, "status": run.status,
                               "finished": run.status in FINISHED_VALUES, "rehearsal": bool(run.rehearsal),
                               "output": run.output, "error": run.error}
        if run.status == "waiting":
            out["pending_approvals"] = [a.id for a in ctx.store.approvals.pending(run_id=run.id)]
        return out

    @staticmethod
    def _pending(ctx: Context, actor: Actor, run_id: str) -> list[dict[str, Any]]:
        from meshclaw.operations.approvals import list_pending

        return [a.as_dict() for a in list_pending(ctx, actor) if a.run_id == run_id]


def _bounded(wait_seconds: float) -> float:
    try:
        wait = float(wait_seconds)
    except (TypeError, ValueError):
        raise UsageError(f"wait_seconds is a number of seconds, not {wait_seconds!r}") from None
    if not 0 <= wait <= MAX_WAIT:
        raise UsageError(f"wait_seconds is 0 to {MAX_WAIT:g}")
    return wait
