"""iMIP (RFC 6047): invitations and cancellations as iCalendar in email, sent over SMTP.

The CalDAV servers MeshClaw talks to do no scheduling, so the organizer's side mails
METHOD:REQUEST and METHOD:CANCEL itself; every calendar client (and ``inbox.apply``) knows what
to do with them.  The Message-ID is derived from UID, SEQUENCE and method, so if a crash makes
the connector send the same invitation twice, mail clients and IMAP servers see one message.
"""

from __future__ import annotations

import copy
import hashlib
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import formatdate
from typing import Literal

import aiosmtplib
import icalendar

from . import events
from .errors import CalendarError
from .settings import CalendarSettings

Method = Literal["REQUEST", "CANCEL", "REPLY"]
SMTP_TIMEOUT = 30


def itip(cal: icalendar.Calendar, method: Method) -> icalendar.Calendar:
    """The calendar object as an iTIP message: METHOD set, the connector's bookkeeping removed."""
    out = copy.deepcopy(cal)
    events.replace(out, "method", method)
    for ev in out.walk("VEVENT"):
        for name in [k for k in ev if k.upper().startswith("X-MESHCLAW-")]:
            del ev[name]
        for person in events.attendees_of(ev):  # bookkeeping parameters (when an answer came) too
            for name in [k for k in person.params if k.upper().startswith("X-MESHCLAW-")]:
                del person.params[name]
        if method == "CANCEL":
            events.replace(ev, "status", "CANCELLED")
    return out


def message_id(uid: str, seq: int, method: Method, recipients: list[str]) -> str:
    digest = hashlib.sha256(f"{uid}|{seq}|{method}|{','.join(sorted(r.lower() for r in recipients))}".encode())
    return f"<{digest.hexdigest()[:32]}@meshclaw.invalid>"


def _plain(ev: icalendar.Event, method: Method, settings: CalendarSettings, organizer: str, updated: bool) -> str:
    start, end = events.times(ev)
    lines = [
        {"REQUEST": "Updated invitation" if updated else "Invitation", "CANCEL": "Cancelled"}[method]
        + f": {ev.get('summary', '(no title)')}",
        f"When: {events.local(start, settings.zone)} to {events.local(end, settings.zone)} ({settings.timezone})",
    ]
    if ev.get("location"):
        lines.append(f"Where: {ev['location']}")
    lines.append(f"Organizer: {organizer}")
    people = events.attendee_addresses(ev)
    if people:
        lines.append("Attendees: " + ", ".join(people))
    if ev.get("description") and method == "REQUEST":
        lines += ["", str(ev["description"])]
    return "\n".join(lines) + "\n"


def build(cal: icalendar.Calendar, method: Method, settings: CalendarSettings, organizer: str,
          recipients: list[str]) -> EmailMessage:
    """One email to ``recipients``: a plain-text summary and the text/calendar part clients act on."""
    payload = itip(cal, method)
    ev = events.master(payload)
    seq = events.sequence(ev)
    title = str(ev.get("summary", "(no title)"))
    start, _ = events.times(ev)
    when = events.local(start, settings.zone).replace("T", " ")
    updated = method == "REQUEST" and seq > 0
    subject = {"REQUEST": "Updated invitation" if updated else "Invitation", "CANCEL": "Cancelled"}[method]

    msg = EmailMessage()
    # The organizer is the author (From); a robot address that mails for them is the Sender
    # (RFC 5322 3.6.2).  Receivers check the organizer against From, never against Reply-To.
    msg["From"] = organizer
    if settings.from_address and settings.from_address.lower() != organizer.lower():
        msg["Sender"] = settings.from_address
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = f"{subject}: {title} @ {when}"
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id(str(ev["uid"]), seq, method, recipients)
    msg.set_content(_plain(ev, method, settings, organizer, updated))
    msg.add_alternative(payload.to_ical().decode(), subtype="calendar", params={"method": method}, charset="utf-8")
    return msg


def build_reply(cal: icalendar.Calendar, settings: CalendarSettings, attendee: str, organizer: str,
                partstat: str, comment: str = "") -> EmailMessage:
    """An attendee's answer (RFC 5546 REPLY) to the organizer: the event naming only the attendee."""
    payload = itip(cal, "REPLY")
    ev = events.master(payload)
    # An answer to the meeting names the series only; overrides would repeat everyone's answers.
    payload.subcomponents = [c for c in payload.subcomponents if c.name != "VEVENT" or c is ev]
    mine = [a for a in events.attendees_of(ev) if events.mailto(a).lower() == attendee.lower()]
    if "ATTENDEE" in ev:
        del ev["ATTENDEE"]
    answer = mine[0] if mine else icalendar.vCalAddress(f"mailto:{attendee}")
    answer.params["PARTSTAT"] = partstat
    answer.params.pop("RSVP", None)
    ev.add("attendee", answer)
    for name in ("description", "comment"):
        events.replace(ev, name, None)
    if comment.strip():
        ev.add("comment", comment.strip())
    events.replace(ev, "dtstamp", datetime.now(timezone.utc))
    seq, title = events.sequence(ev), str(ev.get("summary", "(no title)"))
    said = {"ACCEPTED": "Accepted", "DECLINED": "Declined", "TENTATIVE": "Tentatively accepted"}[partstat]

    msg = EmailMessage()
    msg["From"] = attendee
    msg["To"] = organizer
    msg["Subject"] = f"{said}: {title}"
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id(str(ev["uid"]), seq, "REPLY", [attendee, partstat])
    msg.set_content(f"{attendee} {said.lower()} {title}." + (f"\n\n{comment.strip()}" if comment.strip() else "") + "\n")
    msg.add_alternative(payload.to_ical().decode(), subtype="calendar", params={"method": "REPLY"}, charset="utf-8")
    return msg


async def send(settings: CalendarSettings, smtp_password: str | None, msg: EmailMessage,
               recipients: list[str]) -> list[str]:
    """Send ``msg``; returns the recipients the server refused (when it accepted the others).

    With ``backend: sandbox``, ``smtp_password`` is the owner's workplace view, which delivers it.
    """
    if settings.backend == "sandbox":
        from .sandbox import deliver

        return deliver(settings, smtp_password, msg, recipients)
    if not settings.smtp_host:
        raise CalendarError("invitations need a mail server: set smtp_host (and smtp_* settings) in the calendar settings")
    try:
        refused, _ = await aiosmtplib.send(
            msg,
            sender=settings.from_address or None,
            recipients=recipients,
            hostname=settings.smtp_host,
            port=settings.smtp_port_or_default,
            username=settings.smtp_username,
            password=smtp_password,
            use_tls=settings.smtp_security == "tls",
            # True insists on STARTTLS: a server that does not offer it fails instead of silently downgrading.
            start_tls=True if settings.smtp_security == "starttls" else False,
            timeout=SMTP_TIMEOUT,
        )
    except aiosmtplib.SMTPAuthenticationError:
        raise CalendarError(
            f"the mail server {settings.smtp_host} rejected the login for {settings.smtp_username!r}; "
            "check smtp_username and the smtp_password secret") from None
    except aiosmtplib.SMTPRecipientsRefused as e:
        refused = ", ".join(r.recipient for r in e.recipients)
        raise CalendarError(f"the mail server refused the recipients: {refused}") from None
    except (aiosmtplib.SMTPException, OSError) as e:
        raise CalendarError(f"sending the invitation via {settings.smtp_host}:{settings.smtp_port_or_default} failed: "
                            f"{type(e).__name__}: {e}") from None
    return sorted(refused)
