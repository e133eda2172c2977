"""Writing mail: building a message, its replay-stable Message-ID, and handing it to SMTP.

A message written by a tool call gets a Message-ID derived from the run's idempotency key, so a
replay of the same call after a crash produces the same id, and the connector can see in Drafts or
Sent that the work was already done.
"""

from __future__ import annotations

import copy
import hashlib
import re
from email.message import EmailMessage
from email.utils import formataddr, formatdate

import aiosmtplib

from meshclaw.domain.addresses import AddressError, parse_address

from .errors import MailAuthError, MailConnectionError, MailError, SendUncertain
from .settings import EmailSettings

MAX_RECIPIENTS = 50
MAX_BODY_CHARS = 100_000
SENDING_FLAG = "$MeshclawSending"  # on the Sent copy while SMTP is in flight: marks an unknown outcome


def message_id_for(idempotency_key: str, domain: str) -> str:
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<meshclaw.{digest}@{domain}>"


def clean_addresses(values: list[str] | str | None, what: str) -> list[str]:
    """Validate recipient addresses; returns bare addresses. Raises MailError naming the bad one."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out = []
    for raw in values:
        if re.search(r"[\r\n]", raw):
            raise MailError(f"{what}: {raw!r} contains a line break")
        try:  # the guard's parser: what it checked is exactly what is delivered
            out.append(parse_address(raw))
        except AddressError:
            raise MailError(f"{what}: {raw!r} is not an email address (exactly one well-formed address is needed)") from None
    if len(out) > MAX_RECIPIENTS:
        raise MailError(f"{what}: at most {MAX_RECIPIENTS} recipients")
    return out


def build(
    settings: EmailSettings,
    *,
    to: list[str],
    cc: list[str],
    bcc: list[str],
    subject: str,
    body: str,
    message_id: str,
    in_reply_to: str | None = None,
    references: str | None = None,
) -> EmailMessage:
    """A plain-text message from the owner. Bcc is kept in the message (for the owner's copy) and
    removed before SMTP sees the headers. ``references`` is the whole References value of a reply
    (mime_names.reply_references); without it a reply refers to ``in_reply_to`` alone."""
    if len(body) > MAX_BODY_CHARS:
        raise MailError(f"the body is longer than {MAX_BODY_CHARS:,} characters")
    msg = EmailMessage()
    msg["From"] = formataddr((settings.display_name or "", settings.address))
    if to:
        msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    if bcc:
        msg["Bcc"] = ", ".join(bcc)
    msg["Subject"] = re.sub(r"[\r\n]+", " ", subject).strip()[:300]
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
        msg["References"] = references or in_reply_to
    msg["X-Mailer"] = "MeshClaw"
    msg.set_content(body)
    # Fold headers at 998 characters (RFC 5322 2.1.1) rather than 78: the default folder turns a
    # message id longer than a 78-character line into RFC 2047 encoded words, which breaks threading.
    msg.policy = msg.policy.clone(max_line_length=998)
    return msg


def as_crlf_bytes(msg: EmailMessage) -> bytes:
    """The message as IMAP APPEND wants it: CRLF line ends (RFC 5322), not Python's bare LF."""
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


async def smtp_send(settings: EmailSettings, password: str, msg: EmailMessage, recipients: list[str]) -> dict[str, str]:
    """Send over SMTP. Returns refused recipients (address → reason) when the server took the rest.

    Raises MailError when the server surely did not take the message, SendUncertain when the
    connection broke while it was being handed over (it may or may not have been accepted).
    """
    mode = settings.smtp_mode
    where = f"{settings.smtp_server}:{settings.smtp_port_or_default}"
    smtp = aiosmtplib.SMTP(
        hostname=settings.smtp_server,
        port=settings.smtp_port_or_default,
        use_tls=mode == "tls",
        start_tls=mode == "starttls",  # "plain" (loopback only) must not even try STARTTLS
        timeout=settings.timeout,
        tls_context=settings.tls_context() if mode != "plain" else None,
    )
    try:
        await smtp.connect()
        await smtp.login(settings.username, password)
    except aiosmtplib.SMTPAuthenticationError:
        await _quit(smtp)
        raise MailAuthError(
            f"the SMTP server {where} refused the login for {settings.username!r}: "
            f"check the username and the secret {settings.password!r}"
        ) from None
    except (aiosmtplib.SMTPException, OSError) as e:
        await _quit(smtp)
        raise MailConnectionError(f"cannot connect to the SMTP server {where} ({mode}): {e}") from None
    wire = copy.deepcopy(msg)
    del wire["Bcc"]  # recipients named only in Bcc must not be visible to the others
    try:
        data, options = _flatten(smtp, wire, [settings.address, *recipients])
        refused, _ = await smtp.sendmail(settings.address, recipients, data, mail_options=options)
    except aiosmtplib.SMTPRecipientsRefused as e:
        reasons = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in e.recipients)
        raise MailError(f"the SMTP server {where} refused every recipient ({reasons}); nothing was sent") from None
    except aiosmtplib.SMTPResponseException as e:
        # The server answered with a refusal: nothing was accepted for delivery.
        raise MailError(f"the SMTP server {where} refused the message: {e.code} {e.message}") from None
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as e:
        raise SendUncertain(
            f"the connection to the SMTP server {where} broke while the message was being sent ({e}); "
            "it may or may not have gone out"
        ) from None
    finally:
        await _quit(smtp)
    return {addr: f"{resp.code} {resp.message}" for addr, resp in refused.items()}


def _flatten(smtp: aiosmtplib.SMTP, msg: EmailMessage, addresses: list[str]) -> tuple[bytes, list[str]]:
    """The message as SMTP DATA, and the MAIL FROM options it needs. Flattened with the message's
    own policy (aiosmtplib's send_message would refold headers at 78 characters and turn a long
    message id into encoded words): SMTPUTF8 for non-ASCII addresses (RFC 6531), 7-bit bodies for
    servers without 8BITMIME (RFC 6152)."""
    utf8 = not all(a.isascii() for a in addresses)
    cte = "8bit" if smtp.supports_extension("8BITMIME") else "7bit"
    data = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n", utf8=utf8, cte_type=cte))
    return data, ["SMTPUTF8"] if utf8 else []


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    try:
        if smtp.is_connected:
            await smtp.quit()
    except Exception:  # a QUIT that fails changes nothing about the outcome
        smtp.close()
