"""What one tool call may touch: the narrow context a connector's function receives as ``ctx.deps``.

The guard pipeline calls ``tool_context(deps, toolset)`` right before it executes an allowed call
and hands the result to the tool in place of the run's own ``RunDeps``.
"""

from __future__ import annotations

from typing import Any

from .context import RunDeps


def tool_context(deps: RunDeps, toolset: str) -> Any:
    """The context a tool of ``toolset`` receives for this run (today: the run's deps)."""
    return deps
