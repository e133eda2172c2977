"""Invitation shapes from Outlook/Exchange, Google, Apple, Thunderbird and hand-written tools, each
received end to end: the message goes through ``apply_invitation`` into bob's calendar on a real
Radicale, and the occurrences Radicale then lists (and its free/busy) are checked.

The files are under tests/data/calendar/ (people and domains made up).  Each case is a sequence of
messages with the action each must produce, then the occurrences of the meeting in the window.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from meshclaw.connectors.calendar import apply_invitation, events, imip, load_settings
from meshclaw.connectors.calendar.client import Connection
from meshclaw.connectors.calendar.tools import calendar_list
from tests.servers.calendar_fixtures import calendar_ctx, calendar_settings, radicale_server  # noqa: F401

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data" / "calendar"
BERLIN = ZoneInfo("Europe/Berlin")
WINDOW = (datetime(2026, 11, 30, tzinfo=BERLIN), datetime(2027, 1, 31, tzinfo=BERLIN))
OUTLOOK_UID = "040000008200E00074C5B7101A82E00800000000B0C1D2E3F4A5DB01000000000000000010000000AABBCCDD"

# name: ([(file, sender, expected start of the action)], uid, [(start in Berlin, title, status)])
CASES: dict[str, tuple[list[tuple[str, str, str]], str, list[tuple[str, str, str]]]] = {
    "outlook series, Windows zone": (
        [("outlook-series-windows-zone.ics", "olga@example.org", "added")], OUTLOOK_UID,
        [("2026-12-03T09:00", "Roadmap review", ""), ("2026-12-10T09:00", "Roadmap review", ""),
         ("2026-12-17T09:00", "Roadmap review", ""), ("2026-12-24T09:00", "Roadmap review", "")]),
    "outlook moves one occurrence, cancels another": (
        [("outlook-series-windows-zone.ics", "olga@example.org", "added"),
         ("outlook-occurrence-moved.ics", "olga@example.org", "updated: the occurrence 2026-12-10T09:00"),
         ("outlook-occurrence-cancelled.ics", "olga@example.org", "cancelled: the occurrence 2026-12-17T09:00"),
         ("outlook-occurrence-cancelled.ics", "olga@example.org", "cancelled: the occurrence"),  # idempotent
         ("outlook-occurrence-moved.ics", "olga@example.org", "unchanged")], OUTLOOK_UID,
        [("2026-12-03T09:00", "Roadmap review", ""), ("2026-12-10T15:00", "Roadmap review", ""),
         ("2026-12-17T09:00", "Roadmap review", "cancelled"), ("2026-12-24T09:00", "Roadmap review", "")]),
    "google series with an exception, one occurrence cancelled": (
        [("google-series-with-exception.ics", "nora@example.org", "added"),
         ("google-cancel-occurrence.ics", "nora@example.org", "cancelled: the occurrence 2026-12-10T09:00")],
        "7kq2m9c0ttgdevbqk3o1example@google.com",
        [("2026-12-07T15:00", "Launch standup", ""), ("2026-12-08T15:00", "Launch standup", ""),
         ("2026-12-09T17:00", "Launch standup (late)", ""), ("2026-12-10T15:00", "Launch standup", "cancelled"),
         ("2026-12-11T15:00", "Launch standup", "")]),
    "google single event in UTC": (
        [("google-utc-single.ics", "nora@example.org", "added")], "3hq0utc9single0example@google.com",
        [("2026-12-14T14:00", "Vendor demo", "")]),
    "apple all-day event": (
        [("apple-allday.ics", "pia@example.org", "added")], "5E1B7C2A-0D4F-4B8E-9A61-3C2F00A1B2C3",
        [("2026-12-17", "Offsite", "")]),
    "apple series with EXDATE; cancelling the excluded day is refused": (
        [("apple-series-europe.ics", "pia@example.org", "added"),
         ("apple-cancel-excluded-occurrence.ics", "pia@example.org",
          "ignored: cancels 2026-12-08T08:00, which is not an occurrence of the series")],
        "9C4D2E1F-7A3B-4C5D-8E6F-0123456789AB",
        [("2026-12-01T08:00", "Coffee round", ""), ("2026-12-15T08:00", "Coffee round", ""),
         ("2026-12-22T08:00", "Coffee round", "")]),
    "floating time": (
        [("floating-time.ics", "olga@example.org", "added")], "floating-0001@example.org",
        [("2026-12-15T09:00", "Breakfast wherever you are", "")]),
    "all-day without DTEND": (
        [("allday-without-dtend.ics", "olga@example.org", "added")], "allday-noend-0002@example.org",
        [("2026-12-16", "Inventory day", "")]),
    "all-day series, one day cancelled": (
        [("allday-series.ics", "olga@example.org", "added"),
         ("allday-cancel-occurrence.ics", "olga@example.org", "cancelled: the occurrence 2026-12-08")],
        "allday-series-0003@example.org",
        [("2026-12-01", "Focus day", ""), ("2026-12-08", "Focus day", "cancelled"), ("2026-12-15", "Focus day", ""),
         ("2026-12-22", "Focus day", "")]),
    "VTIMEZONE after the event, DURATION instead of DTEND": (
        [("vtimezone-after-event-duration.ics", "olga@example.org", "added")], "tz-after-0004@example.org",
        [("2026-12-15T16:00", "Zone defined after the event", "")]),
    "IANA zone without VTIMEZONE": (
        [("iana-zone-without-vtimezone.ics", "olga@example.org", "added")], "tz-missing-0005@example.org",
        [("2026-12-16T11:00", "Zone named but not defined", "")]),
    "Windows zone without VTIMEZONE": (
        [("windows-zone-without-vtimezone.ics", "olga@example.org", "added")], "tz-pacific-0006@example.org",
        [("2026-12-16T18:00", "West coast sync", "")]),
    "Outlook custom zone (India offset)": (
        [("outlook-custom-zone-india.ics", "olga@example.org", "added")], "tz-custom-india-0007@example.org",
        [("2026-12-17T10:30", "Call with Pune", "")]),
    "Outlook custom zone of the same name (Brazil offset)": (
        [("outlook-custom-zone-brazil.ics", "olga@example.org", "added")], "tz-custom-brazil-0007@example.org",
        [("2026-12-17T19:00", "Call with Recife", "")]),
    "globally unique TZID (Thunderbird)": (
        [("globally-unique-tzid.ics", "olga@example.org", "added")], "tz-mozilla-0008@example.org",
        [("2026-12-18T10:00", "Thunderbird meeting", "")]),
    "zone nobody defines: best effort in the owner's zone": (
        [("unknown-zone-undefined.ics", "olga@example.org",
          "added (best effort: unknown time zone 'Olympus Mons Time' read as Europe/Berlin)")],
        "tz-unknown-0009@example.org", [("2026-12-18T14:00", "Zone nobody defines", "")]),
    "THISANDFUTURE moves the rest, then ends the series": (
        [("series-for-range.ics", "olga@example.org", "added"),
         ("thisandfuture-moved.ics", "olga@example.org", "updated: this and later occurrences from 2026-12-15T14:00"),
         ("thisandfuture-cancelled.ics", "olga@example.org", "cancelled: the occurrences from 2026-12-22T14:00 on")],
        "future-0010@example.org",
        [("2026-12-01T14:00", "Planning", ""), ("2026-12-08T14:00", "Planning", ""),
         ("2026-12-15T16:00", "Planning (short)", ""), ("2026-12-22T16:00", "Planning (short)", "cancelled"),
         ("2026-12-29T16:00", "Planning (short)", "cancelled")]),
    "ordering: SEQUENCE, then DTSTAMP": (
        [("ordering-first.ics", "olga@example.org", "added"),
         ("ordering-same-sequence-later-stamp.ics", "olga@example.org", "updated"),
         ("ordering-same-sequence-earlier-stamp.ics", "olga@example.org", "unchanged (older)"),
         ("ordering-first.ics", "olga@example.org", "unchanged (older)"),
         ("ordering-occurrence-sequence-2.ics", "olga@example.org", "updated: the occurrence 2026-12-09T09:00"),
         ("ordering-occurrence-lower-sequence.ics", "olga@example.org", "unchanged (older)"),
         ("occurrence-that-does-not-exist.ics", "olga@example.org",
          "ignored: 2026-12-09T10:00 is not an occurrence of the series")],
        "order-0011@example.org",
        [("2026-12-02T09:00", "Ops review", ""), ("2026-12-09T11:00", "Ops review", ""),
         ("2026-12-16T09:00", "Ops review", "")]),
    "Exchange series as RDATE periods, one cancelled by a UTC RECURRENCE-ID": (
        [("exchange-rdate-periods.ics", "olga@example.org", "added"),
         ("exchange-rdate-cancel-in-utc.ics", "olga@example.org", "cancelled: the occurrence 2026-12-03T14:00Z")],
        "rdate-periods-0019@example.org",
        [("2026-12-01T15:00", "Training block", ""), ("2026-12-03T15:00", "Training block", "cancelled"),
         ("2026-12-08T15:00", "Training block", "")]),
    "fixed-offset zone with a misleading name (UTC+11)": (
        [("fixed-offset-zone-named-utc-plus.ics", "olga@example.org", "added")],
        "1961094_636238800000000000@example.org", [("2026-12-19T13:00", "Squash", "")]),
    "invited to one occurrence only": (
        [("invited-to-one-occurrence-only.ics", "olga@example.org", "added: only the occurrence 2026-12-11T10:00")],
        "single-occ-0012@example.org",
        [("2026-12-11T10:00", "Board prep (you are invited to this occurrence)", "")]),
}


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def mail(file: str, sender: str, recipient: str = "bob@example.com") -> bytes:
    """The file as it arrives: an .eml as is, an .ics as the text/calendar part of a mail from ``sender``."""
    raw = (DATA / file).read_bytes()
    if file.endswith(".eml"):
        return raw
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, recipient, f"Invitation ({file})"
    msg.set_content("See the attached invitation.")
    method = next((line.split(b":", 1)[1].strip() for line in raw.splitlines() if line.startswith(b"METHOD:")), b"")
    msg.add_alternative(raw.decode(), subtype="calendar", params={"method": method.decode()}, charset="utf-8")
    return msg.as_bytes()


def occurrences(server, user: str, uid: str) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    conn = Connection(load_settings(calendar_settings(server, user)), server.users[user])
    found = conn.events(conn.calendar(), *WINDOW)
    return [(events.local(events.times(ev)[0], BERLIN), str(ev.get("summary", "")),
             str(ev.get("status", "")).lower().replace("confirmed", "")) for ev in found if str(ev.get("uid")) == uid]


def _fresh(server, uid: str, user: str = "bob") -> None:  # type: ignore[no-untyped-def]
    conn = Connection(load_settings(calendar_settings(server, user)), server.users[user])
    obj = conn.find(conn.calendar(), uid)
    if obj is not None:
        conn.delete(obj)


@pytest.mark.parametrize("name", list(CASES))
def test_invitation_shapes_end_to_end(radicale_server, name):
    steps, uid, expected = CASES[name]
    _fresh(radicale_server, uid)
    bob = load_settings(calendar_settings(radicale_server, "bob"))
    for file, sender, action in steps:
        got = run(apply_invitation(bob, radicale_server.users["bob"], mail(file, sender), "bob@example.com"))
        assert got["action"].startswith(action), (file, got)
        assert got["uid"] == uid
    assert occurrences(radicale_server, "bob", uid) == expected


def test_free_busy_follows_moved_and_cancelled_occurrences(radicale_server):
    _fresh(radicale_server, OUTLOOK_UID)
    bob = load_settings(calendar_settings(radicale_server, "bob"))
    for file in ("outlook-series-windows-zone.ics", "outlook-occurrence-moved.ics", "outlook-occurrence-cancelled.ics"):
        run(apply_invitation(bob, radicale_server.users["bob"], mail(file, "olga@example.org"), "bob@example.com"))
    conn = Connection(bob, radicale_server.users["bob"])
    busy = conn.freebusy(conn.calendar(), datetime(2026, 12, 10, tzinfo=BERLIN), datetime(2026, 12, 18, tzinfo=BERLIN))
    starts = {b.start.astimezone(BERLIN).strftime("%m-%d %H:%M") for b in busy}
    assert "12-10 15:00" in starts and "12-10 09:00" not in starts  # moved
    assert "12-17 09:00" not in starts  # cancelled


def test_malformed_or_methodless_messages(radicale_server):
    bob = load_settings(calendar_settings(radicale_server, "bob"))
    got = run(apply_invitation(bob, radicale_server.users["bob"], mail("malformed.ics", "olga@example.org"), "bob@example.com"))
    assert got["action"].startswith("ignored: the calendar part cannot be read") and got["uid"] is None
    # METHOD only on the MIME part (and the same invitation attached as application/ics).
    _fresh(radicale_server, "mime-method-0014@example.org")
    raw = (DATA / "method-only-on-mime-part.eml").read_bytes()
    got = run(apply_invitation(bob, radicale_server.users["bob"], raw, "bob@example.com"))
    assert got == {"uid": "mime-method-0014@example.org", "method": "REQUEST", "action": "added"}
    assert occurrences(radicale_server, "bob", "mime-method-0014@example.org") == [("2026-12-18T13:00", "Supplier call", "")]


def test_a_meeting_naming_the_owner_as_organizer_is_not_taken_from_mail(radicale_server):
    bob = load_settings(calendar_settings(radicale_server, "bob"))
    raw = (DATA / "owner-named-as-organizer.eml").read_bytes()  # From: forged as the owner
    got = run(apply_invitation(bob, radicale_server.users["bob"], raw, "bob@example.com"))
    assert got["action"].startswith("ignored: the message names the recipient as organizer")
    assert occurrences(radicale_server, "bob", "forged-0016@outside.test") == []


def test_reply_to_does_not_make_an_outsider_the_organizer(radicale_server):
    _fresh(radicale_server, OUTLOOK_UID)
    bob = load_settings(calendar_settings(radicale_server, "bob"))
    run(apply_invitation(bob, radicale_server.users["bob"], mail("outlook-series-windows-zone.ics", "olga@example.org"),
                         "bob@example.com"))
    raw = (DATA / "reply-to-names-the-organizer.eml").read_bytes()  # From: an outsider, Reply-To: the organizer
    got = run(apply_invitation(bob, radicale_server.users["bob"], raw, "bob@example.com"))
    assert got["action"] == "ignored: the sender is not the meeting's organizer"
    assert [t for t, _, _ in occurrences(radicale_server, "bob", OUTLOOK_UID)] == [
        "2026-12-03T09:00", "2026-12-10T09:00", "2026-12-17T09:00", "2026-12-24T09:00"]


def test_mailed_in_meetings_are_listed_as_outside_content(radicale_server, calendar_ctx):
    _fresh(radicale_server, "floating-0001@example.org")
    bob = load_settings(calendar_settings(radicale_server, "bob"))
    run(apply_invitation(bob, radicale_server.users["bob"], mail("floating-time.ics", "olga@example.org"), "bob@example.com"))
    listed = run(calendar_list(calendar_ctx("bob"), "2026-12-15T00:00", "2026-12-16T00:00"))
    assert listed.label.trust.value == "untrusted" and "olga@example.org" in listed.label.origin


def test_an_answer_for_one_occurrence_is_recorded_on_that_occurrence(radicale_server):
    uid = "reply-occ-0015@example.com"
    _fresh(radicale_server, uid, "alice")
    alice = load_settings(calendar_settings(radicale_server, "alice"))
    conn = Connection(alice, radicale_server.users["alice"])
    conn.create(conn.calendar(), icalendar.Calendar.from_ical((DATA / "organizer-copy-for-replies.ics").read_bytes()))
    got = run(apply_invitation(alice, radicale_server.users["alice"],
                               mail("reply-declines-one-occurrence.ics", "bob@example.com", "alice@example.com"),
                               "alice@example.com"))
    assert got["action"] == "answer recorded: bob@example.com declined for 2026-12-08T16:00"
    late = run(apply_invitation(alice, radicale_server.users["alice"],
                                mail("reply-earlier-accept-arrives-late.ics", "bob@example.com", "alice@example.com"),
                                "alice@example.com"))
    assert late["action"] == "unchanged (older): a later answer from bob@example.com is recorded"
    answers = {}
    for ev in conn.events(conn.calendar(), *WINDOW):
        if str(ev.get("uid")) == uid:
            answers[events.local(events.times(ev)[0], BERLIN)] = {
                events.mailto(a): str(a.params.get("PARTSTAT")) for a in events.attendees_of(ev)}
    # The organizer's bookkeeping (when each answer came) never leaves in an invitation.
    stored = icalendar.Calendar.from_ical(conn.find(conn.calendar(), uid).data)
    assert "X-MESHCLAW-ANSWERED" in stored.to_ical().decode()
    assert "X-MESHCLAW" not in imip.itip(stored, "REQUEST").to_ical().decode()
    assert answers == {
        "2026-12-01T16:00": {"bob@example.com": "ACCEPTED", "carol@example.com": "ACCEPTED"},
        "2026-12-08T16:00": {"bob@example.com": "DECLINED", "carol@example.com": "ACCEPTED"},
        "2026-12-15T16:00": {"bob@example.com": "ACCEPTED", "carol@example.com": "ACCEPTED"}}
