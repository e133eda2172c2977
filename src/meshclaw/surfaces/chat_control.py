"""The chat control channel: owners talk to their agents in direct messages with MeshClaw's chat account.

- "stop" is the kill switch for the sender's agents (``operations.control.stop``);
- "what did you do last night?" (or "summary", "status") lists recent runs (``operations.chat.recent_summary``);
- anything else starts a run on that task (``operations.runs.start_run``) of the sender's agent, or of the
  agent named first ("inbox-triage: archive the newsletters"); the result is sent back when the run ends;
- approval requests of the sender's agents (and of those they are a delegate for) are sent to them with
  the action, every argument and where each came from, and answered by a reply in the request's thread
  ("yes"/"no"/"approve"/"deny"), a bare answer when only one request is open there, or a reaction (👍/👎).

Who is speaking is the message's server user id mapped in ``users[].chat`` (never a display name);
an account mapped to no one gets no answer and the attempt is audited. Everything else is an
operation with that user's ``Actor``, so authority is checked and audited there.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from typing import Any

from meshclaw.domain.errors import MeshclawError, NotAuthorized

log = logging.getLogger(__name__)

SUMMARY = re.compile(r"^\s*(what did you do|what have you done|summary|status|report)\b", re.I)
STOP = re.compile(r"^\s*stop( all| everything)?\s*[.!]?\s*$", re.I)
RETRY_AFTER_FAILURE = 5.0  # seconds before polling again after the chat server failed


class ChatControl:
    """One control-channel account serving the organisation's owners. ``backend``: a logged-in ChatBackend."""

    def __init__(self, runtime: Any, backend: Any, *, poll_seconds: float = 2.0):
        self.runtime = runtime
        self.backend = backend
        self.poll_seconds = poll_seconds
        self.asked: dict[str, str] = {}  # message id of a request sent → approval id
        self.open_in: dict[str, list[str]] = {}  # channel id → approval ids sent there
        self._last_look = 0.0
        self._runs: set[asyncio.Task] = set()

    # --- who and where --------------------------------------------------------------------------

    def _ctx(self) -> Any:
        from meshclaw.operations.context import Context

        return Context.of_runtime(self.runtime)

    def _actor(self, account: str) -> Any:
        from meshclaw.operations.chat import chat_actor

        return chat_actor(self.runtime.config, self.backend.name, account)

    async def _say(self, channel_id: str, text: str, key: str, thread_id: str | None = None) -> None:
        try:
            await self.backend.post(channel_id, text, thread_id=thread_id, idempotency_key=key)
        except MeshclawError as e:
            log.warning("chat control: could not answer in %s: %s", channel_id, e)

    # --- serving -----------------------------------------------------------------------------

    async def serve(self, stop: asyncio.Event, ready: asyncio.Event | None = None) -> None:
        """Poll the account until ``stop``; a failing server is retried every RETRY_AFTER_FAILURE s."""
        cursor = None
        while not stop.is_set():
            try:
                if cursor is None:
                    _, cursor = await self.backend.poll(None)
                    if ready is not None:
                        ready.set()
                events, cursor = await self.backend.poll(cursor, timeout_s=1.0)
                for event in events:
                    await self.handle(event)
                if time.monotonic() - self._last_look >= self.poll_seconds:
                    self._last_look = time.monotonic()
                    await self.announce_approvals()
            except MeshclawError as e:
                log.warning("chat control: %s", e)
                try:
                    await asyncio.wait_for(stop.wait(), RETRY_AFTER_FAILURE)
                except TimeoutError:
                    pass
        for task in list(self._runs):
            task.cancel()

    async def handle(self, event: Any) -> None:
        """One message or reaction from the chat server."""
        from meshclaw.connectors.chat.backend import ChatReaction
        from meshclaw.operations.chat import refuse_unknown

        if isinstance(event, ChatReaction):
            if event.message_id in self.asked:
                await self._reaction(event)
            return
        if not event.is_direct:
            return  # the control channel is direct messages only (channel messages are triggers)
        actor = self._actor(event.author_id)
        if actor is None:
            refuse_unknown(self._ctx(), self.backend.name, event.author_id, "chat-command", channel=event.channel_id,
                           message=event.message_id)
            return
        await self._command(actor, event)

    async def _reaction(self, event: Any) -> None:
        from meshclaw.operations.chat import decision_of_reaction, refuse_unknown

        decision = decision_of_reaction(event.key)
        if decision is None:
            return
        approval_id = self.asked[event.message_id]
        actor = self._actor(event.author_id)
        if actor is None:
            refuse_unknown(self._ctx(), self.backend.name, event.author_id, "approve" if decision == "approved" else "deny",
                           approval=approval_id)
            return
        await self._answer(actor, approval_id, decision, event.channel_id, f"reaction:{event.message_id}:{event.author_id}")

    async def _command(self, actor: Any, message: Any) -> None:
        from meshclaw.operations.chat import decision_of_text

        text, key = message.text.strip(), f"control:{message.message_id}"
        decision = decision_of_text(text)
        if decision is not None:
            approval_id = self.asked.get(message.thread_id or "")
            if approval_id is None:
                from meshclaw.operations.approvals import list_pending

                still = {p.id for p in list_pending(self._ctx(), actor)}
                here = [a for a in self.open_in.get(message.channel_id, []) if a in still]
                if len(here) != 1:
                    await self._say(message.channel_id, "Reply in the thread of the request you are answering."
                                    if here else "There is no open approval request here.", key)
                    return
                approval_id = here[0]
            await self._answer(actor, approval_id, decision, message.channel_id, key)
        elif STOP.match(text):
            await self._stop(actor, message.channel_id, key)
        elif SUMMARY.match(text):
            from meshclaw.operations.chat import recent_summary

            await self._say(message.channel_id, recent_summary(self._ctx(), actor), key)
        else:
            await self._start(actor, text, message.channel_id, key)

    async def _answer(self, actor: Any, approval_id: str, decision: str, channel_id: str, key: str) -> None:
        from meshclaw.operations.approvals import answer

        try:
            done = answer(self._ctx(), actor, approval_id, decision, note=f"answered in {self.backend.name} chat")
        except NotAuthorized:
            return  # audited by the operation; the sender is told nothing
        except MeshclawError as e:
            await self._say(channel_id, str(e), key)
            return
        await self._say(channel_id, f"{done.decision.capitalize()}: {done.tool} (request {done.approval_id}).", key)

    async def _stop(self, actor: Any, channel_id: str, key: str) -> None:
        from meshclaw.operations import control
        from meshclaw.operations.authority import may_act_for_agent

        config = self.runtime.config
        mine = [a for a in config.agents if a.owner == actor.user_id] or \
               [a for a in config.agents if may_act_for_agent(config, actor, a)]
        lines = []
        for agent in mine:
            try:
                switched = control.stop(self._ctx(), actor, agent.name)
                state = "was already stopped" if switched.was_stopped else "stopped"
                lines.append(f"{agent.name} {state} ({len(switched.cancelled_runs)} run(s) cancelled)")
            except MeshclawError as e:
                lines.append(f"{agent.name}: {e}")
        await self._say(channel_id, "; ".join(lines) or "You have no agents to stop.", key)

    def _agent_for(self, actor: Any, text: str) -> tuple[str | None, str]:
        from meshclaw.operations.authority import may_act_for_agent

        config = self.runtime.config
        allowed = [a for a in config.agents if may_act_for_agent(config, actor, a)]
        head, sep, rest = text.partition(":")
        named = next((a for a in allowed if a.name == head.strip().lower()), None)
        if sep and named is not None and rest.strip():
            return named.name, rest.strip()
        own = [a for a in allowed if a.owner == actor.user_id]
        return (own[0].name if len(own) == 1 else None), text

    async def _start(self, actor: Any, text: str, channel_id: str, key: str) -> None:
        from meshclaw.operations.runs import finish, start_run

        agent, task = self._agent_for(actor, text)
        if agent is None:
            from meshclaw.operations.authority import may_act_for_agent

            names = [a.name for a in self.runtime.config.agents if may_act_for_agent(self.runtime.config, actor, a)]
            await self._say(channel_id, "Which agent? Write 'AGENT: task' with one of: " + (", ".join(names) or "none"),
                            key)
            return
        try:
            started = await start_run(self.runtime, actor, agent, task)
        except NotAuthorized:
            return  # audited by the operation; the sender is told nothing
        except MeshclawError as e:
            await self._say(channel_id, str(e), key)
            return
        note = f" {started.notice}" if started.notice else ""
        await self._say(channel_id, f"Started {agent} (run {started.run_id[:8]}).{note}", key)

        async def report() -> None:
            done = await finish(self.runtime, started)
            said = done.output if done.succeeded else (done.error or done.status)
            await self._say(channel_id, f"{agent} run {done.run_id[:8]} {done.status}: {said}", f"{key}:done")

        task_ = asyncio.create_task(report())
        self._runs.add(task_)
        task_.add_done_callback(self._runs.discard)

    # --- approval requests ---------------------------------------------------------------------

    async def announce_approvals(self) -> None:
        """Send every pending request not yet sent to its agent's owner and delegates with a chat account."""
        from meshclaw.operations.approvals import PendingApproval
        from meshclaw.operations.chat import approval_text, chat_account

        ctx = self._ctx()
        config = self.runtime.config
        sent = set(self.asked.values())
        for row in ctx.store.approvals.pending():
            if row.id in sent:
                continue
            agent = next((a for a in config.agents if a.name == row.agent), None)
            if agent is None:
                continue
            owner = next((u for u in config.users if u.id == agent.owner), None)
            people = [agent.owner] + [u.id for u in config.users if owner is not None and u.id in owner.delegates]
            p = PendingApproval(row.id, row.run_id, row.agent, row.user_id, row.tool, dict(row.args),
                                dict(row.origins), row.reason, row.expires_at)
            for person in people:
                account = chat_account(config, self.backend.name, person)
                if account is None:
                    continue
                posted = await self.backend.direct_message(account, approval_text(p),
                                                           idempotency_key=f"approval:{row.id}:{person}")
                self.asked[posted.message_id] = row.id
                self.open_in.setdefault(posted.channel_id, []).append(row.id)


async def serve_chat_control(runtime: Any, stop: asyncio.Event, *, ready: asyncio.Event | None = None) -> list[asyncio.Task]:
    """The control channel of ``config.chat_control``, if configured: one task (ends when ``stop`` is set)."""
    settings = runtime.config.chat_control
    if settings is None:
        if ready is not None:
            ready.set()
        return []
    from meshclaw.connectors.chat.backends import open_backend, secret_ref

    async def run() -> None:
        while not stop.is_set():  # a chat server that is down at start is tried again, not fatal
            try:
                backend = await open_backend(settings, runtime.secrets.resolve(secret_ref(settings)))
                break
            except MeshclawError as e:
                log.warning("chat control: %s", e)
                try:
                    await asyncio.wait_for(stop.wait(), RETRY_AFTER_FAILURE)
                except TimeoutError:
                    pass
        else:
            return
        try:
            await ChatControl(runtime, backend, poll_seconds=settings.poll_seconds).serve(stop, ready)
        finally:
            await backend.close()

    return [asyncio.create_task(run())]
