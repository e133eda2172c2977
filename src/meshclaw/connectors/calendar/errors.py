"""The calendar connector's errors: messages a person (or the model) can act on, never a password."""

from __future__ import annotations


from meshclaw.domain.errors import ConnectorError


class CalendarError(ConnectorError):
    """A calendar operation failed; the message says what went wrong and what to fix."""


class NotAllowed(CalendarError):
    """The server refused: the account may not see or change this calendar."""
