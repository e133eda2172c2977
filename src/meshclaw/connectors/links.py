"""``links``: the organisation's well-known pages by short name, from the toolset's own settings.

A small toolset attached by import path (``module: meshclaw.connectors.links:toolset``), as a toolset
of your own would be: it shows the whole shape of one (a factory returning a ``Toolset`` of ``@tool``
functions that read their settings through the run's narrow context) and gets the same guard.

Settings: ``links: {name: url}``. The result is configuration, so it is labelled trusted.
"""

from __future__ import annotations

from pydantic_ai import ModelRetry, RunContext

from meshclaw.domain.effects import Effect, Toolset, tool
from meshclaw.runtime.context import RunDeps


@tool("links.find", Effect.READ, output_trust="trusted")
async def links_find(ctx: RunContext[RunDeps], name: str) -> dict:
    """The address of one of the organisation's well-known pages.

    Args:
        name: the page's short name, e.g. "holidays" (unknown names list the known ones).
    """
    links = ctx.deps.settings("links").get("links") or {}
    if name not in links:
        raise ModelRetry(f"no page named {name!r}; known: {', '.join(sorted(links)) or 'none'}")
    return {"name": name, "url": str(links[name])}


def toolset() -> Toolset:
    return Toolset("links", "The organisation's well-known pages by short name.", [links_find])
