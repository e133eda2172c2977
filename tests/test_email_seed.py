"""The seed inbox: realistic, deterministic, with every kind the job asks for, loadable over IMAP."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections import Counter

import pytest

from meshclaw.connectors.email.seed import (
    INJECTION_PHRASES, catalog, date_of, load_into_mailbox, seed_messages, sent_messages, write_eml,
)
from meshclaw.connectors.email.tools import email_list, email_search
from tests.servers.fixtures import alice_settings, mail, mail_ctx, mail_servers  # noqa: F401

pytestmark = pytest.mark.slow


def test_at_least_forty_messages_of_every_kind():
    kinds = Counter(kind for kind, _ in catalog())
    assert sum(kinds.values()) >= 40
    for kind in ("manager", "customer", "newsletter", "spam", "phishing", "invitation", "alert", "injection",
                 "charset", "malformed"):
        assert kinds[kind] >= 3, kind


def test_seed_is_deterministic_and_ids_are_unique():
    first, second = seed_messages(), seed_messages()
    assert first == second
    ids = [email.message_from_bytes(m)["Message-ID"] for m in first]
    assert len(set(ids)) == len(ids)
    dates = [date_of(m) for m in first]
    assert dates == sorted(dates), "the catalogue is in arrival order"


def test_the_kinds_carry_what_they_claim():
    msgs = {kind: [email.message_from_bytes(m, policy=email.policy.default) for k, m in catalog() if k == kind]
            for kind, _ in catalog()}
    for m in msgs["invitation"]:
        assert any(p.get_content_type() == "text/calendar" for p in m.walk())
    html_only = [m for kind in msgs for m in msgs[kind] if m.get_content_type() == "text/html"]
    assert len(html_only) >= 3
    raw_all = b"\n".join(seed_messages())
    decoded = _decoded_all()
    assert sum(phrase.encode() in raw_all or phrase in decoded for phrase in INJECTION_PHRASES) >= 3
    assert all(m["From"].endswith("@example.com>") for m in msgs["manager"])
    assert all("List-Unsubscribe" in m or "Precedence" in m or m["To"] == "all@example.com" for m in msgs["newsletter"])
    # Nothing in the seed can reach a real outside domain.
    for m in (email.message_from_bytes(r, policy=email.policy.default) for r in seed_messages()):
        domain = m["From"].addresses[0].domain
        assert domain == "example.com" or domain.endswith(".example") or domain.endswith(".example.com"), domain


def _decoded_all() -> str:
    out = []
    for raw in seed_messages():
        for part in email.message_from_bytes(raw, policy=email.policy.default).walk():
            if part.get_content_maintype() == "text":
                try:
                    out.append(part.get_content())
                except (LookupError, UnicodeError):
                    pass
    return "\n".join(out)


def test_load_into_mailbox_over_imap_keeps_dates_and_unread(mail, alice_settings, mail_ctx):
    count = load_into_mailbox(alice_settings, mail.password("alice@example.com"))
    assert count == len(seed_messages()) + len(sent_messages())
    ctx = mail_ctx()
    inbox = asyncio.run(email_list(ctx, limit=100)).value
    assert inbox["total"] == len(seed_messages())
    assert all(m.get("unread") for m in inbox["messages"])
    # Arrival dates follow the Date headers, so "since" searches read like the seeded week.
    assert asyncio.run(email_search(ctx, since="2026-03-06")).value["matching"] == 9
    assert asyncio.run(email_list(ctx, folder="Sent")).value["total"] == len(sent_messages())


def test_write_eml(tmp_path):
    paths = write_eml(tmp_path / "eml")
    assert len(paths) == len(seed_messages()) + len(sent_messages())
    assert (tmp_path / "eml" / "001-manager.eml").read_bytes() == seed_messages()[0]
    assert any(p.name.endswith("-injection.eml") for p in paths)
