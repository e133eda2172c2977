"""Errors of MCP toolsets, each a single line a person can act on."""

from __future__ import annotations


from meshclaw.domain.errors import ConnectorError, ConnectorProblem


class McpUnavailable(ConnectorError):
    """The MCP server did not start or could not be reached."""


class McpProblem(ConnectorProblem):
    """The config and the server disagree: a grant, effect or sensitive argument names a tool or argument the server does not have."""
