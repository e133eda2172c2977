"""The email connector's settings: where the IMAP and SMTP servers are and how to reach them.

The password is a secret reference (``secret:alice_mail``, ``env:MAIL_PW``), never a value; tools
resolve it with ``ctx.deps.secret(ref)`` at call time and never log it.
"""

from __future__ import annotations

import ssl
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from meshclaw.domain.config import SecretRef
from meshclaw.domain.network import is_loopback

Security = Literal["tls", "starttls", "plain"]


class EmailSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    imap_host: str
    imap_port: int | None = Field(default=None, ge=1, le=65535, description="default: 993 for tls, 143 otherwise")
    smtp_host: str | None = Field(default=None, description="default: imap_host")
    smtp_port: int | None = Field(default=None, ge=1, le=65535, description="default: 465 for tls, 587 otherwise")
    username: str
    password: SecretRef
    security: Security = "tls"
    smtp_security: Security | None = Field(default=None, description="default: the same as security")
    address: str = Field(description="the owner's address, used as From and to recognise the owner's own mail")
    display_name: str | None = None
    drafts_folder: str = "Drafts"
    sent_folder: str = "Sent"
    inbox: str = "INBOX"
    append_sent: bool = Field(
        default=True,
        description="store a copy of sent mail in sent_folder; turn off for servers that do it themselves (Gmail)",
    )
    timeout: float = Field(default=30.0, gt=0, description="seconds for connecting and for each server reply")
    ca_file: str | None = Field(
        default=None,
        description="PEM file of a private certificate authority to trust (self-hosted servers); "
        "default: the system's trusted authorities. Certificates are always verified.",
    )

    @model_validator(mode="after")
    def plain_only_on_loopback(self) -> "EmailSettings":
        # The password and every message would cross the network readable by anyone on the path.
        for host, security, what in (
            (self.imap_host, self.security, "security"),
            (self.smtp_server, self.smtp_mode, "smtp_security"),
        ):
            if security == "plain" and not is_loopback(host):
                raise ValueError(
                    f"{what} 'plain' is only allowed for a mail server on this machine "
                    f"(127.0.0.1, ::1, localhost), not {host!r}: use 'tls' or 'starttls'"
                )
        if "@" not in self.address:
            raise ValueError(f"address must be an email address, not {self.address!r}")
        return self

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    @property
    def imap_port_or_default(self) -> int:
        return self.imap_port or (993 if self.security == "tls" else 143)

    @property
    def smtp_server(self) -> str:
        return self.smtp_host or self.imap_host

    @property
    def smtp_mode(self) -> Security:
        return self.smtp_security or self.security

    @property
    def smtp_port_or_default(self) -> int:
        return self.smtp_port or (465 if self.smtp_mode == "tls" else 587)

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2].lower()
