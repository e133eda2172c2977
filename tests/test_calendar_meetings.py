"""Meetings end to end: Radicale for calendars, Postfix + Dovecot for the invitations.

A meeting alice creates is stored in her calendar, the iMIP invitation arrives in each attendee's
IMAP inbox, and applying it (what the attendee's calendar client or agent does) puts the meeting
on the attendee's calendar.  Updates and cancellations travel the same way.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import time as clock
from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
import pytest
from pydantic_ai import ModelRetry

from meshclaw.connectors.calendar import CalendarError, apply_invitation, busy_now, load_settings
from meshclaw.connectors.calendar import events
from meshclaw.connectors.calendar.client import Connection
from meshclaw.connectors.calendar.tools import calendar_cancel, calendar_create, calendar_freebusy, calendar_list, calendar_update
from tests.servers.calendar_fixtures import (  # noqa: F401
    calendar_ctx, calendar_mail, calendar_settings, imap_messages, mail, mail_servers, radicale_server)
from tests.servers.radicale import free_port

pytestmark = pytest.mark.slow


def next_week(server, n: int, hh: int, mm: int = 0) -> str:
    """A local time in the week after the seeded one (n=0: Monday), so the seed stays as it is."""
    return datetime.combine(server.monday + timedelta(days=7 + n), time(hh, mm)).isoformat(timespec="minutes")


def run(coro):
    return asyncio.run(coro)


def itip_of(raw: bytes) -> tuple[email.message.EmailMessage, str, icalendar.Calendar]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    part = next(p for p in msg.walk() if p.get_content_type() == "text/calendar")
    return msg, part.get_param("method"), icalendar.Calendar.from_ical(part.get_content())


def uids_in(server, user: str, uid: str) -> int:
    conn = Connection(load_settings(calendar_settings(server, user)), server.users[user])
    return sum(1 for obj in conn.calendar().search(event=True) if obj.id == uid)


def test_meeting_reaches_the_attendees_inbox_and_calendar(radicale_server, calendar_ctx, calendar_mail):
    s, mail = radicale_server, calendar_mail
    ctx = calendar_ctx("alice", call="plan-1", mail=mail)
    made = run(calendar_create(ctx, "Roadmap planning", next_week(s, 1, 10), next_week(s, 1, 11),
                               attendees=["bob@example.com", "carol"], description="Bring your top three.",
                               location="Room Ada"))
    uid = made["uid"]
    assert made["invited"] == ["bob@example.com", "carol@example.com"]
    assert made["start"] == next_week(s, 1, 10) and "already_done" not in made

    # On alice's calendar, as the organizer: trusted, her own text.
    mine = run(calendar_list(ctx, next_week(s, 1, 0), next_week(s, 2, 0)))
    assert [e["title"] for e in mine["events"]] == ["Roadmap planning"]
    assert mine["events"][0]["attendees"] == ["bob@example.com", "carol@example.com"]

    # In bob's IMAP inbox: one text/calendar METHOD:REQUEST with the same UID.
    raw = imap_messages(mail, "bob@example.com", uid)
    assert len(raw) == 1
    msg, method, itip = itip_of(raw[0])
    assert method == "REQUEST" and str(itip["method"]) == "REQUEST"
    ev = events.master(itip)
    assert str(ev["uid"]) == uid and str(ev["summary"]) == "Roadmap planning"
    assert events.organizer_of(ev) == "alice@example.com"
    assert msg["Subject"].startswith("Invitation: Roadmap planning @ ")
    assert not [k for k in ev if k.startswith("X-MESHCLAW")]  # bookkeeping stays home

    # Bob's side applies it: the meeting is on his calendar, awaiting his answer, labelled as alice's text.
    bob = load_settings(calendar_settings(s, "bob"))
    applied = run(apply_invitation(bob, s.users["bob"], raw[0], "bob@example.com"))
    assert applied == {"uid": uid, "method": "REQUEST", "action": "added"}
    listed = run(calendar_list(calendar_ctx("bob"), next_week(s, 1, 0), next_week(s, 2, 0)))
    assert [e["title"] for e in listed.value["events"]] == ["Roadmap planning"]
    assert listed.value["events"][0]["organizer"] == "alice@example.com"
    assert listed.value["events"][0]["my_answer"] == "needs-action"
    assert listed.label.trust == "untrusted" and "alice@example.com" in listed.label.origin
    # Applying the same message again changes nothing.
    assert run(apply_invitation(bob, s.users["bob"], raw[0], "bob@example.com"))["action"] == "unchanged"

    # ...so alice now sees bob busy at that time.
    fb = run(calendar_freebusy(ctx, next_week(s, 1, 0), next_week(s, 2, 0), ["bob"]))
    assert [next_week(s, 1, 10), next_week(s, 1, 11)] in fb["busy"]["bob"]
    # Carol got hers too.
    assert len(imap_messages(mail, "carol@example.com", uid)) == 1


def test_create_twice_with_the_same_call_is_one_event_and_one_invitation(radicale_server, calendar_ctx, calendar_mail):
    s, mail = radicale_server, calendar_mail
    args = ("Budget review", next_week(s, 2, 9), next_week(s, 2, 10))
    first = run(calendar_create(calendar_ctx("alice", call="budget", mail=mail), *args, attendees=["bob"]))
    again = run(calendar_create(calendar_ctx("alice", call="budget", mail=mail), *args, attendees=["bob"]))
    assert again["uid"] == first["uid"] and again["already_done"] is True and "invited" not in again
    assert uids_in(s, "alice", first["uid"]) == 1
    assert len(imap_messages(mail, "bob@example.com", first["uid"])) == 1
    clock.sleep(1.5)  # would a second invitation still be on its way through Postfix?
    assert len(imap_messages(mail, "bob@example.com", first["uid"], timeout=0)) == 1
    # A different tool call is a different meeting.
    other = run(calendar_create(calendar_ctx("alice", call="budget-2", mail=mail), *args, attendees=["bob"]))
    assert other["uid"] != first["uid"]


def test_a_crash_between_saving_and_mailing_is_finished_on_replay(radicale_server, calendar_ctx, calendar_mail):
    s, mail = radicale_server, calendar_mail
    ctx = calendar_ctx("alice", call="crashy", mail=mail)
    uid = events.uid_for(ctx.deps.idempotency_key("crashy"))
    # What the first attempt left behind: the event is saved, the invitation never went out.
    conn = Connection(load_settings(ctx.deps.settings), s.users["alice"])
    data = events.new_event(uid, summary="Hiring sync", start=datetime.fromisoformat(next_week(s, 3, 14)).replace(tzinfo=ZoneInfo(s.tz)),
                            end=datetime.fromisoformat(next_week(s, 3, 15)).replace(tzinfo=ZoneInfo(s.tz)),
                            organizer="alice@example.com", attendees=["carol@example.com"])
    conn.create(conn.calendar(), data)
    replay = run(calendar_create(ctx, "Hiring sync", next_week(s, 3, 14), next_week(s, 3, 15), attendees=["carol"]))
    assert replay["already_done"] is True and replay["invited"] == ["carol@example.com"]
    assert len(imap_messages(mail, "carol@example.com", uid)) == 1
    assert uids_in(s, "alice", uid) == 1


def test_update_moves_the_meeting_and_tells_everyone(radicale_server, calendar_ctx, calendar_mail):
    s, mail = radicale_server, calendar_mail
    made = run(calendar_create(calendar_ctx("alice", call="retro", mail=mail), "Retro", next_week(s, 4, 10),
                               next_week(s, 4, 11), attendees=["bob", "carol"]))
    uid = made["uid"]
    bob = load_settings(calendar_settings(s, "bob"))
    invitation = imap_messages(mail, "bob@example.com", uid)[0]
    run(apply_invitation(bob, s.users["bob"], invitation, "bob@example.com"))

    # Moved by an hour and carol taken off the list: bob is re-invited, carol gets a cancellation.
    moved = run(calendar_update(calendar_ctx("alice", call="retro-move", mail=mail), uid, start=next_week(s, 4, 11),
                                attendees=["bob"]))
    assert (moved["start"], moved["end"]) == (next_week(s, 4, 11), next_week(s, 4, 12))
    assert moved["invited"] == ["bob@example.com"] and moved["uninvited"] == ["carol@example.com"]
    bobs_mail = imap_messages(mail, "bob@example.com", uid, at_least=2)
    assert len(bobs_mail) == 2
    update = next(r for r in bobs_mail if itip_of(r)[0]["Subject"].startswith("Updated invitation"))
    assert events.sequence(events.master(itip_of(update)[2])) == 1
    carols = [itip_of(r) for r in imap_messages(mail, "carol@example.com", uid, at_least=2)]
    assert sorted(method for _, method, _ in carols) == ["CANCEL", "REQUEST"]

    # Bob's calendar follows the update.
    assert run(apply_invitation(bob, s.users["bob"], update, "bob@example.com"))["action"] == "updated"
    on_bobs = run(calendar_list(calendar_ctx("bob"), next_week(s, 4, 0), next_week(s, 5, 0))).value["events"]
    assert [(e["title"], e["start"]) for e in on_bobs] == [("Retro", next_week(s, 4, 11))]
    # The older invitation arriving late does not undo it.
    assert run(apply_invitation(bob, s.users["bob"], invitation, "bob@example.com"))["action"].startswith("unchanged (older)")

    # Replaying the update call: nothing new is stored or sent.
    replay = run(calendar_update(calendar_ctx("alice", call="retro-move", mail=mail), uid, start=next_week(s, 4, 11),
                                 attendees=["bob"]))
    assert replay["already_done"] is True and "invited" not in replay
    clock.sleep(1)
    assert len(imap_messages(mail, "bob@example.com", uid, timeout=0)) == 2


def test_cancel_tells_attendees_and_frees_the_time(radicale_server, calendar_ctx, calendar_mail):
    s, mail = radicale_server, calendar_mail
    made = run(calendar_create(calendar_ctx("alice", call="offsite", mail=mail), "Offsite prep", next_week(s, 0, 15),
                               next_week(s, 0, 16), attendees=["bob"]))
    uid = made["uid"]
    bob = load_settings(calendar_settings(s, "bob"))
    run(apply_invitation(bob, s.users["bob"], imap_messages(mail, "bob@example.com", uid)[0], "bob@example.com"))

    cancelled = run(calendar_cancel(calendar_ctx("alice", call="offsite-cancel", mail=mail), uid))
    assert cancelled["status"] == "cancelled" and cancelled["cancelled"] == ["bob@example.com"]
    notice = next(r for r in imap_messages(mail, "bob@example.com", uid, at_least=2) if itip_of(r)[1] == "CANCEL")
    _, _, itip = itip_of(notice)
    assert str(events.master(itip)["status"]) == "CANCELLED" and events.sequence(events.master(itip)) == 1
    assert run(apply_invitation(bob, s.users["bob"], notice, "bob@example.com"))["action"] == "cancelled"

    # Neither calendar counts it as busy any more; both still show it, marked cancelled.
    at = datetime.fromisoformat(next_week(s, 0, 15, 30)).replace(tzinfo=ZoneInfo(s.tz))
    assert run(busy_now(calendar_settings(s, "alice"), s.users["alice"], now=at)) == (False, None)
    assert run(busy_now(calendar_settings(s, "bob"), s.users["bob"], now=at)) == (False, None)
    shown = run(calendar_list(calendar_ctx("bob"), next_week(s, 0, 0), next_week(s, 1, 0))).value["events"]
    assert [(e["title"], e.get("status")) for e in shown] == [("Offsite prep", "cancelled")]

    # Cancelling again (another call) sends nothing more.
    again = run(calendar_cancel(calendar_ctx("alice", call="offsite-cancel-2", mail=mail), uid))
    assert again["already_done"] is True and "cancelled" not in again
    clock.sleep(1)
    assert len(imap_messages(mail, "bob@example.com", uid, timeout=0)) == 2


def test_only_the_organizer_changes_a_meeting(radicale_server, calendar_ctx, calendar_mail):
    s = radicale_server
    one_on_one = f"one-on-one-alice-{s.monday:%Y%m%d}@seed.meshclaw"
    with pytest.raises(CalendarError, match=r"only the organizer \(bob@example.com\) can cancel this meeting"):
        run(calendar_cancel(calendar_ctx("alice", call="c1", mail=calendar_mail), one_on_one))
    with pytest.raises(CalendarError, match=r"only the organizer \(bob@example.com\) can change this meeting"):
        run(calendar_update(calendar_ctx("alice", call="c2", mail=calendar_mail), one_on_one, title="Skip"))


def test_changes_with_bad_input_are_clear_errors(radicale_server, calendar_ctx, calendar_mail):
    s = radicale_server
    with pytest.raises(ModelRetry, match="no event with uid 'nope@x'"):
        run(calendar_update(calendar_ctx("alice", call="u1", mail=calendar_mail), "nope@x", title="x"))
    with pytest.raises(ModelRetry, match="nothing to change"):
        run(calendar_update(calendar_ctx("alice", call="u2", mail=calendar_mail), "nope@x"))
    with pytest.raises(ModelRetry, match="must be after start"):
        run(calendar_create(calendar_ctx("alice", call="u3", mail=calendar_mail), "Late", next_week(s, 1, 12), next_week(s, 1, 11)))
    with pytest.raises(ModelRetry, match="'eve' is neither an email address nor a user"):
        run(calendar_create(calendar_ctx("alice", call="u4", mail=calendar_mail), "X", next_week(s, 1, 12),
                            next_week(s, 1, 13), attendees=["eve"]))
    with pytest.raises(ModelRetry, match="'eve@example' is not an email address"):
        run(calendar_create(calendar_ctx("alice", call="u4", mail=calendar_mail), "X", next_week(s, 1, 12),
                            next_week(s, 1, 13), attendees=["eve@example"]))
    # Attendees but no mail server: refused before anything is written.
    ctx = calendar_ctx("alice", call="u5")
    with pytest.raises(CalendarError, match="invitations need a mail server"):
        run(calendar_create(ctx, "Unsent", next_week(s, 1, 12), next_week(s, 1, 13), attendees=["bob"]))
    assert uids_in(s, "alice", events.uid_for(ctx.deps.idempotency_key("u5"))) == 0


def test_busy_now_on_the_real_clock(radicale_server, calendar_ctx):
    s = radicale_server
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    start, end = now - timedelta(minutes=10), now + timedelta(minutes=20)
    # In the empty "private" calendar: a seeded meeting right after it would stretch "until".
    ctx = calendar_ctx("alice", call="now", calendar="private")
    run(calendar_create(ctx, "Interview", start.isoformat(), end.isoformat()))
    busy, until = run(busy_now(calendar_settings(s, "alice", calendar="private"), s.users["alice"]))
    assert busy is True and until == end
    assert run(busy_now(calendar_settings(s, "alice", calendar="private"), s.users["alice"], now=end)) == (False, None)


def test_when_invitations_cannot_be_sent_nothing_changes(radicale_server, calendar_ctx):
    s = radicale_server
    # A mail server that is down: a loopback port nobody listens on.
    down = {"smtp_host": "127.0.0.1", "smtp_port": free_port(), "smtp_security": "plain"}
    ctx = calendar_ctx("alice", call="down-1", **down)
    with pytest.raises(CalendarError, match=r"nothing was created: sending the invitation via 127.0.0.1:\d+ failed"):
        run(calendar_create(ctx, "Unsent", next_week(s, 3, 9), next_week(s, 3, 10), attendees=["bob"]))
    assert uids_in(s, "alice", events.uid_for(ctx.deps.idempotency_key("down-1"))) == 0

    # An existing meeting (its invitations were sent: recorded as such) stays as it was.
    uid = f"customer-call-{s.monday:%Y%m%d}@seed.meshclaw"
    with pytest.raises(CalendarError, match="nothing was changed: sending the invitation"):
        run(calendar_update(calendar_ctx("alice", call="down-2", **down), uid, title="Customer call (moved)"))
    conn = Connection(load_settings(calendar_settings(s, "alice")), s.users["alice"])
    kept = events.master(icalendar.Calendar.from_ical(conn.find(conn.calendar(), uid).data))
    assert str(kept["summary"]) == "Customer call: Dana (renewal)" and events.sequence(kept) == 0
