"""Sandbox workplaces in the store: each user's mail folders and messages, calendars, and what was
sent outside the organisation (chat: ``workplace_chat``; deployable services: ``workplace_deploy``).
Nothing here leaves the machine.

    repo = WorkplaceRepository(db)
    repo.create("demo", users=["alice", "bob"], fresh=True)      # folders INBOX, Sent, Drafts, ...
    uid = repo.append("demo", "alice", "INBOX", raw_bytes, [], when)
    repo.messages("demo", "alice", "INBOX")                       # [MailRow(uid, raw, flags, ...)]

Messages are kept as the RFC 5322 bytes a mail server would hold; UIDs are per folder and
ascending, with a fixed UIDVALIDITY per folder (RFC 9051 2.3.1.1), so the email connector's IMAP
rules (uids with their uidvalidity) hold unchanged. Connectors never use this class: they get the
narrow, per-owner view of ``workplace_access.WorkplaceAccess`` through their tool context.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import delete, func, select

from .database import Database
from .tables_workplace import Workplace, WorkplaceChannel, WorkplaceChatItem, WorkplaceEvent, WorkplaceFolder, WorkplaceMail
from .tables_workplace import WorkplaceOutside, WorkplaceService, WorkplaceServiceChange

FOLDERS = ("INBOX", "Sent", "Drafts", "Archive", "Junk", "Trash")
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(<[^<>\r\n]{1,240}>)", re.I | re.M)


class WorkplaceMissing(LookupError):
    """There is no workplace (or folder, message, event) by that name."""


@dataclass(frozen=True)
class MailRow:
    """One stored message: its uid in its folder, bytes, flags and arrival time (UTC)."""

    uid: int
    raw: bytes
    flags: tuple[str, ...]
    internal_date: datetime
    message_id: str


def check_name(name: str) -> str:
    """A workplace name: lower-case letters, digits, ``-`` and ``_``, at most 64. ValueError otherwise."""
    if not _NAME.fullmatch(name or ""):
        raise ValueError(f"a workplace name is lower-case letters, digits, '-' or '_' (at most 64), not {name!r}")
    return name


def message_id_of(raw: bytes) -> str:
    """The Message-ID of a raw message's header block, or ""."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    m = _MESSAGE_ID.search(head)
    return m.group(1).decode("ascii", "replace") if m else ""


def _utc(when: datetime | None) -> datetime:
    if when is None:
        return datetime.now(timezone.utc)
    return when.astimezone(timezone.utc) if when.tzinfo else when.replace(tzinfo=timezone.utc)


class WorkplaceRepository:
    """The workplace tables (see the module docstring). Every method is one transaction."""

    def __init__(self, db: Database):
        self.db = db

    # --- workplaces --------------------------------------------------------------------------

    def create(self, name: str, users: list[str], *, description: str = "", fresh: bool = False) -> bool:
        """Make workplace ``name`` with the standard folders for each user. ``fresh``: remove what
        it held first. Returns True if it was made (or remade) now, False if it existed and was kept."""
        check_name(name)
        with self.db.session() as s:
            existed = s.get(Workplace, name) is not None
            if existed and not fresh:
                for user in users:
                    self._folders(s, name, user)
                return False
            if existed:
                for table in (WorkplaceMail, WorkplaceFolder, WorkplaceOutside, WorkplaceEvent, WorkplaceChannel,
                              WorkplaceChatItem, WorkplaceService, WorkplaceServiceChange):
                    s.execute(delete(table).where(table.workplace == name))
                s.execute(delete(Workplace).where(Workplace.name == name))
                s.flush()
            s.add(Workplace(name=name, created_at=datetime.now(timezone.utc), description=description))
            for user in users:
                self._folders(s, name, user)
        return True

    def _folders(self, s, name: str, user: str) -> None:
        have = set(s.scalars(select(WorkplaceFolder.folder).where(WorkplaceFolder.workplace == name,
                                                                  WorkplaceFolder.owner == user)))
        for folder in FOLDERS:
            if folder not in have:
                # A stable, positive 31-bit UIDVALIDITY per (workplace, user, folder) creation.
                seed = f"{name}/{user}/{folder}/{datetime.now(timezone.utc).timestamp()}".encode()
                s.add(WorkplaceFolder(workplace=name, owner=user, folder=folder,
                                      uidvalidity=(zlib.crc32(seed) & 0x7FFFFFFF) or 1, uidnext=1))

    def get(self, name: str) -> Workplace | None:
        with self.db.session() as s:
            return s.get(Workplace, name)

    def names(self) -> list[str]:
        with self.db.session() as s:
            return list(s.scalars(select(Workplace.name).order_by(Workplace.name)))

    def require(self, name: str) -> None:
        """Raise WorkplaceMissing naming the known workplaces when ``name`` is not one."""
        if self.get(name) is None:
            known = ", ".join(self.names()) or "none yet"
            raise WorkplaceMissing(f"there is no sandbox workplace {name!r} (known: {known}); `meshclaw demo` makes one")

    # --- mail folders ------------------------------------------------------------------------

    def folders(self, name: str, owner: str) -> list[str]:
        with self.db.session() as s:
            return list(s.scalars(select(WorkplaceFolder.folder).where(
                WorkplaceFolder.workplace == name, WorkplaceFolder.owner == owner).order_by(WorkplaceFolder.folder)))

    def status(self, name: str, owner: str, folder: str) -> dict[str, int]:
        """EXISTS, UIDVALIDITY and UIDNEXT of a folder; WorkplaceMissing if there is no such folder."""
        with self.db.session() as s:
            f = s.get(WorkplaceFolder, (name, owner, folder))
            if f is None:
                raise WorkplaceMissing(folder)
            count = s.scalar(select(func.count()).select_from(WorkplaceMail).where(
                WorkplaceMail.workplace == name, WorkplaceMail.owner == owner, WorkplaceMail.folder == folder))
            return {"EXISTS": int(count or 0), "UIDVALIDITY": f.uidvalidity, "UIDNEXT": f.uidnext}

    def append(self, name: str, owner: str, folder: str, raw: bytes, flags: list[str] | tuple[str, ...],
               when: datetime | None = None) -> int:
        """Store a message; its new uid. WorkplaceMissing if the folder does not exist."""
        with self.db.session() as s:
            return self._append(s, name, owner, folder, raw, list(flags), _utc(when))

    def _append(self, s, name: str, owner: str, folder: str, raw: bytes, flags: list[str], when: datetime) -> int:
        f = s.get(WorkplaceFolder, (name, owner, folder), with_for_update=True)
        if f is None:
            raise WorkplaceMissing(folder)
        uid = f.uidnext
        f.uidnext = uid + 1
        s.add(WorkplaceMail(workplace=name, owner=owner, folder=folder, uid=uid, raw=raw,
                            flags=list(dict.fromkeys(flags)), internal_date=when, message_id=message_id_of(raw)))
        return uid

    def messages(self, name: str, owner: str, folder: str, uids: list[int] | None = None,
                 message_id: str | None = None) -> list[MailRow]:
        """The folder's messages (or those with these uids / this Message-ID), in uid order."""
        q = select(WorkplaceMail).where(WorkplaceMail.workplace == name, WorkplaceMail.owner == owner,
                                        WorkplaceMail.folder == folder).order_by(WorkplaceMail.uid)
        if uids is not None:
            q = q.where(WorkplaceMail.uid.in_(list(uids)))
        if message_id is not None:
            q = q.where(WorkplaceMail.message_id == message_id)
        with self.db.session() as s:
            return [MailRow(m.uid, m.raw, tuple(m.flags or ()), _utc(m.internal_date), m.message_id)
                    for m in s.scalars(q)]

    def _one(self, s, name: str, owner: str, folder: str, uid: int) -> WorkplaceMail:
        m = s.scalar(select(WorkplaceMail).where(WorkplaceMail.workplace == name, WorkplaceMail.owner == owner,
                                                 WorkplaceMail.folder == folder, WorkplaceMail.uid == uid))
        if m is None:
            raise WorkplaceMissing(f"message {uid} in {folder!r}")
        return m

    def set_flags(self, name: str, owner: str, folder: str, uid: int, flags: list[str], add: bool) -> list[str]:
        """Add or remove flags; the flags after. WorkplaceMissing if there is no such message."""
        with self.db.session() as s:
            m = self._one(s, name, owner, folder, uid)
            now = list(m.flags or [])
            if add:
                now += [f for f in flags if f not in now]
            else:
                now = [f for f in now if f not in flags]
            m.flags = now
            return now

    def move(self, name: str, owner: str, folder: str, uid: int, to: str) -> int:
        """Move one message to ``to`` (one transaction: never lost, never doubled); its new uid."""
        with self.db.session() as s:
            m = self._one(s, name, owner, folder, uid)
            new_uid = self._append(s, name, owner, to, m.raw, list(m.flags or []), _utc(m.internal_date))
            s.delete(m)
            return new_uid

    def remove(self, name: str, owner: str, folder: str, uid: int) -> bool:
        """Remove one message (the IMAP expunge of one uid); whether it was there."""
        with self.db.session() as s:
            done = s.execute(delete(WorkplaceMail).where(
                WorkplaceMail.workplace == name, WorkplaceMail.owner == owner, WorkplaceMail.folder == folder,
                WorkplaceMail.uid == uid))
            return bool(done.rowcount)

    def record_outside(self, name: str, sender: str, recipients: list[str], raw: bytes) -> None:
        """Keep a message sent to people outside the organisation; it is never delivered."""
        with self.db.session() as s:
            s.add(WorkplaceOutside(workplace=name, sender=sender, recipients=list(recipients), raw=raw,
                                   sent_at=datetime.now(timezone.utc)))

    def outside(self, name: str) -> list[tuple[str, list[str], bytes]]:
        """(sender user id, recipients, bytes) of every message sent outside, oldest first."""
        with self.db.session() as s:
            rows = s.scalars(select(WorkplaceOutside).where(WorkplaceOutside.workplace == name)
                             .order_by(WorkplaceOutside.id))
            return [(r.sender, list(r.recipients), r.raw) for r in rows]

    # --- calendars ---------------------------------------------------------------------------

    def calendars(self, name: str, owner: str, default: str) -> list[str]:
        """The user's calendars: those holding events, and ``default`` (always there)."""
        with self.db.session() as s:
            found = set(s.scalars(select(WorkplaceEvent.calendar).where(
                WorkplaceEvent.workplace == name, WorkplaceEvent.owner == owner)))
        return sorted(found | {default})

    def events(self, name: str, owner: str, calendar: str, uid: str | None = None) -> list[tuple[str, str, int]]:
        """(uid, iCalendar text, etag) of the calendar's objects (or the one with ``uid``)."""
        q = select(WorkplaceEvent).where(WorkplaceEvent.workplace == name, WorkplaceEvent.owner == owner,
                                         WorkplaceEvent.calendar == calendar).order_by(WorkplaceEvent.uid)
        if uid is not None:
            q = q.where(WorkplaceEvent.uid == uid)
        with self.db.session() as s:
            return [(e.uid, e.ics, e.etag) for e in s.scalars(q)]

    def put_event(self, name: str, owner: str, calendar: str, uid: str, ics: str, *, etag: int | None = None) -> int:
        """Create (``etag`` None: refused if ``uid`` exists) or replace (only if ``etag`` still matches,
        as a CalDAV If-Match) an object; its new etag. ValueError on a conflict."""
        with self.db.session() as s:
            e = s.get(WorkplaceEvent, (name, owner, calendar, uid))
            if etag is None:
                if e is not None:
                    raise ValueError(f"an event with uid {uid!r} already exists")
                s.add(WorkplaceEvent(workplace=name, owner=owner, calendar=calendar, uid=uid, ics=ics, etag=1))
                return 1
            if e is None:
                raise WorkplaceMissing(f"event {uid}")
            if e.etag != etag:
                raise ValueError("the event changed meanwhile")
            e.ics, e.etag = ics, e.etag + 1
            return e.etag

    def delete_event(self, name: str, owner: str, calendar: str, uid: str) -> bool:
        with self.db.session() as s:
            done = s.execute(delete(WorkplaceEvent).where(
                WorkplaceEvent.workplace == name, WorkplaceEvent.owner == owner, WorkplaceEvent.calendar == calendar,
                WorkplaceEvent.uid == uid))
            return bool(done.rowcount)
