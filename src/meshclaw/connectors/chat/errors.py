"""The chat connector's errors: one line a person (or the model) can act on, never a token."""

from __future__ import annotations

from meshclaw.domain.errors import ConnectorError


class ChatError(ConnectorError):
    """A chat operation failed; the message says what went wrong."""


class ChatUnavailable(ChatError):
    """The chat server cannot be reached (down, refused, timed out): nothing was posted."""


class ChatRateLimited(ChatError):
    """The server asked us to slow down (HTTP 429) and the call is not one that may be repeated,
    or it still refused after waiting as long as it asked. ``retry_after`` is in seconds."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class ChatNotFound(ChatError):
    """No such channel, message or user (the model can correct the id)."""


class ChatAuthFailed(ChatError):
    """The server refused the account's token or password."""
