"""Calendar over CalDAV: events, free/busy, meetings with iMIP invitations by email.

    toolset()                        the model's tools: calendar.list/.freebusy/.create/.update/.cancel
    busy_now(settings, password)     for triggers: (in a meeting now?, until when)
    apply_invitation(...)            the attendee's side: a received invitation into their calendar
    CalendarSettings                 the settings of the agent's ``calendar`` toolset grant
"""

from .errors import CalendarError, NotAllowed
from .inbox import apply_invitation
from .presence import busy_now
from .settings import CalendarSettings, load_settings
from .tools import toolset

__all__ = ["CalendarError", "CalendarSettings", "NotAllowed", "apply_invitation", "busy_now", "load_settings", "toolset"]
