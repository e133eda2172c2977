"""TLS and STARTTLS against the real servers, with a throwaway certificate the client must verify."""

from __future__ import annotations

import asyncio
import time

import pytest

from meshclaw.connectors.email import MailConnectionError
from meshclaw.connectors.email.tools import email_list, email_send
from tests.servers.fixtures import mail, mail_ctx, mail_servers  # noqa: F401

pytestmark = pytest.mark.slow

ALICE, BOB = "alice@example.com", "bob@example.com"


@pytest.fixture
def tls_mail(mail):
    if mail.ca_file is None:
        pytest.skip("openssl is not installed: no test certificate")
    mail.deliver(b"From: a@b.example\r\nTo: alice@example.com\r\nSubject: over TLS\r\n\r\nhi\r\n", ALICE)
    return mail


def run(coro):
    return asyncio.run(coro)


def wait_for(mail, user: str, count: int, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while len(found := mail.messages(user)) < count and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


@pytest.mark.parametrize("security, port", [("tls", "imaps_port"), ("starttls", "imap_port")])
def test_imap_over_tls_and_starttls(tls_mail, mail_ctx, security, port):
    ctx = mail_ctx(security=security, imap_port=getattr(tls_mail, port), ca_file=str(tls_mail.ca_file))
    [message] = run(email_list(ctx)).value["messages"]
    assert message["subject"] == "over TLS"


@pytest.mark.parametrize("security, port", [("tls", "smtps_port"), ("starttls", "smtp_port")])
def test_smtp_over_tls_and_starttls(tls_mail, mail_ctx, security, port):
    ctx = mail_ctx(tool_call_id=f"tls-{security}", security="starttls", ca_file=str(tls_mail.ca_file),
                   smtp_security=security, smtp_port=getattr(tls_mail, port))
    assert run(email_send(ctx, to=[BOB], subject=f"sent with {security}", body="hello"))["sent"] is True
    [(_, raw)] = wait_for(tls_mail, BOB, 1)
    assert f"sent with {security}".encode() in raw


def test_an_untrusted_certificate_is_refused_with_a_hint(tls_mail, mail_ctx):
    ctx = mail_ctx(security="tls", imap_port=tls_mail.imaps_port)  # no ca_file: the system CAs only
    with pytest.raises(MailConnectionError, match="self-signed certificate.*set ca_file"):
        run(email_list(ctx))
    ctx = mail_ctx(tool_call_id="tls-bad", smtp_security="tls", smtp_port=tls_mail.smtps_port)
    with pytest.raises(MailConnectionError, match="SMTP server"):
        run(email_send(ctx, to=[BOB], subject="x", body="y"))
    # Nothing went out, so no copy claims it did.
    assert tls_mail.messages(ALICE, "Sent") == []
