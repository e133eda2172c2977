"""What the model sees of a message: a short summary for lists, a bounded safe view for reading.

Only text parts are downloaded (at most TEXT_CAP bytes each); attachments are listed from the
server's BODYSTRUCTURE with type and size, never downloaded, decoded or opened.
"""

from __future__ import annotations

import binascii
import email
import email.policy
import quopri
import re
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

from .client import MailClient
from .imap_wire import Part, WireError, containers
from .mime_kinds import CALENDAR_TYPES, Shape, classify, delivery_report, inline_pgp, invitation, structure_of
from .mime_names import attachment_name
from .safe_text import clean_text, decode_bytes, decode_header_notes, decode_header_value, html_to_text, invisible_count

TEXT_CAP = 256 * 1024  # bytes of a text/plain part fetched at most
HTML_CAP = 1024 * 1024  # bytes of a text/html part fetched at most
CALENDAR_CAP = 64 * 1024
RAW_FALLBACK_CAP = 512 * 1024  # when the server's MIME description is unusable, read this much raw
MAX_ATTACHMENTS_LISTED = 20


@dataclass(frozen=True)
class Summary:
    uid: int
    sender: str  # the bare address, lower-case ("" if missing)
    sender_display: str  # "Bob Example <bob@example.com>"
    to: list[str]
    subject: str
    date: str
    flags: tuple[str, ...]
    size: int
    message_id: str

    @property
    def unread(self) -> bool:
        return "\\Seen" not in self.flags

    def brief(self) -> dict[str, Any]:
        """The compact form a model gets in lists: ids and a few words, not the message."""
        out: dict[str, Any] = {"uid": self.uid, "from": self.sender_display, "subject": self.subject[:120], "date": self.date}
        if self.unread:
            out["unread"] = True
        if "\\Flagged" in self.flags:
            out["flagged"] = True
        keywords = [f for f in self.flags if not f.startswith("\\") and not f.startswith("$Meshclaw")]
        if keywords:
            out["labels"] = keywords
        if self.size > 100_000:
            out["size"] = self.size
        return out


class Headers(dict):
    """Header name (lower-case) to its first raw value, as str with undecodable bytes kept as
    surrogate escapes (decode_header_value recovers them). Never a Header object."""

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(name.lower(), default)


def header_block(block: Any) -> Headers:
    """The header fields of a raw header block (bytes), each name's first value, undecoded."""
    raw = block if isinstance(block, bytes) else (block or "").encode()
    # compat32 never raises on malformed headers; raw_items() gives values exactly as sent.
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    out = Headers()
    for name, value in msg.raw_items():
        out.setdefault(name.lower(), value if isinstance(value, str) else str(value))
    return out


def addresses(value: str | None) -> list[tuple[str, str]]:
    """(display name, address) pairs from an address header; malformed entries skipped.

    The header is split into addresses before display names are decoded: an encoded name may hide
    a comma (``=?windows-1252?Q?M=FCller=2C_J=FCrgen?=``) that is part of the name, not a separator
    (RFC 2047 5(3)). Raw 8-bit names are decoded like any raw header.
    """
    if not value:
        return []
    pairs = getaddresses([value.replace("\r", " ").replace("\n", " ")])
    return [(decode_header_value(n, limit=200), decode_header_value(a, limit=320).lower())
            for n, a in pairs if "@" in a][:50]


def _display(pairs: list[tuple[str, str]]) -> str:
    """``Name <address>``, the name quoted when it holds a comma or another RFC 5322 special
    (``"Müller, Jürgen" <juergen@example.org>``), so the text is still one mailbox if copied."""
    if not pairs:
        return "(unknown sender)"
    name, addr = pairs[0]
    if not name or name.lower() == addr:
        return addr
    if re.search(r'[()<>\[\]:;@\\,"]', name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{addr}>"


def _date(header: str | None, internal: Any) -> str:
    for attempt in (header, internal):
        if not attempt:
            continue
        text = attempt.decode() if isinstance(attempt, bytes) else str(attempt)
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            try:
                when = datetime.strptime(text, "%d-%b-%Y %H:%M:%S %z")  # IMAP INTERNALDATE
            except ValueError:
                continue
        return when.isoformat(timespec="minutes")
    return ""


def summarize(item: dict[str, Any]) -> Summary:
    """A Summary from a FETCH of UID, FLAGS, RFC822.SIZE, INTERNALDATE and summary headers."""
    block = next((v for k, v in item.items() if k.startswith("BODY[HEADER")), b"")
    h = header_block(block)
    sender = addresses(h.get("From"))
    return Summary(
        uid=int(item["UID"]),
        sender=sender[0][1] if sender else "",
        sender_display=_display(sender),
        to=[a for _, a in addresses(h.get("To"))],
        subject=decode_header_value(h.get("Subject")) or "(no subject)",
        date=_date(h.get("Date"), item.get("INTERNALDATE")),
        flags=tuple(str(f) for f in item.get("FLAGS") or []),
        size=int(item.get("RFC822.SIZE") or 0),
        message_id=decode_header_value(h.get("Message-ID"), limit=250),
    )


_B64_LINE = re.compile(rb"[A-Za-z0-9+/]*={0,2}")


def _base64_lines(data: bytes) -> tuple[bytes, int]:
    """Decode base64 line by line, skipping lines that are not base64. Returns bytes and how many
    lines were skipped. A partial fetch may cut the last line: its whole groups are still decoded."""
    out, bad = [], 0
    lines = [ln.strip() for ln in data.splitlines() if ln.strip()]
    for i, line in enumerate(lines):
        if not _B64_LINE.fullmatch(line):
            bad += 1
            continue
        if len(line) % 4:
            if i != len(lines) - 1:
                bad += 1
                continue
            line = line[: len(line) // 4 * 4]
        try:
            out.append(binascii.a2b_base64(line))
        except binascii.Error:
            bad += 1
    return b"".join(out), bad


def decode_transfer(data: bytes, encoding: str) -> tuple[bytes, str | None]:
    """Undo base64 / quoted-printable on a (possibly truncated) part. Returns bytes and a note."""
    if encoding == "base64":
        decoded, bad = _base64_lines(data)
        return decoded, (f"{bad} line(s) of broken base64 skipped" if bad else None)
    if encoding == "quoted-printable":
        return quopri.decodestring(data), None
    if encoding not in ("7bit", "8bit", "binary", ""):
        return data, f"unknown transfer encoding {encoding[:30]!r}; shown undecoded"
    return data, None


def _attachment(p: Part, notes: list[str]) -> dict[str, Any]:
    name, more = attachment_name(p.disposition_params, p.params)
    notes += more
    return {"name": name or f"(unnamed {p.type})", "type": p.type, "size": p.decoded_size}


def _calendar(text: str, notes: list[str]) -> dict[str, str]:
    fields, more = invitation(text)
    notes += more
    return fields


def labelled_text(text: str, shape: Shape, calendar: dict[str, str]) -> tuple[str, list[str]]:
    """The text to show and the message's content labels: an unreadable (encrypted) body is
    replaced by what it is, inline PGP armour is removed, and an invitation is named by its METHOD
    (RFC 5546: REQUEST, CANCEL, REPLY...)."""
    if shape.unreadable and not text.strip():
        text = shape.unreadable
    text, pgp_labels = inline_pgp(text)
    labels = shape.labels + pgp_labels
    if calendar:
        method = calendar.get("method", "").upper()
        label = {"CANCEL": "meeting cancellation", "REPLY": "meeting reply"}.get(method, "meeting invitation")
        labels.append(label + (" (one occurrence)" if calendar.get("recurrence-id") else ""))
    return text, list(dict.fromkeys(labels))


def read_message(client: MailClient, uid: int, max_chars: int) -> tuple[Summary, dict[str, Any]]:
    """Read one message in the selected folder: headers, safe text, attachments, notes.

    Returns the summary (for labelling) and the model-facing view. Never sets \\Seen.
    """
    item, leafs = client.structure(uid)
    summary = summarize(item)
    h = header_block(item.get("BODY[HEADER]", b""))
    notes = [f"subject: {n}" for n in decode_header_notes(h.get("Subject"))[1]]
    notes += [f"sender: {n}" for n in decode_header_notes(h.get("From"))[1]]
    report: dict[str, str] = {}
    if leafs is None:
        text, attachments, calendar, shape = _from_raw(client, uid, notes, h)
    else:
        try:
            nodes = containers(item.get("BODYSTRUCTURE"))
        except WireError:
            nodes = []
        shape = classify(h, nodes, leafs)
        text, attachments, calendar, report = _from_parts(client, uid, leafs, notes, shape)
        header_size = len(item.get("BODY[HEADER]") or b"")
        if not text.strip() and not (shape.unreadable or calendar or attachments) and summary.size > header_size:
            # The structure promised text that is not there (e.g. a multipart without boundary):
            # show the body as it is rather than nothing. Never for an encrypted body: its
            # ciphertext is not text.
            body = client.sections(uid, {"TEXT": TEXT_CAP}).get("TEXT", b"")
            text, note = decode_bytes(body, None)
            notes.append("the MIME structure is broken; showing the undecoded body")
            notes += [note] if note else []
    if shape.unreadable and not text.strip():
        notes = [n for n in notes if n != "the message has no text part"]
    text, labels = labelled_text(text, shape, calendar)
    notes += shape.notes
    hidden_chars = invisible_count(text)
    text, truncated = clean_text(text, max_chars)
    if hidden_chars:
        notes.append(f"{hidden_chars} invisible control or formatting characters removed")
    view: dict[str, Any] = {
        "uid": uid,
        "from": summary.sender_display,
        "to": summary.to[:20],
        "subject": summary.subject,
        "date": summary.date,
        "unread": summary.unread,
    }
    cc = [a for _, a in addresses(h.get("Cc"))]
    if cc:
        view["cc"] = cc[:20]
    reply_to = addresses(h.get("Reply-To"))
    if reply_to and reply_to[0][1] != summary.sender:
        view["reply_to"] = reply_to[0][1]  # differs from From: a classic phishing tell, worth seeing
    view["text"] = text or "(no text)"
    if truncated:
        view["text_truncated"] = True
    if attachments:
        view["attachments"] = attachments[:MAX_ATTACHMENTS_LISTED]
        if len(attachments) > MAX_ATTACHMENTS_LISTED:
            notes.append(f"{len(attachments) - MAX_ATTACHMENTS_LISTED} more attachments not listed")
    if calendar:
        view["invitation"] = calendar
    if report:
        view["delivery_report"] = report
    if labels:
        view["content_labels"] = labels
    if notes:
        view["notes"] = notes
    return summary, view


def _from_parts(client: MailClient, uid: int, leafs: list[Part], notes: list[str],
                shape: Shape) -> tuple[str, list, dict, dict]:
    shown = [p for p in leafs if p.section not in shape.hidden]
    plain = next((p for p in shown if p.type == "text/plain" and not p.is_attachment), None)
    html = next((p for p in shown if p.type == "text/html" and not p.is_attachment), None)
    cal = next((p for p in shown if p.type in CALENDAR_TYPES), None)
    status = next((p for p in leafs if p.type == "message/delivery-status"), None)
    body = plain or html
    # Everything but the shown text and inline alternatives is listed (an inline invitation is shown
    # as "invitation" instead); nothing listed is downloaded.
    attachments = [
        _attachment(p, notes) for p in shown
        if p is not body and (p.is_attachment or p.type not in ("text/plain", "text/html", "text/calendar"))
    ]
    caps = {}
    if body is not None:
        caps[body.section] = HTML_CAP if body is html else TEXT_CAP
    if cal is not None and cal.size <= CALENDAR_CAP:
        caps[cal.section] = CALENDAR_CAP
    elif cal is not None:
        notes.append(f"the invitation is large ({cal.size:,} bytes) and was not read")
    if status is not None:
        caps[status.section] = CALENDAR_CAP
    got = client.sections(uid, caps)
    text = ""
    if body is not None:
        raw = got.get(body.section, b"")
        if body.size > caps[body.section]:
            notes.append(f"the message text is long ({body.size:,} bytes); only the start was read")
        data, note = decode_transfer(raw, body.encoding)
        notes += [note] if note else []
        text, note = decode_bytes(data, body.charset)
        notes += [note] if note else []
        if body is html:
            text, html_notes = html_to_text(text)
            notes.append("HTML-only message, converted to text")
            notes += html_notes
    elif leafs:
        notes.append("the message has no text part")
    calendar = {}
    if cal is not None and cal.section in got:
        data, _ = decode_transfer(got[cal.section], cal.encoding)
        calendar = _calendar(decode_bytes(data, cal.charset)[0], notes)
    report = delivery_report(decode_transfer(got[status.section], status.encoding)[0]) if status and status.section in got else {}
    return text, attachments, calendar, report


def _from_raw(client: MailClient, uid: int, notes: list[str], headers: Headers) -> tuple[str, list, dict, Shape]:
    # The server's structure did not parse: read the start of the raw message and let the lenient
    # email parser make what it can of it (a safe partial result rather than an error).
    raw = client.sections(uid, {"": RAW_FALLBACK_CAP}).get("", b"")
    notes.append("the message structure could not be read; showing what could be parsed from its start")
    return parsed_view(email.message_from_bytes(raw, policy=email.policy.compat32), headers, notes)


def parsed_view(msg: Message, headers: Headers, notes: list[str]) -> tuple[str, list, dict, Shape]:
    """Text, attachments, invitation and shape of a message parsed locally (the email package),
    by the same rules as a message read through the server's BODYSTRUCTURE."""
    nodes, leafs = structure_of(msg)
    shape = classify(headers, nodes, [p for p, _ in leafs])
    shown = [(p, part) for p, part in leafs if p.section not in shape.hidden]
    if any(part.get_content_type().startswith("multipart/") for _, part in shown):
        notes.append("the MIME structure is broken; showing the undecoded body")
    body = next((x for x in shown if x[0].type == "text/plain" and not x[0].is_attachment), None) or next(
        (x for x in shown if x[0].type == "text/html" and not x[0].is_attachment), None)
    cal = next((x for x in shown if x[0].type in CALENDAR_TYPES), None)
    text, calendar = "", {}
    if body is not None:
        text, note = decode_bytes(body[1].get_payload(decode=True) or b"", body[0].charset)
        notes += [note] if note else []
        if body[0].type == "text/html":
            text, more = html_to_text(text)
            notes += more
    if cal is not None:
        calendar = _calendar(decode_bytes(cal[1].get_payload(decode=True) or b"", cal[0].charset)[0], notes)
    # Listed by the same rule as _from_parts; nothing listed is opened.
    attachments = [
        _attachment(x[0], notes) | {"size": len(x[1].get_payload(decode=True) or b"")} for x in shown
        if x is not body and (x[0].is_attachment or x[0].type not in ("text/plain", "text/html", "text/calendar"))
    ]
    return text, attachments, calendar, shape
