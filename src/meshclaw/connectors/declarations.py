"""The built-in connectors' declarations, one factory each.

They are registered under the ``meshclaw.connectors`` entry-point group in MeshClaw's own
``pyproject.toml``, exactly as a third-party package registers its connectors::

    [project.entry-points."meshclaw.connectors"]
    notes = "meshclaw.connectors.declarations:notes"

Each declares what its tools may touch (``meshclaw.domain.connector``): the settings model an
agent's ``toolsets.<name>.settings`` must match, the trigger events it emits, its secrets (the
``SecretRef`` fields of its settings), its state and capabilities.
"""

from __future__ import annotations

from meshclaw.domain.connector import Connector


def notes() -> Connector:
    """Notes kept for the owner: state ``notes`` (the owner's notes only), no settings, no secrets."""
    from .builtin import notes as toolset

    return Connector(name="notes", description="Notes kept for the owner in MeshClaw's store.", toolset=toolset,
                     state="notes")


def clock() -> Connector:
    """The current date and time: nothing to configure, nothing to touch."""
    from .builtin import clock as toolset

    return Connector(name="clock", description="The current date and time.", toolset=toolset)


def email() -> Connector:
    """Email over IMAP and SMTP: ``EmailSettings``; its password reference; emits ``email.received``;
    state ``workplace`` for ``backend: sandbox`` (the owner's mailbox in a sandbox workplace)."""
    from .email.settings import EmailSettings
    from .email.tools import toolset

    return Connector(name="email", description="Email over IMAP and SMTP.", toolset=toolset, settings=EmailSettings,
                     events=("email.received",), state="workplace")


def calendar() -> Connector:
    """The owner's calendar over CalDAV: ``CalendarSettings``; its CalDAV and SMTP password references;
    state ``workplace`` for ``backend: sandbox``."""
    from .calendar.settings import CalendarSettings
    from .calendar.tools import toolset

    return Connector(name="calendar", description="The owner's calendar over CalDAV.", toolset=toolset,
                     settings=CalendarSettings, state="workplace")


def reader() -> Connector:
    """Typed facts from untrusted content, read by a model with no tools: capability ``model``."""
    from .reader import ReaderSettings, toolset

    return Connector(name="reader", description="Typed facts from untrusted content, read by a model with no tools.",
                     toolset=toolset, settings=ReaderSettings, capabilities=frozenset({"model"}))


def chat() -> Connector:
    """Team chat over Matrix or Slack: ``ChatSettings``; its token or password reference; emits
    ``chat.mention``, ``chat.direct_message`` and ``chat.message`` (a watched channel)."""
    from .chat.settings import ChatSettings
    from .chat.tools import toolset

    return Connector(name="chat", description="Team chat over Matrix or Slack (or a sandbox workplace).",
                     toolset=toolset, settings=ChatSettings, events=("chat.mention", "chat.direct_message", "chat.message"),
                     state="workplace")


def deploy() -> Connector:
    """Deployments through the Docker API or supervisord: ``DeploySettings``; its supervisord password
    reference; emits ``deploy.health_changed`` (healthy → failing → recovered); state ``workplace``
    for ``backend: sandbox`` (the services of a sandbox workplace)."""
    from .deploy.settings import DeploySettings
    from .deploy.tools import toolset

    return Connector(name="deploy", description="Deployments: containers (Docker API) or processes (supervisord).",
                     toolset=toolset, settings=DeploySettings, events=("deploy.health_changed",), state="workplace")
