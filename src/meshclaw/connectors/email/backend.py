"""Where a mail "connection" comes from: the IMAP server, or the owner's sandbox workplace.

    with mail_client(settings, login) as client: ...

``login`` is the resolved password for ``backend: imap`` and the owner's workplace view (the
``workplace`` state of the tool context, opened) for ``backend: sandbox``; both clients answer the
same commands, so every tool runs the same code on either.
"""

from __future__ import annotations

from typing import Any

from .client import MailClient
from .settings import EmailSettings


def mail_client(settings: EmailSettings, login: Any) -> Any:
    """A MailClient (IMAP) or a SandboxMailClient, by ``settings.backend``; use as a context manager."""
    if settings.backend == "sandbox":
        from .sandbox import SandboxMailClient

        return SandboxMailClient(settings, login)
    return MailClient(settings, login)


def open_login(settings: EmailSettings, secret: Any, state: Any) -> Any:
    """What ``mail_client`` needs besides the settings: the password (via ``secret(ref)``), or the
    workplace view opened from ``state``. Raises MailError when neither is available."""
    from .errors import MailError

    if settings.backend == "sandbox":
        if state is None or not hasattr(state, "open"):
            raise MailError("the sandbox mail backend needs MeshClaw's store, which this run does not have")
        try:
            return state.open()
        except LookupError as e:
            raise MailError(str(e.args[0]) if e.args else str(e)) from None
    return secret(settings.password)
