"""Watching the inbox against a real Dovecot: IDLE pushes new mail to a watcher within seconds,
polling works where IDLE is not used, stopping is prompt, and nothing gets marked read."""

from __future__ import annotations

import asyncio
import time

import pytest

from meshclaw.connectors.email import EmailSettings, MailAuthError, watch_inbox
from meshclaw.domain.provenance import Labelled, Trust
from tests.servers.fixtures import alice_settings, mail, mail_servers  # noqa: F401

pytestmark = pytest.mark.slow

ALICE = "alice@example.com"


def note(n: int, sender: str = "priya.raman@acme-industries.example") -> bytes:
    return f"From: {sender}\r\nTo: {ALICE}\r\nSubject: update {n}\r\nMessage-ID: <w{n}@x.example>\r\n\r\nbody {n}\r\n".encode()


async def watch_until(settings: EmailSettings, password: str, want: int, action, *, timeout: float = 10.0, **kw):
    """Run a watcher, call ``action()`` (in a thread) once it is in place, collect ``want`` messages."""
    got: list[tuple[float, Labelled]] = []
    modes: list[str] = []
    stop = asyncio.Event()
    ready = asyncio.Event()

    def on_message(item: Labelled) -> None:
        got.append((time.monotonic(), item))
        if len(got) >= want:
            stop.set()

    def on_ready(mode: str) -> None:
        modes.append(mode)
        ready.set()

    task = asyncio.create_task(watch_inbox(settings, password, on_message, stop, on_ready=on_ready, **kw))
    await asyncio.wait_for(ready.wait(), timeout)
    started = time.monotonic()
    await asyncio.to_thread(action)
    try:
        await asyncio.wait_for(stop.wait(), timeout)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    return [(t - started, item) for t, item in got], modes


def test_idle_delivers_a_new_message_to_the_watcher_within_seconds(mail, alice_settings):
    mail.deliver(note(0), ALICE)  # already there before the watch: not "new"
    got, modes = asyncio.run(watch_until(alice_settings, mail.password(ALICE), 1, lambda: mail.deliver(note(1), ALICE)))
    assert modes == ["idle"]
    [(latency, item)] = got
    assert latency < 3.0, f"IDLE push took {latency:.2f}s"
    assert item.value["subject"] == "update 1" and item.value["uid"] == 2 and item.value["folder"] == "INBOX"
    assert item.label.trust is Trust.UNTRUSTED and item.label.origin == "mail from priya.raman@acme-industries.example"
    assert all(b"\\Seen" not in flags for flags, _ in mail.messages(ALICE)), "watching must not mark mail read"


def test_several_messages_arrive_in_order_each_once(mail, alice_settings):
    def three():
        for n in (1, 2, 3):
            mail.deliver(note(n), ALICE)
            time.sleep(0.2)

    got, _ = asyncio.run(watch_until(alice_settings, mail.password(ALICE), 3, three))
    assert [item.value["subject"] for _, item in got] == ["update 1", "update 2", "update 3"]


def test_polling_fallback_delivers_new_mail(mail, alice_settings):
    got, modes = asyncio.run(watch_until(alice_settings, mail.password(ALICE), 1, lambda: mail.deliver(note(5), ALICE),
                                         use_idle=False, poll_interval=0.5))
    assert modes == ["poll"]
    [(latency, item)] = got
    assert item.value["subject"] == "update 5" and latency < 3.0


def test_stop_is_prompt_even_in_idle(mail, alice_settings):
    async def scenario() -> float:
        stop = asyncio.Event()
        ready = asyncio.Event()
        task = asyncio.create_task(watch_inbox(alice_settings, mail.password(ALICE), lambda m: None, stop,
                                               on_ready=lambda mode: ready.set()))
        await asyncio.wait_for(ready.wait(), 10)
        t = time.monotonic()
        stop.set()
        await asyncio.wait_for(task, 5)
        return time.monotonic() - t

    assert asyncio.run(scenario()) < 2.0


def test_async_handlers_and_a_failing_handler_do_not_stop_the_watch(mail, alice_settings):
    seen: list[str] = []

    async def scenario() -> None:
        stop = asyncio.Event()
        ready = asyncio.Event()

        async def on_message(item: Labelled) -> None:
            seen.append(item.value["subject"])
            if len(seen) == 1:
                raise RuntimeError("handler bug")
            stop.set()

        task = asyncio.create_task(watch_inbox(alice_settings, mail.password(ALICE), on_message, stop,
                                               on_ready=lambda mode: ready.set()))
        await asyncio.wait_for(ready.wait(), 10)
        await asyncio.to_thread(mail.deliver, note(1), ALICE)
        await asyncio.sleep(0.5)
        await asyncio.to_thread(mail.deliver, note(2), ALICE)
        await asyncio.wait_for(task, 10)

    asyncio.run(scenario())
    assert seen == ["update 1", "update 2"]


def test_wrong_password_ends_the_watch_with_a_clear_error(mail, alice_settings):
    async def scenario() -> None:
        await asyncio.wait_for(watch_inbox(alice_settings, "wrong", lambda m: None, asyncio.Event()), 10)

    with pytest.raises(MailAuthError, match="refused the login"):
        asyncio.run(scenario())


def test_a_missing_folder_ends_the_watch_with_a_clear_error(mail, alice_settings):
    from meshclaw.connectors.email import MailNotFound

    async def scenario() -> None:
        await asyncio.wait_for(watch_inbox(alice_settings, mail.password(ALICE), lambda m: None, asyncio.Event(),
                                           folder="Nope"), 10)

    with pytest.raises(MailNotFound, match="no folder 'Nope'"):
        asyncio.run(scenario())
