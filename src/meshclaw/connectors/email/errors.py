"""Errors the email connector raises, each worded for the person who has to act on it.

None of them ever carries a password: messages name the account and the server only.
"""

from __future__ import annotations


from meshclaw.domain.errors import ConnectorError


class MailError(ConnectorError):
    """Something went wrong talking to the mail server."""


class MailAuthError(MailError):
    """The server refused the username or password."""


class MailConnectionError(MailError):
    """The server could not be reached, or the connection broke in the middle of a command."""


class MailNotFound(MailError):
    """No such message or folder."""


class SendUncertain(MailError):
    """An earlier attempt to send this very message broke off: it may or may not have gone out.

    The connector does not retry on its own, because sending twice cannot be undone.
    """
