"""An invitation mailed to bob is filed in his calendar by workflow code, through the guard: the
message comes from the mail server (``email.raw``), the write is a guarded, audited, durable call
(``calendar.file_invitation``), and neither tool is ever offered to a model."""

from __future__ import annotations

import asyncio

import pytest

from meshclaw.connectors.calendar.tools import calendar_create, calendar_list
from meshclaw.runtime.workflows import register_workflow
from tests.runtime_support import run, runtime
from tests.servers.calendar_fixtures import (  # noqa: F401
    calendar_ctx, calendar_mail, calendar_settings, mail, mail_servers, radicale_server)
from tests.servers.fixtures import email_settings_for
from tests.test_calendar_meetings import next_week

pytestmark = pytest.mark.slow


@register_workflow("test-file-invitations")
async def file_invitations(calls) -> str:  # type: ignore[no-untyped-def]
    listing = await calls.tool("email.list", folder="INBOX")
    actions = []
    for item in listing["messages"]:
        raw = await calls.tool("email.raw", uid=item["uid"])
        filed = await calls.tool("calendar.file_invitation", message=raw["message"])
        actions.append(filed["action"])
    return "; ".join(actions)


def test_a_received_invitation_is_filed_by_a_guarded_step(radicale_server, calendar_ctx, calendar_mail, home):
    import json

    s, mail = radicale_server, calendar_mail
    made = asyncio.run(calendar_create(calendar_ctx("alice", call="plan", mail=mail), "Roadmap review",
                                       next_week(s, 3, 10), next_week(s, 3, 11), attendees=["bob"]))
    (home / "secrets.env").write_text(f"bob_cal={s.users['bob']}\nmail_pw={mail.password('bob@example.com')}\n")
    (home / "secrets.env").chmod(0o600)
    config = {
        "organisation": {"name": "Example", "domains": ["example.com"]},
        "users": [{"id": "alice", "name": "Alice", "email": "alice@example.com"},
                  {"id": "bob", "name": "Bob", "email": "bob@example.com"}],
        "models": {"none": {"kind": "scripted", "turns": [{"text": "unused"}]}},
        "agents": [{"name": "filer", "owner": "bob", "instructions": "File invitations.", "model": "none",
                    "workflow": "test-file-invitations", "autonomy": "auto",
                    "toolsets": {"email": {"grants": ["email.list", "email.raw"],
                                           "settings": email_settings_for(mail, "bob@example.com")},
                                 "calendar": {"grants": ["calendar.file_invitation"],
                                              "settings": calendar_settings(s, "bob")}}}],
    }
    with runtime(home, json.dumps(config)) as rt:
        outcome, _ = run(rt, "filer", "file new invitations")
        assert outcome.status == "succeeded", outcome.error
        assert outcome.output == "added"
        records = rt.store.audit.records(run_id=outcome.run_id)
        filed = [(r.kind, r.verdict) for r in records if r.tool == "calendar.file_invitation"]
        assert filed == [("decision", "allow"), ("call", "done")]
        from meshclaw.runtime.toolsets import granted_toolset
        from meshclaw.connectors.registry import resolve

        offered = granted_toolset(rt.config.agent("filer"), resolve)
        assert set(offered.specs) >= {"email_raw", "calendar_file_invitation"}

        async def names() -> set[str]:
            from pydantic_ai import RunContext
            from pydantic_ai.models.test import TestModel
            from pydantic_ai.usage import RunUsage

            return set(await offered.get_tools(RunContext(deps=None, model=TestModel(), usage=RunUsage())))

        assert asyncio.run(names()) == {"email_list"}  # what a model would be offered
    listed = asyncio.run(calendar_list(calendar_ctx("bob"), next_week(s, 3, 0), next_week(s, 4, 0)))
    assert [e["uid"] for e in listed.value["events"]] == [made["uid"]]
