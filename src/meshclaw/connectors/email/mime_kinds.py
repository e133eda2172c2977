"""What kind of message this is, from its MIME shape and headers: signed, encrypted, an invitation,
a bounce, a mailing-list post, Outlook's winmail.dat.

Each kind becomes a short label the model sees with the message. Signed and encrypted bodies are
labelled and never shown as their armour or ciphertext (which reads as garbage and can be long);
signatures are not checked, and the label says so. Sources: RFC 1847 (multipart/signed and
/encrypted), RFC 8551 (S/MIME), RFC 3156 and RFC 4880 (PGP/MIME, inline PGP), RFC 3464 (delivery
status), RFC 8098 (read receipts), RFC 2919 (List-Id), RFC 3834 (Auto-Submitted), RFC 6047 (iMIP).
"""

from __future__ import annotations

import email
import email.policy
import re
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import icalendar

from .imap_wire import Container, Part
from .mime_names import decoded_value
from .safe_text import clean_text, decode_bytes

SMIME_SIGNATURES = {"application/pkcs7-signature", "application/x-pkcs7-signature"}
SMIME_OPAQUE = {"application/pkcs7-mime", "application/x-pkcs7-mime"}
PGP_SIGNATURE = "application/pgp-signature"
TNEF_TYPES = {"application/ms-tnef", "application/vnd.ms-tnef"}
CALENDAR_TYPES = {"text/calendar", "application/ics"}
NOT_CHECKED = "signatures are not checked here: a signed label says nothing about who really sent it"


@dataclass
class Shape:
    """What classify() found: labels for the model, sections not to list as attachments, and the
    text to show instead of a body that cannot be read here."""

    labels: list[str] = field(default_factory=list)
    hidden: set[str] = field(default_factory=set)
    unreadable: str | None = None
    notes: list[str] = field(default_factory=list)


def classify(headers: Any, nodes: list[Container], leafs: list[Part]) -> Shape:
    """Labels for a message from its headers (anything with ``.get(name)``), its multipart nodes
    and its leaf parts (as imap_wire parses a BODYSTRUCTURE)."""
    shape = Shape()
    by_section = {p.section: p for p in leafs}
    for node in nodes:
        protocol = node.params.get("protocol", "").lower()
        first, second = by_section.get(_child(node, 1)), by_section.get(_child(node, 2))
        if node.type == "multipart/signed":
            kind = "PGP/MIME" if protocol == PGP_SIGNATURE else "S/MIME" if protocol in SMIME_SIGNATURES else "unknown kind"
            shape.labels.append(f"signed ({kind})")
            if second is not None:
                shape.hidden.add(second.section)  # the signature itself: not something to open
            shape.notes.append(NOT_CHECKED)
        elif node.type == "multipart/encrypted":
            kind = "PGP/MIME" if protocol == "application/pgp-encrypted" else "unknown kind"
            shape.labels.append(f"encrypted ({kind})")
            shape.hidden |= {p.section for p in (first, second) if p is not None}
            shape.unreadable = f"(this message is encrypted with {kind}; its text cannot be read here)"
        elif node.type == "multipart/report":
            report = node.params.get("report-type", "").lower()
            if report == "delivery-status":
                shape.labels.append("delivery failure report (bounce)")
            elif report == "disposition-notification":
                shape.labels.append("read receipt")
    for p in leafs:
        name = (p.filename or "").lower()
        if p.type in SMIME_OPAQUE or (name.endswith((".p7m", ".p7z")) and p.type == "application/octet-stream"):
            smime_type = p.params.get("smime-type", "").lower()
            shape.hidden.add(p.section)
            if smime_type == "signed-data":
                shape.labels.append("signed (S/MIME, opaque)")
                shape.unreadable = "(this message is S/MIME signed-data: its text is packed inside the signature and cannot be shown here)"
                shape.notes.append(NOT_CHECKED)
            elif smime_type == "compressed-data":
                shape.labels.append("compressed (S/MIME)")
                shape.unreadable = "(this message is S/MIME compressed-data; its text cannot be shown here)"
            else:
                shape.labels.append("encrypted (S/MIME)")
                shape.unreadable = "(this message is encrypted with S/MIME; its text cannot be read here)"
        elif p.type in TNEF_TYPES or name == "winmail.dat":
            shape.labels.append("Outlook winmail.dat (TNEF)")
            shape.notes.append("winmail.dat packs Outlook's formatting and attachments; what is inside is not listed")
        elif p.type in ("message/delivery-status", "message/disposition-notification"):
            shape.hidden.add(p.section)
    shape.labels += header_labels(headers)
    shape.labels = list(dict.fromkeys(shape.labels))
    shape.notes = list(dict.fromkeys(shape.notes))
    return shape


def header_labels(headers: Any) -> list[str]:
    """Labels that come from header fields alone: mailing lists and automatic messages."""
    out = []
    list_id = headers.get("List-Id")
    if list_id:
        m = re.search(r"<([^<>\s]+)>", list_id)
        out.append(f"mailing list ({m.group(1)[:80] if m else clean_text(list_id, 80)[0]})")
    elif (headers.get("Precedence") or "").strip().lower() in ("list", "bulk"):
        out.append("bulk mail")
    auto = (headers.get("Auto-Submitted") or "").strip().lower()
    if auto and auto != "no":
        out.append("automatic reply" if auto.startswith("auto-replied") else "automatic message")
    return out


def _child(node: Container, n: int) -> str:
    return f"{node.section}.{n}" if node.section else str(n)


_PGP_MESSAGE = re.compile(r"-----BEGIN PGP MESSAGE-----.*?(?:-----END PGP MESSAGE-----|\Z)", re.S)
_PGP_SIGNED = re.compile(
    r"-----BEGIN PGP SIGNED MESSAGE-----\n(?:[A-Za-z-]+:[^\n]*\n)*\n?(?P<text>.*?)"
    r"\n?-----BEGIN PGP SIGNATURE-----.*?(?:-----END PGP SIGNATURE-----|\Z)",
    re.S,
)


def inline_pgp(text: str) -> tuple[str, list[str]]:
    """Replace inline PGP armour in a text (RFC 4880 7 and 6.2) by what a person can use: the
    signed text without its armour, and a marker instead of an encrypted block. Returns the text
    and labels."""
    labels = []
    if "-----BEGIN PGP SIGNED MESSAGE-----" in text:
        text, n = _PGP_SIGNED.subn(lambda m: re.sub(r"^- ", "", m.group("text"), flags=re.M), text.replace("\r\n", "\n"))
        if n:
            labels.append("signed inline (PGP)")
    if "-----BEGIN PGP MESSAGE-----" in text:
        text, n = _PGP_MESSAGE.subn("[PGP-encrypted text: cannot be read here]", text)
        if n:
            labels.append("encrypted inline (PGP)")
    return text, labels


def delivery_report(data: bytes) -> dict[str, str]:
    """The few fields of a delivery status report (RFC 3464) a person acts on: for the first
    recipient, who it was, what happened and the server's words."""
    blocks = re.split(rb"\r?\n\r?\n", data.strip())
    out: dict[str, str] = {}
    for block in blocks[1:] or blocks:  # the first block is about the message, the rest per recipient
        fields = email.message_from_bytes(block + b"\n\n", policy=email.policy.compat32)
        for key, name in (("recipient", "Final-Recipient"), ("action", "Action"), ("status", "Status"),
                          ("diagnostic", "Diagnostic-Code")):
            value = fields.get(name)
            if value and key not in out:
                text = " ".join(str(value).split())
                out[key] = clean_text(text.split(";", 1)[1].strip() if key in ("recipient", "diagnostic") and ";" in text else text, 200)[0]
        if out:
            break
    return out


def structure_of(msg: Message) -> tuple[list[Container], list[tuple[Part, Message]]]:
    """The multipart nodes and the leaf parts of a message parsed by the email package, numbered
    as IMAP numbers sections (RFC 3501 6.4.5), so classify() reads it as it reads a BODYSTRUCTURE.
    Each leaf comes with its email.message part, for its payload."""
    nodes: list[Container] = []
    leafs: list[tuple[Part, Message]] = []

    def params(part: Message, header: str) -> dict[str, str]:
        # From the raw header: the email package would turn raw 8-bit names into U+FFFD; they are
        # decoded as the server path decodes them (UTF-8, else Windows-1252) before parsing.
        raw = next((str(v) for k, v in part.raw_items() if k.lower() == header), None)
        if raw is None:
            return {}
        holder = Message()
        holder[header] = decode_bytes(raw.encode("utf-8", "surrogateescape"), None)[0]
        found = holder.get_params(header=header, failobj=[]) or []
        return {str(k).lower(): decoded_value(str(k), v)[0] for k, v in found[1:]}

    def walk(part: Message, section: str) -> None:
        ctype = part.get_content_type()
        if part.is_multipart() and ctype.startswith("multipart/"):
            nodes.append(Container(section, ctype, params(part, "content-type")))
            for i, child in enumerate(part.get_payload(), 1):
                walk(child, f"{section}.{i}" if section else str(i))
            return
        if ctype.startswith("multipart/"):  # declared multipart, but without a usable boundary
            ctype = "text/plain"
        payload = part.get_payload(decode=False)
        size = len(payload) if isinstance(payload, (str, bytes)) else 0
        leafs.append((Part(section=section or "1", type=ctype, params=params(part, "content-type"),
                           encoding=str(part.get("Content-Transfer-Encoding", "7bit")).strip().lower(), size=size,
                           disposition=part.get_content_disposition(),
                           disposition_params=params(part, "content-disposition")), part))

    walk(msg, "")
    return nodes, leafs


INVITATION_FIELDS = ("SUMMARY", "DTSTART", "DTEND", "LOCATION", "ORGANIZER", "RECURRENCE-ID", "STATUS")


def invitation(text: str) -> tuple[dict[str, str], list[str]]:
    """The few fields of an iMIP message (RFC 6047, RFC 5546) a person decides on: METHOD and, of
    its first event, summary, times, place and organizer (times as written, with their TZID).
    Parsed with icalendar; a calendar it cannot parse is read line by line, with a note. Values
    are cleaned and cut at 200 characters. Returns (fields, notes)."""
    out: dict[str, str] = {}
    try:
        cal = icalendar.Calendar.from_ical(text)
        events = cal.walk("VEVENT")
        fields = [("METHOD", cal.get("METHOD"))]
        if events:
            fields += [(k, events[0].get(k)) for k in INVITATION_FIELDS]
        for key, value in fields:
            if value is None:
                continue
            raw = value.to_ical() if hasattr(value, "to_ical") else value
            shown = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            tzid = getattr(value, "params", {}).get("TZID")
            out[key.lower()] = _field(shown + (f" ({tzid})" if tzid else ""))
        if len(events) > 1:
            out["events"] = str(len(events))
        return out, []
    except (ValueError, IndexError, KeyError):
        pass
    unfolded = re.sub(r"\r?\n[ \t]", "", text)
    for key in ("METHOD",) + INVITATION_FIELDS:
        m = re.search(rf"^{key}(?:;[^:\r\n]*)?:(.*)$", unfolded, re.M)
        if m:
            out[key.lower()] = _field(m.group(1).strip())
    return out, ["the invitation is malformed; its fields were read line by line"]


def _field(value: str) -> str:
    value = clean_text(value, 200)[0]
    return value[7:] if value.lower().startswith("mailto:") else value
