"""Email over IMAP and SMTP: the ``email`` toolset, its settings, and a watcher for triggers.

    from meshclaw.connectors.email import toolset, EmailSettings, watch_inbox
"""

from .errors import MailAuthError, MailConnectionError, MailError, MailNotFound, SendUncertain
from .settings import EmailSettings
from .tools import toolset
from .watch import watch_inbox

__all__ = [
    "EmailSettings",
    "MailAuthError",
    "MailConnectionError",
    "MailError",
    "MailNotFound",
    "SendUncertain",
    "toolset",
    "watch_inbox",
]
