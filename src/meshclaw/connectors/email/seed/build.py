"""Building the seed messages deterministically: fixed dates, Message-IDs and MIME boundaries.

The same bytes come out on every run, so tests can rely on sizes and the demo looks the same.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime

ALICE = "Alice Example <alice@example.com>"
BOB = "Bob Manager <bob@example.com>"
CAROL = "Carol SRE <carol@example.com>"
DAVE = "Dave Sales <dave@example.com>"
ERIN = "Erin Finance <erin@example.com>"

_START = datetime(2026, 3, 2, 7, 30, tzinfo=timezone(timedelta(hours=1)))


def when(n: int) -> datetime:
    """Message n's date: ten a day over the working week, from 07:30, fifty minutes apart."""
    return _START + timedelta(days=(n // 10) % 5, minutes=50 * (n % 10))


def _domain(address: str) -> str:
    return address.rpartition("@")[2].rstrip(">").strip() or "example.com"


def _finish(msg: EmailMessage, n: int) -> bytes:
    # EmailMessage picks random boundaries; fixed ones make the bytes reproducible.
    for i, part in enumerate(msg.walk()):
        if part.is_multipart():
            part.set_boundary(f"=_seed{n:03d}_{i}")
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def mail(
    n: int,
    sender: str,
    subject: str,
    text: str | None = None,
    *,
    html: str | None = None,
    to: str = ALICE,
    cc: str | None = None,
    reply_to: str | None = None,
    in_reply_to: str | None = None,
    attachments: tuple[tuple[str, str, bytes], ...] = (),
    calendar: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    """A well-formed message: text and/or HTML, attachments (name, type, bytes), an invitation."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when(n))
    msg["Message-ID"] = f"<seed-{n:03d}@{_domain(sender)}>"
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = in_reply_to
    for k, v in (headers or {}).items():
        msg[k] = v
    if text is not None:
        msg.set_content(text)
        if html is not None:
            msg.add_alternative(html, subtype="html")
    elif html is not None:
        msg.set_content(html, subtype="html")
    if calendar is not None:
        # As calendar clients send iMIP: the invitation is an alternative to the text, not a file.
        msg.add_alternative(calendar, subtype="calendar", params={"method": _method(calendar)})
    for name, ctype, data in attachments:
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return _finish(msg, n)


def _method(calendar: str) -> str:
    for line in calendar.splitlines():
        if line.startswith("METHOD:"):
            return line.split(":", 1)[1].strip()
    return "PUBLISH"


def invitation(uid: str, summary: str, organizer: str, start: str, end: str, *, method: str = "REQUEST",
               location: str = "", description: str = "", attendees: tuple[str, ...] = ("alice@example.com",)) -> str:
    """A minimal iCalendar invitation (RFC 5546 iMIP) as mail clients send it."""
    lines = [
        "BEGIN:VCALENDAR", "PRODID:-//Example Corp//Seed//EN", "VERSION:2.0", f"METHOD:{method}",
        "BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260301T120000Z", f"DTSTART:{start}", f"DTEND:{end}",
        f"SUMMARY:{summary}", f"ORGANIZER;CN={organizer.split('@')[0].title()}:mailto:{organizer}",
    ]
    lines += [f"ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{a}" for a in attendees]
    if location:
        lines.append(f"LOCATION:{location}")
    if description:
        lines.append("DESCRIPTION:" + description.replace("\n", "\\n"))
    if method == "CANCEL":
        lines.append("STATUS:CANCELLED")
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "\n".join(lines) + "\n"


def raw(n: int, sender: str, subject: str, head: str, body: bytes, *, to: str = ALICE) -> bytes:
    """A hand-made message for cases a correct library will not produce: wrong charsets, broken MIME.

    ``head`` holds extra header lines (Content-Type...), ``body`` the exact body bytes.
    """
    top = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {format_datetime(when(n))}\r\n"
        f"Message-ID: <seed-{n:03d}@{_domain(sender)}>\r\nMIME-Version: 1.0\r\n"
    )
    extra = "".join(line.strip() + "\r\n" for line in head.strip().splitlines() if line.strip())
    return (top + extra + "\r\n").encode("utf-8") + body.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
