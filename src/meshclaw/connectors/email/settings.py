"""The email connector's settings: where the IMAP and SMTP servers are and how to reach them.

The password is a secret reference (``secret:alice_mail``, ``env:MAIL_PW``), never a value; tools
resolve it with ``ctx.deps.secret(ref)`` at call time and never log it.

``backend: sandbox`` with ``workplace: NAME`` uses the owner's mailbox in a sandbox workplace kept in
MeshClaw's store instead of a server (no host, username or password; nothing leaves the machine).
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

    backend: Literal["imap", "sandbox"] = Field(default="imap", description="imap: a mail server; sandbox: a workplace in the store")
    workplace: str | None = Field(default=None, description="with backend sandbox: the workplace's name (e.g. demo)")
    imap_host: str | None = None
    imap_port: int | None = Field(default=None, ge=1, le=65535, description="default: 993 for tls, 143 otherwise")
    smtp_host: str | None = Field(default=None, description="default: imap_host")
    smtp_port: int | None = Field(default=None, ge=1, le=65535, description="default: 465 for tls, 587 otherwise")
    username: str | None = None
    password: SecretRef | None = None
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
        if "@" not in self.address:
            raise ValueError(f"address must be an email address, not {self.address!r}")
        if self.backend == "sandbox":
            server = [k for k in ("imap_host", "imap_port", "smtp_host", "smtp_port", "username", "password", "ca_file")
                      if getattr(self, k) is not None]
            if server:
                raise ValueError(f"backend 'sandbox' keeps mail in a workplace, not on a server: remove {', '.join(server)}")
            if not self.workplace:
                raise ValueError("backend 'sandbox' needs the workplace's name (workplace: demo)")
            return self
        if self.workplace is not None:
            raise ValueError("workplace is only for backend 'sandbox'; a mail server's settings take imap_host, "
                             "username and password")
        missing = [k for k in ("imap_host", "username", "password") if getattr(self, k) is None]
        if missing:
            raise ValueError(f"a mail server needs {', '.join(missing)} (or backend: sandbox with workplace: NAME)")
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
        return self

    def tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    @property
    def imap_port_or_default(self) -> int:
        return self.imap_port or (993 if self.security == "tls" else 143)

    @property
    def smtp_server(self) -> str:
        return self.smtp_host or self.imap_host or "sandbox"

    @property
    def smtp_mode(self) -> Security:
        return self.smtp_security or self.security

    @property
    def smtp_port_or_default(self) -> int:
        return self.smtp_port or (465 if self.smtp_mode == "tls" else 587)

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2].lower()
