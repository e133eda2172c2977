"""The watcher against a real Dovecot when the folder changes under it: deleted and recreated
(UIDVALIDITY changes) while mail arrives, a connection cut in the middle of IDLE, folder names in
modified UTF-7. Each new message must be reported exactly once, and old messages put back into a
recreated folder are not new."""

from __future__ import annotations

import asyncio
import imaplib
import time

import pytest
from imap_tools.imap_utf7 import utf7_encode

from meshclaw.connectors.email import EmailSettings, watch_inbox
from meshclaw.connectors.email import watch as watch_module
from meshclaw.connectors.email.tools import email_flag, email_list, email_move, email_read
from tests.servers.fixtures import alice_settings, mail, mail_ctx, mail_servers  # noqa: F401
from tests.test_email_failures import CuttingProxy

pytestmark = pytest.mark.slow

ALICE = "alice@example.com"
SETTLE = 2.0  # seconds the watch keeps running after the last expected message, to catch repeats


def note(n: int, mid: str | None = None) -> bytes:
    return (f"From: Priya Raman <priya@example.org>\r\nTo: {ALICE}\r\nSubject: note {n}\r\n"
            f"Message-ID: {mid or f'<resync-{n}@example.org>'}\r\n\r\nbody {n}\r\n").encode()


class Imap:
    """A second client doing what another program (or person) does to the mailbox meanwhile."""

    def __init__(self, mail):
        self.conn = imaplib.IMAP4("127.0.0.1", mail.imap_port, timeout=10)
        self.conn.login(ALICE, mail.password(ALICE))

    def __getattr__(self, name):
        return getattr(self.conn, name)

    def put(self, folder: str, raw: bytes, when: str | None = None) -> None:
        typ, data = self.conn.append(wire_name(folder), None, when, raw)
        assert typ == "OK", data

    def make(self, folder: str) -> None:
        typ, data = self.conn.create(wire_name(folder))
        assert typ == "OK", data


def wire_name(folder: str) -> str:
    """A folder name as IMAP sends it: modified UTF-7, quoted (imaplib sends arguments as given)."""
    return '"' + utf7_encode(folder).decode().replace("\\", "\\\\").replace('"', '\\"') + '"'


numbering: set[int] = set()  # the UIDVALIDITY values reported messages came with


def watch(settings: EmailSettings, password: str, want: int, actions, *, folder: str, **kw) -> tuple[list[str], list[str]]:
    """Run a watcher on ``folder``, run ``actions()`` in a thread once it is in place, and collect
    subjects until ``want`` arrived and SETTLE more seconds passed (so a repeat would be seen)."""

    async def scenario():
        got, modes = [], []
        stop, ready, enough = asyncio.Event(), asyncio.Event(), asyncio.Event()

        def on_message(item) -> None:
            got.append(item.value["subject"])
            numbering.add(item.value["uidvalidity"])
            if len(got) >= want:
                enough.set()

        task = asyncio.create_task(watch_inbox(settings, password, on_message, stop, folder=folder,
                                               on_ready=lambda m: (modes.append(m), ready.set()), **kw))
        try:
            await asyncio.wait_for(ready.wait(), 10)
            await asyncio.to_thread(actions)
            await asyncio.wait_for(enough.wait(), 20)
            await asyncio.sleep(SETTLE)
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
        return got, modes

    return asyncio.run(scenario())


@pytest.fixture
def quick_verify(monkeypatch):
    monkeypatch.setattr(watch_module, "VERIFY_EVERY", 0.5)


@pytest.mark.parametrize("use_idle", [True, False], ids=["idle", "poll"])
def test_folder_recreated_while_mail_arrives_reports_each_new_message_once(mail, alice_settings, quick_verify, use_idle):
    other = Imap(mail)
    other.create("Watched")
    other.put("Watched", note(0))  # there before the watch: not new

    def renumber():
        other.put("Watched", note(1))
        time.sleep(1.0)
        other.delete("Watched")  # deleted to be recreated: every UID starts again
        time.sleep(1.5)
        other.create("Watched")
        other.put("Watched", note(0), '"01-Nov-2026 09:00:00 +0000"')  # put back: old, not new
        other.put("Watched", note(1))  # reported before the renumbering: same Message-ID, not new
        other.put("Watched", note(2))  # arrived during the renumbering
        time.sleep(6.0)
        other.put("Watched", note(3))  # and one a few seconds later

    numbering.clear()
    got, modes = watch(alice_settings, mail.password(ALICE), 3, renumber, folder="Watched",
                       use_idle=use_idle, poll_interval=0.3)
    assert got == ["note 1", "note 2", "note 3"]
    assert len(numbering) == 2, "note 1 came with the old numbering, notes 2 and 3 with the new one"
    assert modes == ["idle" if use_idle else "poll"]
    other.logout()


def test_a_connection_cut_mid_idle_reports_each_message_exactly_once(mail, alice_settings):
    proxy = CuttingProxy(mail.imap_port)
    settings = alice_settings.model_copy(update={"imap_port": proxy.port})

    def cut_while_mail_arrives():
        mail.deliver(note(1), ALICE)
        time.sleep(1.0)  # reported through IDLE
        proxy.drop_all()  # the server (or a NAT box) kills the IDLE connection
        mail.deliver_many([note(2), note(3)], ALICE)  # while the watcher is away
        time.sleep(3.0)
        mail.deliver(note(4), ALICE)  # after it is back

    try:
        got, _ = watch(settings, mail.password(ALICE), 4, cut_while_mail_arrives, folder="INBOX")
    finally:
        proxy.stop()
    assert got == ["note 1", "note 2", "note 3", "note 4"]


def test_a_watched_folder_missing_from_the_start_is_still_a_clear_error(mail, alice_settings):
    from meshclaw.connectors.email import MailNotFound

    async def scenario():
        await watch_inbox(alice_settings, mail.password(ALICE), lambda item: None, asyncio.Event(), folder="Nope")

    with pytest.raises(MailNotFound, match="no folder 'Nope'"):
        asyncio.run(asyncio.wait_for(scenario(), 10))


FOLDER = "Reçus/Été 2026"  # on the wire: Re&AOc-us/&AMk-t&AOk- 2026 (RFC 3501 5.1.3)


def test_folder_names_in_modified_utf7(mail, mail_ctx, alice_settings):
    other = Imap(mail)
    for name in (FOLDER, "R&D", "Архив"):
        other.make(name)
    other.put(FOLDER, note(1))
    ctx = mail_ctx()
    listed = asyncio.run(email_list(ctx, folder=FOLDER)).value
    assert listed["folder"] == FOLDER and [m["subject"] for m in listed["messages"]] == ["note 1"]
    assert asyncio.run(email_read(ctx, 1, folder=FOLDER)).value["text"] == "body 1"
    assert asyncio.run(email_move(ctx, 1, "R&D", folder=FOLDER))["to"] == "R&D"
    assert asyncio.run(email_move(ctx, 1, "Архив", folder="R&D"))["to"] == "Архив"
    assert [m["subject"] for m in asyncio.run(email_list(ctx, folder="Архив")).value["messages"]] == ["note 1"]
    got, _ = watch(alice_settings, mail.password(ALICE), 1, lambda: Imap(mail).put(FOLDER, note(2)), folder=FOLDER)
    assert got == ["note 2"]
    other.logout()


def test_a_folder_name_that_is_not_there_names_the_real_ones(mail, mail_ctx):
    from pydantic_ai import ModelRetry

    Imap(mail).make(FOLDER)
    with pytest.raises(ModelRetry, match="Reçus/Été 2026"):
        asyncio.run(email_list(mail_ctx(), folder="Recus/Ete 2026"))


def test_a_uid_from_before_a_renumbering_changes_nothing(mail, mail_ctx):
    from pydantic_ai import ModelRetry

    other = Imap(mail)
    other.make("Projects")
    other.put("Projects", note(1))
    ctx = mail_ctx()
    listed = asyncio.run(email_list(ctx, folder="Projects")).value
    old = listed["uidvalidity"]
    other.delete("Projects")
    other.make("Projects")
    other.put("Projects", note(2))  # uid 1 again, but another message
    for call in (lambda: email_move(ctx, 1, "Archive", folder="Projects", uidvalidity=old),
                 lambda: email_flag(ctx, 1, "flagged", folder="Projects", uidvalidity=old),
                 lambda: email_read(ctx, 1, folder="Projects", uidvalidity=old)):
        with pytest.raises(ModelRetry, match="renumbered.*nothing was done"):
            asyncio.run(call())
    [(flags, raw)] = mail.messages(ALICE, "Projects")
    assert b"note 2" in raw and b"\\Flagged" not in flags and mail.messages(ALICE, "Archive") == []
    new = asyncio.run(email_list(ctx, folder="Projects")).value["uidvalidity"]
    assert asyncio.run(email_read(ctx, 1, folder="Projects", uidvalidity=new)).value["subject"] == "note 2"
    other.logout()
