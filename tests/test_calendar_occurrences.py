"""One occurrence of a repeating meeting moved by its organizer: ``calendar.update`` with ``occurrence``
changes that occurrence only (an override with RECURRENCE-ID), mails the attendees through Postfix,
and the attendee's calendar on Radicale follows without losing the rest of the series."""

from __future__ import annotations

import asyncio
import email
import email.policy
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
from pydantic_ai import ModelRetry

from meshclaw.connectors.calendar import CalendarError, apply_invitation, events, load_settings
from meshclaw.connectors.calendar.client import Connection
from meshclaw.connectors.calendar.tools import calendar_cancel, calendar_update
from tests.servers.calendar_fixtures import (  # noqa: F401
    calendar_ctx, calendar_mail, calendar_settings, imap_messages, mail, mail_servers, radicale_server)

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data" / "calendar"
BERLIN = ZoneInfo("Europe/Berlin")
UID = "series-edit-0017@example.com"


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def listing(server, user: str, uid: str = UID) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    conn = Connection(load_settings(calendar_settings(server, user)), server.users[user])
    found = conn.events(conn.calendar(), datetime(2026, 11, 30, tzinfo=BERLIN), datetime(2027, 1, 31, tzinfo=BERLIN))
    return [(events.local(events.times(ev)[0], BERLIN), str(ev.get("status", "")).lower().replace("confirmed", ""))
            for ev in found if str(ev.get("uid")) == uid]


def test_moving_one_occurrence_keeps_the_series(radicale_server, calendar_ctx, calendar_mail):
    s, mail = radicale_server, calendar_mail
    alice = Connection(load_settings(calendar_settings(s, "alice")), s.users["alice"])
    alice.create(alice.calendar(), icalendar.Calendar.from_ical((DATA / "organizer-series.ics").read_bytes()))

    with pytest.raises(CalendarError, match="to move one occurrence, give occurrence"):
        run(calendar_update(calendar_ctx("alice", call="whole", mail=mail), UID, start="2026-12-02T11:00"))
    with pytest.raises(ModelRetry, match="no occurrence starting 2026-12-03T10:00"):
        run(calendar_update(calendar_ctx("alice", call="wrong", mail=mail), UID, start="2026-12-03T11:00",
                            occurrence="2026-12-03T10:00"))

    moved = run(calendar_update(calendar_ctx("alice", call="move-one", mail=mail), UID, start="2026-12-09T14:00",
                                location="Room 5", occurrence="2026-12-09T10:00"))
    assert moved["occurrence"] == {"start": "2026-12-09T14:00", "end": "2026-12-09T14:30", "title": "Design review",
                                   "location": "Room 5"}
    assert moved["start"] == "2026-12-02T10:00" and sorted(moved["invited"]) == ["bob@example.com", "carol@example.com"]
    assert listing(s, "alice") == [("2026-12-02T10:00", ""), ("2026-12-09T14:00", ""), ("2026-12-16T10:00", "")]

    # Bob's calendar (which had the series) follows: the one occurrence moves, the others stay.
    bob = load_settings(calendar_settings(s, "bob"))
    [update] = imap_messages(mail, "bob@example.com", UID)
    got = run(apply_invitation(bob, s.users["bob"], update, "bob@example.com"))
    assert got["action"] == "added"  # bob had no copy yet: the whole series with its moved occurrence
    assert listing(s, "bob") == [("2026-12-02T10:00", ""), ("2026-12-09T14:00", ""), ("2026-12-16T10:00", "")]

    # The moved occurrence moved again (found by its new start); the series keeps its own times.
    again = run(calendar_update(calendar_ctx("alice", call="move-two", mail=mail), UID, start="2026-12-09T16:00",
                                occurrence="2026-12-09T14:00"))
    assert again["occurrence"]["start"] == "2026-12-09T16:00"
    second = [r for r in imap_messages(mail, "bob@example.com", UID, at_least=2) if r != update]
    assert run(apply_invitation(bob, s.users["bob"], second[0], "bob@example.com"))["action"].startswith("updated")
    assert listing(s, "bob") == [("2026-12-02T10:00", ""), ("2026-12-09T16:00", ""), ("2026-12-16T10:00", "")]
    # The first update arriving late changes nothing.
    assert run(apply_invitation(bob, s.users["bob"], update, "bob@example.com"))["action"].startswith("unchanged (older)")
    assert listing(s, "bob") == [("2026-12-02T10:00", ""), ("2026-12-09T16:00", ""), ("2026-12-16T10:00", "")]


def test_cancelling_one_occurrence_mails_a_cancel_for_it_alone(radicale_server, calendar_ctx, calendar_mail):
    s, mail = radicale_server, calendar_mail
    uid = "series-cancel-0020@example.com"
    alice = Connection(load_settings(calendar_settings(s, "alice")), s.users["alice"])
    text = (DATA / "organizer-series.ics").read_text().replace(UID, uid)
    alice.create(alice.calendar(), icalendar.Calendar.from_ical(text))
    bob = load_settings(calendar_settings(s, "bob"))
    run(calendar_update(calendar_ctx("alice", call="invite-all", mail=mail), uid, location="Room 7"))
    [invitation] = imap_messages(mail, "bob@example.com", uid)
    assert run(apply_invitation(bob, s.users["bob"], invitation, "bob@example.com"))["action"] == "added"

    done = run(calendar_cancel(calendar_ctx("alice", call="cancel-one", mail=mail), uid, occurrence="2026-12-16T10:00"))
    assert done["occurrence"] == {"start": "2026-12-16T10:00", "end": "2026-12-16T10:30", "title": "Design review",
                                  "status": "cancelled"}
    assert sorted(done["cancelled"]) == ["bob@example.com", "carol@example.com"] and "status" not in done
    [notice] = [r for r in imap_messages(mail, "bob@example.com", uid, at_least=2) if r != invitation]
    msg = email.message_from_bytes(notice, policy=email.policy.default)
    part = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
    [sent] = icalendar.Calendar.from_ical(part.get_content()).walk("VEVENT")
    assert part.get_param("method") == "CANCEL" and "RECURRENCE-ID" in sent and "X-MESHCLAW" not in part.get_content()
    assert run(apply_invitation(bob, s.users["bob"], notice, "bob@example.com"))["action"] == \
        "cancelled: the occurrence 2026-12-16T10:00"
    for user in ("alice", "bob"):
        assert listing(s, user, uid) == [("2026-12-02T10:00", ""), ("2026-12-09T10:00", ""),
                                         ("2026-12-16T10:00", "cancelled")]
    # The same call again sends nothing more.
    again = run(calendar_cancel(calendar_ctx("alice", call="cancel-one", mail=mail), uid, occurrence="2026-12-16T10:00"))
    assert again["already_done"] is True
    assert len(imap_messages(mail, "bob@example.com", uid, timeout=0)) == 2
