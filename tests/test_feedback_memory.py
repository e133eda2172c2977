"""The owner's reactions on the sandbox workplace (a draft deleted unsent, a message moved back), a
denied rollback as a correction, and what dreaming makes of a repeated "moved back" correction.

Dreaming (``runtime/memory/dreaming.py``) has no rule of its own for corrections: each episode is
shown to the model with its corrections ("owner's correction: ..."), and what the model learns goes
through ``consolidate.py``. The scripted model here answers from a table (``tests/memory_support.py``),
so the test shows the path (correction in the episode → what the model is asked → a proposed entry,
merged on the second episode), not the model's judgement."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import pytest

from meshclaw.connectors.email.seed.build import mail as seed_mail
from meshclaw.operations import memory as ops
from meshclaw.operations.actor import Actor
from meshclaw.operations.usage_value import derive
from meshclaw.runtime.memory.episodes import corrections_of
from tests.memory_support import Brain, item
from tests.runtime_support import run, runtime
from tests.test_feedback import ASK, config, sent_from_draft

ALICE = "alice@example.com"
SANDBOX = {"backend": "sandbox", "workplace": "demo", "address": ALICE}


def phish(n: int) -> bytes:
    return seed_mail(n, "IT <helpdesk@examp1e.com>", f"Password expires today ({n})",
                     "Keep your password: https://examp1e.com/keep")


def move_back(wp, subject: bytes) -> None:  # type: ignore[no-untyped-def]
    [m] = [m for m in wp.messages("demo", "alice", "Junk") if subject in m.raw]
    wp.move("demo", "alice", "Junk", m.uid, "INBOX")


@pytest.mark.slow
def test_on_the_sandbox_drafts_sent_edited_or_discarded_and_a_message_moved_back_are_observed(home):
    lunch = seed_mail(2, "Bob Manager <bob@example.com>", "Lunch on Thursday?", "Hi Alice, lunch on Thursday?\nBob")
    with runtime(home, config(SANDBOX)) as rt:
        wp = rt.store.workplaces
        wp.create("demo", ["alice", "bob"], fresh=True)
        for raw in (ASK, lunch, phish(3)):
            wp.append("demo", "alice", "INBOX", raw, [])
        first, _ = run(rt, "triage", "triage my inbox")
        assert first.status == "succeeded", first.error
        drafts = {b"Lunch" not in m.raw: m for m in wp.messages("demo", "alice", "Drafts")}
        wp.remove("demo", "alice", "Drafts", drafts[False].uid)  # the owner deletes the lunch draft unsent
        # ... and sends the Q3 one from their client, shortened, under a new Message-ID.
        wp.append("demo", "alice", "Sent", sent_from_draft(drafts[True].raw, "Hi Bob,\n\nWill do.\n\nAlice"), ["\\Seen"])
        wp.remove("demo", "alice", "Drafts", drafts[True].uid)
        move_back(wp, b"Password expires today")
        second, _ = run(rt, "triage", "triage my inbox")
        assert second.status == "succeeded", second.error
        found = sorted((r.tool, r.verdict) for r in rt.store.audit.records(kind="observed"))
        assert found == [("email.draft", "discarded"), ("email.draft", "sent-edited"), ("email.move", "moved-back")]
        now = datetime.now(timezone.utc)
        kinds = sorted(o.kind for o in derive(rt.store, ["alice"], now - timedelta(days=1), now + timedelta(minutes=1)))
        assert kinds == ["draft_sent_edited", "draft_unsent", "filed_moved_back"]
        [ep] = [e for e in rt.store.memory.episodes("alice") if e.run_id == second.run_id]
        assert sorted(c["kind"] for c in ep.corrections) == ["draft-discarded", "draft-edited", "label-moved-back"]
        edited = next(c for c in ep.corrections if c["kind"] == "draft-edited")
        assert "shorter" in edited["detail"] and "'Will do.'" in edited["detail"]
        third, _ = run(rt, "triage", "triage my inbox")
        assert third.status == "succeeded" and len(rt.store.audit.records(kind="observed")) == 3


def test_a_denied_rollback_is_a_rollback_refused_correction(home):
    from tests.memory_support import CONFIG

    with runtime(home, CONFIG) as rt:
        ap = rt.store.approvals
        asked = dict(run_id="r1", agent="keeper", user_id="alice", origins={}, reason="asks", rule="ask",
                     expires_in=600)
        rollback, _ = ap.request("r1:code-0:approval", tool="deploy.rollback", args={"service": "web"},
                                 batch_key="k0", **asked)
        other, _ = ap.request("r1:code-1:approval", tool="notes.add", args={"text": "x"}, batch_key="k1", **asked)
        ap.decide(rollback.id, "denied", "alice", note="the new version is fine")
        ap.decide(other.id, "denied", "alice")
        found = corrections_of(rt.store, "r1", "succeeded", None)
        assert [c["kind"] for c in found] == ["rollback-refused", "approval-denied"]
        assert "deploy.rollback(service=web)" in found[0]["detail"] and "the new version is fine" in found[0]["detail"]


@pytest.mark.slow
def test_dreaming_turns_a_repeated_moved_back_correction_into_one_proposed_preference(home, monkeypatch):
    brain = Brain().install(monkeypatch)
    learnt = item("preference", "examp1e.com mail", "Mail from examp1e.com is not phishing: keep it in INBOX.")
    brain.learn = {"moved a message labelled phishing from examp1e.com": {"items": [learnt]}}
    with runtime(home, config(SANDBOX)) as rt:
        wp = rt.store.workplaces
        wp.create("demo", ["alice", "bob"], fresh=True)
        runs = []
        for n in (3, 4, 5):  # each run files one; the owner moves it back; the next run sees it
            wp.append("demo", "alice", "INBOX", phish(n), [])
            done, _ = run(rt, "triage", "triage my inbox")
            assert done.status == "succeeded", done.error
            runs.append(done.run_id)
            move_back(wp, f"({n})".encode())
        episodes = {e.run_id: e for e in rt.store.memory.episodes("alice", agents=["triage"])}
        moved = [r for r in runs if any(c["kind"] == "label-moved-back" for c in episodes[r].corrections)]
        assert moved == runs[1:] and all(episodes[r].trust == "untrusted" for r in moved)  # it read outside mail

        outcome = asyncio.run(ops.dream(rt, Actor.of(rt.config, "alice"), "triage"))
        assert outcome.status == "succeeded", outcome.error
        [entry] = rt.store.memory.entries("alice", agents=["triage"], statuses=["active", "proposed"])
        assert (entry.kind, entry.status, entry.text) == ("preference", "proposed", learnt["text"])
        assert sorted(entry.sources) == sorted(episodes[r].id for r in moved)  # one entry citing both episodes
