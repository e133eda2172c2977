"""Provenance of mail content: who could have written it, and so whether it may steer actions.

Headers are not evidence: anyone can put the owner's or the manager's address in From. What the
connector trusts is where a message is: the owner's Sent folder holds what the owner (or an agent
acting through the guard) sent. Everything else, including Drafts (which may quote incoming mail),
is untrusted data.
"""

from __future__ import annotations

from collections.abc import Iterable

from meshclaw.domain.provenance import Label, Source, Trust

from .settings import EmailSettings

OWN_SENT = Label(Source.OWNER, Trust.TRUSTED, "the owner's own sent mail")
# The keyword on a Sent copy written by a run that had read outside content (``PROVENANCE_HEADER``
# on the message as composed): read back, it is outside content, not the owner's words.
UNTRUSTED_COPY = "$MeshclawUntrusted"
PROVENANCE_HEADER = "X-MeshClaw-Provenance"


def is_owner_sent(settings: EmailSettings, folder: str, sender: str, flags: Iterable[str] = ()) -> bool:
    return folder == settings.sent_folder and sender.lower() == settings.address.lower() and UNTRUSTED_COPY not in flags


def message_label(settings: EmailSettings, folder: str, sender: str, flags: Iterable[str] = ()) -> Label:
    if is_owner_sent(settings, folder, sender, tuple(flags)):
        return OWN_SENT
    if UNTRUSTED_COPY in tuple(flags):
        return Label(Source.EXTERNAL, Trust.UNTRUSTED, "sent mail written after reading outside content")
    return Label(Source.EXTERNAL, Trust.UNTRUSTED, f"mail from {sender or 'an unknown sender'}")


def listing_label(settings: EmailSettings, folder: str, senders: Iterable[str], untrusted_copies: bool = False) -> Label:
    """One label for a list of messages: trusted only if every one of them is the owner's sent mail
    (and none was written by a run that had read outside content)."""
    distinct = sorted(set(senders))
    if distinct and not untrusted_copies and all(is_owner_sent(settings, folder, s) for s in distinct):
        return OWN_SENT
    if not distinct:
        return Label(Source.EXTERNAL, Trust.UNTRUSTED, f"mail in {folder}")
    shown = ", ".join(distinct[:3]) + (f" and {len(distinct) - 3} more" if len(distinct) > 3 else "")
    return Label(Source.EXTERNAL, Trust.UNTRUSTED, f"mail in {folder} from {shown}")
