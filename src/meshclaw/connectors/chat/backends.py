"""Opening a chat backend from settings: ``await open_backend(settings, secret)``.

The backend modules are imported only when chosen, so a Matrix deployment never imports slack_sdk
and the other way round.
"""

from __future__ import annotations

from meshclaw.domain.config import ChatAccount

from .backend import ChatBackend
from .errors import ChatError


async def open_backend(settings: ChatAccount, secret: str) -> ChatBackend:
    """A logged-in backend for ``settings``; ``secret`` is the resolved token (or, for Matrix with
    ``password`` set, the password). Raises the backend's ChatError subclasses (server unreachable,
    credentials refused) with one line."""
    if settings.backend == "matrix":
        from .matrix import MatrixBackend

        assert settings.url is not None and settings.account is not None  # checked by ChatAccount
        if settings.password is not None:
            return await MatrixBackend.connect(homeserver=settings.url, user_id=settings.account, password=secret,
                                               device_id=settings.device_id, timeout=settings.timeout)
        return await MatrixBackend.connect(homeserver=settings.url, user_id=settings.account, access_token=secret,
                                           device_id=settings.device_id, timeout=settings.timeout)
    if settings.backend == "slack":
        from .slack import SlackBackend

        return await SlackBackend.connect(token=secret, base_url=settings.url, timeout_s=settings.timeout)
    raise ChatError(f"unknown chat backend {settings.backend!r} (matrix or slack)")


def open_sandbox(state: object) -> ChatBackend:
    """The owner's chat in a sandbox workplace (the tool context's ``workplace`` state, opened)."""
    from .sandbox import SandboxChat

    if state is None or not hasattr(state, "open"):
        raise ChatError("the sandbox chat backend needs MeshClaw's store, which this run does not have")
    try:
        return SandboxChat(state.open())
    except LookupError as e:
        raise ChatError(str(e.args[0]) if e.args else str(e)) from None


def secret_ref(settings: ChatAccount) -> str:
    """The one secret reference the account logs in with (the token, else the password)."""
    ref = settings.token or settings.password
    if ref is None:
        raise ChatError("the chat settings name neither a token nor a password")
    return ref
