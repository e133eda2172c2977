"""Names and ids carried in MIME parameters and threading headers.

Attachment names come as RFC 2231 parameters (``filename*0*=utf-8''%E2%82%AC; filename*1=.pdf``),
as plain parameters, or as RFC 2047 encoded words inside quotes (not allowed by RFC 2047 section 5,
but what many mailers write). Reply threading ids follow RFC 5322 section 3.6.4.
"""

from __future__ import annotations

import re
from email.utils import decode_params, quote, unquote

from .safe_text import decode_bytes, decode_header_notes

NAME_LIMIT = 120  # characters of an attachment name shown at most
REFERENCES_LIMIT = 1900  # characters of a References header written at most (RFC 5322 2.1.1: 998 a line)
MSG_ID_LIMIT = 250  # characters of one message id; a longer one is dropped whole, never cut
_MSG_ID = re.compile(r"<[^<>\s]+>")


def parameter(params: dict[str, str], name: str) -> tuple[str | None, list[str]]:
    """The value of MIME parameter ``name`` from a parsed parameter list (lower-case keys, as an IMAP
    BODYSTRUCTURE or a Content-Type header gives them), with RFC 2231 continuations (``name*0``,
    ``name*1*``...) joined and charset-encoded values (``utf-8'en'%E2%82%AC``) decoded.

    The joining is the standard library's (email.utils.decode_params); an unknown or lying charset
    falls back as body text does, with a note. Returns (value or None, notes).
    """
    found = [(k, v) for k, v in params.items() if k == name or k.startswith(name + "*")]
    if not found:
        return None, []
    # decode_params expects the Content-Type value first, then quoted (name, value) pairs.
    decoded = decode_params([("", "")] + [(k, f'"{quote(v)}"') for k, v in found])
    value = next((v for k, v in decoded[1:] if k == name), None)
    if value is None:
        return None, []
    return decoded_value(name, value)


def decoded_value(name: str, value: str | tuple[str, str, str]) -> tuple[str, list[str]]:
    """A parameter value as email.utils.decode_params leaves it, as text: a (charset, language,
    percent-decoded text) triple is decoded in its charset, falling back with a note. Returns
    (text, notes)."""
    if isinstance(value, tuple):
        charset, _language, text = value
        raw = unquote(text).encode("latin-1", "replace")
        text, note = decode_bytes(raw, charset or None)
        return text, [f"{name}: {note}"] if note else []
    return unquote(value), []


def attachment_name(disposition_params: dict[str, str], params: dict[str, str]) -> tuple[str | None, list[str]]:
    """An attachment's name: Content-Disposition ``filename`` first, then Content-Type ``name``
    (RFC 2183, RFC 2045), each RFC 2231-decoded, then any RFC 2047 words inside decoded too.
    Returns (name cleaned and at most NAME_LIMIT characters, or None; notes)."""
    value, notes = parameter(disposition_params, "filename")
    if not value:
        value, notes = parameter(params, "name")
    if not value:
        return None, notes
    text, more = decode_header_notes(value, limit=NAME_LIMIT)
    return text or None, notes + [f"attachment name: {n}" for n in more]


def message_ids(value: str | None) -> list[str]:
    """The ``<id@host>`` message ids in a References, In-Reply-To or Message-ID value, in order,
    each whole; text between them (comments, stray words) and ids longer than MSG_ID_LIMIT are
    ignored."""
    return [m for m in _MSG_ID.findall(value or "") if len(m) <= MSG_ID_LIMIT]


def reply_references(parent_references: str | None, parent_in_reply_to: str | None, parent_id: str | None,
                     limit: int = REFERENCES_LIMIT) -> str | None:
    """The References a reply carries: the parent's References (or, without them, its single
    In-Reply-To id) followed by the parent's Message-ID (RFC 5322 3.6.4).

    When that is longer than ``limit`` characters, whole ids are dropped from the middle: the first
    id (the thread's root) and the newest ids stay, and no id is ever cut. Duplicates keep their
    last place. Returns None when there is no id at all.
    """
    ids = message_ids(parent_references)
    if not ids:
        earlier = message_ids(parent_in_reply_to)
        ids = earlier[:1] if len(earlier) == 1 else []
    ids += message_ids(parent_id)[:1]
    ids = list(reversed(list(dict.fromkeys(reversed(ids)))))  # drop repeats, keep the newest place
    if not ids:
        return None
    kept = [ids[0]]
    size = len(ids[0])
    newest: list[str] = []
    for mid in reversed(ids[1:]):
        if size + 1 + len(mid) > limit:
            break
        newest.append(mid)
        size += 1 + len(mid)
    return " ".join(kept + list(reversed(newest)))
