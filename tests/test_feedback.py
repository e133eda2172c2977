"""The owner's real reactions, seen in their own mailbox: a triage run's draft sent unchanged or edited
in the owner's mail client, a filed message moved back to INBOX. The next triage run observes them
(guarded reads only) and records each once; usage derives value outcomes from them and the next
episode carries the owner's corrections. On a real Dovecot; the owner's client is plain imaplib."""

from __future__ import annotations

import email
import email.policy
import imaplib
import json
from datetime import datetime, timedelta, timezone

import pytest

from meshclaw.agents.inbox_triage.edits import describe_edit, own_words, same_body
from meshclaw.connectors.email.seed.build import mail as seed_mail
from meshclaw.operations.usage_value import KINDS, derive
from tests.runtime_support import run, runtime
from tests.servers.fixtures import email_settings_for, mail, mail_servers  # noqa: F401

ALICE = "alice@example.com"
ASK = seed_mail(1, "Bob Manager <bob@example.com>", "Can you review the Q3 plan?",
                "Hi Alice, could you review the Q3 plan by Friday?\nBob")
PHISH = seed_mail(3, "IT <helpdesk@examp1e.com>", "Password expires today", "Keep your password: https://examp1e.com/keep")
DRAFT = "Hi Bob,\n\nI will review the Q3 plan by Friday.\n\nAlice"


def config(email_settings: dict) -> str:
    verdict = {"label": "needs_reply", "reason": "asks for a review by Friday", "body": DRAFT}
    return json.dumps({
        "organisation": {"name": "Example", "domains": ["example.com"]},
        "users": [{"id": "alice", "name": "Alice", "email": ALICE}, {"id": "bob", "name": "Bob Manager",
                                                                     "email": "bob@example.com"}],
        "models": {"judge": {"kind": "scripted", "turns": [{"text": json.dumps(verdict)}]}},
        "agents": [{"name": "triage", "owner": "alice", "instructions": "Triage my inbox.", "model": "judge",
                    "workflow": "inbox-triage", "autonomy": "auto", "limits": {"tool_calls_per_run": 60},
                    "toolsets": {"email": {"grants": ["email.list", "email.raw", "email.flag", "email.move",
                                                      "email.draft"], "settings": email_settings}}}],
    })


# --- the owner's mail client ----------------------------------------------------------------------

def _imap(mail) -> imaplib.IMAP4:  # type: ignore[no-untyped-def]
    imap = imaplib.IMAP4(mail.host, mail.imap_port, timeout=30)
    imap.login(ALICE, mail.password(ALICE))
    return imap


def sent_from_draft(draft_raw: bytes, body: str, quote: bool = True) -> bytes:
    """What a mail client sends for a draft: a new Message-ID, the draft's threading headers, the
    (maybe edited) body, and the quoted original below it."""
    d = email.message_from_bytes(draft_raw, policy=email.policy.default)
    msg = email.message.EmailMessage()
    for name in ("From", "To", "Subject", "In-Reply-To", "References"):
        if d[name]:
            msg[name] = str(d[name])
    msg["Date"] = email.utils.formatdate()
    msg["Message-ID"] = "<client-4711@example.com>"
    quoted = "\n\nOn Mon, Bob Manager wrote:\n> Hi Alice, could you review the Q3 plan by Friday?\n> Bob\n"
    msg.set_content(body + (quoted if quote else ""))
    return msg.as_bytes()


def owner_sends_draft(mail, body: str) -> None:  # type: ignore[no-untyped-def]
    """The owner opens the draft, sends it (a copy in Sent) and the client removes the draft."""
    [(_, raw)] = mail.messages(ALICE, "Drafts")
    mail.append(ALICE, "Sent", sent_from_draft(raw, body), "\\Seen")
    owner_deletes(mail, "Drafts")


def owner_deletes(mail, folder: str) -> None:  # type: ignore[no-untyped-def]
    imap = _imap(mail)
    imap.select(folder)
    imap.uid("STORE", "1:*", "+FLAGS", "(\\Deleted)")
    imap.expunge()
    imap.logout()


def owner_moves_back(mail, subject: bytes) -> None:  # type: ignore[no-untyped-def]
    """The owner drags a message from Junk back to INBOX (IMAP MOVE, RFC 6851: a new uid)."""
    imap = _imap(mail)
    imap.select("Junk")
    _, data = imap.uid("SEARCH", None, "SUBJECT", f'"{subject.decode()}"')
    [uid] = data[0].split()
    typ, _ = imap.uid("MOVE", uid.decode(), "INBOX")
    assert typ == "OK"
    imap.logout()


def observed(rt) -> list:  # type: ignore[no-untyped-def]
    return rt.store.audit.records(kind="observed")


def outcomes(rt) -> dict[str, int]:  # type: ignore[no-untyped-def]
    now = datetime.now(timezone.utc)
    counts: dict[str, int] = {}
    for o in derive(rt.store, ["alice"], now - timedelta(days=1), now + timedelta(minutes=1)):
        counts[o.kind] = counts.get(o.kind, 0) + 1
    return counts


def episode(rt, run_id: str):  # type: ignore[no-untyped-def]
    return next(e for e in rt.store.memory.episodes("alice") if e.run_id == run_id)


@pytest.fixture
def secrets(mail, home):  # type: ignore[no-untyped-def]
    (home / "secrets.env").write_text(f"mail_pw={mail.password(ALICE)}\n")
    (home / "secrets.env").chmod(0o600)


# --- on the real server ---------------------------------------------------------------------------

@pytest.mark.slow
def test_a_draft_sent_unchanged_and_a_message_moved_back_are_seen_once_by_the_next_run(mail, home, secrets):
    mail.deliver_many([ASK, PHISH], ALICE)
    with runtime(home, config(email_settings_for(mail, ALICE))) as rt:
        first, _ = run(rt, "triage", "triage my inbox")
        assert first.status == "succeeded", first.error
        assert "phishing, moved to Junk" in first.output and len(mail.messages(ALICE, "Drafts")) == 1
        # Before the owner does anything, the next run sees the draft waiting and the message filed: nothing recorded.
        waiting, _ = run(rt, "triage", "triage my inbox")
        assert waiting.output == "Inbox triage: nothing new." and observed(rt) == []
        assert outcomes(rt) == {"draft_unsent": 1, "message_filed": 1}

        owner_sends_draft(mail, DRAFT)  # unchanged: only the quoted original below it
        owner_moves_back(mail, b"Password expires today")
        mail.deliver(seed_mail(5, "IT <helpdesk@examp1e.com>", "Mailbox full", "Confirm: https://examp1e.com/q"), ALICE)
        second, _ = run(rt, "triage", "triage my inbox")
        assert second.status == "succeeded", second.error
        # Only the new one is triaged (the moved-back one is marked already), and filed without asking anyone:
        # the observation's reads put no folder name of a later move among outside content.
        assert "1 new message(s): 1 phishing" in second.output and "moved to Junk" in second.output
        records = observed(rt)
        assert sorted((r.tool, r.verdict) for r in records) == [("email.draft", "sent-unchanged"),
                                                                ("email.move", "moved-back")]
        assert all(r.run_id == second.run_id and r.data["of_run"] == first.run_id for r in records)
        calls = rt.store.audit.records(run_id=second.run_id, kind="call")
        start = next(i for i, r in enumerate(calls) if r.data["args"].get("without_label") == "Triaged")
        looked = [(r.tool, r.data["args"].get("folder")) for r in calls[:start]]  # the observation: reads only
        assert looked == [("email.list", "Drafts"), ("email.list", "Sent"), ("email.raw", "Sent"),
                          ("email.list", "INBOX"), ("email.raw", "INBOX")]

        assert outcomes(rt) == {"draft_sent_unchanged": 1, "filed_moved_back": 1, "message_filed": 1}
        corrections = episode(rt, second.run_id).corrections
        assert [c["kind"] for c in corrections] == ["label-moved-back"]
        detail = corrections[0]["detail"]
        assert "phishing" in detail and "examp1e.com" in detail and "from Junk back to INBOX" in detail
        assert first.run_id in detail and corrections[0]["of_run"] == first.run_id

        third, _ = run(rt, "triage", "triage my inbox")
        assert third.status == "succeeded"
        assert len(observed(rt)) == 2  # nothing observed twice
        # What is settled is not looked at again: only the message the second run filed is looked for.
        calls = [(r.tool, r.data["args"].get("folder"), r.data["args"].get("without_label"))
                 for r in rt.store.audit.records(run_id=third.run_id, kind="call")]
        assert calls == [("email.list", "INBOX", ""), ("email.list", "INBOX", "Triaged")]
        assert episode(rt, third.run_id).corrections == []


@pytest.mark.slow
def test_a_draft_edited_before_sending_is_a_correction_in_the_next_episode(mail, home, secrets):
    mail.deliver_many([ASK, PHISH], ALICE)
    with runtime(home, config(email_settings_for(mail, ALICE))) as rt:
        first, _ = run(rt, "triage", "triage my inbox")
        assert first.status == "succeeded", first.error
        owner_sends_draft(mail, "Dear Bob,\n\nI will review it on Monday.\n\nAlice")
        second, _ = run(rt, "triage", "triage my inbox")
        assert second.status == "succeeded", second.error
        [record] = observed(rt)
        assert (record.tool, record.verdict) == ("email.draft", "sent-edited")
        assert outcomes(rt) == {"draft_sent_edited": 1, "message_filed": 1}  # the phishing one stays in Junk
        [c] = episode(rt, second.run_id).corrections
        assert c["kind"] == "draft-edited" and c["of_run"] == first.run_id
        assert "different greeting ('Hi Bob,' → 'Dear Bob,')" in c["detail"]
        assert "'I will review the Q3 plan by Friday.' → 'I will review it on Monday.'" in c["detail"]
        assert episode(rt, first.run_id).corrections == []  # the first run's own episode was written before


# --- the parts ------------------------------------------------------------------------------------

def test_what_the_owner_changed_is_described_briefly():
    sent = "Dear Bob,\n\nI will review it on Monday.\n\nAlice\n-- \nAlice Example, Finance"
    change = describe_edit(DRAFT, sent)
    assert change["greeting"] == "'Hi Bob,' → 'Dear Bob,'" and change["length"] == "shorter (11 → 9 words)"
    assert change["first_change"] == "'I will review the Q3 plan by Friday.' → 'I will review it on Monday.'"
    assert same_body(DRAFT, DRAFT.replace("\n\n", "\n") + "\n\nOn Mon, Bob wrote:\n> hi\n> there")
    assert not same_body(DRAFT, DRAFT + " Thanks!")
    assert own_words("> only a quote\n") == "" and describe_edit("", "")["summary"] == "reworded"


def test_the_outcome_rules_name_the_observations():
    for name in ("draft_sent_unchanged", "draft_sent_edited", "message_filed", "filed_moved_back"):
        assert "observ" in KINDS[name].rule
