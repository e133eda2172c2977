"""The email tools, unchanged, on the sandbox backend: list and search (ALL, UNSEEN, UNKEYWORD, FROM,
SUBJECT, TEXT, SINCE), read through the same MIME reading code as a server, flag, move, draft a
threaded reply, send inside the organisation and to the outside (recorded, never delivered), and
clear errors for an unknown workplace or a sandbox setting on a real server's configuration."""

from __future__ import annotations

import asyncio
import email
import email.policy

import pytest
from pydantic import ValidationError
from pydantic_ai import ModelRetry

from meshclaw.connectors.email import EmailSettings, MailError
from meshclaw.connectors.email.sandbox import bodystructure, section_bytes
from meshclaw.connectors.email.seed import catalog
from meshclaw.connectors.email.tools import (email_draft, email_flag, email_list, email_move, email_raw, email_read,
                                             email_search, email_send)
from meshclaw.connectors.email.imap_wire import parts
from tests.sandbox_support import ALICE, MAIL, sandbox_ctx, sandbox_store


def run(coro):
    return asyncio.run(coro)


@pytest.fixture
def store(tmp_path):
    return sandbox_store(tmp_path / "home")


def ctx(store, **kw):
    return sandbox_ctx(store, "email", MAIL, **kw)


def test_list_and_search_answer_as_a_server_would(store):
    listing = run(email_list(ctx(store), limit=5)).value
    assert listing["total"] == 48 and listing["matching"] == 48 and listing["uidvalidity"] > 0
    assert [m["uid"] for m in listing["messages"]] == [48, 47, 46, 45, 44]
    assert all(m["unread"] for m in listing["messages"])
    found = run(email_search(ctx(store), sender="bob@example.com")).value
    assert found["matching"] >= 2 and all("bob@example.com" in m["from"] for m in found["messages"])
    gift = run(email_search(ctx(store), text="gift card")).value
    assert gift["matching"] >= 1
    subject = run(email_search(ctx(store), subject="invoice")).value
    assert all("invoice" in m["subject"].lower() for m in subject["messages"])
    assert run(email_search(ctx(store), since="2030-01-01")).value["matching"] == 0
    assert run(email_search(ctx(store), since="2026-03-01")).value["matching"] == 48


def test_flags_and_labels_then_without_label_and_unread_only(store):
    c = ctx(store)
    assert run(email_flag(c, 3, "urgent"))["flags"] == ["urgent"]
    run(email_flag(c, 4, "read"))
    assert run(email_list(c, without_label="urgent", limit=100)).value["matching"] == 47
    assert run(email_list(c, unread_only=True, limit=100)).value["matching"] == 47
    assert run(email_flag(c, 3, "urgent", on=False))["flags"] == []
    with pytest.raises(ModelRetry, match="no message with uid 900"):
        run(email_flag(c, 900, "flagged"))


def test_read_goes_through_the_same_mime_reading_and_leaves_it_unread(store):
    kinds = [k for k, _ in catalog()]
    uid = kinds.index("invitation") + 1
    view = run(email_read(ctx(store), uid)).value
    assert view["unread"] and view["text"] and "meeting invitation" in view.get("content_labels", [])
    assert "invitation" in view
    attach_uid = next(i for i, (_, raw) in enumerate(catalog(), 1) if b"Content-Disposition: attachment" in raw)
    view = run(email_read(ctx(store), attach_uid)).value
    assert view["attachments"] and view["attachments"][0]["size"] > 0
    assert run(email_list(ctx(store), unread_only=True, limit=100)).value["matching"] == 48
    run(email_read(ctx(store), attach_uid, mark_read=True))
    assert run(email_list(ctx(store), unread_only=True, limit=100)).value["matching"] == 47


def test_every_seed_message_has_a_structure_the_wire_parser_reads(store):
    for _, raw in catalog():
        leafs = parts(bodystructure(raw))
        assert leafs and all(section_bytes(raw, p.section) is not None for p in leafs)


def test_move_files_and_never_loses_a_message(store):
    c = ctx(store)
    result = run(email_move(c, 19, "Junk"))
    assert result["to"] == "Junk" and result["new_uid"] == 1
    assert run(email_list(c, folder="Junk")).value["total"] == 1
    assert run(email_list(c)).value["total"] == 47
    with pytest.raises(ModelRetry, match="no folder 'Spam'"):
        run(email_move(c, 20, "Spam"))
    with pytest.raises(ModelRetry, match="renumbered"):
        run(email_move(c, 20, "Archive", uidvalidity=12345))


def test_draft_replies_threaded_and_once_per_call(store):
    bob_uid = run(email_search(ctx(store), sender="bob@example.com")).value["messages"][0]["uid"]
    first = run(email_draft(ctx(store, tool_call_id="d1"), subject="", body="Will do.", reply_to_uid=bob_uid))
    again = run(email_draft(ctx(store, tool_call_id="d1"), subject="", body="Will do.", reply_to_uid=bob_uid))
    assert first["saved"] and again.get("already_saved") and first["uid"] == again["uid"]
    assert first["to"] == ["bob@example.com"] and first["subject"].startswith("Re:")
    raw = run(email_raw(ctx(store), first["uid"], folder="Drafts")).value["message"]
    msg = email.message_from_string(raw, policy=email.policy.default)
    assert msg["In-Reply-To"] and "Will do." in msg.get_body().get_content()


def test_send_delivers_inside_and_records_outside_once(store):
    c = ctx(store, tool_call_id="s1")
    out = run(email_send(c, to=["bob@example.com", "dana@customer.example"], subject="Hello", body="Hi both"))
    assert out["sent"] and out["recipients"] == 2
    again = run(email_send(ctx(store, tool_call_id="s1"), to=["bob@example.com", "dana@customer.example"],
                           subject="Hello", body="Hi both"))
    assert again.get("already_sent")
    bob = store.workplaces.messages("demo", "bob", "INBOX")
    assert len(bob) == 1 and b"Hi both" in bob[0].raw
    outside = store.workplaces.outside("demo")
    assert [(who, to) for who, to, _ in outside] == [("alice", ["dana@customer.example"])]
    sent = store.workplaces.messages("demo", "alice", "Sent", message_id=out["message_id"])
    assert len(sent) == 1 and "$MeshclawSending" not in " ".join(sent[0].flags)


def test_bcc_is_delivered_but_hidden(store):
    run(email_send(ctx(store, tool_call_id="b1"), to=["bob@example.com"], bcc=["carol@example.com"], subject="x",
                   body="y"))
    [carol] = store.workplaces.messages("demo", "carol", "INBOX")
    [bob] = store.workplaces.messages("demo", "bob", "INBOX")
    assert b"Bcc" not in carol.raw and b"carol@" not in bob.raw


def test_an_unknown_workplace_is_a_clear_error(store):
    c = sandbox_ctx(store, "email", {**MAIL, "workplace": "nowhere"})
    with pytest.raises(MailError, match="no sandbox workplace 'nowhere' \\(known: demo\\)"):
        run(email_list(c))


def test_one_owner_never_sees_another_owners_mail(store):
    bob = sandbox_ctx(store, "email", {**MAIL, "address": "bob@example.com"}, user="bob")
    assert run(email_list(bob)).value["total"] == 0


@pytest.mark.parametrize("settings, problem", [
    ({**MAIL, "imap_host": "mail.example.com"}, "remove imap_host"),
    ({"backend": "sandbox", "address": ALICE}, "needs the workplace"),
    ({"imap_host": "mail.example.com", "username": "a", "password": "secret:x", "address": ALICE,
      "workplace": "demo"}, "workplace is only for backend 'sandbox'"),
    ({"imap_host": "mail.example.com", "address": ALICE}, "needs username, password"),
])
def test_settings_refuse_a_mix_of_sandbox_and_server(settings, problem):
    with pytest.raises(ValidationError, match=problem):
        EmailSettings.model_validate(settings)


def test_search_keys_beyond_the_tools_and_bad_criteria(store):
    from meshclaw.connectors.email.sandbox import SandboxMailClient

    c = ctx(store)
    client = SandboxMailClient(c.deps.settings, c.deps.state.open())
    client.select("INBOX", readonly=False)
    client.store(2, ["\\Seen"], add=True)
    assert client.search("UID 1:3") == [1, 2, 3] and client.search("UID 47:*") == [47, 48]
    assert client.search("SEEN") == [2] and 2 not in client.search("NOT SEEN")
    assert client.search('OR UID 1 UID 5') == [1, 5]
    assert client.search('(UNSEEN UID 1:2)') == [1]
    for bad in ('FROM', 'WHATEVER x', '(UNSEEN', 'SINCE "yesterday"'):
        with pytest.raises(MailError, match="rejected the search"):
            client.search(bad)
    readonly = SandboxMailClient(c.deps.settings, c.deps.state.open())
    readonly.select("INBOX")
    with pytest.raises(MailError, match="read-only"):
        readonly.store(1, ["\\Flagged"], add=True)
