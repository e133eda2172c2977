"""What a connector may touch of a sandbox workplace: the ``workplace`` state of its tool context.

    access = ctx.deps.state.open()        # the workplace named in the connector's settings
    access.append("INBOX", raw, [])       # the owner's own mailbox only
    access.deliver(raw, ["bob@example.com", "x@outside.test"])   # bob's INBOX; x is "sent outside"
    access.busy_objects("bob")            # bob's calendar, times only (what a free/busy report shows)
    access.deployments().service("payments")   # the workplace's services (workplace_deploy)

One owner, one workplace: the owner's mail folders and calendars in full; of colleagues only what a
real server would let the owner do — deliver mail to their INBOX, see when they are busy — and the
chat channels the owner is a member of; the workplace's deployable services (the deploy connector's
settings name which ones an agent sees). Nothing is ever sent off the machine: mail to outside
addresses is recorded as sent outside.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .workplace import MailRow, WorkplaceMissing, WorkplaceRepository
from .workplace_chat import ChannelRow, ChatRow, WorkplaceChatRepository
from .workplace_deploy import WorkplaceDeployments, WorkplaceDeployRepository

# iCalendar properties a free/busy answer is made from; everything else (titles, places,
# attendees, descriptions) stays in the colleague's calendar.
TIME_PROPERTIES = ("UID", "DTSTART", "DTEND", "DURATION", "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID", "STATUS",
                   "TRANSP", "DTSTAMP", "SEQUENCE")


@dataclass(frozen=True)
class WorkplaceAccess:
    """One owner's view of one workplace (see the module docstring)."""

    _repo: WorkplaceRepository
    _chat_repo: WorkplaceChatRepository
    workplace: str
    owner: str  # user id
    address_book: dict[str, str] = field(default_factory=dict)  # lower-case address -> user id
    names: dict[str, str] = field(default_factory=dict)  # user id -> display name

    # --- the owner's mail --------------------------------------------------------------------

    def folders(self) -> list[str]:
        return self._repo.folders(self.workplace, self.owner)

    def status(self, folder: str) -> dict[str, int]:
        return self._repo.status(self.workplace, self.owner, folder)

    def append(self, folder: str, raw: bytes, flags: list[str], when: datetime | None = None) -> int:
        return self._repo.append(self.workplace, self.owner, folder, raw, flags, when)

    def messages(self, folder: str, uids: list[int] | None = None, message_id: str | None = None) -> list[MailRow]:
        return self._repo.messages(self.workplace, self.owner, folder, uids, message_id)

    def set_flags(self, folder: str, uid: int, flags: list[str], add: bool) -> list[str]:
        return self._repo.set_flags(self.workplace, self.owner, folder, uid, flags, add)

    def move(self, folder: str, uid: int, to: str) -> int:
        return self._repo.move(self.workplace, self.owner, folder, uid, to)

    def remove(self, folder: str, uid: int) -> bool:
        return self._repo.remove(self.workplace, self.owner, folder, uid)

    def deliver(self, raw: bytes, recipients: list[str], when: datetime | None = None) -> dict[str, list[str]]:
        """Hand a message to its recipients as a mail server would: into the INBOX of each person of
        the organisation, recorded as sent outside for anyone else. {"delivered": [...], "outside": [...]}."""
        delivered, outside = [], []
        for address in dict.fromkeys(a.strip().lower() for a in recipients if a.strip()):
            user = self.address_book.get(address)
            if user is None:
                outside.append(address)
                continue
            self._repo.create(self.workplace, [user])  # their folders, if they had none yet
            self._repo.append(self.workplace, user, "INBOX", raw, [], when)
            delivered.append(address)
        if outside:
            self._repo.record_outside(self.workplace, self.owner, outside, raw)
        return {"delivered": delivered, "outside": outside}

    # --- calendars ---------------------------------------------------------------------------

    def calendars(self, default: str) -> list[str]:
        return self._repo.calendars(self.workplace, self.owner, default)

    def events(self, calendar: str, uid: str | None = None) -> list[tuple[str, str, int]]:
        return self._repo.events(self.workplace, self.owner, calendar, uid)

    def put_event(self, calendar: str, uid: str, ics: str, etag: int | None = None) -> int:
        return self._repo.put_event(self.workplace, self.owner, calendar, uid, ics, etag=etag)

    def delete_event(self, calendar: str, uid: str) -> bool:
        return self._repo.delete_event(self.workplace, self.owner, calendar, uid)

    def busy_objects(self, user: str, calendar: str) -> list[str]:
        """A colleague's calendar objects reduced to their times (TIME_PROPERTIES and time zones):
        what a free/busy report is computed from. WorkplaceMissing for someone not in the directory."""
        if user not in self.names:
            raise WorkplaceMissing(f"{user} is not a person of the organisation")
        return [_times_only(ics) for _, ics, _ in self._repo.events(self.workplace, user, calendar)]

    # --- chat --------------------------------------------------------------------------------

    def channels(self) -> list[ChannelRow]:
        return self._chat_repo.channels(self.workplace, member=self.owner)

    def channel(self, channel_id: str) -> ChannelRow:
        """A channel the owner is a member of; WorkplaceMissing otherwise (others' channels are invisible)."""
        c = self._chat_repo.channel(self.workplace, channel_id)
        if self.owner not in c.members:
            raise WorkplaceMissing(f"channel {channel_id}")
        return c

    def chat_items(self, channel_id: str | None = None, *, after: int = 0, limit: int = 200,
                   newest: bool = False) -> list[ChatRow]:
        """Messages and reactions in the owner's channels (or one of them), after a cursor."""
        mine = {c.channel_id for c in self.channels()}
        if channel_id is not None:
            self.channel(channel_id)
        rows = self._chat_repo.items(self.workplace, channel_id=channel_id, after=after, limit=limit, newest=newest)
        return [r for r in rows if r.channel_id in mine]

    def chat_cursor(self) -> int:
        return self._chat_repo.last_id(self.workplace)

    def post(self, channel_id: str, text: str, *, thread_id: str | None = None, mentions: tuple[str, ...] = (),
             idempotency_key: str | None = None, key: str = "", target: str | None = None) -> ChatRow:
        """Post (or react, with ``key``) as the owner in one of the owner's channels."""
        self.channel(channel_id)
        return self._chat_repo.post(self.workplace, channel_id, self.owner, self.names.get(self.owner, self.owner),
                                   text, thread_id=thread_id, mentions=mentions, idempotency_key=idempotency_key,
                                   key=key, target=target)

    def direct_channel(self, user: str) -> ChannelRow:
        """The one-to-one conversation of the owner with ``user`` (made if needed)."""
        if user not in self.names:
            raise WorkplaceMissing(f"{user} is not a person of the organisation")
        pair = sorted({self.owner, user})
        return self._chat_repo.add_channel(self.workplace, "dm-" + "-".join(pair), self.names.get(user, user), pair,
                                          is_direct=True)


    # --- deployments -------------------------------------------------------------------------

    def deployments(self) -> WorkplaceDeployments:
        """The workplace's services: state, history, health and logs; deploy and roll back."""
        return WorkplaceDeployments(WorkplaceDeployRepository(self._repo.db), self.workplace)


def _times_only(ics: str) -> str:
    import icalendar

    cal = icalendar.Calendar.from_ical(ics)
    out = icalendar.Calendar()
    out.add("prodid", "-//MeshClaw//sandbox free-busy//EN")
    out.add("version", "2.0")
    for comp in cal.subcomponents:
        if comp.name == "VTIMEZONE":
            out.add_component(comp)
        elif comp.name == "VEVENT":
            ev = icalendar.Event()
            for key in TIME_PROPERTIES:
                values = comp.get(key)
                if values is None:
                    continue
                for value in values if isinstance(values, list) else [values]:
                    ev.add(key, value, encode=False)
            out.add_component(ev)
    return out.to_ical().decode()


class WorkplaceState:
    """The ``workplace`` state kind: opens the workplace a connector's settings name, for the run's owner."""

    def __init__(self, repo: WorkplaceRepository, chat_repo: WorkplaceChatRepository, owner: str, name: str | None,
                 address_book: dict[str, str], names: dict[str, str]):
        self._repo, self._chat, self._owner, self._name = repo, chat_repo, owner, name
        self._book, self._names = address_book, names

    def open(self) -> WorkplaceAccess:
        """The owner's view of the workplace; WorkplaceMissing when the settings name none or an unknown one."""
        if not self._name:
            raise WorkplaceMissing("the connector's settings name no sandbox workplace (workplace: NAME)")
        self._repo.require(self._name)
        return WorkplaceAccess(self._repo, self._chat, self._name, self._owner, dict(self._book), dict(self._names))
