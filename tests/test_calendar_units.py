"""The calendar connector's pure parts: settings rules, iMIP messages, the inbox's trust rules, the seed."""

from __future__ import annotations

import copy
import email
import email.policy
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
import pytest

from meshclaw.connectors.calendar import CalendarError, events, imip, load_settings, seed
from meshclaw.connectors.calendar.client import Busy, merge
from meshclaw.connectors.calendar.inbox import calendar_part, decide
from meshclaw.connectors.calendar.tools import toolset

BERLIN = ZoneInfo("Europe/Berlin")
BASE = {"url": "https://cal.example.com/dav", "username": "alice", "password": "secret:alice_cal", "timezone": "Europe/Berlin"}


def meeting(uid: str = "m1@meshclaw", seq: int = 0, organizer: str = "alice@example.com",
            attendees: tuple[str, ...] = ("bob@example.com",)) -> icalendar.Calendar:
    cal = events.new_event(uid, summary="Planning", start=datetime(2026, 3, 2, 10, tzinfo=BERLIN),
                           end=datetime(2026, 3, 2, 11, tzinfo=BERLIN), organizer=organizer, attendees=list(attendees))
    events.replace(events.master(cal), "sequence", seq)
    return cal


def test_toolset_declares_effects_and_sensitive_arguments():
    specs = {s.name: s for s in toolset().specs()}
    assert {n: s.effect.value for n, s in specs.items()} == {
        "calendar.list": "read", "calendar.freebusy": "read", "calendar.create": "external",
        "calendar.update": "external", "calendar.cancel": "external", "calendar.respond": "external",
        "calendar.file_invitation": "write"}
    assert [n for n, s in specs.items() if not s.offered] == ["calendar.file_invitation"]  # for workflow code only
    assert specs["calendar.create"].sensitive_args == ("attendees", "calendar")
    assert specs["calendar.update"].sensitive_args == ("uid", "attendees")
    assert specs["calendar.respond"].sensitive_args == ("uid",)
    assert all(s.description for s in specs.values())


def test_settings_rules():
    s = load_settings(BASE)
    assert s.url == "https://cal.example.com/dav/" and s.smtp_port_or_default == 587
    assert load_settings(BASE | {"smtp_security": "tls"}).smtp_port_or_default == 465
    with pytest.raises(CalendarError, match="smtp_security 'plain' .* only allowed for a mail server on this machine"):
        load_settings(BASE | {"smtp_host": "mail.example.com", "smtp_security": "plain"})
    assert load_settings(BASE | {"smtp_host": "127.0.0.1", "smtp_security": "plain"}).smtp_security == "plain"
    assert load_settings(BASE | {"smtp_host": "localhost", "smtp_security": "plain"}).smtp_host == "localhost"
    with pytest.raises(CalendarError, match="password: .*secrets are never written into the config"):
        load_settings(BASE | {"password": "hunter2"})
    with pytest.raises(CalendarError, match="unknown time zone 'Mars/Base'"):
        load_settings(BASE | {"timezone": "Mars/Base"})
    with pytest.raises(CalendarError, match="set both smtp_username and smtp_password"):
        load_settings(BASE | {"smtp_username": "alice"})
    with pytest.raises(CalendarError, match="no calendar settings"):
        load_settings({})
    assert load_settings(BASE).colleague_path("bob", "bob@example.com") == "bob/work/"


def test_parse_when_keeps_the_instant_and_uses_the_owners_zone():
    assert events.parse_when("2026-03-02T10:00", BERLIN) == datetime(2026, 3, 2, 10, tzinfo=BERLIN)
    utc = events.parse_when("2026-03-02T09:00Z", BERLIN)
    assert utc == datetime(2026, 3, 2, 9, tzinfo=timezone.utc) and utc.tzinfo == BERLIN
    assert events.parse_when("2026-03-02", BERLIN) == datetime(2026, 3, 2, tzinfo=BERLIN)


def test_uid_is_stable_per_call_and_differs_between_calls():
    assert events.uid_for("run-1:t1") == events.uid_for("run-1:t1")
    assert events.uid_for("run-1:t1") != events.uid_for("run-1:t2")
    assert "run-1" not in events.uid_for("run-1:t1") and "run-1" not in events.call_mark("run-1:t1")


def test_request_message_is_imip():
    cal = meeting()
    events.master(cal).add(events.INVITED, "0")
    settings = load_settings(BASE | {"smtp_host": "127.0.0.1", "from_address": "calendar-robot@example.com"})
    msg = imip.build(cal, "REQUEST", settings, "alice@example.com", ["bob@example.com"])
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    # The organizer is the author, the robot only the sender: receivers check From, never Reply-To.
    assert parsed["From"] == "alice@example.com" and parsed["Sender"] == "calendar-robot@example.com"
    assert parsed["Reply-To"] is None
    assert parsed["Subject"] == "Invitation: Planning @ 2026-03-02 10:00"
    part = next(p for p in parsed.walk() if p.get_content_type() == "text/calendar")
    assert part.get_param("method") == "REQUEST"
    itip = calendar_part(parsed)
    assert str(itip["method"]) == "REQUEST" and str(events.master(itip)["uid"]) == "m1@meshclaw"
    assert events.INVITED not in events.master(itip)
    assert "When: 2026-03-02T10:00 to 2026-03-02T11:00 (Europe/Berlin)" in parsed.get_body(("plain",)).get_content()
    # The same invitation sent twice has the same Message-ID; an update does not.
    again = imip.build(cal, "REQUEST", settings, "alice@example.com", ["bob@example.com"])
    assert again["Message-ID"] == msg["Message-ID"]
    events.bump(events.master(cal))
    assert imip.build(cal, "REQUEST", settings, "alice@example.com", ["bob@example.com"])["Message-ID"] != msg["Message-ID"]


def test_cancel_message_marks_the_event_cancelled():
    msg = imip.build(meeting(seq=2), "CANCEL", load_settings(BASE), "alice@example.com", ["bob@example.com"])
    itip = calendar_part(msg)
    assert str(itip["method"]) == "CANCEL" and str(events.master(itip)["status"]) == "CANCELLED"
    assert msg["Subject"].startswith("Cancelled: Planning")


def itip(cal: icalendar.Calendar, method: str) -> icalendar.Calendar:
    return imip.itip(cal, method)


def test_inbox_accepts_invitations_from_the_organizer_to_an_attendee():
    action, data = decide(itip(meeting(), "REQUEST"), None, "bob@example.com", {"alice@example.com"})
    assert action == "added" and "METHOD" not in data


@pytest.mark.parametrize(("incoming", "existing", "recipient", "senders", "expected"), [
    # A forged invitation: the mail is not from the organizer it names.
    (itip(meeting(), "REQUEST"), None, "bob@example.com", {"eve@evil.example"}, "ignored: the sender is not"),
    # Someone else's meeting that merely passed through bob's inbox.
    (itip(meeting(), "REQUEST"), None, "carol@example.com", {"alice@example.com"}, "ignored: the recipient is not"),
    # Eve cannot cancel alice's meeting by reusing its UID with herself as organizer.
    (itip(meeting(seq=5, organizer="eve@evil.example"), "CANCEL"), meeting(), "bob@example.com",
     {"eve@evil.example"}, "ignored: a meeting with this UID already exists, organized by someone else"),
    # A late copy of an older version does not undo an update.
    (itip(meeting(seq=1), "REQUEST"), meeting(seq=2), "bob@example.com", {"alice@example.com"}, "unchanged (older)"),
    (itip(meeting(), "CANCEL"), None, "bob@example.com", {"alice@example.com"}, "ignored: cancels a meeting that is not"),
    (itip(meeting(), "REPLY"), None, "bob@example.com", {"alice@example.com"}, "ignored: answers a meeting that is not"),
    (itip(meeting(), "PUBLISH"), None, "bob@example.com", {"alice@example.com"}, "ignored: method PUBLISH"),
])
def test_inbox_ignores_what_it_must_not_apply(incoming, existing, recipient, senders, expected):
    action, data = decide(incoming, existing, recipient, senders)
    assert action.startswith(expected) and data is None


def test_inbox_cancels_and_updates_from_the_organizer():
    action, data = decide(itip(meeting(seq=1), "CANCEL"), meeting(), "bob@example.com", {"alice@example.com"})
    assert action == "cancelled" and str(events.master(data)["status"]) == "CANCELLED"
    assert events.sequence(events.master(data)) == 1
    action, data = decide(itip(meeting(seq=1), "REQUEST"), meeting(), "bob@example.com", {"alice@example.com"})
    assert action == "updated" and events.sequence(events.master(data)) == 1


def test_busy_periods_merge_back_to_back_meetings():
    t = lambda h, m=0: datetime(2026, 3, 2, h, m, tzinfo=timezone.utc)  # noqa: E731
    merged = merge([Busy(t(10), t(11)), Busy(t(9), t(10)), Busy(t(10, 30), t(11, 30), True), Busy(t(14), t(15), True)])
    assert merged == [Busy(t(9), t(11, 30)), Busy(t(14), t(15), True)]


def test_seed_is_a_deterministic_week():
    monday = date(2026, 3, 2)
    assert seed.calendars(monday) == seed.calendars(monday)
    week = seed.week_of_meetings(monday)
    assert {m.summary for m in week} >= {"Team standup", "1:1 Alice / Bob", "Customer call: Dana (renewal)",
                                         "Deploy review: release 4.2", "All-hands"}
    assert all(monday <= m.start.date() < monday + timedelta(days=5) for m in week)
    per_user = seed.calendars(monday)
    assert len(per_user["alice"]) == 6 and len(per_user["bob"]) == 5 and len(per_user["carol"]) == 5
    assert not any(seed.CUSTOMER in u for u in per_user)  # the customer has no calendar here
    with pytest.raises(ValueError, match="is not a Monday"):
        seed.week_of_meetings(date(2026, 3, 3))


def test_a_whole_meeting_with_an_older_override_keeps_the_override():
    """Master at SEQUENCE 3 sent with an override last changed at 2: both are stored (RFC 5546 2.1.5)."""
    from meshclaw.connectors.calendar.incoming import decide as apply
    from meshclaw.connectors.calendar.scheduling import as_override, parts

    series = meeting(seq=3)
    ev = events.master(series)
    ev.add("rrule", {"freq": "weekly", "count": 3})
    moved = as_override(ev, datetime(2026, 3, 9, 10, tzinfo=BERLIN))
    events.replace(moved, "sequence", 2)
    events.replace(moved, "dtstart", datetime(2026, 3, 9, 15, tzinfo=BERLIN))
    events.replace(moved, "dtend", datetime(2026, 3, 9, 16, tzinfo=BERLIN))
    series.add_component(moved)
    action, data = apply(itip(series, "REQUEST"), None, "bob@example.com", {"alice@example.com"})
    assert action == "added"
    stored = meeting(seq=1)
    events.master(stored).add("rrule", {"freq": "weekly", "count": 3})
    action, data = apply(itip(series, "REQUEST"), stored, "bob@example.com", {"alice@example.com"})
    assert action == "updated: the series, the occurrence 2026-03-09T10:00"
    master, overrides = parts(data)
    assert events.sequence(master) == 3 and [o.decoded("dtstart").hour for o in overrides] == [15]
    # The same occurrence again is a duplicate; alone at a lower SEQUENCE than the series it is older.
    alone = icalendar.Calendar()
    alone.add_component(copy.deepcopy(moved))
    assert apply(itip(alone, "REQUEST"), data, "bob@example.com", {"alice@example.com"}) == ("unchanged", None)
    other = copy.deepcopy(moved)
    events.replace(other, "recurrence-id", datetime(2026, 3, 16, 10, tzinfo=BERLIN))
    alone.subcomponents = [other]
    assert apply(itip(alone, "REQUEST"), data, "bob@example.com", {"alice@example.com"}) == (
        "unchanged (older): the calendar has a newer version of the occurrence 2026-03-16T10:00", None)


@pytest.mark.parametrize(("tzid", "iana"), [
    ("Europe/Berlin", "Europe/Berlin"), ("W. Europe Standard Time", "Europe/Berlin"),
    ("Pacific Standard Time", "America/Los_Angeles"), ("/mozilla.org/20050126_1/Europe/Berlin", "Europe/Berlin"),
    ('"Europe/Lisbon"', "Europe/Lisbon"), ("Customized Time Zone", None), ("EST5EDT-ish", None)])
def test_time_zone_names_map_to_iana(tzid, iana):
    from meshclaw.connectors.calendar.zones import iana_name

    assert iana_name(tzid) == iana


def test_a_reply_to_a_series_with_overrides_names_the_series_only():
    from meshclaw.connectors.calendar.scheduling import as_override

    cal = meeting(organizer="alice@example.com", attendees=("bob@example.com", "carol@example.com"))
    ev = events.master(cal)
    ev.add("rrule", {"freq": "weekly", "count": 3})
    cal.add_component(as_override(ev, datetime(2026, 3, 9, 10, tzinfo=BERLIN)))
    msg = imip.build_reply(cal, load_settings(BASE), "bob@example.com", "alice@example.com", "ACCEPTED")
    sent = calendar_part(msg)
    [only] = sent.walk("VEVENT")
    assert "RECURRENCE-ID" not in only and events.attendee_addresses(only) == ["bob@example.com"]
