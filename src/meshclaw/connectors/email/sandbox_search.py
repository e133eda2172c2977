"""IMAP SEARCH (RFC 9051 6.4.4) over stored messages, for the sandbox mail backend.

    matches('UNSEEN UNKEYWORD Triaged FROM "bob"', row, max_uid=42)

The keys the email tools write: ALL, SEEN/UNSEEN, FLAGGED/UNFLAGGED, ANSWERED/UNANSWERED,
DELETED/UNDELETED, DRAFT, KEYWORD/UNKEYWORD, FROM, TO, CC, SUBJECT, BODY, TEXT, HEADER, SINCE,
BEFORE, ON, UID, NOT and OR; several keys must all match. Strings match case-insensitively as
substrings of the decoded header (or of the decoded text parts for BODY and TEXT), as servers do.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import date, datetime
from typing import Any

from .safe_text import decode_bytes, decode_header_value

_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|(\()|(\))|([^\s()"]+))')
_FLAG_KEYS = {"SEEN": ("\\Seen", True), "UNSEEN": ("\\Seen", False), "FLAGGED": ("\\Flagged", True),
              "UNFLAGGED": ("\\Flagged", False), "ANSWERED": ("\\Answered", True),
              "UNANSWERED": ("\\Answered", False), "DELETED": ("\\Deleted", True),
              "UNDELETED": ("\\Deleted", False), "DRAFT": ("\\Draft", True), "UNDRAFT": ("\\Draft", False)}
_HEADER_KEYS = {"FROM": "From", "TO": "To", "CC": "Cc", "BCC": "Bcc", "SUBJECT": "Subject"}


def tokens(criteria: str) -> list[Any]:
    """The criteria as a nested list of atoms (str) and quoted strings (("q", text))."""
    out: list[Any] = []
    stack = [out]
    pos = 0
    while pos < len(criteria):
        m = _TOKEN.match(criteria, pos)
        if not m or m.end() == pos:
            if criteria[pos:].strip():
                raise ValueError(f"cannot read {criteria[pos:pos + 30]!r}")
            break
        pos = m.end()
        quoted, opening, closing, atom = m.groups()
        if opening:
            stack.append([])
            stack[-2].append(stack[-1])
        elif closing:
            if len(stack) == 1:
                raise ValueError("unbalanced parentheses")
            stack.pop()
        elif quoted is not None:
            stack[-1].append(("q", re.sub(r"\\(.)", r"\1", quoted)))
        else:
            stack[-1].append(atom)
    if len(stack) != 1:
        raise ValueError("unbalanced parentheses")
    return out


def _imap_date(value: Any) -> date:
    text = value[1] if isinstance(value, tuple) else str(value)
    try:
        return datetime.strptime(text, "%d-%b-%Y").date()
    except ValueError:
        raise ValueError(f"{text!r} is not a date like 01-Mar-2026") from None


def _uid_set(text: str, uid: int, max_uid: int) -> bool:
    for piece in text.split(","):
        low, _, high = piece.partition(":")
        lo = max_uid if low == "*" else int(low)
        hi = lo if not high else (max_uid if high == "*" else int(high))
        if min(lo, hi) <= uid <= max(lo, hi):
            return True
    return False


class _Message:
    """The parts of a stored message a search looks at, parsed once and only when asked."""

    def __init__(self, row: Any):
        self.row = row
        self._msg: Any = None

    @property
    def msg(self) -> Any:
        if self._msg is None:
            self._msg = email.message_from_bytes(self.row.raw, policy=email.policy.compat32)
        return self._msg

    def header(self, name: str) -> str:
        values = [v if isinstance(v, str) else str(v) for k, v in self.msg.raw_items() if k.lower() == name.lower()]
        return " ".join(decode_header_value(v, limit=2000) for v in values).lower()

    def text(self) -> str:
        out = []
        for part in self.msg.walk():
            if part.get_content_maintype() == "text":
                data = part.get_payload(decode=True) or b""
                out.append(decode_bytes(data, part.get_content_charset())[0])
        return "\n".join(out).lower()


def _eval(items: list[Any], i: int, m: _Message, max_uid: int) -> tuple[bool, int]:
    """Evaluate the one search key at items[i]; (does it match, index after it)."""
    item = items[i]
    if isinstance(item, list):
        return all(_all(item, m, max_uid)), i + 1
    if isinstance(item, tuple):
        raise ValueError(f"a string {item[1]!r} where a search key was expected")
    key = item.upper()

    def arg(k: int) -> str:
        if i + k >= len(items):
            raise ValueError(f"{key} needs an argument")
        value = items[i + k]
        if isinstance(value, list):
            raise ValueError(f"{key} takes a string, not a list")
        return value[1] if isinstance(value, tuple) else value

    flags = set(m.row.flags)
    if key == "ALL":
        return True, i + 1
    if key in _FLAG_KEYS:
        flag, present = _FLAG_KEYS[key]
        return (flag in flags) == present, i + 1
    if key in ("KEYWORD", "UNKEYWORD"):
        word = arg(1).lower()
        has = any(f.lower() == word for f in flags)
        return has == (key == "KEYWORD"), i + 2
    if key in _HEADER_KEYS:
        return arg(1).lower() in m.header(_HEADER_KEYS[key]), i + 2
    if key == "HEADER":
        name, value = arg(1), arg(2).strip().lower()
        return value in m.header(name) if value else m.msg.get(name) is not None, i + 3
    if key == "BODY":
        return arg(1).lower() in m.text(), i + 2
    if key == "TEXT":
        needle = arg(1).lower()
        head = m.row.raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace").lower()
        return needle in head or needle in m.text() or any(needle in m.header(h) for h in ("From", "Subject")), i + 2
    if key in ("SINCE", "BEFORE", "ON"):
        day, arrived = _imap_date(arg(1)), m.row.internal_date.date()
        return {"SINCE": arrived >= day, "BEFORE": arrived < day, "ON": arrived == day}[key], i + 2
    if key == "UID":
        return _uid_set(arg(1), m.row.uid, max_uid), i + 2
    if key == "NOT":
        found, after = _eval(items, i + 1, m, max_uid)
        return not found, after
    if key == "OR":
        first, after = _eval(items, i + 1, m, max_uid)
        second, after = _eval(items, after, m, max_uid)
        return first or second, after
    raise ValueError(f"unknown search key {key}")


def _all(items: list[Any], m: _Message, max_uid: int) -> list[bool]:
    out, i = [], 0
    while i < len(items):
        found, i = _eval(items, i, m, max_uid)
        out.append(found)
    return out


def matches(criteria: str, row: Any, *, max_uid: int) -> bool:
    """Does a stored message (``uid``, ``raw``, ``flags``, ``internal_date``) match the criteria?
    ValueError with one line for criteria that do not parse."""
    parsed = tokens(criteria)
    if not parsed:
        raise ValueError("an empty search")
    return all(_all(parsed, _Message(row), max_uid))
