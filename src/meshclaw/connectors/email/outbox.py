"""Saving drafts and sending, each at most once per tool call, even across a crash and replay.

Sending protocol (with ``append_sent``, the default):

1. Look in Sent for the call's Message-ID. Found and settled: it was sent, report that and stop.
   Found but still marked SENDING_FLAG: an earlier attempt broke off mid-send. Raise SendUncertain
   rather than risk a second copy in someone's inbox; a person decides.
2. Store the copy in Sent, marked SENDING_FLAG.
3. Hand the message to SMTP. If the server refused it, remove the copy (nothing went out).
4. Clear the mark. If this last step fails, the copy stays marked, and a replay asks a person
   instead of sending again.

Without ``append_sent`` (servers such as Gmail file sent mail themselves) only step 1's lookup and
the SMTP hand-over remain.
"""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from typing import Any

from .backend import mail_client
from .compose import SENDING_FLAG, as_crlf_bytes, smtp_send
from .errors import MailError, SendUncertain
from .labels import PROVENANCE_HEADER, UNTRUSTED_COPY
from .settings import EmailSettings


def save_draft(settings: EmailSettings, password: str, msg: EmailMessage) -> dict[str, Any]:
    """Store a draft in the Drafts folder unless this very draft (same Message-ID) is already there."""
    folder = settings.drafts_folder
    with mail_client(settings, password) as client:
        existing = client.find_message_id(folder, msg["Message-ID"])
        if existing:
            return {"saved": True, "folder": folder, "uid": int(existing[0]["UID"]), "already_saved": True}
        uid = client.append(folder, as_crlf_bytes(msg), ["\\Draft", "\\Seen"])
        if uid is None:  # no APPENDUID (a server without UIDPLUS): find the draft by its Message-ID
            found = client.find_message_id(folder, msg["Message-ID"])
            uid = int(found[0]["UID"]) if found else None
    return {"saved": True, "folder": folder, "uid": uid}


def _sent_state(settings: EmailSettings, password: str, message_id: str) -> tuple[str, int | None]:
    """("new", None), ("sent", uid) or ("uncertain", uid) for this Message-ID in the Sent folder."""
    with mail_client(settings, password) as client:
        found = client.find_message_id(settings.sent_folder, message_id)
    for item in found:
        flags = [str(f) for f in item.get("FLAGS") or []]
        if SENDING_FLAG in flags and "\\Deleted" in flags:
            # A copy withdrawn after a refused send, left marked on a server that cannot expunge
            # one message (no UIDPLUS): nothing went out.
            continue
        state = "uncertain" if SENDING_FLAG in flags else "sent"
        return state, int(item["UID"])
    return "new", None


def _store_pending(settings: EmailSettings, password: str, raw: bytes, untrusted: bool = False) -> int | None:
    with mail_client(settings, password) as client:
        return client.append(settings.sent_folder, raw, ["\\Seen", SENDING_FLAG] + ([UNTRUSTED_COPY] if untrusted else []))


def _settle(settings: EmailSettings, password: str, message_id: str, uid: int | None, delivered: bool) -> None:
    with mail_client(settings, password) as client:
        client.select(settings.sent_folder, readonly=False)
        if uid is None:  # the server gave no APPENDUID: find the copy by its Message-ID
            found = client.find_message_id(settings.sent_folder, message_id)
            uid = int(found[0]["UID"]) if found else None
        if uid is None:
            return
        if delivered:
            client.store(uid, [SENDING_FLAG], add=False)
        else:
            client.expunge_uid(uid)


async def send_once(settings: EmailSettings, password: str, msg: EmailMessage, recipients: list[str]) -> dict[str, Any]:
    """Send ``msg`` unless the Sent folder shows this Message-ID was already sent (see module doc)."""
    message_id = msg["Message-ID"]
    state, uid = await asyncio.to_thread(_sent_state, settings, password, message_id)
    if state == "sent":
        return {"sent": True, "already_sent": True, "message_id": message_id}
    if state == "uncertain":
        raise SendUncertain(
            f"an earlier attempt to send this message ({message_id}) broke off while it was being sent: "
            f"it may already have reached its recipients, so it is not sent again automatically. "
            f"Check with the recipients, then remove the copy from {settings.sent_folder!r} to allow a new send."
        )
    pending_uid = None
    untrusted = msg.get(PROVENANCE_HEADER) is not None
    if settings.append_sent:
        pending_uid = await asyncio.to_thread(_store_pending, settings, password, as_crlf_bytes(msg), untrusted)
    del msg[PROVENANCE_HEADER]  # the label is for the owner's copy, not for the recipients
    try:
        if settings.backend == "sandbox":  # delivered inside the workplace; nothing leaves the machine
            from .sandbox import sandbox_send

            refused = await sandbox_send(settings, password, msg, recipients)
        else:
            refused = await smtp_send(settings, password, msg, recipients)
    except SendUncertain:
        raise  # keep the marked copy: a replay must not send blindly
    except MailError:
        if settings.append_sent:
            # Refused or never connected: nothing went out, so the Sent copy would be a lie.
            await asyncio.to_thread(_settle, settings, password, message_id, pending_uid, False)
        raise
    if settings.append_sent:
        await asyncio.to_thread(_settle, settings, password, message_id, pending_uid, True)
    result: dict[str, Any] = {"sent": True, "message_id": message_id, "recipients": len(recipients) - len(refused)}
    if refused:
        result["refused"] = refused
    return result
