"""Errors of MCP toolsets, each a single line a person can act on."""

from __future__ import annotations


class McpUnavailable(Exception):
    """The MCP server did not start or could not be reached."""


class McpProblem(Exception):
    """The config and the server disagree: a grant, effect or sensitive argument names a tool or argument the server does not have."""
