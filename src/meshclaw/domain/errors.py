"""One error tree for everything MeshClaw raises on purpose.

Every deliberate failure is a ``MeshclawError``; its message is one line meant for a person
(never a traceback, never a secret), and ``exit_code`` is what a command exits with when it
reaches the command line. Surfaces map errors by type, never by class name:

    MeshclawError
    ├── UsageError            bad input from a person or program (exit 2)
    │   └── NotFound          no such agent, user, run, approval, tool pin (also a KeyError)
    ├── NotAuthorized         the acting user may not do this (exit 3)
    ├── ConfigurationError    the configuration cannot be used as written (exit 2)
    │   ├── SecretMissing     a secret reference resolves to nothing
    │   └── ConnectorProblem  a toolset cannot be loaded, or its settings are wrong
    ├── StoreError            the store cannot be opened or used
    ├── RunHalted             a run ended early on purpose
    │   ├── RunStopped        the kill switch
    │   ├── BudgetExceeded    a budget would be overspent (fails closed)
    │   └── RunCancelled      a person interrupted the run
    ├── ModelError            the model cannot be used (``runtime.models.errors``)
    ├── PolicyError           the guard did not let a call through (``meshclaw.guard``)
    └── ConnectorError        an outside system failed (mail, calendar, MCP servers)

Families defined in a higher layer (models, policy, connectors) subclass these roots, so this
module imports nothing.
"""

from __future__ import annotations


class MeshclawError(Exception):
    """Base of every deliberate MeshClaw error; ``str(e)`` is one line for a person."""

    exit_code: int = 1

    def one_line(self) -> str:
        text = str(self).strip()
        return text.splitlines()[0] if text else type(self).__name__


class UsageError(MeshclawError):
    """Bad input: a command, argument or request that cannot be carried out as given."""

    exit_code = 2


class NotFound(UsageError, KeyError):
    """The named object (agent, user, run, approval, pinned tool) does not exist.

    Also a ``KeyError`` (so a ``LookupError``), as looking a name up is what failed."""

    def __str__(self) -> str:  # KeyError would quote the message like a dict key
        return str(self.args[0]) if self.args else "not found"


class NotAuthorized(MeshclawError):
    """The acting user has no authority for this operation (not the owner, a delegate or an admin)."""

    exit_code = 3


class ConfigurationError(MeshclawError):
    """The configuration cannot be used as written."""

    exit_code = 2


class SecretMissing(ConfigurationError):
    """A secret reference (``env:NAME``, ``secret:NAME``) resolves to nothing."""

    exit_code = 1


class ConnectorProblem(ConfigurationError):
    """A connector cannot be loaded, or an agent's settings or grants for it are wrong."""

    exit_code = 1


class StoreError(MeshclawError):
    """The store cannot be opened or used; the message says why in one line."""


class RunHalted(MeshclawError):
    """A run ended early on purpose (kill switch, budget, a person's interrupt)."""


class RunStopped(RunHalted):
    """The agent was stopped by the kill switch while the run was going."""


class BudgetExceeded(RunHalted):
    """The request would overspend a budget; the run stops with this message."""


class ActionCeiling(BudgetExceeded):
    """A workflow run reached its ceiling of tool calls or model requests (``limits``); it stops there."""


class RunCancelled(RunHalted):
    """A person interrupted the run (Ctrl-C); nothing that had not started is carried out."""


class ModelErrorBase(MeshclawError, RuntimeError):
    """Root of the model errors (``meshclaw.runtime.models.errors``)."""


class PolicyErrorBase(MeshclawError):
    """Root of the guard's refusals (``meshclaw.guard.PolicyError``)."""


class ConnectorError(MeshclawError):
    """An outside system (mail server, calendar server, MCP server) failed or refused.

    Its message never carries a credential: a URL's ``user:password@`` and query parameters named
    like credentials are replaced by ``[redacted]`` (``domain.credentials.strip_url_credentials``),
    since the message reaches the model, the run's output and the audit log."""

    def __init__(self, *args: object):
        from .credentials import strip_url_credentials

        super().__init__(*(strip_url_credentials(a) if isinstance(a, str) else a for a in args))


class ToolFailed(ConnectorError):
    """A granted, allowed tool call failed in its connector (workflow code gets this; a model gets words)."""
