"""A corpus of real-world message shapes (tests/data/mail/*.eml, made-up people), each delivered to
a real Dovecot and read with email.read: the decoded subject and sender, the attachment names, the
content labels (signed, encrypted, invitation, bounce...) and what the shown text must and must not
hold are in tests/data/mail/expected.json."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
from pathlib import Path

import pytest

from meshclaw.connectors.email.reading import header_block, labelled_text, parsed_view
from meshclaw.connectors.email.tools import email_list, email_read
from tests.servers.fixtures import mail, mail_ctx, mail_servers  # noqa: F401

pytestmark = pytest.mark.slow

ALICE = "alice@example.com"
CORPUS = Path(__file__).parent / "data" / "mail"
EXPECTED = {k: v for k, v in json.loads((CORPUS / "expected.json").read_text("utf-8")).items() if not k.startswith("_")}
FILES = sorted(p.name for p in CORPUS.glob("*.eml"))


def wire(name: str) -> bytes:
    """The file as a mail server stores it: CRLF line ends."""
    return (CORPUS / name).read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_every_corpus_file_has_an_expectation_and_there_are_at_least_20():
    assert sorted(EXPECTED) == FILES
    assert len(FILES) >= 20


@pytest.fixture
def corpus_inbox(mail):
    mail.deliver_many([wire(name) for name in FILES], ALICE)  # UIDs 1..n in FILES order
    return {name: uid for uid, name in enumerate(FILES, 1)}


def test_corpus_is_read_as_expected(corpus_inbox, mail_ctx):
    ctx = mail_ctx()
    failures = []
    for name, uid in corpus_inbox.items():
        want = EXPECTED[name]
        view = asyncio.run(email_read(ctx, uid)).value
        got = {
            "from": view["from"],
            "subject": view["subject"],
            "attachments": [a["name"] for a in view.get("attachments", [])],
            "labels": view.get("content_labels", []),
        }
        for key in got:
            if got[key] != want[key]:
                failures.append(f"{name}: {key} is {got[key]!r}, expected {want[key]!r}")
        for part in want.get("text_has", []):
            if part not in view["text"]:
                failures.append(f"{name}: text lacks {part!r}: {view['text'][:200]!r}")
        for part in want.get("text_lacks", []):
            if part in view["text"]:
                failures.append(f"{name}: text shows {part!r}")
        for part in want.get("notes_has", []):
            if not any(part in n for n in view.get("notes", [])):
                failures.append(f"{name}: no note with {part!r} in {view.get('notes')}")
        for key in ("invitation", "delivery_report"):
            for field, value in want.get(key, {}).items():
                if view.get(key, {}).get(field) != value:
                    failures.append(f"{name}: {key}.{field} is {view.get(key, {}).get(field)!r}, expected {value!r}")
    assert not failures, "\n".join(failures)


def test_corpus_subjects_and_senders_in_a_listing(corpus_inbox, mail_ctx):
    listed = asyncio.run(email_list(mail_ctx(), limit=100)).value["messages"]
    by_uid = {m["uid"]: m for m in listed}
    for name, uid in corpus_inbox.items():
        assert by_uid[uid]["subject"] == EXPECTED[name]["subject"][:120], name
        assert by_uid[uid]["from"] == EXPECTED[name]["from"], name


@pytest.mark.parametrize("name", FILES)
def test_corpus_parsed_locally_gives_the_same_names_and_labels(name):
    # The path taken when a server's BODYSTRUCTURE cannot be parsed: the email package reads the
    # raw message, and the same rules must name the same attachments and labels.
    raw = wire(name)
    want = EXPECTED[name]
    headers = header_block(raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n")
    text, attachments, calendar, shape = parsed_view(email.message_from_bytes(raw, policy=email.policy.compat32),
                                                     headers, [])
    text, labels = labelled_text(text, shape, calendar)
    assert [a["name"] for a in attachments] == want["attachments"]
    assert labels == want["labels"]
    for part in want.get("text_lacks", []):
        assert part not in text
