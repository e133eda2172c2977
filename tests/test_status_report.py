"""The weekly status report: gathered by code from the owner's own sent mail (this week's only),
saved as a draft to their manager, never sent, with no model request; what it could not read is named."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime

import pytest

from tests.runtime_support import run, runtime
from tests.servers.fixtures import email_settings_for, mail, mail_servers  # noqa: F401

ALICE = "alice@example.com"
pytestmark = pytest.mark.slow


def _sent(subject: str, days_ago: float) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = ALICE, "bob@example.com", subject
    m["Date"] = format_datetime(datetime.now(timezone.utc) - timedelta(days=days_ago))
    m["Message-ID"] = f"<{abs(hash(subject))}@example.com>"
    m.set_content("text")
    return m.as_bytes()


def test_the_report_is_a_draft_to_the_manager_from_this_weeks_sent_mail(mail, home):
    mail.append(ALICE, "Sent", _sent("Q3 plan reviewed", 1), "\\Seen")
    mail.append(ALICE, "Sent", _sent("Payments retry design", 3), "\\Seen")
    mail.append(ALICE, "Sent", _sent("Old thing from last month", 30), "\\Seen")
    (home / "secrets.env").write_text(f"mail_pw={mail.password(ALICE)}\n")
    (home / "secrets.env").chmod(0o600)
    config = {
        "organisation": {"name": "Example", "domains": ["example.com"]},
        "users": [{"id": "alice", "name": "Alice Example", "email": ALICE, "manager": "bob"},
                  {"id": "bob", "name": "Bob", "email": "bob@example.com"}],
        "models": {"none": {"kind": "scripted", "turns": [{"text": "unused"}]}},
        "agents": [{"name": "report", "owner": "alice", "instructions": "Report.", "model": "none",
                    "workflow": "status-report", "autonomy": "auto",
                    "toolsets": {"email": {"grants": ["email.list", "email.draft"],
                                           "settings": email_settings_for(mail, ALICE)}}}],
    }
    with runtime(home, json.dumps(config)) as rt:
        outcome, _ = run(rt, "report", "draft my weekly status report")
        assert outcome.status == "succeeded", outcome.error
        assert outcome.output.startswith("Status report drafted for bob@example.com")
        assert "Mail I sent (2)" in outcome.output and "Q3 plan reviewed" in outcome.output
        assert "Old thing" not in outcome.output
        assert "(Not included: calendar (not granted); deployments (not granted))" in outcome.output
        records = rt.store.audit.records(run_id=outcome.run_id)
        assert not [r for r in records if r.kind == "judgement"] and not [r for r in records if r.tool == "email.send"]
    [draft] = [raw for _, raw in mail.messages(ALICE, "Drafts")]
    assert b"To: bob@example.com" in draft and b"Payments retry design" in draft
    assert not mail.messages("bob@example.com")  # a draft, never sent
