"""The email tools an agent can be granted: list, search, read, move, flag, draft, send.

Each tool opens its own IMAP session (in a worker thread: imap-tools is synchronous) and returns a
compact result: ids and a few words, never whole raw messages. What mail senders wrote comes back
wrapped in ``Labelled`` with an untrusted label; only the owner's own Sent folder is trusted.
Mistakes the model can fix (unknown uid or folder, a malformed address) raise ModelRetry; failures
it cannot fix (wrong password, server gone, an uncertain send) raise MailError for the run to report.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from datetime import date
from email.message import EmailMessage
from typing import Any

from pydantic_ai import ModelRetry, RunContext

from meshclaw.domain.effects import Effect, Toolset, tool
from meshclaw.domain.provenance import Labelled
from meshclaw.domain.secrets import SecretMissing
from meshclaw.runtime.context import RunDeps

from .backend import mail_client, open_login
from .client import imap_quote
from .compose import build, clean_addresses, message_id_for
from .errors import MailError, MailNotFound
from .labels import PROVENANCE_HEADER, UNTRUSTED_COPY, listing_label, message_label
from .outbox import save_draft, send_once
from .mime_names import message_ids, reply_references
from .reading import addresses, header_block, read_message, summarize
from .settings import EmailSettings

TOOLSET = "email"
MAX_LIST = 100
_STANDARD_FLAGS = {"read": "\\Seen", "seen": "\\Seen", "flagged": "\\Flagged", "answered": "\\Answered"}


def settings_of(ctx: RunContext[RunDeps]) -> tuple[EmailSettings, Any]:
    """The agent's email settings and the resolved password (never logged, never returned), or for
    ``backend: sandbox`` the owner's view of the workplace (backend.open_login)."""
    settings = ctx.deps.settings  # validated against EmailSettings, the connector's declared model
    try:
        return settings, open_login(settings, ctx.deps.secret, getattr(ctx.deps, "state", None))
    except SecretMissing as e:
        raise MailError(f"the mail password is not available: {e}") from None


async def _in_thread(fn: Any, *args: Any) -> Any:
    try:
        return await asyncio.to_thread(fn, *args)
    except MailNotFound as e:
        raise ModelRetry(str(e)) from None


def _same_numbering(folder: str, status: dict[str, int], expected: int | None) -> None:
    """UIDs name messages only together with the folder's UIDVALIDITY (RFC 3501 2.3.1.1): when the
    caller says which numbering its uid came from and the server has renumbered the folder since,
    the uid may now name another message, so nothing is done."""
    if expected is not None and status.get("UIDVALIDITY") and expected != status["UIDVALIDITY"]:
        raise MailNotFound(
            f"the folder {folder!r} was renumbered by the server since its uids were listed (uidvalidity "
            f"{expected}, now {status['UIDVALIDITY']}): nothing was done; list or search it again for the new uids"
        )


def _list_sync(settings: EmailSettings, password: str, folder: str, criteria: str, limit: int) -> Labelled:
    with mail_client(settings, password) as client:
        status = client.select(folder)
        uids = client.search(criteria)
        newest = sorted(uids, reverse=True)[:limit]
        summaries = sorted((summarize(i) for i in client.headers(newest)), key=lambda s: -s.uid)
    own = folder in (settings.sent_folder, settings.drafts_folder)
    value = {
        "folder": folder,
        "total": status["EXISTS"],
        "matching": len(uids),
        "uidvalidity": status["UIDVALIDITY"],
        # In the owner's own Sent and Drafts, who they wrote to and the ids of what they wrote (their history).
        "messages": [s.brief() | ({"to": s.to, "message_id": s.message_id} if own else {}) for s in summaries],
    }
    return Labelled(value, listing_label(settings, folder, (s.sender for s in summaries),
                                         untrusted_copies=any(UNTRUSTED_COPY in s.flags for s in summaries)))


@tool("email.list", Effect.READ, output_trust="untrusted")
async def email_list(ctx: RunContext[RunDeps], folder: str = "INBOX", limit: int = 20, unread_only: bool = False,
                     without_label: str = "") -> Labelled:
    """List the newest messages in a mail folder: uid, sender, subject, date, unread.

    Use the uid with email.read to see a message. Folders: INBOX, Sent, Drafts, Archive, Junk, Trash.
    without_label: only messages that do not carry this label word (IMAP UNKEYWORD, RFC 9051 6.4.4).
    """
    settings, password = settings_of(ctx)
    limit = max(1, min(limit, MAX_LIST))
    terms = ["UNSEEN"] if unread_only else []
    if without_label.strip():
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", without_label.strip()):
            raise ModelRetry(f"without_label must be a label word of letters and digits, not {without_label!r}")
        terms.append(f"UNKEYWORD {without_label.strip()}")
    return await _in_thread(_list_sync, settings, password, folder, " ".join(terms) or "ALL", limit)


def _imap_date(value: str) -> str:
    try:
        d = date.fromisoformat(value.strip())
    except ValueError:
        raise ModelRetry(f"since must be a date like 2026-03-01, not {value!r}") from None
    return d.strftime("%d-%b-%Y")


@tool("email.search", Effect.READ, output_trust="untrusted")
async def email_search(
    ctx: RunContext[RunDeps],
    text: str = "",
    sender: str = "",
    subject: str = "",
    since: str = "",
    unread_only: bool = False,
    folder: str = "INBOX",
    limit: int = 20,
) -> Labelled:
    """Search a mail folder by words in the message, sender, subject or date (since YYYY-MM-DD).

    Returns the newest matches as uid, sender, subject, date.
    """
    settings, password = settings_of(ctx)
    terms = []
    if text.strip():
        terms.append(f"TEXT {imap_quote(text.strip())}")
    if sender.strip():
        terms.append(f"FROM {imap_quote(sender.strip())}")
    if subject.strip():
        terms.append(f"SUBJECT {imap_quote(subject.strip())}")
    if since.strip():
        terms.append(f"SINCE {_imap_date(since)}")
    if unread_only:
        terms.append("UNSEEN")
    limit = max(1, min(limit, MAX_LIST))
    return await _in_thread(_list_sync, settings, password, folder, " ".join(terms) or "ALL", limit)


def _read_sync(settings: EmailSettings, password: str, folder: str, uid: int, max_chars: int, mark_read: bool,
               uidvalidity: int | None = None) -> Labelled:
    with mail_client(settings, password) as client:
        _same_numbering(folder, client.select(folder, readonly=not mark_read), uidvalidity)
        summary, view = read_message(client, uid, max_chars)
        if mark_read:
            # Only after the whole read succeeded: a broken fetch leaves the message unread.
            client.store(uid, ["\\Seen"], add=True)
            view["unread"] = False
    view["folder"] = folder
    return Labelled(view, message_label(settings, folder, summary.sender, summary.flags))


@tool("email.read", Effect.READ, output_trust="untrusted")
async def email_read(
    ctx: RunContext[RunDeps], uid: int, folder: str = "INBOX", max_chars: int = 4000, mark_read: bool = False,
    uidvalidity: int | None = None,
) -> Labelled:
    """Read one message: headers, its text (HTML converted to plain text), attachments by name and size.

    The message stays unread unless mark_read is true. Attachments are listed, never opened.
    Signed, encrypted, invitation, bounce and mailing-list messages are named in content_labels.
    uidvalidity: the value email.list or email.search gave with the uid, if known.
    """
    settings, password = settings_of(ctx)
    max_chars = max(200, min(max_chars, 20_000))
    return await _in_thread(_read_sync, settings, password, folder, uid, max_chars, mark_read, uidvalidity)


def _move_sync(settings: EmailSettings, password: str, folder: str, uid: int, to_folder: str,
               uidvalidity: int | None = None) -> dict[str, Any]:
    with mail_client(settings, password) as client:
        folders = client.folders()
        if to_folder not in folders:
            raise MailNotFound(f"there is no folder {to_folder!r}; folders: {', '.join(folders)}")
        _same_numbering(folder, client.select(folder, readonly=False), uidvalidity)
        if not client.search(f"UID {uid}"):
            raise MailNotFound(f"there is no message with uid {uid} in {folder!r}")
        new_uid, note = client.move(uid, to_folder)
    result: dict[str, Any] = {"moved": uid, "from": folder, "to": to_folder, "new_uid": new_uid}
    if note:
        result["note"] = note
    return result


@tool("email.move", Effect.WRITE, sensitive=("to_folder",))
async def email_move(ctx: RunContext[RunDeps], uid: int, to_folder: str, folder: str = "INBOX",
                     uidvalidity: int | None = None) -> dict[str, Any]:
    """Move a message to another folder (Archive, Junk, Trash, or any existing folder).

    uidvalidity: the value email.list or email.search gave with the uid, if known.
    """
    settings, password = settings_of(ctx)
    return await _in_thread(_move_sync, settings, password, folder, uid, to_folder, uidvalidity)


def _flag_sync(settings: EmailSettings, password: str, folder: str, uid: int, flag: str, on: bool,
               uidvalidity: int | None = None) -> dict[str, Any]:
    with mail_client(settings, password) as client:
        _same_numbering(folder, client.select(folder, readonly=False), uidvalidity)
        flags = client.store(uid, [flag], add=on)
    return {"uid": uid, "folder": folder, "flags": [f for f in flags if not f.startswith("$Meshclaw")]}


@tool("email.flag", Effect.WRITE)
async def email_flag(ctx: RunContext[RunDeps], uid: int, flag: str, on: bool = True, folder: str = "INBOX",
                     uidvalidity: int | None = None) -> dict[str, Any]:
    """Set or clear a flag on a message: "read", "flagged", "answered", or a label word such as "urgent".

    on=false clears it (e.g. flag="read", on=false marks the message unread again).
    uidvalidity: the value email.list or email.search gave with the uid, if known.
    """
    settings, password = settings_of(ctx)
    wanted = _STANDARD_FLAGS.get(flag.strip().lower())
    if wanted is None:
        # Any other word is an IMAP keyword, which mail clients show as a label or tag.
        if not re.fullmatch(r"[A-Za-z0-9_$-]{1,40}", flag.strip()) or flag.strip().lower().startswith("$meshclaw"):
            raise ModelRetry(f"flag must be read, flagged, answered, or a label word of letters and digits, not {flag!r}")
        wanted = flag.strip()
    return await _in_thread(_flag_sync, settings, password, folder, uid, wanted, on, uidvalidity)


def _original(settings: EmailSettings, password: str, folder: str, uid: int) -> dict[str, Any]:
    """What a reply needs from the message it answers: ids for threading, subject, who to answer."""
    with mail_client(settings, password) as client:
        client.select(folder)
        found = client.fetch([uid], "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID REFERENCES IN-REPLY-TO SUBJECT FROM REPLY-TO)])")
    if not found:
        raise MailNotFound(f"there is no message with uid {uid} in {folder!r}")
    s = summarize(found[0])
    block = next((v for k, v in found[0].items() if k.startswith("BODY[")), b"")
    h = header_block(block)
    answer = addresses(h.get("Reply-To"))
    parent_id = message_ids(h.get("Message-ID"))
    return {
        "message_id": parent_id[0] if parent_id else None,
        # Whole ids only: the first and the newest are kept when the thread is long (RFC 5322 3.6.4).
        "references": reply_references(h.get("References"), h.get("In-Reply-To"), h.get("Message-ID")),
        "subject": s.subject,
        "answer_to": answer[0][1] if answer else s.sender,
    }


async def _compose(ctx: RunContext[RunDeps], settings: EmailSettings, password: str, *, to: list[str] | None,
                   cc: list[str] | None, bcc: list[str] | None, subject: str, body: str, reply_to_uid: int | None,
                   folder: str, kind: str) -> tuple[EmailMessage, list[str], list[str]]:
    """The message a draft or send call writes, with its replay-stable Message-ID; its recipients."""
    if not ctx.tool_call_id:
        raise MailError(f"email.{kind} needs a tool call id: it is what makes a replay not repeat the {kind}")
    try:
        to_list, cc_list, bcc_list = clean_addresses(to, "to"), clean_addresses(cc, "cc"), clean_addresses(bcc, "bcc")
    except MailError as e:
        raise ModelRetry(str(e)) from None
    in_reply_to = references = None
    if reply_to_uid is not None:
        original = await _in_thread(_original, settings, password, folder, reply_to_uid)
        in_reply_to, references = original["message_id"], original["references"]
        if not subject.strip():
            subject = original["subject"] if original["subject"].lower().startswith("re:") else f"Re: {original['subject']}"
        if not to_list and kind == "draft" and original["answer_to"]:
            try:  # the address comes from the message being answered: check it like any other
                to_list = clean_addresses(original["answer_to"], "to")
            except MailError:
                pass
    if not (to_list or cc_list or bcc_list) and kind == "send":
        raise ModelRetry("email.send needs at least one recipient in to, cc or bcc")
    message_id = message_id_for(ctx.deps.idempotency_key(ctx.tool_call_id), settings.domain)
    try:
        msg = build(settings, to=to_list, cc=cc_list, bcc=bcc_list, subject=subject, body=body,
                    message_id=message_id, in_reply_to=in_reply_to, references=references)
    except MailError as e:
        raise ModelRetry(str(e)) from None
    provenance = getattr(ctx.deps, "provenance", None)
    if provenance is None or provenance.tainted:  # its Sent copy must not read back as the owner's words
        msg[PROVENANCE_HEADER] = "untrusted"
    return msg, to_list + cc_list + bcc_list, to_list


@tool("email.draft", Effect.WRITE)
async def email_draft(
    ctx: RunContext[RunDeps],
    subject: str,
    body: str,
    to: list[str] | None = None,
    cc: list[str] | None = None,
    reply_to_uid: int | None = None,
    folder: str = "INBOX",
) -> dict[str, Any]:
    """Save a draft in the Drafts folder for the owner to review and send: the default way to reply.

    With reply_to_uid (a message in folder) the draft answers that message; to defaults to its sender.
    """
    settings, password = settings_of(ctx)
    msg, _, to_list = await _compose(ctx, settings, password, to=to, cc=cc, bcc=None, subject=subject, body=body,
                            reply_to_uid=reply_to_uid, folder=folder, kind="draft")
    result = await asyncio.to_thread(save_draft, settings, password, msg)
    result["to"] = to_list
    result["subject"] = msg["Subject"]
    return result


@tool("email.send", Effect.EXTERNAL, sensitive=("to", "cc", "bcc"))
async def email_send(
    ctx: RunContext[RunDeps],
    to: list[str],
    subject: str,
    body: str,
    cc: list[str] | None = None,
    bcc: list[str] | None = None,
    reply_to_uid: int | None = None,
    folder: str = "INBOX",
) -> dict[str, Any]:
    """Send an email now. Consequential: it reaches other people and cannot be undone.

    Prefer email.draft unless the owner asked to send. Sent at most once per call, even on a retry.
    """
    settings, password = settings_of(ctx)
    msg, recipients, _ = await _compose(ctx, settings, password, to=to, cc=cc, bcc=bcc, subject=subject, body=body,
                                     reply_to_uid=reply_to_uid, folder=folder, kind="send")
    return await send_once(settings, password, msg, recipients)


# --- for workflow code: one message exactly as the server holds it (never offered to a model) ---

MAX_RAW = 25 * 1024 * 1024  # larger messages are refused rather than held in memory


def _raw_sync(settings: EmailSettings, password: str, folder: str, uid: int) -> tuple[str, str]:
    with mail_client(settings, password) as client:
        client.select(folder, readonly=True)
        found = client.fetch([uid], "(UID RFC822.SIZE BODY.PEEK[])")
        if not found:
            raise MailNotFound(f"no message with uid {uid} in {folder!r}")
        item = found[0]
        if int(item.get("RFC822.SIZE") or 0) > MAX_RAW:
            raise MailNotFound(f"message {uid} in {folder!r} is larger than {MAX_RAW // (1024 * 1024)} MB")
        raw = next((v for k, v in item.items() if k.startswith("BODY[") and isinstance(v, bytes)), b"")
    sender = str(email.message_from_bytes(raw, policy=email.policy.default).get("From", ""))
    return raw.decode("utf-8", errors="surrogateescape"), sender


@tool("email.raw", Effect.READ, output_trust="untrusted", offered=False)
async def email_raw(ctx: RunContext[Any], uid: int, folder: str = "INBOX") -> Labelled:
    """One message as the server holds it (RFC 5322 text), for workflow code.

    Args:
        uid: the message's uid in ``folder``.
        folder: the folder, INBOX by default.
    """
    settings, password = settings_of(ctx)
    text, sender = await asyncio.to_thread(_raw_sync, settings, password, folder, uid)
    return Labelled({"uid": uid, "folder": folder, "message": text}, message_label(settings, folder, sender))


def toolset() -> Toolset:
    return Toolset(
        name=TOOLSET,
        description="Email over IMAP and SMTP: list, search and read mail (untrusted data), file and flag it, "
        "draft replies, send.",
        functions=[email_list, email_search, email_read, email_move, email_flag, email_draft, email_send, email_raw],
    )
