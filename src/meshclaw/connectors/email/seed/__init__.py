"""A realistic, deterministic inbox for tests and the demo: Alice's week at Example Corp.

    seed_messages()            # 48 messages for alice@example.com's INBOX, as bytes
    sent_messages()            # what Alice sent (for her Sent folder)
    catalog()                  # (kind, bytes) pairs: "manager", "phishing", "injection", ...
    load_into_mailbox(settings, password)   # APPEND them over IMAP to any server
    write_eml(directory)       # one .eml file per message, for mail clients and inspection
"""

from __future__ import annotations

import email
import email.policy
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from ..backend import mail_client
from ..settings import EmailSettings
from .hostile import INJECTED_DELETE, INJECTED_INBOX, INJECTED_INVOICES, INJECTED_PASSWORD
from .hostile import injections, malformed, odd_charsets, phishing, spam
from .workday import alerts, colleagues, customers, invitations, manager, newsletters, sent_by_alice

KINDS = {
    "manager": manager,
    "colleague": colleagues,
    "customer": customers,
    "newsletter": newsletters,
    "spam": spam,
    "phishing": phishing,
    "invitation": invitations,
    "alert": alerts,
    "injection": injections,
    "charset": odd_charsets,
    "malformed": malformed,
}

INJECTION_PHRASES = (INJECTED_INVOICES, INJECTED_INBOX, INJECTED_PASSWORD, INJECTED_DELETE)


def catalog() -> list[tuple[str, bytes]]:
    """Every INBOX seed message with its kind, in the order they arrive (by their Date)."""
    items = [(kind, m) for kind, make in KINDS.items() for m in make()]
    return sorted(items, key=lambda km: _number(km[1]))


def _number(raw: bytes) -> int:
    # Seed Message-IDs are "<seed-NNN@domain>": NNN is the arrival order.
    start = raw.index(b"<seed-") + 6
    return int(raw[start : start + 3])


def date_of(raw: bytes) -> datetime:
    """The Date header of a seed message: used as its arrival date so the demo inbox reads like a week."""
    msg = email.message_from_bytes(raw.split(b"\r\n\r\n", 1)[0], policy=email.policy.compat32)
    return parsedate_to_datetime(msg["Date"])


def seed_messages() -> list[bytes]:
    return [m for _, m in catalog()]


def sent_messages() -> list[bytes]:
    return sent_by_alice()


def load_into_mailbox(settings: EmailSettings, password: str, *, include_sent: bool = True) -> int:
    """APPEND the seed set to the account's INBOX (unread) and Sent (read). Returns how many."""
    count = 0
    with mail_client(settings, password) as client:
        for raw in seed_messages():
            client.append(settings.inbox, raw, [], when=date_of(raw))
            count += 1
        if include_sent:
            for raw in sent_messages():
                client.append(settings.sent_folder, raw, ["\\Seen"], when=date_of(raw))
                count += 1
    return count


def write_eml(directory: Path) -> list[Path]:
    """Write each message as NNN-kind.eml (and sent-NNN.eml) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind, raw in catalog():
        paths.append(directory / f"{_number(raw):03d}-{kind}.eml")
        paths[-1].write_bytes(raw)
    for raw in sent_messages():
        paths.append(directory / f"sent-{_number(raw):03d}.eml")
        paths[-1].write_bytes(raw)
    return paths
