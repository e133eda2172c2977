"""One IMAP session: connect, log in, and the few commands the tools need, with clear errors.

Synchronous (imap-tools over imaplib); the async tools run it in a worker thread. Reading never
changes flags: folders are opened read-only (EXAMINE) and bodies fetched with BODY.PEEK, so a
message stays unread however a fetch ends. Flags are stored with UID STORE only: imap-tools'
``flag()`` also expunges the folder, which would silently purge messages marked for deletion.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import socket
import ssl
from datetime import datetime
from typing import Any, Iterator

from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import ImapToolsError, MailboxLoginError
from imap_tools.utils import encode_folder

from .errors import MailAuthError, MailConnectionError, MailError, MailNotFound
from .imap_wire import Part, WireError, parse_fetch, parts
from .settings import EmailSettings

SUMMARY_HEADERS = "FROM TO CC SUBJECT DATE MESSAGE-ID CONTENT-TYPE"
FETCH_CHUNK = 250  # UIDs per FETCH command: one round trip each, bounded response size
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


def imap_quote(value: str) -> str:
    """Quote a string for an IMAP command. Control characters (CR, LF) could smuggle in a second
    command, so they are dropped: a search text never needs them."""
    value = _UNSAFE.sub(" ", value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check_folder_name(name: str) -> None:
    """Folder names come from the model: a line break in one would end the IMAP command early."""
    if not name or _UNSAFE.search(name) or len(name) > 200:
        raise MailNotFound(f"{name[:60]!r} is not a valid folder name")


class MailClient:
    """A logged-in IMAP connection. Use as a context manager; one per tool call or watcher."""

    def __init__(self, settings: EmailSettings, password: str):
        self.settings = settings
        self._password = password
        self.box: Any = None
        self.where = f"{settings.imap_host}:{settings.imap_port_or_default}"
        self.selected: str | None = None
        self.selected_readonly = True

    # --- connection ------------------------------------------------------------------------

    def __enter__(self) -> "MailClient":
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> None:
        s = self.settings
        port = s.imap_port_or_default
        try:
            if s.security == "tls":
                self.box = MailBox(s.imap_host, port, timeout=s.timeout, ssl_context=s.tls_context())
            elif s.security == "starttls":
                self.box = MailBoxStartTls(s.imap_host, port, timeout=s.timeout, ssl_context=s.tls_context())
            else:  # "plain": EmailSettings allows it for loopback hosts only
                self.box = MailBoxUnencrypted(s.imap_host, port, timeout=s.timeout)
        except ssl.SSLError as e:
            why = getattr(e, "verify_message", None) or e.reason or str(e)
            raise MailConnectionError(
                f"TLS with the IMAP server {self.where} failed ({s.security}): {why}"
                + (" (for a private certificate authority, set ca_file)" if "verify" in str(e).lower() else "")
            ) from None
        except (OSError, imaplib.IMAP4.error, ImapToolsError) as e:
            raise MailConnectionError(f"cannot connect to the IMAP server {self.where} ({s.security}): {_why(e)}") from None
        try:
            self.box.login(s.username, self._password, initial_folder=None)
        except MailboxLoginError:
            self._drop()
            # Never echo the password; name what to check instead.
            raise MailAuthError(
                f"the IMAP server {self.where} refused the login for {s.username!r}: "
                f"check the username and the secret {s.password!r}"
            ) from None
        except (OSError, imaplib.IMAP4.abort) as e:
            self._drop()
            raise MailConnectionError(f"the IMAP server {self.where} closed the connection during login: {_why(e)}") from None
        # Servers announce extensions such as MOVE and UIDPLUS only after login; imaplib keeps the
        # list it got before, so ask again.
        with self.guarded("asking for the server's capabilities"):
            typ, data = self.box.client.capability()
            if typ == "OK" and data and data[-1]:
                self.box.client.capabilities = tuple(data[-1].decode("ascii", "replace").upper().split())

    def close(self) -> None:
        if self.box is None:
            return
        with contextlib.suppress(Exception):
            self.box.client.logout()
        self._drop()

    def _drop(self) -> None:
        if self.box is not None:
            with contextlib.suppress(Exception):
                self.box.client.shutdown()
        self.box = None

    @contextlib.contextmanager
    def guarded(self, what: str, *, changes: bool = False) -> Iterator[None]:
        """Turn socket and protocol failures during ``what`` into MailErrors a person can act on.

        ``changes``: the command alters the mailbox, so a lost answer leaves its outcome unknown.
        """
        try:
            yield
        except MailError:
            raise
        except (imaplib.IMAP4.abort, OSError, EOFError, socket.timeout) as e:
            self._drop()
            after = (
                "The server may or may not have done it: look before trying again."
                if changes
                else "Nothing was changed on the server by this attempt; it can be retried."
            )
            raise MailConnectionError(
                f"the connection to the IMAP server {self.where} was lost while {what}: {_why(e)}. {after}"
            ) from None
        except (imaplib.IMAP4.error, ImapToolsError, WireError) as e:
            raise MailError(f"the IMAP server {self.where} rejected {what}: {_why(e)}") from None

    # --- folders ---------------------------------------------------------------------------

    def select(self, folder: str, *, readonly: bool = True) -> dict[str, int]:
        """Open a folder (read-only unless asked) and return its EXISTS, UIDVALIDITY and UIDNEXT."""
        check_folder_name(folder)
        if self.selected == folder and (readonly or not self.selected_readonly):
            return self._status_cache
        with self.guarded(f"opening folder {folder!r}"):
            typ, data = self.box.client.select(encode_folder(folder), readonly)
            if typ != "OK":
                raise MailNotFound(f"there is no folder {folder!r}; folders: {', '.join(self.folders())}")
            untagged = self.box.client.untagged_responses
            status = {"EXISTS": int((data or [b"0"])[0] or 0)}
            for key in ("UIDVALIDITY", "UIDNEXT"):
                val = untagged.get(key, [None])[-1]
                status[key] = int(val) if val else 0
        self.selected, self.selected_readonly, self._status_cache = folder, readonly, status
        return status

    def folders(self) -> list[str]:
        with self.guarded("listing folders"):
            return [f.name for f in self.box.folder.list()]

    # --- searching and fetching --------------------------------------------------------------

    def search(self, criteria: str) -> list[int]:
        """UIDs matching an IMAP SEARCH expression, ascending. Strings in it must be imap_quote()d."""
        with self.guarded("searching"):
            encoded = criteria.encode("utf-8")
            charset = "UTF-8" if any(b > 127 for b in encoded) else None
            args = ("SEARCH", "CHARSET", charset, encoded) if charset else ("SEARCH", encoded)
            typ, data = self.box.client.uid(*args)
            if typ != "OK":
                raise MailError(f"the IMAP server {self.where} rejected the search: {_why(data)}")
            return sorted(int(x) for x in (data[0] or b"").split())

    def fetch(self, uids: list[int], items: str) -> list[dict[str, Any]]:
        """FETCH items for many UIDs, in chunks; returns parsed dicts (see imap_wire.parse_fetch)."""
        out: list[dict[str, Any]] = []
        for i in range(0, len(uids), FETCH_CHUNK):
            chunk = ",".join(str(u) for u in uids[i : i + FETCH_CHUNK])
            with self.guarded(f"fetching {len(uids)} message(s) from {self.selected!r}"):
                typ, data = self.box.client.uid("FETCH", chunk, items)
                if typ != "OK":
                    raise MailError(f"the IMAP server {self.where} rejected FETCH: {_why(data)}")
                out += [m for m in parse_fetch(data) if "UID" in m]
        return out

    def headers(self, uids: list[int]) -> list[dict[str, Any]]:
        """UID, FLAGS, size, arrival date and the summary headers of each message. Never sets \\Seen."""
        return self.fetch(uids, f"(UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS ({SUMMARY_HEADERS})])")

    def structure(self, uid: int) -> tuple[dict[str, Any], list[Part] | None]:
        """Flags, size, the full header block and the MIME parts of one message (None if unparseable)."""
        found = self.fetch([uid], "(UID FLAGS RFC822.SIZE INTERNALDATE BODYSTRUCTURE BODY.PEEK[HEADER])")
        if not found:
            raise MailNotFound(f"there is no message with uid {uid} in {self.selected!r}")
        item = found[0]
        try:
            leafs = parts(item.get("BODYSTRUCTURE"))
        except WireError:
            leafs = None  # the caller falls back to fetching the start of the raw message
        return item, leafs

    def sections(self, uid: int, caps: dict[str, int]) -> dict[str, bytes]:
        """The first ``cap`` bytes of each body section (``{"1.1": 262144}``), without setting \\Seen."""
        if not caps:
            return {}
        items = " ".join(f"BODY.PEEK[{s}]<0.{cap}>" for s, cap in caps.items())
        found = self.fetch([uid], f"(UID {items})")
        got: dict[str, bytes] = {}
        for key, value in (found[0] if found else {}).items():
            m = re.fullmatch(r"BODY\[([\d.]+|TEXT|)\](?:<\d+>)?", key)
            if m and isinstance(value, (bytes, str)):
                got[m.group(1)] = value if isinstance(value, bytes) else value.encode()
        return got

    # --- changing things ---------------------------------------------------------------------

    def store(self, uid: int, flags: list[str], add: bool) -> list[str]:
        """Add or remove flags on one message (UID STORE, no expunge). Returns the flags after."""
        with self.guarded(f"changing flags of message {uid}", changes=True):
            typ, data = self.box.client.uid("STORE", str(uid), "+FLAGS" if add else "-FLAGS", f"({' '.join(flags)})")
            if typ != "OK":
                raise MailError(f"the IMAP server {self.where} refused to change flags: {_why(data)}")
            parsed = parse_fetch([d for d in data if d])
        if not parsed:
            raise MailNotFound(f"there is no message with uid {uid} in {self.selected!r}")
        return [str(f) for f in parsed[0].get("FLAGS") or []]

    def move(self, uid: int, to: str) -> tuple[int | None, str | None]:
        """Move one message of the selected folder (opened writable) to ``to``.

        With MOVE (RFC 6851) the server does it in one step. Without it: COPY, mark the original
        \\Deleted, and expunge that one UID (UID EXPUNGE, RFC 4315 UIDPLUS); a plain EXPUNGE would
        also purge messages someone else marked deleted, so without UIDPLUS the original stays,
        marked. A copy already in ``to`` (same Message-ID and size, e.g. from an attempt whose
        connection was cut) is not made again. Returns (its UID in ``to`` if known, a note).
        """
        check_folder_name(to)
        client = self.box.client
        if "MOVE" in client.capabilities:
            with self.guarded(f"moving message {uid} to {to!r}", changes=True):
                typ, data = client.uid("MOVE", str(uid), encode_folder(to))
                if typ != "OK":
                    raise MailError(f"the IMAP server {self.where} refused to move message {uid} to {to!r}: {_why(data)}")
                copyuid = client.untagged_responses.pop("COPYUID", None) or [d for d in data if d and b"COPYUID" in d]
                return _last_uid(copyuid), None
        return self._copy_and_delete(uid, to)

    def _copy_and_delete(self, uid: int, to: str) -> tuple[int | None, str | None]:
        source = self.selected
        assert source is not None
        found = self.fetch([uid], "(UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        if not found:
            raise MailNotFound(f"there is no message with uid {uid} in {source!r}")
        block = next((v for k, v in found[0].items() if k.startswith("BODY[")), b"")
        ids = re.findall(rb"<[^<>\s]+>", block if isinstance(block, bytes) else b"")
        size = str(found[0].get("RFC822.SIZE"))
        new_uid = None
        if ids:
            copies = self.find_message_id(to, ids[0].decode("ascii", "replace"), items="(UID RFC822.SIZE)")
            new_uid = next((int(c["UID"]) for c in copies if str(c.get("RFC822.SIZE")) == size), None)
            self.select(source, readonly=False)
        client = self.box.client
        with self.guarded(f"moving message {uid} to {to!r} (copy, then delete)", changes=True):
            if new_uid is None:
                typ, data = client.uid("COPY", str(uid), encode_folder(to))
                if typ != "OK":
                    raise MailError(f"the IMAP server {self.where} refused to copy message {uid} to {to!r}: {_why(data)}")
                new_uid = _last_uid(client.untagged_responses.pop("COPYUID", None))
            typ, data = client.uid("STORE", str(uid), "+FLAGS", "(\\Deleted)")
            if typ != "OK":
                raise MailError(f"message {uid} was copied to {to!r}, but the server refused to mark the original "
                                f"deleted: {_why(data)}")
            if "UIDPLUS" in client.capabilities:
                client.uid("EXPUNGE", str(uid))
                return new_uid, None
        return new_uid, (f"the server cannot remove a single message (no UIDPLUS): the original stays in {source!r}, "
                         "marked deleted, until the folder is expunged")

    def append(self, folder: str, raw: bytes, flags: list[str], when: datetime | None = None) -> int | None:
        """Store a message in a folder (arrival date ``when``, default now); returns its UID if the
        server says (UIDPLUS)."""
        with self.guarded(f"storing a message in {folder!r}", changes=True):
            stamp = imaplib.Time2Internaldate(when) if when else None
            typ, data = self.box.client.append(encode_folder(folder), f"({' '.join(flags)})", stamp, raw)
            if typ != "OK":
                raise MailError(f"the IMAP server {self.where} refused to store a message in {folder!r}: {_why(data)}")
            return _last_uid(data)

    def expunge_uid(self, uid: int) -> None:
        """Remove one message; without UIDPLUS it is only marked deleted (see move)."""
        with self.guarded(f"removing message {uid}", changes=True):
            self.box.client.uid("STORE", str(uid), "+FLAGS", "(\\Deleted)")
            if "UIDPLUS" in self.box.client.capabilities:
                self.box.client.uid("EXPUNGE", str(uid))

    def find_message_id(self, folder: str, message_id: str, items: str = "(UID FLAGS)") -> list[dict[str, Any]]:
        """Messages in ``folder`` with this Message-ID, with their flags or other FETCH ``items``
        (for idempotent writes)."""
        self.select(folder, readonly=True)
        uids = self.search(f"HEADER Message-ID {imap_quote(message_id)}")
        return self.fetch(uids, items) if uids else []


def _last_uid(data: Any) -> int | None:
    """The new UID from a UIDPLUS answer: "[APPENDUID 1700000000 42]", "[COPYUID 1700000000 5 12]",
    or the bare "1700000000 5 12" that imaplib keeps from an untagged COPYUID."""
    for item in reversed(list(data or [])):
        text = item.decode(errors="replace") if isinstance(item, bytes) else str(item)
        m = re.search(r"APPENDUID \d+ (\d+)", text) or re.search(r"(?:COPYUID )?\d+ [\d:,]+ (?:[\d:,]*[:,])?(\d+)", text)
        if m:
            return int(m.group(1))
    return None


def _why(e: Any) -> str:
    if isinstance(e, BaseException):
        text = str(e) or type(e).__name__
    else:
        text = str(e)
    return text[:300]
