"""One parser for mail addresses, shared by the guard and the mail sender.

A guard that reads ``"<eve@outside.test> bob@example.com"`` as bob and a sender that delivers it
to eve disagree about who a mail goes to; so both use ``parse_address``, which accepts a value
only when it is exactly one well-formed address (RFC 5322 section 3.4 ``mailbox``: an
``addr-spec``, optionally with a display name and angle brackets) and returns its ``addr-spec``.
Parsing is the standard library's ``email.headerregistry`` (policy ``default``), with the strict
checks it does not make itself: no defects, exactly one mailbox, no group, no leftover text, no
control or zero-width characters, a dotted domain.
"""

from __future__ import annotations

import re
import unicodedata
from email.headerregistry import HeaderRegistry
from typing import Any

from .errors import UsageError

_REGISTRY = HeaderRegistry()
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$", re.I)
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}$")


class AddressError(UsageError, ValueError):
    """A value that is not exactly one well-formed mail address; the message says why, in one line."""


def _hidden(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf") for c in text)


def parse_address(value: Any) -> str:
    """The one ``local@domain`` address ``value`` names, lower-cased in its domain.

    ``value``: ``"bob@example.com"`` or ``"Bob Smith <bob@example.com>"``. Raises
    ``AddressError`` for anything else: two addresses, a group, text around the brackets
    (``"<eve@outside.test> bob@example.com"``), an address with a dotless domain (but
    ``localhost``), a quoted or
    otherwise unusual local part, control or zero-width characters.
    """
    if not isinstance(value, str):
        raise AddressError(f"{value!r} is not an address")
    text = value.strip()
    if not text or _hidden(text) or len(text) > 320:
        raise AddressError(f"{value!r} is not exactly one well-formed address")
    try:
        header = _REGISTRY("to", text)
    except Exception:  # noqa: BLE001 - the parser's own errors mean the same thing
        raise AddressError(f"{value!r} is not exactly one well-formed address") from None
    mailboxes = [a for g in header.groups for a in g.addresses]
    if header.defects or len(header.groups) != 1 or header.groups[0].display_name is not None or len(mailboxes) != 1:
        raise AddressError(f"{value!r} is not exactly one well-formed address")
    box = mailboxes[0]
    local, domain = box.username, box.domain
    if not _LOCAL.match(local) or local.startswith(".") or local.endswith(".") or ".." in local \
            or not (_DOMAIN.match(domain) or domain.lower() == "localhost"):
        raise AddressError(f"{value!r} is not exactly one well-formed address")
    # Re-render and compare: what the parser understood must account for every character given.
    rendered = f"{local}@{domain}"
    bare = text[1:-1].strip() if text.startswith("<") and text.endswith(">") else text
    if bare != rendered and not (text.endswith(f"<{rendered}>") and "<" not in text[:-len(rendered) - 2]
                                 and ">" not in text[:-len(rendered) - 2] and "@" not in text[:-len(rendered) - 2]):
        raise AddressError(f"{value!r} is not exactly one well-formed address")
    return f"{local}@{domain.lower()}"


def address_or_none(value: Any) -> str | None:
    """``parse_address(value)``, or None when ``value`` is not exactly one address."""
    try:
        return parse_address(value)
    except AddressError:
        return None


def domain_of(address: str) -> str:
    """The domain of an address ``parse_address`` returned."""
    return address.rpartition("@")[2]
