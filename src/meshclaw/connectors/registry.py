"""Finding a connector's toolset by name: built-in ones by short name, others by import path.

An agent's config names a toolset (``notes``, ``email``...) or gives ``module: pkg.mod:factory``
for a third-party toolset, which gets the same guard as the built-in ones.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from meshclaw.domain.config import ToolsetGrant
from meshclaw.domain.effects import Toolset
from meshclaw.domain.errors import ConnectorProblem

BUILTIN: dict[str, str] = {
    "notes": "meshclaw.connectors.builtin:notes",
    "clock": "meshclaw.connectors.builtin:clock",
    "email": "meshclaw.connectors.email.tools:toolset",
    "calendar": "meshclaw.connectors.calendar.tools:toolset",
    "reader": "meshclaw.connectors.reader:toolset",
}


class UnknownToolset(ConnectorProblem):
    pass


def _load(path: str) -> Callable[[], Toolset]:
    module, _, attr = path.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise UnknownToolset(f"cannot load toolset {path!r}: {e}") from None


def resolve(name: str, grant: ToolsetGrant) -> Any:
    """A Toolset of @tool functions; for an ``mcp:`` entry, the server's granted tools as a pydantic-ai toolset."""
    if grant.mcp is not None:
        from meshclaw.connectors.mcp.toolset import granted_mcp_toolset

        return granted_mcp_toolset(name, grant)
    path = grant.module or BUILTIN.get(name)
    if path is None:
        known = ", ".join(sorted(BUILTIN))
        raise UnknownToolset(f"unknown toolset {name!r} (built in: {known}; or give 'module: package.module:factory')")
    toolset = _load(path)()
    if not isinstance(toolset, Toolset):
        raise UnknownToolset(f"{path} did not return a Toolset")
    return toolset
