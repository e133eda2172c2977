"""The demo workplace's night: mail, three weeks of meetings and a team channel, seeded into the store.

    report = seed_night(store, "demo", night="default", now=datetime.now(timezone.utc), tz="Europe/Berlin")

``default``: a dozen new messages drawn from the email seed set (``connectors/email/seed``) — the
manager, colleagues, a customer, newsletters, an alert, an invitation, spam, phishing and mail that
carries instructions for an AI assistant — arriving overnight; ``large``: the whole set. Alice's Sent
folder holds what she wrote in the past week (her contacts and threads). Calendars hold last week's,
this week's and next week's meetings of the seed team (``connectors/calendar/seed``). Seeding always
starts the workplace fresh.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from meshclaw.connectors.calendar.seed import USERS, calendars
from meshclaw.connectors.email.seed import catalog, sent_messages

NIGHTS = ("default", "large")
# How many of each kind the default night draws from the seed set (in arrival order).
DEFAULT_NIGHT = {"manager": 1, "colleague": 2, "customer": 1, "newsletter": 2, "alert": 1, "invitation": 1,
                 "spam": 1, "phishing": 1, "injection": 2}
TEAM_CHAT = (("bob", "Bob Manager", "Reminder: release 4.2 review is on Thursday."),
             ("carol", "Carol SRE", "Checkout latency alerts overnight are being looked at."))


@dataclass(frozen=True)
class Seeded:
    """What a night put in the workplace."""

    workplace: str
    messages: int
    kinds: dict[str, int]
    sent: int
    meetings: int
    users: tuple[str, ...]


def night_messages(night: str) -> list[tuple[str, bytes]]:
    """(kind, raw) of the night's new mail, in arrival order. ValueError for an unknown night."""
    if night not in NIGHTS:
        raise ValueError(f"unknown night {night!r}: choose {' or '.join(NIGHTS)}")
    items = catalog()
    if night == "large":
        return items
    taken: dict[str, int] = {}
    out = []
    for kind, raw in items:
        if taken.get(kind, 0) < DEFAULT_NIGHT.get(kind, 0):
            taken[kind] = taken.get(kind, 0) + 1
            out.append((kind, raw))
    return out


def seed_night(store: object, workplace: str, *, night: str, now: datetime, tz: str) -> Seeded:
    """Make ``workplace`` fresh in ``store`` and seed the night (see the module docstring)."""
    zone = ZoneInfo(tz)
    mail = night_messages(night)
    repo = store.workplaces  # type: ignore[attr-defined]
    repo.create(workplace, list(USERS), description=f"the {night} demo night", fresh=True)
    # The new mail arrives overnight: from 22:00 until 06:00 local time before ``now``.
    local = now.astimezone(zone)
    morning = local.replace(hour=6, minute=0, second=0, microsecond=0)
    if morning > local:
        morning -= timedelta(days=1)
    step = timedelta(hours=8) / max(1, len(mail))
    kinds: dict[str, int] = {}
    for i, (kind, raw) in enumerate(mail):
        repo.append(workplace, "alice", "INBOX", raw, [], morning - timedelta(hours=8) + step * i)
        kinds[kind] = kinds.get(kind, 0) + 1
    sent = sent_messages()
    for i, raw in enumerate(sent):
        # What Alice wrote is from the past week, so her weekly report has something to say.
        when = morning - timedelta(days=len(sent) - i, hours=-3)
        raw = re.sub(rb"(?m)^Date: .*\r\n", b"Date: " + format_datetime(when).encode() + b"\r\n", raw, count=1)
        repo.append(workplace, "alice", "Sent", raw, ["\\Seen"], when)
    monday = local.date() - timedelta(days=local.weekday())
    meetings = 0
    for week in (monday - timedelta(days=7), monday, monday + timedelta(days=7)):
        for user, objects in calendars(week, USERS, tz=tz).items():
            for ics in objects:
                uid = ics.split("UID:", 1)[1].split("\r\n", 1)[0].strip()
                repo.put_event(workplace, user, "work", uid, ics)
                meetings += user == "alice"
    chat = store.workplace_chat  # type: ignore[attr-defined]
    chat.add_channel(workplace, "team", "team", list(USERS), topic="Example Corp team")
    for author, name, text in TEAM_CHAT:
        chat.post(workplace, "team", author, name, text, when=morning - timedelta(hours=10))
    return Seeded(workplace, len(mail), kinds, len(sent), meetings, USERS)
