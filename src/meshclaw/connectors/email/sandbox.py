"""The email connector's sandbox backend: ``MailClient``'s commands over a workplace in the store.

    client = SandboxMailClient(settings, ctx.deps.state.open())   # settings.backend == "sandbox"

It answers the commands the tools, the reader and the outbox use (select, search, fetch, store,
move, append, expunge, find by Message-ID) in the shapes ``imap_wire.parse_fetch`` gives for a real
server — BODYSTRUCTURE as its parsed list, sections as bytes — so ``reading.read_message``, the
labels and the drafts run the same code on it. Messages are the RFC 5322 bytes a server would hold.
Sending hands the message to the workplace: the organisation's people get it in their INBOX, anyone
else is recorded as "sent outside"; nothing leaves the machine.
"""

from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime
from email.message import EmailMessage, Message
from typing import Any

from .client import check_folder_name
from .errors import MailError, MailNotFound
from .imap_wire import Part, WireError, parts
from .mime_kinds import structure_of
from .sandbox_search import matches

_ITEM = re.compile(r"BODY(?:\.PEEK)?\[([^\]]*)\](?:<(\d+)\.(\d+)>)?|[A-Z0-9.]+", re.I)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _missing(e: Exception) -> MailNotFound:
    return MailNotFound(str(e.args[0]) if e.args else str(e))


class SandboxMailClient:
    """A "connection" to the owner's mailbox in a sandbox workplace; the same methods as MailClient."""

    def __init__(self, settings: Any, access: Any):
        self.settings = settings
        self.access = access
        self.where = f"sandbox workplace {settings.workplace!r}"
        self.selected: str | None = None
        self.selected_readonly = True

    def __enter__(self) -> "SandboxMailClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.selected = None

    def close(self) -> None:
        self.selected = None

    # --- folders ---------------------------------------------------------------------------

    def select(self, folder: str, *, readonly: bool = True) -> dict[str, int]:
        """Open a folder; its EXISTS, UIDVALIDITY and UIDNEXT. MailNotFound naming the folders."""
        check_folder_name(folder)
        try:
            status = self.access.status(folder)
        except LookupError:
            raise MailNotFound(f"there is no folder {folder!r}; folders: {', '.join(self.folders())}") from None
        # As MailClient: a folder already open for writing stays so when it is opened again to read.
        if not (self.selected == folder and (readonly or not self.selected_readonly)):
            self.selected, self.selected_readonly = folder, readonly
        return status

    def folders(self) -> list[str]:
        return self.access.folders()

    def _rows(self, uids: list[int] | None = None, message_id: str | None = None) -> list[Any]:
        if self.selected is None:
            raise MailError(f"the {self.where} was asked for messages before a folder was opened")
        return self.access.messages(self.selected, uids, message_id)

    # --- searching and fetching --------------------------------------------------------------

    def search(self, criteria: str) -> list[int]:
        """UIDs matching an IMAP SEARCH expression (RFC 9051 6.4.4 keys the tools use), ascending."""
        rows = self._rows()
        try:
            return [r.uid for r in rows if matches(criteria, r, max_uid=rows[-1].uid if rows else 0)]
        except ValueError as e:
            raise MailError(f"the {self.where} rejected the search: {e}") from None

    def fetch(self, uids: list[int], items: str) -> list[dict[str, Any]]:
        """FETCH ``items`` for these UIDs, as ``imap_wire.parse_fetch`` shapes a server's answer."""
        inner = items.strip()
        if inner.startswith("(") and inner.endswith(")"):
            inner = inner[1:-1]
        wanted = list(_ITEM.finditer(inner))
        out = []
        for row in self._rows(list(uids)):
            item: dict[str, Any] = {"UID": str(row.uid)}
            for m in wanted:
                name = m.group(0).upper()
                if name == "UID":
                    continue
                if name == "FLAGS":
                    item["FLAGS"] = list(row.flags)
                elif name == "RFC822.SIZE":
                    item["RFC822.SIZE"] = str(len(row.raw))
                elif name == "INTERNALDATE":
                    item["INTERNALDATE"] = _internaldate(row.internal_date)
                elif name == "BODYSTRUCTURE":
                    item["BODYSTRUCTURE"] = bodystructure(row.raw)
                elif name.startswith("BODY"):
                    section, start, count = m.group(1), m.group(2), m.group(3)
                    data = section_bytes(row.raw, section)
                    key = f"BODY[{section.upper() if not section[:1].isdigit() else section}]"
                    if start is not None:
                        data = data[int(start): int(start) + int(count)]
                        key += f"<{start}>"
                    item[key] = data
            out.append(item)
        return out

    def headers(self, uids: list[int]) -> list[dict[str, Any]]:
        from .client import SUMMARY_HEADERS

        return self.fetch(uids, f"(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS ({SUMMARY_HEADERS})])")

    def structure(self, uid: int) -> tuple[dict[str, Any], list[Part] | None]:
        found = self.fetch([uid], "(UID FLAGS RFC822.SIZE INTERNALDATE BODYSTRUCTURE BODY.PEEK[HEADER])")
        if not found:
            raise MailNotFound(f"there is no message with uid {uid} in {self.selected!r}")
        try:
            leafs = parts(found[0].get("BODYSTRUCTURE"))
        except WireError:
            leafs = None
        return found[0], leafs

    def sections(self, uid: int, caps: dict[str, int]) -> dict[str, bytes]:
        if not caps:
            return {}
        rows = self._rows([uid])
        return {s: section_bytes(rows[0].raw, s)[:cap] for s, cap in caps.items()} if rows else {}

    # --- changing things ---------------------------------------------------------------------

    def _writable(self, what: str) -> str:
        if self.selected is None or self.selected_readonly:
            raise MailError(f"the {self.where} refused {what}: the folder is open read-only")
        return self.selected

    def store(self, uid: int, flags: list[str], add: bool) -> list[str]:
        folder = self._writable(f"to change flags of message {uid}")
        try:
            return self.access.set_flags(folder, uid, flags, add)
        except LookupError:
            raise MailNotFound(f"there is no message with uid {uid} in {folder!r}") from None

    def move(self, uid: int, to: str) -> tuple[int | None, str | None]:
        check_folder_name(to)
        folder = self._writable(f"to move message {uid}")
        if to not in self.folders():
            raise MailError(f"the {self.where} refused to move message {uid} to {to!r}: there is no such folder")
        try:
            return self.access.move(folder, uid, to), None
        except LookupError:
            raise MailNotFound(f"there is no message with uid {uid} in {folder!r}") from None

    def append(self, folder: str, raw: bytes, flags: list[str], when: datetime | None = None) -> int | None:
        check_folder_name(folder)
        try:
            return self.access.append(folder, raw, flags, when)
        except LookupError:
            raise MailError(f"the {self.where} refused to store a message in {folder!r}: there is no such folder") from None

    def expunge_uid(self, uid: int) -> None:
        folder = self._writable(f"to remove message {uid}")
        self.access.remove(folder, uid)

    def find_message_id(self, folder: str, message_id: str, items: str = "(UID FLAGS)") -> list[dict[str, Any]]:
        self.select(folder, readonly=True)
        uids = [r.uid for r in self._rows(message_id=message_id.strip())]
        return self.fetch(uids, items) if uids else []


async def sandbox_send(settings: Any, access: Any, msg: EmailMessage, recipients: list[str]) -> dict[str, str]:
    """Deliver ``msg`` in the workplace (see the module docstring); refused recipients (none)."""
    import copy

    from .compose import as_crlf_bytes

    wire = copy.deepcopy(msg)
    del wire["Bcc"]  # recipients named only in Bcc must not be visible to the others
    try:
        access.deliver(as_crlf_bytes(wire), recipients)
    except LookupError as e:
        raise MailError(f"the sandbox workplace {settings.workplace!r} could not deliver the message: {e}") from None
    return {}


# --- the message's shape, as a server describes it -------------------------------------------------


def _internaldate(when: datetime) -> str:
    return f"{when.day:02d}-{_MONTHS[when.month - 1]}-{when:%Y %H:%M:%S %z}"


def _split(raw: bytes) -> tuple[bytes, bytes]:
    """(header block with its blank line, body)."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        at = raw.find(sep)
        if at >= 0:
            return raw[: at + len(sep)], raw[at + len(sep):]
    return raw, b""


def _header_fields(head: bytes, names: list[str]) -> bytes:
    wanted = {n.lower() for n in names}
    out, keep = [], False
    for line in head.splitlines(keepends=True):
        if not line.strip():
            continue
        if line[:1] in (b" ", b"\t"):
            if keep:
                out.append(line)
            continue
        keep = line.split(b":", 1)[0].strip().decode("ascii", "replace").lower() in wanted
        if keep:
            out.append(line)
    return b"".join(out) + b"\r\n"


def _parsed(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=email.policy.compat32)


def _payload_bytes(part: Message) -> bytes:
    # The body as the parser kept it (8-bit bytes as surrogate escapes): ``get_payload()`` would
    # decode an 8-bit body by its charset, and the server path reads the bytes as sent.
    payload = part._payload  # noqa: SLF001
    if isinstance(payload, list):
        return b"".join(p.as_bytes() for p in payload)
    return (payload or "").encode("ascii", "surrogateescape") if isinstance(payload, str) else bytes(payload or b"")


def _part_at(msg: Message, section: str) -> Message | None:
    part: Message = msg
    for n in section.split("."):
        if not part.is_multipart():
            return part if n == "1" and part is msg else None
        children = part.get_payload()
        i = int(n) - 1
        if not isinstance(children, list) or not 0 <= i < len(children):
            return None
        part = children[i]
    return part


def section_bytes(raw: bytes, section: str) -> bytes:
    """What ``BODY[section]`` returns: "" the whole message, HEADER, HEADER.FIELDS (...), TEXT, or
    a part number ("1", "2.1"); b"" for a part that does not exist."""
    head, body = _split(raw)
    upper = section.upper()
    if section == "":
        return raw
    if upper == "HEADER":
        return head
    if upper.startswith("HEADER.FIELDS"):
        names = re.findall(r"[A-Za-z0-9-]+", upper.partition("(")[2])
        block = _header_fields(head, names)
        return block if not upper.startswith("HEADER.FIELDS.NOT") else head
    if upper == "TEXT":
        return body
    part = _part_at(_parsed(raw), section)
    return b"" if part is None else _payload_bytes(part)


def bodystructure(raw: bytes) -> list[Any]:
    """The message's BODYSTRUCTURE as ``imap_wire`` parses a server's (RFC 3501 7.4.2), numbered
    as ``mime_kinds.structure_of`` numbers sections."""
    msg = _parsed(raw)
    nodes, leafs = structure_of(msg)
    by_leaf = {id(m): p for p, m in leafs}
    by_node = {n.section: n for n in nodes}

    def flat(params: dict[str, str]) -> list[str] | None:
        return [x for k, v in params.items() for x in (k.upper(), v)] or None

    def build(part: Message, section: str) -> list[Any]:
        if id(part) not in by_leaf and section in by_node:
            node = by_node[section]
            children = [build(c, f"{section}.{i}" if section else str(i)) for i, c in enumerate(part.get_payload(), 1)]
            return children + [node.type.partition("/")[2].upper(), flat(node.params), None, None, None]
        p = by_leaf[id(part)]
        main, _, sub = p.type.partition("/")
        body = _payload_bytes(part)
        basic = [main.upper(), sub.upper(), flat(p.params), part.get("Content-ID"), None, p.encoding.upper(),
                 str(len(body))]
        if p.type.startswith("text/"):
            basic.append(str(body.count(b"\n")))
        elif p.type == "message/rfc822":
            basic += [None, ["TEXT", "PLAIN", None, None, None, "7BIT", "0", "0"], str(body.count(b"\n"))]
        disposition = [p.disposition.upper(), flat(p.disposition_params)] if p.disposition else None
        return basic + [None, disposition, None, None]

    return build(msg, "")
