"""Answering invitations end to end: bob's answer is saved on his calendar and mailed (iMIP REPLY,
through Postfix into Dovecot) to alice, whose calendar then records it. Forged answers are ignored."""

from __future__ import annotations

import asyncio

import icalendar
import pytest

from meshclaw.connectors.calendar import CalendarError, apply_invitation, events, load_settings
from meshclaw.connectors.calendar.inbox import decide
from meshclaw.connectors.calendar.replies import calendar_respond
from meshclaw.connectors.calendar.tools import calendar_create, calendar_list
from tests.servers.calendar_fixtures import (  # noqa: F401
    calendar_ctx, calendar_mail, calendar_settings, imap_messages, mail, mail_servers, radicale_server)
from tests.test_calendar_meetings import itip_of, next_week

pytestmark = pytest.mark.slow


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_an_answer_reaches_the_organizer_and_is_recorded(radicale_server, calendar_ctx, calendar_mail):
    s, mail = radicale_server, calendar_mail
    made = run(calendar_create(calendar_ctx("alice", call="sync", mail=mail), "Design sync", next_week(s, 2, 15),
                               next_week(s, 2, 16), attendees=["bob"]))
    uid = made["uid"]
    [invitation] = imap_messages(mail, "bob@example.com", uid)
    bob = load_settings(calendar_settings(s, "bob"))
    assert run(apply_invitation(bob, s.users["bob"], invitation, "bob@example.com"))["action"] == "added"

    answered = run(calendar_respond(calendar_ctx("bob", call="rsvp", mail=mail), uid, "accepted", comment="See you there"))
    assert answered == {"uid": uid, "answer": "accepted", "organizer": "alice@example.com", "told": "alice@example.com"}
    listed = run(calendar_list(calendar_ctx("bob"), next_week(s, 2, 0), next_week(s, 3, 0)))
    assert "my_answer" not in listed.value["events"][0]  # accepted is the answer it no longer asks for

    # The REPLY in alice's inbox names bob alone, with his answer; bookkeeping stays home.
    [raw] = imap_messages(mail, "alice@example.com", "Accepted: Design sync")
    msg, method, itip = itip_of(raw)
    ev = events.master(itip)
    assert method == "REPLY" and msg["From"] == "bob@example.com" and str(ev["uid"]) == uid
    assert [(events.mailto(a), a.params["PARTSTAT"]) for a in events.attendees_of(ev)] == [("bob@example.com", "ACCEPTED")]
    assert str(ev["comment"]) == "See you there" and not [k for k in ev if k.startswith("X-MESHCLAW")]

    # Alice's side records it: her calendar shows bob's answer.
    alice = load_settings(calendar_settings(s, "alice"))
    recorded = run(apply_invitation(alice, s.users["alice"], raw, "alice@example.com"))
    assert recorded == {"uid": uid, "method": "REPLY", "action": "answer recorded: bob@example.com accepted"}
    mine = run(calendar_list(calendar_ctx("alice"), next_week(s, 2, 0), next_week(s, 3, 0)))
    assert mine["events"][0]["answers"] == {"bob@example.com": "accepted"}
    assert run(apply_invitation(alice, s.users["alice"], raw, "alice@example.com"))["action"] == "unchanged"

    # The same tool call again mails nothing more; a changed answer is mailed.
    again = run(calendar_respond(calendar_ctx("bob", call="rsvp", mail=mail), uid, "accepted"))
    assert again["already_done"] is True
    run(calendar_respond(calendar_ctx("bob", call="rsvp-2", mail=mail), uid, "declined"))
    [declined] = imap_messages(mail, "alice@example.com", "Declined: Design sync")
    assert len(imap_messages(mail, "alice@example.com", "Accepted: Design sync", timeout=0)) == 1
    assert run(apply_invitation(alice, s.users["alice"], declined, "alice@example.com"))["action"] == \
        "answer recorded: bob@example.com declined"

    # Alice cannot "answer" her own meeting.
    with pytest.raises(CalendarError, match="the owner organizes this meeting"):
        run(calendar_respond(calendar_ctx("alice", call="self", mail=mail), uid, "declined"))


def _reply(attendee: str, partstat: str = "DECLINED", seq: int = 0) -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add("method", "REPLY")
    ev = icalendar.Event()
    ev.add("uid", "m-1")
    ev.add("sequence", seq)
    ev.add("organizer", icalendar.vCalAddress("mailto:alice@example.com"))
    who = icalendar.vCalAddress(f"mailto:{attendee}")
    who.params["PARTSTAT"] = partstat
    ev.add("attendee", who)
    cal.add_component(ev)
    return cal


def _stored() -> icalendar.Calendar:
    from datetime import datetime, timezone

    return events.new_event("m-1", summary="Budget", start=datetime(2026, 12, 1, 9, tzinfo=timezone.utc),
                            end=datetime(2026, 12, 1, 10, tzinfo=timezone.utc), organizer="alice@example.com",
                            attendees=["bob@example.com", "carol@example.com"])


def test_forged_or_stale_answers_are_ignored():
    stored = _stored()
    alice = "alice@example.com"
    assert decide(_reply("carol@example.com"), stored, alice, {"mallory@evil.example"})[0] == \
        "ignored: the answer does not come from the attendee it names"
    assert decide(_reply("mallory@evil.example"), stored, alice, {"mallory@evil.example"})[0] == \
        "ignored: the sender is not an attendee of this meeting"
    assert decide(_reply("bob@example.com"), stored, "bob@example.com", {"bob@example.com"})[0] == \
        "ignored: the recipient does not organize this meeting"
    assert decide(_reply("bob@example.com"), None, alice, {"bob@example.com"})[0] == \
        "ignored: answers a meeting that is not in the calendar"
    assert decide(_reply("bob@example.com", "DELEGATED"), stored, alice, {"bob@example.com"})[0].startswith(
        "ignored: DELEGATED answer")
    events.bump(events.master(stored))
    assert decide(_reply("bob@example.com", seq=0), stored, alice, {"bob@example.com"})[0] == \
        "ignored: answers an older version of the meeting"
    action, data = decide(_reply("bob@example.com", seq=1), stored, alice, {"bob@example.com"})
    assert action == "answer recorded: bob@example.com declined"
    parts = {events.mailto(a): a.params["PARTSTAT"] for a in events.attendees_of(events.master(data))}
    assert parts == {"bob@example.com": "DECLINED", "carol@example.com": "NEEDS-ACTION"}
