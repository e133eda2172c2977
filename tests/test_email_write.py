"""Changing mail against real servers: move, flag, drafts in Drafts, sending through Postfix to
Dovecot, and sending at most once per tool call even when the call is replayed."""

from __future__ import annotations

import asyncio
import email
import email.policy
import imaplib
import time

import pytest
from pydantic_ai import ModelRetry

from meshclaw.connectors.email import MailAuthError, MailError, SendUncertain
from meshclaw.connectors.email.compose import SENDING_FLAG, message_id_for
from meshclaw.connectors.email.tools import email_draft, email_flag, email_list, email_move, email_send
from tests.servers.fixtures import mail, mail_ctx, mail_servers, seeded_mail  # noqa: F401

pytestmark = pytest.mark.slow

ALICE, BOB, CAROL = "alice@example.com", "bob@example.com", "carol@example.com"


def run(coro):
    return asyncio.run(coro)


def parsed(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def wait_for(mail, user: str, count: int, folder: str = "INBOX", timeout: float = 10.0):
    """Postfix hands mail to Dovecot asynchronously: wait until ``count`` messages are there."""
    deadline = time.monotonic() + timeout
    while True:
        found = mail.messages(user, folder)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_move_files_a_message_and_keeps_it_unread(seeded_mail, mail_ctx):
    result = run(email_move(mail_ctx(), 19, "Junk"))
    assert result == {"moved": 19, "from": "INBOX", "to": "Junk", "new_uid": 1}
    assert len(seeded_mail.messages(ALICE)) == 47
    [(flags, raw)] = seeded_mail.messages(ALICE, "Junk")
    assert b"gift card" in raw and b"\\Seen" not in flags


def test_move_to_a_missing_folder_or_uid_asks_the_model_to_fix_it(seeded_mail, mail_ctx):
    with pytest.raises(ModelRetry, match="no folder 'Spam'.*Junk"):
        run(email_move(mail_ctx(), 19, "Spam"))
    with pytest.raises(ModelRetry, match="no message with uid 500"):
        run(email_move(mail_ctx(), 500, "Archive"))
    assert len(seeded_mail.messages(ALICE)) == 48


def test_flags_and_labels_without_expunging_anything(seeded_mail, mail_ctx):
    ctx = mail_ctx()
    # System flags other than read/flagged/answered are not the model's to set.
    with pytest.raises(ModelRetry, match="label word"):
        run(email_flag(ctx, 2, "\\Deleted"))
    # A message someone marked deleted but did not expunge must survive our flag changes.
    with imaplib.IMAP4("127.0.0.1", seeded_mail.imap_port) as imap:
        imap.login(ALICE, seeded_mail.password(ALICE))
        imap.select("INBOX")
        imap.store("2", "+FLAGS", "(\\Deleted)")
        imap.logout()
    assert run(email_flag(ctx, 1, "flagged"))["flags"] == ["\\Flagged"]
    assert set(run(email_flag(ctx, 1, "urgent"))["flags"]) == {"\\Flagged", "urgent"}
    assert set(run(email_flag(ctx, 1, "read"))["flags"]) == {"\\Flagged", "urgent", "\\Seen"}
    assert set(run(email_flag(ctx, 1, "read", on=False))["flags"]) == {"\\Flagged", "urgent"}
    assert len(seeded_mail.messages(ALICE)) == 48, "a flag change must never expunge"
    listed = run(email_list(ctx, limit=100)).value["messages"]
    first = next(m for m in listed if m["uid"] == 1)
    assert first["flagged"] is True and first["labels"] == ["urgent"] and first["unread"] is True


def test_draft_reply_appears_in_drafts_threaded_to_the_original(seeded_mail, mail_ctx):
    result = run(email_draft(mail_ctx(tool_call_id="d1"), subject="", body="Q1 uptime 99.93%, 4 incidents.",
                             reply_to_uid=1))
    assert result["saved"] is True and result["folder"] == "Drafts" and result["to"] == [BOB]
    assert result["subject"] == "Re: URGENT: board deck numbers needed by 15:00 today"
    [(flags, raw)] = seeded_mail.messages(ALICE, "Drafts")
    assert b"\\Draft" in flags
    msg = parsed(raw)
    assert msg["In-Reply-To"] == "<seed-001@example.com>" and msg["To"] == BOB and msg["From"] == ALICE
    assert msg.get_content().strip() == "Q1 uptime 99.93%, 4 incidents."
    assert wait_for(seeded_mail, BOB, 0) == [], "a draft is not sent"


def test_draft_is_saved_once_per_tool_call(mail, mail_ctx):
    ctx = mail_ctx(tool_call_id="d2")
    first = run(email_draft(ctx, subject="Status", body="All good.", to=[CAROL]))
    again = run(email_draft(ctx, subject="Status", body="All good.", to=[CAROL]))
    assert again == {**first, "already_saved": True}
    assert len(mail.messages(ALICE, "Drafts")) == 1
    run(email_draft(mail_ctx(tool_call_id="d3"), subject="Status", body="All good.", to=[CAROL]))
    assert len(mail.messages(ALICE, "Drafts")) == 2


def test_send_goes_through_postfix_to_the_recipients_inbox(mail, mail_ctx):
    result = run(email_send(mail_ctx(tool_call_id="s1"), to=[BOB], cc=[CAROL], subject="Deck numbers",
                            body="Q1 uptime: 99.93%.\nIncidents: 4."))
    expected_id = message_id_for("run-1:s1", "example.com")
    assert result == {"sent": True, "message_id": expected_id, "recipients": 2}
    for user in (BOB, CAROL):
        [(flags, raw)] = wait_for(mail, user, 1)
        msg = parsed(raw)
        assert msg["Message-ID"] == expected_id and msg["Subject"] == "Deck numbers"
        assert b"\\Seen" not in flags and "99.93%" in msg.get_content()
    # Alice's copy in Sent, read and settled (no in-flight mark).
    [(flags, raw)] = mail.messages(ALICE, "Sent")
    assert b"\\Seen" in flags and SENDING_FLAG.encode() not in flags
    assert parsed(raw)["Message-ID"] == expected_id


def test_send_replayed_after_a_crash_does_not_send_twice(mail, mail_ctx):
    ctx = mail_ctx(tool_call_id="s2", run_id="run-7")
    first = run(email_send(ctx, to=[BOB], subject="Once", body="only once"))
    # The same run and tool call again, as a durable replay after a crash would make it.
    replay = run(email_send(mail_ctx(tool_call_id="s2", run_id="run-7"), to=[BOB], subject="Once", body="only once"))
    assert replay == {"sent": True, "already_sent": True, "message_id": first["message_id"]}
    time.sleep(1.0)  # give a (wrong) second delivery time to show up
    assert len(wait_for(mail, BOB, 1)) == 1
    assert len(mail.messages(ALICE, "Sent")) == 1
    # A different tool call is a different message.
    run(email_send(mail_ctx(tool_call_id="s3", run_id="run-7"), to=[BOB], subject="Twice", body="second"))
    assert len(wait_for(mail, BOB, 2)) == 2


def test_send_interrupted_mid_handover_is_not_retried_blindly(mail, mail_ctx):
    # What a crash between "stored in Sent, marked in flight" and "settled" leaves behind.
    ctx = mail_ctx(tool_call_id="s4")
    message_id = message_id_for("run-1:s4", "example.com")
    raw = f"From: {ALICE}\r\nTo: {BOB}\r\nSubject: Maybe\r\nMessage-ID: {message_id}\r\n\r\nbody\r\n".encode()
    mail.append(ALICE, "Sent", raw, f"\\Seen {SENDING_FLAG}")
    with pytest.raises(SendUncertain, match="may already have reached"):
        run(email_send(ctx, to=[BOB], subject="Maybe", body="body"))
    time.sleep(0.5)
    assert mail.messages(BOB) == []


def test_bcc_recipients_get_the_mail_but_stay_hidden(mail, mail_ctx):
    run(email_send(mail_ctx(tool_call_id="s5"), to=[BOB], bcc=[CAROL], subject="Hidden", body="hi"))
    [(_, to_bob)] = wait_for(mail, BOB, 1)
    [(_, to_carol)] = wait_for(mail, CAROL, 1)
    assert CAROL.encode() not in to_bob and b"Bcc" not in to_bob
    assert b"Bcc" not in to_carol
    [(_, own_copy)] = mail.messages(ALICE, "Sent")
    assert parsed(own_copy)["Bcc"] == CAROL  # the owner's copy remembers who got it


def test_send_refused_by_the_server_leaves_no_sent_copy(mail, mail_ctx):
    # The fixture's Postfix refuses every address outside example.com: nothing leaves the machine.
    with pytest.raises(MailError, match="refused every recipient.*nothing was sent"):
        run(email_send(mail_ctx(tool_call_id="s6"), to=["someone@elsewhere.example"], subject="x", body="y"))
    assert mail.messages(ALICE, "Sent") == []


def test_send_with_a_wrong_password_is_a_clear_error(mail, mail_ctx):
    ctx = mail_ctx(tool_call_id="s7", secret_value="not-the-password")
    with pytest.raises(MailAuthError) as info:
        run(email_send(ctx, to=[BOB], subject="x", body="y"))
    assert "refused the login for 'alice@example.com'" in str(info.value)
    assert "not-the-password" not in str(info.value)


def test_send_validates_recipients_for_the_model(mail, mail_ctx):
    with pytest.raises(ModelRetry, match="not an email address"):
        run(email_send(mail_ctx(tool_call_id="s8"), to=["bob"], subject="x", body="y"))
    with pytest.raises(ModelRetry, match="line break"):
        run(email_send(mail_ctx(tool_call_id="s8"), to=["bob@example.com\r\nBcc: eve@evil.example"], subject="x", body="y"))
    with pytest.raises(ModelRetry, match="at least one recipient"):
        run(email_send(mail_ctx(tool_call_id="s8"), to=[], subject="x", body="y"))
    assert mail.messages(ALICE, "Sent") == []


def test_send_needs_a_tool_call_id(mail, mail_ctx):
    with pytest.raises(MailError, match="tool call id"):
        run(email_send(mail_ctx(tool_call_id=None), to=[BOB], subject="x", body="y"))
