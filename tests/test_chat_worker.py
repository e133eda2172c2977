"""`meshclaw worker` serves the chat control channel: an owner's direct message starts a run in the worker
and the result comes back in the same conversation; with the chat server down the worker still starts."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import threading

import pytest

from meshclaw.connectors.chat.backend import ChatMessage
from meshclaw.connectors.chat.matrix import MatrixBackend
from tests.builders import Org, call, say
from tests.conftest import MESHCLAW, ROOT, write_config
from tests.servers.synapse import free_port, synapse, unique  # noqa: F401
from tests.waiting import wait_for, wait_for_async

pytestmark = pytest.mark.slow


def org(url: str, alice: str, control: str) -> Org:
    return (Org().user("alice", email="alice@example.com", chat={"matrix": alice})
            .scripted("script", call("notes.add", text="buy milk"), say("saved"))
            .agent("keeper", instructions="Keep notes.", model="script", autonomy="auto",
                   toolsets={"notes": ["notes.add", "notes.list"]})
            .set("chat_control", {"backend": "matrix", "url": url, "account": control, "token": "secret:control_chat",
                                  "poll_seconds": 0.2}))


def start_worker(home) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    env = dict(os.environ, PYTHONPATH=str(ROOT), MESHCLAW_HOME=str(home))
    return subprocess.Popen([*MESHCLAW, "worker"], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def stop_worker(p: subprocess.Popen) -> str:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=60)
    return out


def test_a_direct_message_runs_the_agent_in_the_worker(home, synapse):  # noqa: F811
    alice, control = unique("alice"), unique("meshclaw")
    synapse.register(alice), synapse.register(control)
    write_config(home, org(synapse.url, synapse.accounts[alice].user_id, synapse.accounts[control].user_id))
    (home / "secrets.env").write_text(f"control_chat={synapse.accounts[control].access_token}\n")
    subprocess.run([*MESHCLAW, "promote", "keeper"], env=dict(os.environ, PYTHONPATH=str(ROOT), MESHCLAW_HOME=str(home)),
                   cwd=ROOT, check=False, capture_output=True)
    p = start_worker(home)
    try:
        ready = p.stdout.readline()  # type: ignore[union-attr]
        assert "worker ready" in ready and "the chat control channel" in ready, ready

        async def talk() -> list[str]:
            a = synapse.accounts[alice]
            me = await MatrixBackend.connect(homeserver=synapse.url, user_id=a.user_id, access_token=a.access_token)
            try:
                _, cursor = await me.poll(None)
                await me.direct_message(synapse.accounts[control].user_id, "remember to buy milk", idempotency_key="w-1")
                seen: list[str] = []

                async def answered() -> bool:
                    nonlocal cursor
                    events, cursor = await me.poll(cursor, timeout_s=0.5)
                    seen.extend(e.text for e in events if isinstance(e, ChatMessage))
                    return any("keeper run" in t for t in seen)

                await wait_for_async(answered, 90, 0.05, what="the worker's answer")
                return seen
            finally:
                await me.close()

        seen = asyncio.run(talk())
    finally:
        out = stop_worker(p)
    assert any(t.startswith("Started keeper") for t in seen), (seen, out)
    assert any("keeper run" in t and "succeeded: saved" in t for t in seen), (seen, out)


def test_the_worker_starts_with_the_chat_server_down(home):
    url = f"http://127.0.0.1:{free_port()}"
    write_config(home, org(url, "@alice:localhost", "@meshclaw:localhost"))
    (home / "secrets.env").write_text("control_chat=anything\n")
    p = start_worker(home)
    lines: list[str] = []
    try:
        ready = p.stdout.readline()  # type: ignore[union-attr]
        reader = threading.Thread(target=lambda: lines.extend(iter(p.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
        reader.start()
        wait_for(lambda: any("chat control:" in line for line in lines), 30, 0.05, what="the control channel's log line")
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
        reader.join(timeout=30)
    out = "".join(lines)
    assert "worker ready" in ready and "Traceback" not in out, out
    assert f"chat control: cannot log in: the Matrix server at {url} is not reachable" in out, out
