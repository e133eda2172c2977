"""Servers that announce fewer extensions, against real Dovecot instances whose CAPABILITY list is cut
down (tests/servers/fixtures.py: basic_mail without MOVE and IDLE, minimal_mail without UIDPLUS too):
copy-and-delete moves, polling instead of IDLE, and sending with ``append_sent: false``."""

from __future__ import annotations

import asyncio
import imaplib
import socket
import time
from pathlib import Path

import pytest

from meshclaw.connectors.email import EmailSettings, MailError, watch_inbox
from meshclaw.connectors.email.compose import message_id_for
from meshclaw.connectors.email.tools import email_draft, email_list, email_move, email_send
from tests.servers.fixtures import basic_mail, email_settings_for, make_run_context, minimal_mail  # noqa: F401
from tests.servers.mail import MailServers

pytestmark = pytest.mark.slow

ALICE, BOB = "alice@example.com", "bob@example.com"


def note(n: int, mid: str | None = None) -> bytes:
    mid = mid or f"<small-{n}@example.org>"
    return (f"From: Priya Raman <priya@example.org>\r\nTo: {ALICE}\r\nSubject: note {n}\r\n"
            f"Message-ID: {mid}\r\n\r\nbody {n}\r\n").encode()


def ctx_for(servers: MailServers, tmp_path: Path, tool_call_id: str = "t1", **overrides):
    return make_run_context(email_settings_for(servers, **overrides), servers.password(ALICE), tmp_path,
                            tool_call_id=tool_call_id)


def imap(servers: MailServers) -> imaplib.IMAP4:
    conn = imaplib.IMAP4("127.0.0.1", servers.imap_port)
    conn.login(ALICE, servers.password(ALICE))
    return conn


def mark_deleted_by_someone_else(servers: MailServers, seq: str) -> None:
    with imap(servers) as conn:
        conn.select("INBOX")
        conn.store(seq, "+FLAGS", "(\\Deleted)")
        conn.logout()


def test_the_fixture_servers_really_lack_the_extensions(basic_mail, minimal_mail):
    for servers, missing in ((basic_mail, {"MOVE", "IDLE"}), (minimal_mail, {"MOVE", "IDLE", "UIDPLUS"})):
        with imap(servers) as conn:
            caps = set(conn.capability()[1][-1].decode().upper().split())
            conn.logout()
        assert not caps & missing and "IMAP4REV1" in caps


def test_move_without_move_copies_then_expunges_only_that_message(basic_mail, tmp_path):
    basic_mail.deliver_many([note(1), note(2), note(3)], ALICE)
    mark_deleted_by_someone_else(basic_mail, "3")  # someone else's pending delete must survive
    result = asyncio.run(email_move(ctx_for(basic_mail, tmp_path), 1, "Archive"))
    assert result == {"moved": 1, "from": "INBOX", "to": "Archive", "new_uid": 1}
    inbox = basic_mail.messages(ALICE)
    assert [b"note 2" in raw or b"note 3" in raw for _, raw in inbox] == [True, True]
    assert b"\\Deleted" in inbox[1][0], "a plain EXPUNGE would have purged message 3"
    [(flags, raw)] = basic_mail.messages(ALICE, "Archive")
    assert b"note 1" in raw and b"\\Deleted" not in flags and b"\\Seen" not in flags


def test_move_without_uidplus_keeps_the_original_marked_and_says_so(minimal_mail, tmp_path):
    minimal_mail.deliver_many([note(1), note(2)], ALICE)
    mark_deleted_by_someone_else(minimal_mail, "2")
    result = asyncio.run(email_move(ctx_for(minimal_mail, tmp_path), 1, "Archive"))
    assert result["moved"] == 1 and "no UIDPLUS" in result["note"] and "marked deleted" in result["note"]
    inbox = minimal_mail.messages(ALICE)
    assert len(inbox) == 2 and all(b"\\Deleted" in flags for flags, _ in inbox), "nothing expunged"
    assert len(minimal_mail.messages(ALICE, "Archive")) == 1


def test_a_move_repeated_after_an_interrupted_copy_makes_no_second_copy(basic_mail, tmp_path):
    basic_mail.deliver_many([note(1), note(2, "<other@example.org>")], ALICE)
    with imap(basic_mail) as conn:  # the earlier attempt got as far as COPY before its connection broke
        conn.select("INBOX")
        conn.uid("COPY", "1", "Archive")
        conn.logout()
    result = asyncio.run(email_move(ctx_for(basic_mail, tmp_path), 1, "Archive"))
    assert result["new_uid"] == 1
    assert len(basic_mail.messages(ALICE, "Archive")) == 1
    assert [b"note 2" in raw for _, raw in basic_mail.messages(ALICE)] == [True]
    # A different message that shares nothing but the folder is copied as usual.
    asyncio.run(email_move(ctx_for(basic_mail, tmp_path), 2, "Archive"))
    assert len(basic_mail.messages(ALICE, "Archive")) == 2 and basic_mail.messages(ALICE) == []


def test_watcher_polls_where_the_server_has_no_idle(basic_mail):
    settings = EmailSettings.model_validate(email_settings_for(basic_mail))
    basic_mail.deliver(note(0), ALICE)

    async def scenario():
        got, modes = [], []
        stop, ready = asyncio.Event(), asyncio.Event()

        def on_message(item) -> None:
            got.append(item.value["subject"])
            if len(got) == 2:
                stop.set()

        task = asyncio.create_task(watch_inbox(settings, basic_mail.password(ALICE), on_message, stop, use_idle=True,
                                               poll_interval=0.3, on_ready=lambda m: (modes.append(m), ready.set())))
        await asyncio.wait_for(ready.wait(), 10)
        await asyncio.to_thread(basic_mail.deliver_many, [note(1), note(2)], ALICE)
        await asyncio.wait_for(stop.wait(), 10)
        await asyncio.wait_for(task, 5)
        return got, modes

    got, modes = asyncio.run(scenario())
    assert modes == ["poll"] and got == ["note 1", "note 2"]


def wait_for(servers: MailServers, user: str, count: int, folder: str = "INBOX", timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while len(found := servers.messages(user, folder)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def test_send_with_append_sent_off_stores_nothing_in_sent(basic_mail, tmp_path):
    ctx = ctx_for(basic_mail, tmp_path, tool_call_id="s1", append_sent=False)
    result = asyncio.run(email_send(ctx, to=[BOB], subject="No copy", body="Filed by the server, if at all."))
    assert result["sent"] is True and "already_sent" not in result
    assert [b"No copy" in raw for _, raw in wait_for(basic_mail, BOB, 1)] == [True]
    assert basic_mail.messages(ALICE, "Sent") == []


def test_send_with_append_sent_off_is_not_repeated_once_the_server_filed_it(basic_mail, tmp_path):
    # Servers such as Gmail file sent mail themselves: the copy they file carries the call's
    # Message-ID, and a replay of the same call finds it there instead of sending again.
    ctx = ctx_for(basic_mail, tmp_path, tool_call_id="s2", append_sent=False)
    asyncio.run(email_send(ctx, to=[BOB], subject="Once", body="Only once."))
    [(_, delivered)] = wait_for(basic_mail, BOB, 1)
    basic_mail.append(ALICE, "Sent", delivered, "\\Seen")  # what such a server does on its own
    again = asyncio.run(email_send(ctx, to=[BOB], subject="Once", body="Only once."))
    assert again["already_sent"] is True
    assert again["message_id"] == message_id_for(ctx.deps.idempotency_key("s2"), "example.com")
    time.sleep(0.5)
    assert len(basic_mail.messages(BOB)) == 1


def test_a_failed_send_with_append_sent_off_leaves_sent_untouched(basic_mail, tmp_path):
    basic_mail.append(ALICE, "Sent", note(9), "\\Seen")  # something already stored stays
    closed = socket.create_server(("127.0.0.1", 0))  # a port where no SMTP server answers
    port = closed.getsockname()[1]
    closed.close()
    ctx = ctx_for(basic_mail, tmp_path, tool_call_id="s3", append_sent=False, smtp_port=port)
    with pytest.raises(MailError, match="cannot connect to the SMTP server"):
        asyncio.run(email_send(ctx, to=[BOB], subject="x", body="y"))
    sent = basic_mail.messages(ALICE, "Sent")
    assert len(sent) == 1 and b"note 9" in sent[0][1]
    assert asyncio.run(email_list(ctx, folder="Sent")).value["total"] == 1


def test_a_refused_send_on_a_server_without_uidplus_can_be_sent_again(minimal_mail, tmp_path):
    # Without UIDPLUS the withdrawn Sent copy can only be marked deleted; it must not make the
    # next attempt look like a send that may already have gone out.
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(MailError, match="cannot connect to the SMTP server"):
        asyncio.run(email_send(ctx_for(minimal_mail, tmp_path, tool_call_id="u1", smtp_port=port),
                               to=[BOB], subject="Retry me", body="x"))
    [(flags, _)] = minimal_mail.messages(ALICE, "Sent")
    assert b"\\Deleted" in flags
    result = asyncio.run(email_send(ctx_for(minimal_mail, tmp_path, tool_call_id="u1"), to=[BOB], subject="Retry me", body="x"))
    assert result["sent"] is True and "already_sent" not in result
    assert [b"Retry me" in raw for _, raw in wait_for(minimal_mail, BOB, 1)] == [True]
    again = asyncio.run(email_send(ctx_for(minimal_mail, tmp_path, tool_call_id="u1"), to=[BOB], subject="Retry me", body="x"))
    assert again["already_sent"] is True


def test_a_draft_on_a_server_without_uidplus_still_reports_its_uid(minimal_mail, tmp_path):
    minimal_mail.append(ALICE, "Drafts", note(1))
    ctx = ctx_for(minimal_mail, tmp_path, tool_call_id="d1")
    saved = asyncio.run(email_draft(ctx, subject="Plan", body="Draft text.", to=[BOB]))
    assert saved["uid"] == 2 and "already_saved" not in saved
    assert asyncio.run(email_draft(ctx, subject="Plan", body="Draft text.", to=[BOB]))["already_saved"] is True
    assert len(minimal_mail.messages(ALICE, "Drafts")) == 2
