"""The calendar connector's settings: where the CalDAV server is, and how invitations are mailed.

Passwords are secret references (``secret:alice_cal``, ``env:CAL_PASSWORD``), never values;
tools resolve them with ``ctx.deps.secret(ref)`` at call time.

``backend: sandbox`` with ``workplace: NAME`` keeps the owner's calendar in a sandbox workplace in
MeshClaw's store (no server, no passwords); invitations go to the workplace's mailboxes.
"""

from __future__ import annotations

from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from meshclaw.domain.config import SecretRef
from meshclaw.domain.network import is_loopback

from .errors import CalendarError


class CalendarSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["caldav", "sandbox"] = Field(default="caldav", description="caldav: a server; sandbox: a workplace in the store")
    workplace: str | None = Field(default=None, description="with backend sandbox: the workplace's name (e.g. demo)")
    url: str | None = Field(default=None, description="CalDAV server root, e.g. https://cal.example.com/ (Radicale: the server URL)")
    username: str | None = None
    password: SecretRef | None = None
    calendar: str = Field(default="work", description="the owner's calendar: its id (last URL segment) or display name")
    timezone: str = Field(default="UTC", description="IANA zone for times without an offset, and for results")
    email: str | None = Field(default=None, description="the owner's address as organizer; default: the user's email")
    colleague_calendar: str = Field(
        default="{user}/{calendar}/",
        description="path under url of a colleague's calendar, for free/busy; {user}, {local}, {calendar} are filled in",
    )

    # Invitations: CalDAV servers here do no scheduling, so the connector mails iMIP itself.
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535, description="default: 465 for tls, 587 otherwise")
    smtp_username: str | None = None
    smtp_password: SecretRef | None = None
    smtp_security: Literal["tls", "starttls", "plain"] = "starttls"
    from_address: str | None = Field(default=None, description="sender of invitations; default: the organizer's address")

    @field_validator("url")
    @classmethod
    def full_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be a full http(s) URL of the CalDAV server, e.g. https://cal.example.com/")
        # The password travels with every request: clear text only where it never leaves the machine.
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            raise ValueError("url must use https unless the CalDAV server is on this machine (127.0.0.1, ::1, localhost)")
        return value if value.endswith("/") else value + "/"

    @field_validator("timezone")
    @classmethod
    def known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}: use an IANA name such as Europe/Berlin or UTC") from None
        return value

    @model_validator(mode="after")
    def smtp_consistent(self) -> "CalendarSettings":
        if self.backend == "sandbox":
            server = [k for k in ("url", "username", "password", "smtp_host", "smtp_port", "smtp_username",
                                  "smtp_password") if getattr(self, k) is not None]
            if server:
                raise ValueError(f"backend 'sandbox' keeps the calendar in a workplace, not on a server: remove "
                                 f"{', '.join(server)}")
            if not self.workplace:
                raise ValueError("backend 'sandbox' needs the workplace's name (workplace: demo)")
            return self
        if self.workplace is not None:
            raise ValueError("workplace is only for backend 'sandbox'; a CalDAV server's settings take url, username "
                             "and password")
        missing = [k for k in ("url", "username", "password") if getattr(self, k) is None]
        if missing:
            raise ValueError(f"a CalDAV server needs {', '.join(missing)} (or backend: sandbox with workplace: NAME)")
        if self.smtp_security == "plain" and self.smtp_host is not None and not is_loopback(self.smtp_host):
            raise ValueError(
                "smtp_security 'plain' sends the password and invitations unencrypted: "
                "it is only allowed for a mail server on this machine; use 'tls' or 'starttls'"
            )
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("set both smtp_username and smtp_password, or neither")
        return self

    @property
    def mails_invitations(self) -> bool:
        """Can attendees be told: a mail server is set, or the sandbox delivers to its mailboxes."""
        return bool(self.smtp_host) or self.backend == "sandbox"

    @property
    def smtp_port_or_default(self) -> int:
        return self.smtp_port or (465 if self.smtp_security == "tls" else 587)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def colleague_path(self, user: str, email: str | None) -> str:
        local = (email or user).partition("@")[0]
        return self.colleague_calendar.format(user=user, local=local, calendar=self.calendar).lstrip("/")


def load_settings(raw: dict[str, Any] | CalendarSettings) -> CalendarSettings:
    """Settings from an agent's toolset grant, with problems reported as one readable CalendarError."""
    if isinstance(raw, CalendarSettings):
        return raw
    if not raw:
        raise CalendarError("this agent has no calendar settings (toolsets.calendar.settings: url, username, password...)")
    try:
        return CalendarSettings.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc'])) or 'settings'}: {err['msg']}" for err in e.errors())
        raise CalendarError(f"the calendar settings are invalid: {problems}") from None
