"""Reading IMAP FETCH responses, including BODYSTRUCTURE, from what imaplib hands back.

imaplib returns a FETCH response as a list mixing plain lines and ``(prefix, literal)`` tuples; it
does not parse the parenthesised structure.  BODYSTRUCTURE lets the connector list attachments with
their sizes and fetch only the text parts, so a 20 MB attachment is never downloaded to be read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .mime_names import attachment_name

_TOKEN = re.compile(
    rb'\s*(?:(?P<open>\()|(?P<close>\))|"(?P<quoted>(?:[^"\\]|\\.)*)"'
    rb'|(?P<atom>[^\s()"\[\]]*\[[^\]]*\][^\s()"]*|[^\s()"]+))'
)
_LITERAL_TAIL = re.compile(rb"\{(\d+)\}$")


class WireError(ValueError):
    """The server's answer does not parse as IMAP."""


def _tokens(data: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):
            head, literal = item[0], item[1]
            m = _LITERAL_TAIL.search(head.rstrip())
            out += _scan(head.rstrip()[: m.start()] if m else head)
            out.append(bytes(literal))  # a literal stays bytes: header blocks, body parts, odd names
        else:
            out += _scan(item)
    return out


def _scan(text: bytes) -> list[Any]:
    out: list[Any] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            if text[pos:].strip():
                raise WireError(f"unexpected bytes in IMAP response: {text[pos:pos + 40]!r}")
            break
        pos = m.end()
        if m.group("open"):
            out.append("(")
        elif m.group("close"):
            out.append(")")
        elif m.group("quoted") is not None:
            out.append(("q", _text(re.sub(rb"\\(.)", rb"\1", m.group("quoted")))))
        else:
            atom = m.group("atom").decode("ascii", "replace")
            out.append(None if atom.upper() == "NIL" else atom)
    return out


def _nest(tokens: list[Any], i: int) -> tuple[list[Any], int]:
    out: list[Any] = []
    while i < len(tokens):
        t = tokens[i]
        if t == "(":
            inner, i = _nest(tokens, i + 1)
            out.append(inner)
        elif t == ")":
            return out, i + 1
        else:
            out.append(t[1] if isinstance(t, tuple) else t)
            i += 1
    return out, i


def parse_fetch(data: list[Any]) -> list[dict[str, Any]]:
    """One dict per message in a FETCH response: {"UID": "5", "FLAGS": [...], "BODY[HEADER]": b"..."}.

    Item names are upper-cased; literals are bytes, quoted strings str, NIL None, lists lists.
    """
    tree, _ = _nest(_tokens(data), 0)
    messages = []
    i = 0
    while i < len(tree):
        # imaplib strips "* " and "FETCH": each message is "<seq> (ITEM value ITEM value ...)".
        if isinstance(tree[i], str) and tree[i].isdigit() and i + 1 < len(tree) and isinstance(tree[i + 1], list):
            items, i = tree[i + 1], i + 2
        else:
            i += 1
            continue
        messages.append({str(items[k]).upper(): items[k + 1] for k in range(0, len(items) - 1, 2)})
    return messages


def _text(raw: bytes) -> str:
    """A string from the server. RFC 3501 strings are 7-bit, but servers pass on the raw 8-bit
    names some mailers write (``filename="Résumé.pdf"`` in Latin-1): UTF-8 if valid, else
    Windows-1252, as for bodies without a charset, never replacement characters."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return _text(value)
    return str(value)


@dataclass(frozen=True)
class Part:
    """One leaf of a message's MIME tree, as the server describes it."""

    section: str  # "1", "2.1": what BODY[...] fetches
    type: str  # "text/plain"
    params: dict[str, str]
    encoding: str  # "base64", "quoted-printable", "7bit"...
    size: int  # encoded octets on the server
    disposition: str | None  # "attachment", "inline" or None
    disposition_params: dict[str, str]

    @property
    def charset(self) -> str | None:
        return self.params.get("charset")

    @property
    def filename(self) -> str | None:
        """The part's name, RFC 2231 and RFC 2047 decoded (mime_names.attachment_name)."""
        return attachment_name(self.disposition_params, self.params)[0]

    @property
    def is_attachment(self) -> bool:
        if self.disposition == "attachment" or (self.filename and self.disposition != "inline"):
            return True
        return not (self.type.startswith("text/") or self.type == "message/delivery-status")

    @property
    def decoded_size(self) -> int:
        """About how many bytes the part has once decoded (base64 lines of 76 characters plus CRLF)."""
        if self.encoding == "base64":
            return int(self.size * 76 / 78 * 3 / 4)
        return self.size


def _params(value: Any) -> dict[str, str]:
    if not isinstance(value, list):
        return {}
    return {str(as_text(value[k])).lower(): as_text(value[k + 1]) or "" for k in range(0, len(value) - 1, 2)}


def parts(structure: Any, section: str = "") -> list[Part]:
    """Flatten a parsed BODYSTRUCTURE into its leaf parts, each with the section number to fetch it.

    An attached message (message/rfc822) is one leaf: listed, not opened.
    """
    if not isinstance(structure, list) or not structure:
        raise WireError("BODYSTRUCTURE is not a list")
    if isinstance(structure[0], list):  # multipart: children, then the subtype and extensions
        out = []
        n = 0
        for child in structure:
            if not isinstance(child, list):
                break
            n += 1
            out += parts(child, f"{section}.{n}" if section else str(n))
        return out
    if len(structure) < 7:
        raise WireError("a BODYSTRUCTURE part has too few fields")
    mime = f"{as_text(structure[0]) or 'text'}/{as_text(structure[1]) or 'plain'}".lower()
    try:
        size = int(as_text(structure[6]) or 0)
    except ValueError:
        size = 0
    # Extension fields follow the basic ones; their position depends on the type (RFC 3501, 7.4.2).
    ext_at = 8 if mime.startswith("text/") else 10 if mime == "message/rfc822" else 7
    disposition = structure[ext_at + 1] if len(structure) > ext_at + 1 else None
    disp_name, disp_params = None, {}
    if isinstance(disposition, list) and disposition:
        disp_name = (as_text(disposition[0]) or "").lower() or None
        disp_params = _params(disposition[1] if len(disposition) > 1 else None)
    return [
        Part(
            section=section or "1",
            type=mime,
            params=_params(structure[2]),
            encoding=(as_text(structure[5]) or "7bit").lower(),
            size=size,
            disposition=disp_name,
            disposition_params=disp_params,
        )
    ]


@dataclass(frozen=True)
class Container:
    """One multipart node of a message's MIME tree: its section ("" for the whole message), type
    ("multipart/signed") and parameters (``protocol``, ``report-type``...)."""

    section: str
    type: str
    params: dict[str, str]


def containers(structure: Any, section: str = "") -> list[Container]:
    """The multipart nodes of a parsed BODYSTRUCTURE, outermost first (RFC 3501 7.4.2: after the
    children come the subtype and, as the first extension field, the parameter list)."""
    if not isinstance(structure, list) or not structure or not isinstance(structure[0], list):
        return []
    n = 0
    while n < len(structure) and isinstance(structure[n], list):
        n += 1
    subtype = (as_text(structure[n]) if n < len(structure) else None) or "mixed"
    params = _params(structure[n + 1]) if n + 1 < len(structure) else {}
    out = [Container(section, f"multipart/{subtype.lower()}", params)]
    for i, child in enumerate(structure[:n], 1):
        out += containers(child, f"{section}.{i}" if section else str(i))
    return out
