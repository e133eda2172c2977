"""What a received iTIP message (RFC 5546) does to the copy in the recipient's calendar.

``decide`` is pure: it takes the message, the stored copy (or None) and who sent and received
it, and returns what happened and the calendar data to store (None: store nothing).  Rules:

* Trust: a REQUEST or CANCEL comes from the organizer it names (in From) and reaches an
  attendee; a stored meeting is changed only by its own organizer; a meeting that names the
  recipient as organizer is never taken from mail (the owner's own meetings are made in the
  calendar, so such a message is a forgery).  Everything stored from mail is marked
  ``X-MESHCLAW-RECEIVED`` so that listings label it as outside content.
* Occurrences: a component with RECURRENCE-ID changes that occurrence only (an override); a
  CANCEL of one occurrence stores it as a cancelled override (RFC 5546 3.2.5); RANGE=THISANDFUTURE
  changes or ends every later occurrence.  A single-occurrence message never replaces the series.
* Ordering: higher SEQUENCE wins, at equal SEQUENCE the later DTSTAMP; an older copy is
  "unchanged (older)".  An update at the same SEQUENCE keeps the attendee's own answer.
"""

from __future__ import annotations

import copy
from datetime import timezone
from zoneinfo import ZoneInfo

import icalendar

from . import events, zones
from .scheduling import (as_override, end_before, find_override, is_this_and_future, keep_answer, label,
                         later, later_starts, occurs, order, parts, plain_rdates, recurrence_id, replace_components,
                         same_time, stamp)

Result = tuple[str, icalendar.Calendar | None]
ANSWERS = ("ACCEPTED", "DECLINED", "TENTATIVE")
ANSWERED_AT = "X-MESHCLAW-ANSWERED"  # ATTENDEE parameter: the DTSTAMP (UTC) of the answer recorded
NEEDED = {"UID", "DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID", "SEQUENCE", "DTSTAMP",
          "STATUS", "ORGANIZER", "ATTENDEE"}


def decide(itip: icalendar.Calendar, existing: icalendar.Calendar | None, recipient: str,
           senders: set[str], zone: ZoneInfo | None = None) -> Result:
    """What to do with one iTIP object: (action, calendar data to store or None).

    ``recipient`` is the calendar owner's address, ``senders`` the lower-cased From
    addresses of the mail, ``zone`` the owner's zone (for times in a zone nobody defined).
    """
    method = str(itip.get("method", "")).upper()
    found = list(itip.walk("VEVENT"))
    if not found:
        return "ignored: the calendar part holds no event", None
    if len({str(c.get("uid", "")) for c in found}) != 1 or not str(found[0].get("uid", "")):
        return "ignored: an iTIP message carries exactly one meeting (one UID)", None
    problem = unreadable(found, method)
    if problem:
        return f"ignored: {problem}", None
    if method == "REPLY":
        return _reply(found, existing, recipient, senders)
    if method not in ("REQUEST", "CANCEL"):
        return f"ignored: method {method or 'missing'} is not handled", None
    organizers = {(events.organizer_of(c) or "").lower() for c in found}
    organizer = organizers.pop() if len(organizers) == 1 else ""
    if not organizer or organizer not in senders:
        return "ignored: the sender is not the meeting's organizer", None
    if organizer == recipient.lower():
        return "ignored: the message names the recipient as organizer; the owner's own meetings are not taken from mail", None
    if recipient.lower() not in {a.lower() for c in found for a in events.attendee_addresses(c)}:
        return "ignored: the recipient is not an attendee", None
    if existing is not None:
        master, overrides = parts(existing)
        ref = master if master is not None else (overrides[0] if overrides else None)
        if ref is not None and (events.organizer_of(ref) or "").lower() != organizer:
            return "ignored: a meeting with this UID already exists, organized by someone else", None
    try:
        itip, notes = zones.normalize(itip, zone)
        plain_rdates(itip)
    except ValueError as e:
        return f"ignored: the calendar part cannot be read ({e})", None
    try:
        action, data = _cancel(itip, existing) if method == "CANCEL" else _request(itip, existing, recipient)
    except ValueError as e:  # a rule the recurrence library cannot expand, and the like
        return f"ignored: the meeting's times cannot be worked out ({str(e).splitlines()[0][:200]})", None
    if data is None:
        return action, None
    events.replace(data, "method", None)
    for ev in data.walk("VEVENT"):
        events.replace(ev, events.RECEIVED, "mail")
    return action + (f" (best effort: {'; '.join(notes)})" if notes else ""), data


def unreadable(found: list[icalendar.Event], method: str) -> str | None:
    """Why the events of a message cannot be applied, or None (RFC 5545 value types, RFC 5546 3.2).

    A property the scheduling rules depend on that icalendar could not read makes the message
    unusable; an unreadable description or vendor property does not.
    """
    for ev in found:
        broken = [f"{name} ({why})" for name, why in getattr(ev, "errors", []) if name.upper() in NEEDED]
        if broken:
            return "the invitation cannot be read: " + "; ".join(broken)[:300]
        if method == "REQUEST" and "DTSTART" not in ev:
            return "the invitation has no start time (DTSTART)"
        if "DTSTART" in ev and ("DTEND" in ev or "DURATION" in ev):
            start, end = events.times(ev)
            if type(start) is not type(end) or end < start:  # type: ignore[operator]
                return "the invitation ends before it starts (or mixes a date with a date-time)"
    return None


def _copy(cal: icalendar.Calendar) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(cal.to_ical())


def _summary(verb: str, done: list[str], older: list[str]) -> str:
    text = verb if done == ["the series"] else f"{verb}: {', '.join(done)}"
    return text + (f"; unchanged (older): {', '.join(older)}" if older else "")


def _request(itip: icalendar.Calendar, existing: icalendar.Calendar | None, recipient: str) -> Result:
    new_master, new_overrides = parts(itip)
    if existing is None:
        if new_master is None:
            which = ", ".join(label(recurrence_id(o)) for o in new_overrides)
            return f"added: only the occurrence {which} (the rest of the series was not sent)", _copy(itip)
        return "added", _copy(itip)
    data = _copy(existing)
    master, _ = parts(data)
    done: list[str] = []
    older: list[str] = []
    rejected: list[str] = []
    series = 0  # how the series in the message compares with the stored one
    if new_master is not None:
        series = order(new_master, master) if master is not None else 1
        if series < 0:
            older.append("the series")
        elif series > 0:
            keep_answer(new_master, master, recipient)
            sent = [recurrence_id(o) for o in new_overrides]
            # Changes of occurrences the new series no longer has are void (the series was moved).
            void = [o for o in parts(data)[1] if not occurs(new_master, recurrence_id(o))
                    and not any(same_time(recurrence_id(o), w) for w in sent)]
            replace_components(data, ([master] if master is not None else []) + void, [copy.deepcopy(new_master)])
            master = parts(data)[0]
            done.append("the series")
            if void:
                done.append(f"changes of {len(void)} occurrence(s) the new series no longer has removed")
    for o in new_overrides:
        when = recurrence_id(o)
        old = find_override(data, when)
        if old is not None:
            newer = order(o, old)
        elif new_master is not None:
            newer = -1 if series < 0 else 1  # part of the whole meeting sent: as new as its series
        else:
            newer = -1 if master is not None and events.sequence(o) < events.sequence(master) else 1
        if newer < 0:
            older.append(f"the occurrence {label(when)}")
            continue
        if newer == 0:
            continue
        if old is None and master is not None and not occurs(master, when):
            rejected.append(f"{label(when)} is not an occurrence of the series (RECURRENCE-ID matches none)")
            continue
        keep_answer(o, old or master, recipient)
        if is_this_and_future(o) and master is not None:
            done.append(_future(data, master, o))
        else:
            replace_components(data, [old] if old is not None else [], [copy.deepcopy(o)])
            done.append(f"the occurrence {label(when)}")
    if not done:
        if rejected:
            return f"ignored: {rejected[0]}", None
        if older:
            return f"unchanged (older): the calendar has a newer version of {', '.join(older)}", None
        return "unchanged", None
    return _summary("updated", done, older) + "".join(f"; ignored: {r}" for r in rejected), data


def _future(data: icalendar.Calendar, master: icalendar.Event, change: icalendar.Event) -> str:
    """Apply a RANGE=THISANDFUTURE change: each later occurrence becomes an override.

    Written out one by one because CalDAV servers' free/busy ignores RANGE; an open-ended series
    keeps the change as the range override the organizer sent (clients that read RANGE show it).
    """
    when = recurrence_id(change)
    starts = later_starts(master, when)
    if starts is None:
        replace_components(data, [o for o in [find_override(data, when)] if o is not None], [copy.deepcopy(change)])
        return (f"this and later occurrences from {label(when)} (best effort: kept as a range, which some "
                "servers' free/busy does not apply)")
    begin, end = events.times(change)
    shift, length = begin - when, end - begin
    for start in starts:
        one = copy.deepcopy(change)
        events.replace(one, "recurrence-id", start)
        events.replace(one, "dtstart", start + shift)
        events.replace(one, "dtend", start + shift + length)
        events.replace(one, "duration", None)
        old = find_override(data, start)
        replace_components(data, [old] if old is not None else [], [one])
    return f"this and later occurrences from {label(when)}"


def _cancel(itip: icalendar.Calendar, existing: icalendar.Calendar | None) -> Result:
    if existing is None:
        return "ignored: cancels a meeting that is not in the calendar", None
    data = _copy(existing)
    master, overrides = parts(data)
    new_master, new_overrides = parts(itip)
    everything = list(data.walk("VEVENT"))
    if new_master is not None:  # the whole meeting
        ref = master if master is not None else everything[0]
        if events.sequence(new_master) < events.sequence(ref):
            return "unchanged (older): the calendar has a newer version of the meeting", None
        _mark_cancelled(everything, events.sequence(new_master))
        return "cancelled", data
    done: list[str] = []
    older: list[str] = []
    for o in new_overrides:
        when, seq = recurrence_id(o), events.sequence(o)
        old = find_override(data, when)
        if is_this_and_future(o) and master is not None:
            if seq < events.sequence(master):
                older.append(f"the occurrences from {label(when)}")
                continue
            following = [v for v in parts(data)[1] if not same_time(recurrence_id(v), when) and later(recurrence_id(v), when)]
            if not end_before(master, when):
                _mark_cancelled(everything, seq)
                return "cancelled", data
            _mark_cancelled(following + ([old] if old is not None else []), seq)
            done.append(f"the occurrences from {label(when)} on")
            continue
        if old is not None:
            if order(o, old) < 0:
                older.append(f"the occurrence {label(when)}")
                continue
            _mark_cancelled([old], seq)
        elif master is not None:
            if seq < events.sequence(master):
                older.append(f"the occurrence {label(when)}")
                continue
            if not occurs(master, when):
                return f"ignored: cancels {label(when)}, which is not an occurrence of the series", None
            one = as_override(master, when)
            if "DTSTAMP" in o:
                events.replace(one, "dtstamp", o.decoded("dtstamp"))
            _mark_cancelled([one], seq)
            data.add_component(one)
        else:
            return "ignored: cancels an occurrence that is not in the calendar", None
        done.append(f"the occurrence {label(when)}")
    if not done:
        return f"unchanged (older): the calendar has a newer version of {', '.join(older)}", None
    return _summary("cancelled", done, older), data


def _mark_cancelled(components: list[icalendar.Event], seq: int) -> None:
    for ev in components:
        events.replace(ev, "status", "CANCELLED")
        events.replace(ev, "sequence", max(seq, events.sequence(ev)))


def _reply(found: list[icalendar.Event], existing: icalendar.Calendar | None, recipient: str,
           senders: set[str]) -> Result:
    """An attendee's answer, received by the organizer: record it on the series or the occurrence."""
    if existing is None:
        return "ignored: answers a meeting that is not in the calendar", None
    data = _copy(existing)
    master, _ = parts(data)
    ev = found[0]
    stored = master if master is not None else parts(data)[1][0]
    if (events.organizer_of(stored) or "").lower() != recipient.lower():
        return "ignored: the recipient does not organize this meeting", None
    answers = events.attendees_of(ev)
    if len(answers) != 1:
        return "ignored: an answer names exactly one attendee", None
    who = events.mailto(answers[0]).lower()
    if who not in senders:
        return "ignored: the answer does not come from the attendee it names", None
    partstat = str(answers[0].params.get("PARTSTAT", "")).upper()
    if partstat not in ANSWERS:
        return f"ignored: {partstat or 'no'} answer is not one of accepted, declined, tentative", None
    where = ""
    if "RECURRENCE-ID" in ev:
        when = recurrence_id(ev)
        target = find_override(data, when)
        if target is None:
            if master is None or not occurs(master, when):
                return f"ignored: answers {label(when)}, which is not an occurrence of the meeting", None
            target = as_override(master, when)
            data.add_component(target)
        stored, where = target, f" for {label(when)}"
    if events.sequence(ev) < events.sequence(stored):
        return "ignored: answers an older version of the meeting", None
    mine = [a for a in events.attendees_of(stored) if events.mailto(a).lower() == who]
    if not mine:
        return "ignored: the sender is not an attendee of this meeting", None
    # Answers are ordered by their DTSTAMP (RFC 5546 2.1.5): a late copy of an earlier answer loses.
    answered_at = stamp(ev).astimezone(timezone.utc).isoformat(timespec="seconds")  # fixed width: compares as text
    if str(mine[0].params.get(ANSWERED_AT, "")) > answered_at:
        return f"unchanged (older): a later answer from {who} is recorded", None
    if str(mine[0].params.get("PARTSTAT", "")).upper() == partstat:
        return "unchanged", None
    mine[0].params["PARTSTAT"] = partstat  # the property object itself: the stored copy changes with it
    mine[0].params[ANSWERED_AT] = answered_at
    mine[0].params.pop("RSVP", None)
    return f"answer recorded: {who} {partstat.lower()}{where}", data
