"""Header and MIME-parameter decoding (RFC 2047, RFC 2231) and reply threading ids (RFC 5322 3.6.4),
as pure functions; the reply case also end to end against a real Dovecot."""

from __future__ import annotations

import asyncio
import email
import email.policy
import time

import pytest

from meshclaw.connectors.email.mime_names import attachment_name, message_ids, reply_references
from meshclaw.connectors.email.safe_text import decode_header_notes
from meshclaw.connectors.email.tools import email_draft, email_send
from tests.servers.fixtures import mail, mail_ctx, mail_servers  # noqa: F401

pytestmark = pytest.mark.slow

ALICE = "alice@example.com"


@pytest.mark.parametrize("raw, text, notes", [
    # One character split across two encoded words, in B and in Q, folded or not.
    ("=?UTF-8?B?w6Rw?=\r\n =?UTF-8?B?pGZlbA==?=", "Ã¤p¤fel", ["text was not valid utf-8; decoded as cp1252"]),
    ("=?utf-8?q?Gr=C3=B6=C3?= =?utf-8?q?=9Fe?=", "Größe", []),
    ("=?utf-8?b?8J+Y?= =?utf-8?b?gA==?= done", "😀 done", []),
    ("=?iso-8859-1?q?caf=E9?= =?utf-8?q?_ok?=", "café ok", []),  # different charsets: decoded apart
    ("a =?utf-8?q?b?=  c", "a b c", []),  # the space between text and a word stays
    # Unknown and lying charsets fall back with a note; RFC 2231 languages are ignored.
    ("=?x-unknown?q?caf=C3=A9?=", "café", ["unknown charset 'x-unknown'; decoded as utf-8"]),
    ("=?us-ascii?q?caf=E9?=", "café", ["text was not valid us-ascii; decoded as cp1252"]),
    ("=?utf-8*de?q?Stra=C3=9Fe?=", "Straße", []),
    # Broken words are shown as written, with a note, never dropped or half-decoded silently.
    ("=?utf-8?b?!!!?= tail", "=?utf-8?b?!!!?= tail", ["a broken encoded word is shown as written"]),
    ("=?utf-8?q?x?= =?utf-8?b?QUJDD?= =?utf-8?q?y?=", "x =?utf-8?b?QUJDD?= y", ["a broken encoded word is shown as written"]),
    # Raw 8-bit (kept by the email package as surrogate escapes) and hostile characters.
    ("R\udce9union", "Réunion", ["raw 8-bit header; decoded as cp1252"]),
    ("=?utf-8?q?a=E2=80=AEb=00c?=", "abc", []),
    ("=?unicode-escape?q?=5Cu0041?=", "\\u0041", ["unknown charset 'unicode-escape'; decoded as utf-8"]),
])
def test_encoded_words(raw, text, notes):
    assert decode_header_notes(raw) == (text, notes)


def test_decoding_agrees_with_the_standard_library_on_well_formed_headers():
    for raw in ("=?UTF-8?B?Q2Fmww==?=\r\n =?UTF-8?B?qSBvdXZlcnQ=?=", "=?utf-8?q?Caf=C3=A9?= =?iso-8859-1?b?6Q==?= ok",
                "Plain words only", "=?ISO-2022-JP?B?GyRCSVQ6XxsoQg==?= (OOO)"):
        parsed = email.message_from_string(f"Subject: {raw}\n\n", policy=email.policy.default)["Subject"]
        assert decode_header_notes(raw)[0] == " ".join(str(parsed).split())


@pytest.mark.parametrize("disposition, ctype, name, notes", [
    ({"filename*": "utf-8''%E2%82%AC%20rate.pdf"}, {}, "€ rate.pdf", []),
    ({"filename*0*": "utf-8''%E2%82", "filename*1*": "%AC%20rate", "filename*2": ".pdf"}, {}, "€ rate.pdf", []),
    ({"filename*1": " two.txt", "filename*0": "part one"}, {}, "part one two.txt", []),
    ({"filename*": "iso-8859-1'fr'caf%E9.pdf"}, {}, "café.pdf", []),
    ({"filename*": "x-odd''caf%C3%A9.pdf"}, {}, "café.pdf", ["filename: unknown charset 'x-odd'; decoded as utf-8"]),
    ({}, {"name*": "utf-8''%E6%97%A5.txt"}, "日.txt", []),
    ({"filename": "=?UTF-8?Q?m=C3=B8de.odt?="}, {}, "møde.odt", []),
    ({"filename": "a\u202egpj.exe"}, {}, "agpj.exe", []),  # a right-to-left override hides the real extension
    ({}, {}, None, []),
])
def test_rfc2231_attachment_names(disposition, ctype, name, notes):
    assert attachment_name(disposition, ctype) == (name, notes)


def thread(n: int, domain: str = "lists.example.org") -> list[str]:
    return [f"<msg-{i:03d}-7f3e9a2b1c4d@{domain}>" for i in range(n)]


def test_reply_references_keep_the_root_and_the_newest_ids_whole():
    ids = thread(80)
    refs = reply_references(" ".join(ids[:-1]), ids[-2], ids[-1])
    kept = refs.split(" ")
    assert len(refs) <= 1900 and all(k in ids for k in kept), "every id is whole"
    assert kept[0] == ids[0] and kept[-1] == ids[-1]
    newest = kept[1:]
    assert newest == ids[len(ids) - len(newest):], "only a run in the middle is dropped"
    assert len(newest) > 30


def test_reply_references_rules():
    assert reply_references(None, None, "<a@x.example>") == "<a@x.example>"
    assert reply_references(None, "<p@x.example>", "<a@x.example>") == "<p@x.example> <a@x.example>"
    assert reply_references(None, "<p@x.example> <q@x.example>", "<a@x.example>") == "<a@x.example>"  # ambiguous
    assert reply_references("<r@x.example> junk (comment) <p@x.example>", None, "<a@x.example>") == \
        "<r@x.example> <p@x.example> <a@x.example>"
    assert reply_references("<r@x.example> <a@x.example>", None, "<a@x.example>") == "<r@x.example> <a@x.example>"
    assert reply_references(None, None, None) is None
    assert message_ids("<" + "x" * 300 + "@x.example> <ok@x.example>") == ["<ok@x.example>"]


def test_a_reply_in_a_long_thread_keeps_whole_ids_on_the_server(mail, mail_ctx):
    long_id = "<" + "z" * 100 + "@mail.example.org>"  # longer than a 78-character line
    ids = thread(70) + [long_id]
    parent = (f"From: Sam Sender <sam@example.org>\r\nTo: {ALICE}\r\nSubject: Re: Kickoff\r\n"
              f"Message-ID: <parent-71@example.org>\r\nIn-Reply-To: {ids[-1]}\r\n"
              f"References: {' '.join(ids[:-1])}\r\n {ids[-1]}\r\n\r\nOne more question.\r\n").encode()
    mail.deliver(parent, ALICE)
    asyncio.run(email_draft(mail_ctx(), subject="", body="Answer.", reply_to_uid=1))
    [(_, raw)] = mail.messages(ALICE, "Drafts")
    assert b"=?" not in raw.split(b"\r\n\r\n", 1)[0], "no id may be turned into encoded words"
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    refs = message_ids(msg["References"])
    assert refs[0] == ids[0] and refs[-2:] == [long_id, "<parent-71@example.org>"]
    assert all(r in ids + ["<parent-71@example.org>"] for r in refs)
    assert msg["In-Reply-To"].strip() == "<parent-71@example.org>"
    assert msg["Subject"] == "Re: Kickoff"


def test_a_sent_reply_keeps_a_long_id_whole_on_the_wire(mail, mail_ctx):
    if mail.smtp_port is None:
        pytest.skip("Postfix needs root")
    long_id = "<" + "q" * 120 + "@mail.example.org>"
    mail.deliver((f"From: Bob Example <bob@example.com>\r\nTo: {ALICE}\r\nSubject: Plan\r\nMessage-ID: {long_id}\r\n"
                  f"References: <root-1@example.com>\r\n\r\nThoughts?\r\n").encode(), ALICE)
    asyncio.run(email_send(mail_ctx(tool_call_id="r1"), to=["bob@example.com"], subject="", body="Agreed.", reply_to_uid=1))
    deadline = time.monotonic() + 10
    while not (got := mail.messages("bob@example.com")) and time.monotonic() < deadline:
        time.sleep(0.1)
    [(_, raw)] = got
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert b"=?" not in head
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    assert message_ids(msg["References"]) == ["<root-1@example.com>", long_id]
    assert msg["In-Reply-To"].strip() == long_id and msg["Subject"] == "Re: Plan"
