"""The chat control channel against a real Synapse: the owner starts a run from a direct message,
answers its approval request by a reply and by a reaction, asks what happened, and stops the agent;
a colleague's 👍 and an unmapped account calling itself "Alice" change nothing and are audited."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from meshclaw.connectors.chat.backend import ChatMessage
from meshclaw.connectors.chat.matrix import MatrixBackend
from meshclaw.surfaces.chat_control import serve_chat_control
from tests.builders import Org, call, say
from tests.runtime_support import runtime
from tests.servers.synapse import SynapseServer, synapse, unique  # noqa: F401
from tests.waiting import wait_for_async

pytestmark = pytest.mark.slow


class People:
    """Fresh Synapse accounts for one test: the owner, a colleague, an outsider, the agent, MeshClaw's account."""

    def __init__(self, hs: SynapseServer):
        self.hs = hs
        self.alice, self.bob, self.mallory = unique("alice"), unique("bob"), unique("mallory")
        self.helper, self.control = unique("helper"), unique("meshclaw")
        for who in (self.alice, self.bob, self.mallory, self.helper, self.control):
            hs.register(who)
        self.general = hs.api("POST", "/createRoom", {"name": "general", "invite": [self.id(self.helper)]},
                              as_user=self.alice)["room_id"]
        hs.api("POST", f"/join/{self.general}", {}, as_user=self.helper)
        # Display names are not identities: the outsider calls herself Alice.
        hs.api("PUT", f"/profile/{self.id(self.mallory)}/displayname", {"displayname": "Alice"}, as_user=self.mallory)

    def id(self, who: str) -> str:
        return self.hs.accounts[who].user_id

    def org(self, *turns: dict[str, Any]) -> Org:
        hs = self.hs
        chat = {"backend": "matrix", "url": hs.url, "account": self.id(self.helper), "token": "secret:helper_chat"}
        return (Org().organisation()
                .user("alice", email="alice@example.com", chat={"matrix": self.id(self.alice)})
                .user("bob", email="bob@example.com", chat={"matrix": self.id(self.bob)})
                .scripted("script", *turns)
                .agent("helper", owner="alice", instructions="Triage and report in chat.", autonomy="ask",
                       limits={"approval_seconds": 120},
                       toolsets={"chat": {"settings": chat, "grants": ["chat.history", "chat.post"]}})
                .set("chat_control", {"backend": "matrix", "url": hs.url, "account": self.id(self.control),
                                      "token": "secret:control_chat", "poll_seconds": 0.2}))

    def secrets(self, home) -> None:  # type: ignore[no-untyped-def]
        (home / "secrets.env").write_text(f"helper_chat={self.hs.accounts[self.helper].access_token}\n"
                                          f"control_chat={self.hs.accounts[self.control].access_token}\n")

    async def login(self, who: str) -> MatrixBackend:
        a = self.hs.accounts[who]
        return await MatrixBackend.connect(homeserver=self.hs.url, user_id=a.user_id, access_token=a.access_token)


class Inbox:
    """What one person's account receives, collected by polling it."""

    def __init__(self, backend: MatrixBackend):
        self.backend, self.cursor, self.seen = backend, None, []  # type: ignore[var-annotated]

    async def start(self) -> None:
        _, self.cursor = await self.backend.poll(None)

    async def wait(self, predicate, what: str, timeout: float = 60) -> Any:  # type: ignore[no-untyped-def]
        async def look() -> Any:
            events, self.cursor = await self.backend.poll(self.cursor, timeout_s=0.5)
            self.seen += [e for e in events if isinstance(e, ChatMessage)]
            return next((m for m in self.seen if predicate(m)), None)

        return await wait_for_async(look, timeout, 0.05, what=what)


def serving(rt, body):  # type: ignore[no-untyped-def]
    """Run ``body(stop)`` while the control channel serves ``rt``."""

    async def go():  # type: ignore[no-untyped-def]
        stop, ready = asyncio.Event(), asyncio.Event()
        tasks = await serve_chat_control(rt, stop, ready=ready)
        await asyncio.wait_for(ready.wait(), 30)
        try:
            return await body()
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)

    return asyncio.run(go())


def test_owner_starts_a_run_and_approves_by_reply_while_others_change_nothing(home, synapse):  # noqa: F811
    p = People(synapse)
    p.secrets(home)
    with runtime(home, p.org(call("chat.post", channel_id=p.general, text="Inbox triaged: 2 need you."),
                             say("triaged"))) as rt:
        async def body():  # type: ignore[no-untyped-def]
            alice, bob, mallory = await p.login(p.alice), await p.login(p.bob), await p.login(p.mallory)
            inbox = Inbox(alice)
            await inbox.start()
            dm = await alice.direct_message(p.id(p.control), f"triage my inbox now and post a summary in {p.general}",
                                            idempotency_key="a-1")
            await inbox.wait(lambda m: m.text.startswith("Started helper"), "the run starting")
            request = await inbox.wait(lambda m: m.text.startswith("Approval needed"), "the approval request")
            # A colleague in the room reacts 👍; an outsider named "Alice" says yes in her own DM: nothing moves.
            synapse.api("POST", f"/rooms/{dm.channel_id}/invite", {"user_id": p.id(p.bob)}, as_user=p.alice)
            synapse.api("POST", f"/join/{dm.channel_id}", {}, as_user=p.bob)
            synapse.api("PUT", f"/rooms/{dm.channel_id}/send/m.reaction/{unique('r')}",
                        {"m.relates_to": {"rel_type": "m.annotation", "event_id": request.message_id, "key": "👍"}},
                        as_user=p.bob)
            await mallory.direct_message(p.id(p.control), "yes", idempotency_key="m-1")
            await wait_for_async(lambda: len([r for r in rt.store.audit.records()
                                              if r.kind == "operation" and r.verdict == "refused"]) >= 2,
                                 30, 0.1, what="both refusals audited")
            assert rt.store.approvals.pending(), "a refused answer must leave the request pending"
            # The owner answers in the request's thread.
            await alice.post(dm.channel_id, "yes", thread_id=request.message_id, idempotency_key="a-2")
            done = await inbox.wait(lambda m: "run" in m.text and "succeeded" in m.text, "the run's result")
            for b in (alice, bob, mallory):
                await b.close()
            return request, done

        request, done = serving(rt, body)
        refused = [r for r in rt.store.audit.records() if r.kind == "operation" and r.verdict == "refused"]
        approvals = [r for r in rt.store.audit.records() if r.kind == "approval" and r.verdict == "approved"]
    # The request shows the action, every argument and where each came from.
    assert "helper wants to run chat.post" in request.text
    assert f"channel_id = {p.general}" in request.text and "text = Inbox triaged: 2 need you." in request.text
    assert f"{p.general}: trusted, from the owner's request" in request.text, request.text
    assert "text = Inbox triaged: 2 need you.\n    origin: not traced" in request.text, request.text
    assert "helper run" in done.text and "triaged" in done.text
    assert {(r.data or {}).get("actor") for r in refused} == {"bob", None}
    assert any((r.data or {}).get("chat_account") == p.id(p.mallory) for r in refused)
    assert approvals and approvals[0].data["by"] == "alice"
    posted = [m["content"].get("body") for m in synapse.api("GET", f"/rooms/{p.general}/messages?dir=b&limit=20",
                                                             as_user=p.alice)["chunk"] if m["type"] == "m.room.message"]
    assert posted.count("Inbox triaged: 2 need you.") == 1


def test_deny_by_reaction_then_what_happened_then_stop(home, synapse):  # noqa: F811
    p = People(synapse)
    p.secrets(home)
    with runtime(home, p.org(call("chat.post", channel_id=p.general, text="Everything is fine."), say("reported"))) as rt:
        async def body():  # type: ignore[no-untyped-def]
            alice = await p.login(p.alice)
            inbox = Inbox(alice)
            await inbox.start()
            dm = await alice.direct_message(p.id(p.control), f"post a status line in {p.general}", idempotency_key="a-1")
            request = await inbox.wait(lambda m: m.text.startswith("Approval needed"), "the approval request")
            synapse.api("PUT", f"/rooms/{dm.channel_id}/send/m.reaction/{unique('r')}",
                        {"m.relates_to": {"rel_type": "m.annotation", "event_id": request.message_id, "key": "👎"}},
                        as_user=p.alice)
            await inbox.wait(lambda m: m.text.startswith("Denied: chat.post"), "the denial confirmed")
            await inbox.wait(lambda m: "helper run" in m.text, "the run's end")
            await alice.post(dm.channel_id, "what did you do last night?", idempotency_key="a-2")
            summary = await inbox.wait(lambda m: "run(s) in the last" in m.text, "the summary")
            await alice.post(dm.channel_id, "stop", idempotency_key="a-3")
            stopped = await inbox.wait(lambda m: "helper stopped" in m.text, "the kill switch")
            await alice.close()
            return summary, stopped

        summary, stopped = serving(rt, body)
        assert rt.store.agents.is_stopped("helper")
        denied = [r for r in rt.store.audit.records() if r.kind == "approval" and r.verdict == "denied"]
        assert denied and denied[0].data["by"] == "alice"
    assert "helper (manual) succeeded: post a status line" in summary.text
    assert stopped.text.startswith("helper stopped")
    posted = [m["content"].get("body") for m in synapse.api("GET", f"/rooms/{p.general}/messages?dir=b&limit=20",
                                                             as_user=p.alice)["chunk"] if m["type"] == "m.room.message"]
    assert "Everything is fine." not in posted
